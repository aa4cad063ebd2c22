// reduce.wgsl — sums over dims of a contiguous float32 tensor, and their backward (broadcast).
//
// Every op views x as [outer, mid, inner] (x index (o * mid + m) * inner + t) and multiplies by
// `alpha` (1 for sum, 1/count for mean).
//   sum_middle         out[o * inner + t] = alpha * sum_m x[...]      (sum over one axis; all dims)
//                      one workgroup per output, WG invocations stride over m, tree reduction
//                      in workgroup memory
//   sum_middle_serial  same maths, one invocation per output (short axes, many outputs)
//   sum_keep_middle    out[m] = alpha * sum_{o,t} x[...]            (gradient of a broadcast operand:
//                      bias of linear, per-channel vectors); one workgroup per output
//   sum_keep_middle_serial  same maths, one invocation per output (many outputs or few terms)
//   expand_middle      out[(o * mid + m) * inner + t] = alpha * g[o * inner + t]
//                      (backward of sum_middle: the gradient is broadcast along the summed axis)
// Workgroups form a 2-D grid when there are more than 65535 of them. The workgroup trees cost
// barriers, which on lavapipe make a shader a coroutine: the host takes the serial kernels
// unless there are few outputs, each a long sum.

struct ReduceParams {
  outer: u32,
  mid: u32,
  inner: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
var<workgroup> partial: array<f32, WG>;

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// Tree reduction of `partial`; WG must be a power of two.
fn reduce_partial(lid: u32) -> f32 {
  var stride = WG / 2u;
  loop {
    if (stride == 0u) { break; }
    workgroupBarrier();
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    stride /= 2u;
  }
  workgroupBarrier();
  return partial[0];
}

@compute @workgroup_size(WG)
fn sum_middle(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = group_index(wid, nwg);
  let valid = idx < p.outer * p.inner;  // uniform across the workgroup, so barriers stay uniform
  let o = idx / p.inner;
  let t = idx % p.inner;
  var acc = 0.0;
  if (valid) {
    for (var m = lid; m < p.mid; m += WG) { acc += x[(o * p.mid + m) * p.inner + t]; }
  }
  partial[lid] = acc;
  let total = reduce_partial(lid);
  if (valid && lid == 0u) { out[idx] = p.alpha * total; }
}

@compute @workgroup_size(WG)
fn sum_middle_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = group_index(wid, nwg) * WG + lid;
  if (idx >= p.outer * p.inner) { return; }
  let o = idx / p.inner;
  let t = idx % p.inner;
  var acc = 0.0;
  for (var m = 0u; m < p.mid; m++) { acc += x[(o * p.mid + m) * p.inner + t]; }
  out[idx] = p.alpha * acc;
}

@compute @workgroup_size(WG)
fn sum_keep_middle(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m = group_index(wid, nwg);
  let valid = m < p.mid;
  let count = p.outer * p.inner;
  var acc = 0.0;
  if (valid) {
    for (var j = lid; j < count; j += WG) {
      let o = j / p.inner;
      let t = j % p.inner;
      acc += x[(o * p.mid + m) * p.inner + t];
    }
  }
  partial[lid] = acc;
  let total = reduce_partial(lid);
  if (valid && lid == 0u) { out[m] = p.alpha * total; }
}

@compute @workgroup_size(WG)
fn sum_keep_middle_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m = group_index(wid, nwg) * WG + lid;
  if (m >= p.mid) { return; }
  var acc = 0.0;
  for (var o = 0u; o < p.outer; o++) {
    let base = (o * p.mid + m) * p.inner;
    for (var t = 0u; t < p.inner; t++) { acc += x[base + t]; }
  }
  out[m] = p.alpha * acc;
}

@compute @workgroup_size(WG)
fn expand_middle(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * WG + lid;
  if (i >= p.outer * p.mid * p.inner) { return; }
  let t = i % p.inner;
  let o = i / (p.mid * p.inner);
  out[i] = p.alpha * x[o * p.inner + t];
}
