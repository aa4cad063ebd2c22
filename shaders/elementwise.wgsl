// elementwise.wgsl — pointwise ops over contiguous float32 tensors, forward and backward.
//
// Layout: `a` and `out` hold n = numel values. The second operand `b` of a binary op is either
// full-size or broadcast along a contiguous block of `a`'s dims: viewing a as [outer, bn, inner],
// b has bn values and b's index for flat i is (i / inner) % bn. That covers a scalar (bn = 1),
// a row vector (inner = 1, bn = last dim), a per-channel vector of NCHW (bn = C, inner = H*W) and
// a full tensor (bn = n, inner = 1).
//
// One invocation per element; a 2-D grid of workgroups when n exceeds 65535 workgroups:
// i = (workgroup_id.y * num_workgroups.x + workgroup_id.x) * WG + local_invocation_index.
//
// Forward / backward maths (g = dL/dout):
//   add  out = a + b        da = g,        db = sum_bcast(g)             (add4 / mul4 by vec4, b full-size)
//   sub  out = a - b        da = g,        db = -sum_bcast(g)
//   mul  out = a * b        da = g * b,    db = sum_bcast(g * a)
//   div  out = a / b        da = g / b,    db = sum_bcast(-g * a / b^2)   (div_bwd_b)
//   relu out = max(a, 0)    da = g * [a > 0]                              (relu_bwd, a = x; relu4 / relu_bwd4 by vec4)
//   sigmoid y = 1/(1+e^-a)  da = g * y * (1 - y)                          (sigmoid_bwd, a = y)
//   tanh y = tanh(a)        da = g * (1 - y^2)                            (tanh_bwd, a = y)
//   exp  y = e^a            da = g * y                                    (exp_bwd, a = y)
//   log  y = ln a           da = g / a                                    (log_bwd, a = x)
//   scale out = alpha * a + beta (beta: add a scalar)   da = alpha * g
// sum_bcast (reduce.wgsl, sum_keep_middle) sums g over the dims b was broadcast along.

struct EwParams {
  n: u32,       // elements of a / out
  bn: u32,      // elements of b (binary ops)
  inner: u32,   // elements of a after b's block of dims
  alpha: f32,   // scale: multiplier; fill: value
  beta: f32,    // scale: addend
}

@group(0) @binding(0) var<uniform> p: EwParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;         // first operand (or x / y saved)
@group(0) @binding(2) var<storage, read> b: array<f32>;         // second operand or upstream grad
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // result
@group(0) @binding(4) var<storage, read> c: array<f32>;         // third input (div_bwd_b: g)
// The same buffers as vec4s, for the vec4 entries (n a multiple of 4).
@group(0) @binding(5) var<storage, read> a4: array<vec4f>;
@group(0) @binding(6) var<storage, read> b4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> out4: array<vec4f>;

override WG: u32 = 256;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn b_at(i: u32) -> f32 {
  return b[(i / p.inner) % p.bn];
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] + b_at(i);
}

@compute @workgroup_size(WG)
fn sub(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] - b_at(i);
}

@compute @workgroup_size(WG)
fn mul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] * b_at(i);
}

@compute @workgroup_size(WG)
fn div(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = a[i] / b_at(i);
}

// out = -c * a / b^2 (full size; b broadcast): the summand of d(a/b)/db before sum_bcast.
@compute @workgroup_size(WG)
fn div_bwd_b(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let bv = b_at(i);
  out[i] = -c[i] * a[i] / (bv * bv);
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = p.alpha * a[i] + p.beta;
}

@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = p.alpha;
}

@compute @workgroup_size(WG)
fn relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = max(a[i], 0.0);
}

@compute @workgroup_size(WG)
fn relu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = select(0.0, b[i], a[i] > 0.0);
}

// relu4, relu_bwd4: relu and relu_bwd for n a multiple of 4, one vec4 per invocation. ReLU runs
// on every activation of a training step, and on CPU adapters (lavapipe) every load and store is
// issued lane by lane, so one vec4 access costs much less than four f32 ones.
@compute @workgroup_size(WG)
fn relu4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n / 4u) { return; }
  out4[i] = max(a4[i], vec4f(0.0));
}

// fill4: fill for n a multiple of 4, one vec4 store per invocation.
@compute @workgroup_size(WG)
fn fill4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n / 4u) { return; }
  out4[i] = vec4f(p.alpha);
}

// add4, mul4: add and mul for a full-size b and n a multiple of 4, one vec4 per invocation (the
// autograd's gradient sums are such adds): no broadcast index to divide out per element.
@compute @workgroup_size(WG)
fn add4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n / 4u) { return; }
  out4[i] = a4[i] + b4[i];
}

@compute @workgroup_size(WG)
fn mul4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n / 4u) { return; }
  out4[i] = a4[i] * b4[i];
}

@compute @workgroup_size(WG)
fn relu_bwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n / 4u) { return; }
  out4[i] = select(vec4f(0.0), b4[i], a4[i] > vec4f(0.0));
}

@compute @workgroup_size(WG)
fn sigmoid(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  // Split by sign so exp never overflows.
  let x = a[i];
  let e = exp(-abs(x));
  out[i] = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn sigmoid_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let y = a[i];
  out[i] = b[i] * y * (1.0 - y);
}

@compute @workgroup_size(WG)
fn tanh_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  // tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}): stable for large |x|.
  let x = a[i];
  let e = exp(-2.0 * abs(x));
  out[i] = sign(x) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn tanh_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  let y = a[i];
  out[i] = b[i] * (1.0 - y * y);
}

@compute @workgroup_size(WG)
fn exp_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = exp(a[i]);
}

@compute @workgroup_size(WG)
fn exp_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = b[i] * a[i];
}

@compute @workgroup_size(WG)
fn log_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = log(a[i]);
}

@compute @workgroup_size(WG)
fn log_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = b[i] / a[i];
}
