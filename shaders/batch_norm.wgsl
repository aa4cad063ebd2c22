// batch_norm.wgsl — BatchNorm2d (PyTorch semantics), forward and backward.
//
// Layouts: x, y, g [N, C, HW] (NCHW with H·W flattened); gamma, beta [C];
//   stats [2C]: mean at c, inv_std = 1/√(var + eps) at C + c (what the forward normalised with);
//   running [2C]: running mean at c, running (unbiased) variance at C + c.
// M = N·HW values per channel.
//   batch_norm_stats_partial   a workgroup per (channel, block of p.split images): each
//                         invocation's count, mean and sum of squared deviations — or, with TREE,
//                         the workgroup's, combined in workgroup memory (batch_norm_stats4_partial:
//                         vec4 loads, when H·W is a multiple of 4);
//   batch_norm_stats_finish    one invocation per channel: mean and biased var into stats from its
//                         p.parts partials; when update_running = 1,
//                         running ← (1 − momentum)·running + momentum·(mean, var · M/(M − 1)).
//   batch_norm_eval_stats stats from running (eval mode); one invocation per channel.
//   batch_norm_fwd        y = (x − mean)·inv_std·γ + β; a workgroup per channel and block of images
//                         (batch_norm_fwd4: vec4s, when H·W is a multiple of 4).
//   batch_norm_bwd_params_partial, batch_norm_bwd_params_finish   the same two stages for
//                         dβ = Σ g and dγ = Σ g·x̂, x̂ = (x − mean)·inv_std, written straight
//                         into the two gradients (the input gradient reads them too)
//                         (batch_norm_bwd_params4_partial: vec4 loads).
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
  split: u32,   // reductions: images per workgroup (the grid's second dimension: ⌈N / split⌉ blocks)
  parts: u32,   // reductions: partials per channel (blocks, times WG without TREE)
}

@group(0) @binding(0) var<uniform> p: BnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> running: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> g: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;   // [C]: Σ g
@group(0) @binding(13) var<storage, read_write> dgamma: array<f32>; // [C]: Σ g·x̂
// x, out and g as vec4s, for the *4 entries (H·W a multiple of 4: planes start on whole vec4s)
@group(0) @binding(9) var<storage, read> x4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> out4: array<vec4f>;
@group(0) @binding(11) var<storage, read> g4: array<vec4f>;
@group(0) @binding(12) var<storage, read_write> partials: array<vec4f>;  // [C·parts]: the reductions' partial sums

override WG: u32 = 64;
// y = max(BN(x), 0): a ReLU fused into the forward, and into the backward as g·[BN(x) > 0] with
// BN(x) recomputed from x (which the backward reads anyway), so the ReLU costs no pass of its own.
override RELU: bool = false;

// The per-channel reductions (statistics, and the parameter gradients' sums) take two
// dispatches: partial sums (…_partial, a workgroup per channel and block of p.split images), then
// one invocation per channel combines its p.parts partials (…_finish). On a CPU adapter the host
// gives each channel one block and no TREE: each of the WG invocations writes its own partial. A
// workgroup barrier makes lavapipe compile the whole shader as a coroutine, and the one-dispatch
// tree reduction in workgroup memory took about twice as long as this (paired runs). On a GPU a
// workgroup per channel leaves most of the device idle (16–64 workgroups in fmnist-6, each
// invocation looping over the whole batch), so there the host splits the batch into blocks and
// sets TREE: each workgroup sums its invocations' partials in workgroup memory and writes one.
override TREE: bool = false;
var<workgroup> tree: array<vec4f, WG>;

// Images [first, last) of block `block` of `size` images (the last block may be short).
fn image_block(block: u32, size: u32) -> vec2u {
  let first = block * size;
  return vec2u(first, min(first + size, p.N));
}

// The images of reduction workgroup wid: block wid.y of p.split images.
fn split_of(wid: vec3u) -> vec2u {
  return image_block(wid.y, p.split);
}

// Statistics partials are (count, mean, M2, 0): M2 the sum of squared deviations from the
// partial's own mean; two combine exactly (Chan et al.), which keeps the variance's precision
// however far the channel's values lie from 0.
fn combine_stats(a: vec4f, b: vec4f) -> vec4f {
  let n = a.x + b.x;
  if (n == 0.0) { return vec4f(0.0); }
  let d = b.y - a.y;
  return vec4f(n, a.y + d * b.x / n, a.z + b.z + d * d * a.x * b.x / n, 0.0);
}

// Writes the invocation's partial, or with TREE the workgroup's (statistics combined by
// combine_stats, the parameter gradients' sums added): partial j of channel c at c·parts + j.
fn store_partial(wid: vec3u, lid: u32, v: vec4f, is_stats: bool) {
  let c = wid.x;
  if (!TREE) {
    partials[c * p.parts + wid.y * WG + lid] = v;
    return;
  }
  tree[lid] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      let b = tree[lid + half];
      tree[lid] = select(tree[lid] + b, combine_stats(tree[lid], b), is_stats);
    }
  }
  if (lid == 0u) { partials[c * p.parts + wid.y] = tree[0]; }
}

// An invocation's walk over channel c's units (floats, or vec4s where H·W is a multiple of 4) in
// images [first, last), that range flattened, so one long loop over it rather than a loop per
// image — on lavapipe every loop pays its set-up and lane masks, and a plane of fewer units than
// WG (a 14 × 14 plane is 49 vec4s) left the rest of the workgroup idle (1.3–1.9× the time per
// element of large planes on fmnist-6's 28 × 28 and 14 × 14 layers). Which units (walk_span):
//   LANES = 0 (GPUs): invocation lid visits units lid, lid + WG, …: at each step the workgroup
//     reads WG consecutive units;
//   LANES > 0, a divisor of WG (CPU adapters: their subgroup width): the range in WG / LANES
//     consecutive chunks, one per group of LANES invocations, which visit its units LANES apart.
//     lavapipe runs a workgroup's subgroups one after another, so each streams through its own
//     chunk instead of reading LANES units out of every WG (0.5–0.9× the time of all six passes).
// The image n and unit i advance by the stride = q·units + r without a division per step.
struct Walk {
  n: u32,
  i: u32,
  q: u32,
  r: u32,
  left: u32,  // units still to visit
}

override LANES: u32 = 0u;

// First unit and stride of invocation lid's visits, and the end of its range (flattened units).
fn walk_span(lid: u32, total: u32) -> vec3u {
  if (LANES == 0u) { return vec3u(lid, WG, total); }
  let lanes = max(LANES, 1u);  // (a constant division by 0 would not compile even where unused)
  let chunk = (total + WG - 1u) / WG * lanes;
  let first = lid / lanes * chunk;
  return vec3u(first + lid % lanes, lanes, min(first + chunk, total));
}

fn walk_start(lid: u32, images: vec2u, units: u32) -> Walk {
  let span = walk_span(lid, (images.y - images.x) * units);
  let left = select(0u, (span.z - span.x + span.y - 1u) / span.y, span.x < span.z);
  return Walk(images.x + span.x / units, span.x % units, span.y / units, span.y % units, left);
}

fn walk_live(w: Walk) -> bool {
  return w.left > 0u;
}

fn walk_at(w: Walk, c: u32, units: u32) -> u32 {
  return (w.n * p.C + c) * units + w.i;
}

fn walk_next(w: ptr<function, Walk>, units: u32) {
  let i = (*w).i + (*w).r;
  let wrap = i >= units;
  (*w).i = select(i, i - units, wrap);
  (*w).n += (*w).q + select(0u, 1u, wrap);
  (*w).left -= 1u;
}

// (count, mean, M2) of `count` values from their sum s and sum of squares q of d = value − K: K
// is one of the values, so Σd² keeps its precision.
fn shifted_stats(count: f32, s: f32, q: f32, shift: f32) -> vec4f {
  if (count == 0.0) { return vec4f(0.0); }
  return vec4f(count, shift + s / count, max(q - s * s / count, 0.0), 0.0);
}

// This invocation's statistics partial over the block's images (zero when it has no elements).
fn stats_partial(c: u32, lid: u32, images: vec2u) -> vec4f {
  var w = walk_start(lid, images, p.HW);
  if (!walk_live(w)) { return vec4f(0.0); }
  let count = w.left;  // the units it visits
  let shift = x[walk_at(w, c, p.HW)];
  var s = 0.0;
  var q = 0.0;
  for (; walk_live(w); walk_next(&w, p.HW)) {
    let d = x[walk_at(w, c, p.HW)] - shift;
    s += d;
    q += d * d;
  }
  return shifted_stats(f32(count), s, q, shift);
}

// The same on vec4s (H·W a multiple of 4): K is the first component of the invocation's first vec4.
fn stats_partial4(c: u32, lid: u32, images: vec2u) -> vec4f {
  let quads = p.HW / 4u;
  var w = walk_start(lid, images, quads);
  if (!walk_live(w)) { return vec4f(0.0); }
  let count = 4u * w.left;  // the values it visits
  let shift = x4[walk_at(w, c, quads)].x;
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  for (; walk_live(w); walk_next(&w, quads)) {
    let d = x4[walk_at(w, c, quads)] - shift;
    s += d;
    q += d * d;
  }
  return shifted_stats(f32(count), s.x + s.y + s.z + s.w, q.x + q.y + q.z + q.w, shift);
}

@compute @workgroup_size(WG)
fn batch_norm_stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  store_partial(wid, lid, stats_partial(wid.x, lid, split_of(wid)), true);
}

@compute @workgroup_size(WG)
fn batch_norm_stats4_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  store_partial(wid, lid, stats_partial4(wid.x, lid, split_of(wid)), true);
}

// Channel c's mean and biased variance from its partials (count, mean_j, M2_j): the mean of the
// means weighted by count, then M2 = Σ (M2_j + n_j·(mean_j − mean)²).
@compute @workgroup_size(WG)
fn batch_norm_stats_finish(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var count = 0.0;
  var total = 0.0;
  for (var j = 0u; j < p.parts; j++) {
    let t = partials[c * p.parts + j];
    count += t.x;
    total += t.x * t.y;
  }
  let mean = total / count;
  var m2 = 0.0;
  for (var j = 0u; j < p.parts; j++) {
    let t = partials[c * p.parts + j];
    let dm = t.y - mean;
    m2 += t.z + t.x * dm * dm;
  }
  store_stats(c, mean, m2 / count);
}

// stats (and running) of channel c from its mean and biased variance v.
fn store_stats(c: u32, mean: f32, v: f32) {
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
  return image_block(wid.x, p.images);
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
  for (var w = walk_start(lid, images_of(wid), p.HW); walk_live(w); walk_next(&w, p.HW)) {
    let idx = walk_at(w, c, p.HW);
    let y = normalised(ch, x[idx]);
    out[idx] = select(y, max(y, 0.0), RELU);
  }
}

// batch_norm_fwd on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = fwd_channel(c);
  let quads = p.HW / 4u;
  for (var w = walk_start(lid, images_of(wid), quads); walk_live(w); walk_next(&w, quads)) {
    let idx = walk_at(w, c, quads);
    let y = normalised4(ch, x4[idx]);
    out4[idx] = select(y, max(y, vec4f(0.0)), RELU);
  }
}

// The parameter gradients' partials (see the reductions above): (Σ g, Σ g·(x − mean)) of the
// invocation's elements (with TREE, the workgroup's); …_finish adds them and scales the second by inv_std.
@compute @workgroup_size(WG)
fn batch_norm_bwd_params_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let ch = fwd_channel(c);
  var sg = 0.0;
  var sgx = 0.0;
  for (var w = walk_start(lid, split_of(wid), p.HW); walk_live(w); walk_next(&w, p.HW)) {
    let idx = walk_at(w, c, p.HW);
    let xv = x[idx];
    let gv = through_relu(ch, g[idx], xv);
    sg += gv;
    sgx += gv * (xv - ch.mean);
  }
  store_partial(wid, lid, vec4f(sg, sgx, 0.0, 0.0), false);
}

// batch_norm_bwd_params_partial on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_bwd_params4_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let ch = fwd_channel(c);
  let quads = p.HW / 4u;
  var sg = vec4f(0.0);
  var sgx = vec4f(0.0);
  for (var w = walk_start(lid, split_of(wid), quads); walk_live(w); walk_next(&w, quads)) {
    let idx = walk_at(w, c, quads);
    let xv = x4[idx];
    let gv = through_relu4(ch, g4[idx], xv);
    sg += gv;
    sgx += gv * (xv - ch.mean);
  }
  store_partial(wid, lid, vec4f(sg.x + sg.y + sg.z + sg.w, sgx.x + sgx.y + sgx.z + sgx.w, 0.0, 0.0), false);
}

// dβ = Σ g and dγ = Σ g·x̂ of channel c, x̂ = (x − mean)·inv_std, from its partials.
@compute @workgroup_size(WG)
fn batch_norm_bwd_params_finish(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var t = vec4f(0.0);
  for (var j = 0u; j < p.parts; j++) { t += partials[c * p.parts + j]; }
  dbeta[c] = t.x;
  dgamma[c] = t.y * stats[p.C + c];
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
  return BwdChannel(stats[c], inv, gamma[c] * inv, f32(p.N * p.HW), dbeta[c], dgamma[c]);
}

@compute @workgroup_size(WG)
fn batch_norm_bwd_input(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = bwd_channel(c);
  let fch = fwd_channel(c);
  for (var w = walk_start(lid, images_of(wid), p.HW); walk_live(w); walk_next(&w, p.HW)) {
    let idx = walk_at(w, c, p.HW);
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

// batch_norm_bwd_input on vec4s (H·W a multiple of 4).
@compute @workgroup_size(WG)
fn batch_norm_bwd_input4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let ch = bwd_channel(c);
  let fch = fwd_channel(c);
  let quads = p.HW / 4u;
  for (var w = walk_start(lid, images_of(wid), quads); walk_live(w); walk_next(&w, quads)) {
    let idx = walk_at(w, c, quads);
    let xv = x4[idx];
    let gv = through_relu4(fch, g4[idx], xv);
    if (p.training == 0u) {
      out4[idx] = ch.scale * gv;
    } else {
      let xhat = (xv - ch.mean) * ch.inv;
      out4[idx] = ch.scale / ch.M * (ch.M * gv - ch.sum_g - xhat * ch.sum_gx);
    }
  }
}
