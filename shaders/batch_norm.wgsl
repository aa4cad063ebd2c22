// batch_norm.wgsl — BatchNorm2d (PyTorch semantics), forward and backward.
//
// Layouts: x, y, g [N, C, HW] (NCHW with H·W flattened); gamma, beta [C];
//   stats [2C]: mean at c, inv_std = 1/√(var + eps) at C + c (what the forward normalised with);
//   running [2C]: running mean at c, running (unbiased) variance at C + c.
// M = N·HW values per channel.
//   batch_norm_stats      one workgroup per channel (tree reduction in workgroup memory):
//                         two passes, mean then biased var, into stats; when update_running = 1,
//                         running ← (1 − momentum)·running + momentum·(mean, var · M/(M − 1)).
//                         (batch_norm_stats4: vec4 loads, when H·W is a multiple of 4)
//   batch_norm_eval_stats stats from running (eval mode); one invocation per channel.
//   batch_norm_fwd        y = (x − mean)·inv_std·γ + β; a workgroup per channel and block of images
//                         (batch_norm_fwd4: vec4s, when H·W is a multiple of 4).
//   batch_norm_bwd_params one workgroup per channel: sums = [Σ g | Σ g·x̂], x̂ = (x − mean)·inv_std;
//                         dβ = Σ g and dγ = Σ g·x̂ (batch_norm_bwd_params4: vec4 loads).
//   batch_norm_bwd_input  a workgroup per channel and block of images (batch_norm_bwd_input4: vec4s):
//                         (with RELU, g below is g·[BN(x) > 0]: the fused ReLU's backward)
//                         training: dx = γ·inv_std/M · (M·g − Σg − x̂·Σg·x̂)   (batch statistics)
//                         eval:     dx = γ·inv_std·g                          (constant statistics)

struct BnParams {
  N: u32,
  C: u32,
  HW: u32,
  eps: f32,
  momentum: f32,
  training: u32,
  update_running: u32,
  images: u32,  // element-wise entries: images per workgroup
}

@group(0) @binding(0) var<uniform> p: BnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> running: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> g: array<f32>;
@group(0) @binding(8) var<storage, read_write> sums: array<f32>;   // [Σg (C) | Σg·x̂ (C)]
// x, out and g as vec4s, for the *4 entries (H·W a multiple of 4: planes start on whole vec4s)
@group(0) @binding(9) var<storage, read> x4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(11) var<storage, read> g4: array<vec4f>;

override WG: u32 = 64;
// y = max(BN(x), 0): a ReLU fused into the forward, and into the backward as g·[BN(x) > 0] with
// BN(x) recomputed from x (which the backward reads anyway), so the ReLU costs no pass of its own.
override RELU: bool = false;

var<workgroup> partial: array<f32, WG>;
var<workgroup> partial2: array<f32, WG>;


// Sums partial[] and partial2[] over the workgroup; every invocation must call it.
fn reduce_pair(lid: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
      partial2[lid] += partial2[lid + stride];
    }
    workgroupBarrier();
  }
}

// The workgroup's total of v (every invocation must call it; all get the total).
fn reduce_one(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  partial2[lid] = 0.0;
  reduce_pair(lid);
  let total = partial[0];
  workgroupBarrier();  // partial is written again by the next reduction
  return total;
}

// This invocation's share of Σ x and of Σ (x − mean)² over channel c (f32 or vec4 loads).
fn sum_x(c: u32, lid: u32) -> f32 {
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW;
    for (var i = lid; i < p.HW; i += WG) { s += x[base + i]; }
  }
  return s;
}

fn sum_sq(c: u32, lid: u32, mean: f32) -> f32 {
  var q = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW;
    for (var i = lid; i < p.HW; i += WG) {
      let d = x[base + i] - mean;
      q += d * d;
    }
  }
  return q;
}

fn sum_x4(c: u32, lid: u32) -> f32 {
  var s = vec4f(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW / 4u;
    for (var i = lid; i < p.HW / 4u; i += WG) { s += x4[base + i]; }
  }
  return s.x + s.y + s.z + s.w;
}

fn sum_sq4(c: u32, lid: u32, mean: f32) -> f32 {
  var q = vec4f(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW / 4u;
    for (var i = lid; i < p.HW / 4u; i += WG) {
      let d = x4[base + i] - mean;
      q += d * d;
    }
  }
  return q.x + q.y + q.z + q.w;
}

// stats (and running) of channel c from its mean and biased variance v.
fn store_stats(c: u32, lid: u32, mean: f32, v: f32) {
  if (lid != 0u) { return; }
  let M = p.N * p.HW;
  stats[c] = mean;
  stats[p.C + c] = inverseSqrt(v + p.eps);
  if (p.update_running == 1u) {
    let unbiased = select(v, v * f32(M) / f32(M - 1u), M > 1u);
    running[c] = (1.0 - p.momentum) * running[c] + p.momentum * mean;
    running[p.C + c] = (1.0 - p.momentum) * running[p.C + c] + p.momentum * unbiased;
  }
}

@compute @workgroup_size(WG)
fn batch_norm_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let M = f32(p.N * p.HW);
  let mean = reduce_one(lid, sum_x(c, lid)) / M;
  store_stats(c, lid, mean, reduce_one(lid, sum_sq(c, lid, mean)) / M);
}

// batch_norm_stats on vec4s (H·W a multiple of 4): a quarter of the per-lane loads.
@compute @workgroup_size(WG)
fn batch_norm_stats4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let M = f32(p.N * p.HW);
  let mean = reduce_one(lid, sum_x4(c, lid)) / M;
  store_stats(c, lid, mean, reduce_one(lid, sum_sq4(c, lid, mean)) / M);
}

@compute @workgroup_size(WG)
fn batch_norm_eval_stats(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  stats[c] = running[c];
  stats[p.C + c] = inverseSqrt(running[p.C + c] + p.eps);
}

// Element-wise entries run on a grid (⌈N / images⌉, C): a workgroup takes channel wid.y of
// p.images consecutive images (the host picks about 4096 elements per workgroup), so the
// channel's statistics and affine parameters are loaded once per invocation for all its
// elements — on CPU adapters every load costs per lane — and a small plane (7 × 7) does not cost a
// workgroup of its own: lavapipe's per-workgroup overhead made one workgroup per (n, c) plane
// 4–7× slower there.
fn images_of(wid: vec3u) -> vec2u {
  let first = wid.x * p.images;
  return vec2u(first, min(first + p.images, p.N));
}

// Channel c's forward: y = (x − mean)·scale + shift.
struct FwdChannel {
  mean: f32,
  scale: f32,
  shift: f32,
}

fn fwd_channel(c: u32) -> FwdChannel {
  return FwdChannel(stats[c], stats[p.C + c] * gamma[c], beta[c]);
}

fn normalised(ch: FwdChannel, v: f32) -> f32 {
  return (v - ch.mean) * ch.scale + ch.shift;
}

fn normalised4(ch: FwdChannel, v: vec4f) -> vec4f {
  return (v - ch.mean) * ch.scale + ch.shift;
}

// The gradient reaching BN's output: g, or g·[BN(x) > 0] behind a fused ReLU.
fn through_relu(ch: FwdChannel, gv: f32, xv: f32) -> f32 {
  if (!RELU) { return gv; }
  return select(0.0, gv, normalised(ch, xv) > 0.0);
}

fn through_relu4(ch: FwdChannel, gv: vec4f, xv: vec4f) -> vec4f {
  if (!RELU) { return gv; }
  return select(vec4f(0.0), gv, normalised4(ch, xv) > vec4f(0.0));
}

@compute @workgroup_size(WG)
fn batch_norm_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = fwd_channel(c);
  let images = images_of(wid);
  for (var n = images.x; n < images.y; n++) {
    let base = (n * p.C + c) * p.HW;
    for (var i = lid; i < p.HW; i += WG) {
      let y = normalised(ch, x[base + i]);
      out[base + i] = select(y, max(y, 0.0), RELU);
    }
  }
}

// batch_norm_fwd on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = fwd_channel(c);
  let images = images_of(wid);
  for (var n = images.x; n < images.y; n++) {
    let base = (n * p.C + c) * p.HW / 4u;
    for (var i = lid; i < p.HW / 4u; i += WG) {
      let y = normalised4(ch, x4[base + i]);
      out4[base + i] = select(y, max(y, vec4f(0.0)), RELU);
    }
  }
}

@compute @workgroup_size(WG)
fn batch_norm_bwd_params(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let ch = fwd_channel(c);
  var sg = 0.0;
  var sgx = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW;
    for (var i = lid; i < p.HW; i += WG) {
      let xv = x[base + i];
      let gv = through_relu(ch, g[base + i], xv);
      sg += gv;
      sgx += gv * (xv - ch.mean);
    }
  }
  store_param_sums(c, lid, sg, sgx);
}

// batch_norm_bwd_params on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_bwd_params4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let ch = fwd_channel(c);
  var sg = vec4f(0.0);
  var sgx = vec4f(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.HW / 4u;
    for (var i = lid; i < p.HW / 4u; i += WG) {
      let xv = x4[base + i];
      let gv = through_relu4(ch, g4[base + i], xv);
      sg += gv;
      sgx += gv * (xv - ch.mean);
    }
  }
  store_param_sums(c, lid, sg.x + sg.y + sg.z + sg.w, sgx.x + sgx.y + sgx.z + sgx.w);
}

// sums = [Σ g | Σ g·x̂] of channel c from this invocation's shares of Σ g and Σ g·(x − mean).
fn store_param_sums(c: u32, lid: u32, sg: f32, sgx: f32) {
  partial[lid] = sg;
  partial2[lid] = sgx * stats[p.C + c];
  reduce_pair(lid);
  if (lid == 0u) {
    sums[c] = partial[0];
    sums[p.C + c] = partial2[0];
  }
}

// Channel c's input gradient: training dx = scale/M · (M·g − Σg − x̂·Σg·x̂), x̂ = (x − mean)·inv;
// eval dx = scale·g (scale = γ·inv).
struct BwdChannel {
  mean: f32,
  inv: f32,
  scale: f32,
  M: f32,
  sum_g: f32,
  sum_gx: f32,
}

fn bwd_channel(c: u32) -> BwdChannel {
  let inv = stats[p.C + c];
  return BwdChannel(stats[c], inv, gamma[c] * inv, f32(p.N * p.HW), sums[c], sums[p.C + c]);
}

@compute @workgroup_size(WG)
fn batch_norm_bwd_input(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = bwd_channel(c);
  let fch = fwd_channel(c);
  let images = images_of(wid);
  for (var n = images.x; n < images.y; n++) {
    let base = (n * p.C + c) * p.HW;
    for (var i = lid; i < p.HW; i += WG) {
      let idx = base + i;
      let xv = x[idx];
      let gv = through_relu(fch, g[idx], xv);
      if (p.training == 0u) {
        out[idx] = ch.scale * gv;
      } else {
        let xhat = (xv - ch.mean) * ch.inv;
        out[idx] = ch.scale / ch.M * (ch.M * gv - ch.sum_g - xhat * ch.sum_gx);
      }
    }
  }
}

// batch_norm_bwd_input on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_bwd_input4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = bwd_channel(c);
  let fch = fwd_channel(c);
  let images = images_of(wid);
  for (var n = images.x; n < images.y; n++) {
    let base = (n * p.C + c) * p.HW / 4u;
    for (var i = lid; i < p.HW / 4u; i += WG) {
      let xv = x4[base + i];
      let gv = through_relu4(fch, g4[base + i], xv);
      if (p.training == 0u) {
        out4[base + i] = ch.scale * gv;
      } else {
        let xhat = (xv - ch.mean) * ch.inv;
        out4[base + i] = ch.scale / ch.M * (ch.M * gv - ch.sum_g - xhat * ch.sum_gx);
      }
    }
  }
}
