// pool.wgsl — 2×2 max and average pooling (stride 2, floor: an odd last row/column is dropped,
// as in PyTorch) and global average pooling, forward and backward. NCHW float32.
//
//   x [N, C, H, W]   →   2×2 pools: out [N, C, H/2, W/2] (floor);  global: out [N, C]
//   max_pool2_fwd   out[p] = max of the 2×2 window; ties take the first in row-major order
//   max_pool2_bwd   dx[q] = g[p] if q is the window's (first) maximum, else 0; each window
//                   recomputes its argmax (no index buffer) and writes its 4 inputs (and the
//                   dropped odd row/column beside it): per input element, the index decoding and
//                   window loads cost 4× as much on CPU adapters
//                   (both: one invocation per row of windows)
//   max_pool2_fwd4, max_pool2_bwd4   the same for W a multiple of 4, two windows per step
//   avg_pool2_fwd   out[p] = mean of the window;  avg_pool2_bwd  dx[q] = g[p] / 4 (0 if dropped)
//   global_avg_fwd  out[n, c] = mean over H × W (one invocation per plane)
//   global_avg_bwd  dx[n, c, y, x] = g[n, c] / (H W) (one invocation per plane)

struct PoolParams {
  planes: u32,   // N * C
  H: u32,
  W: u32,
  Ho: u32,
  Wo: u32,
}

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
// x and out as vec4s, for the *4 entries (W a multiple of 4: two windows' rows in one vec4)
@group(0) @binding(4) var<storage, read> x4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out4: array<vec4f>;

override WG: u32 = 64;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

// (plane, oy, ox) of output element i: two divisions, not four (a CPU adapter divides lane by
// lane).
fn output_coords(i: u32) -> vec3u {
  let plane = i / (p.Wo * p.Ho);
  let r = i - plane * p.Wo * p.Ho;
  let oy = r / p.Wo;
  return vec3u(plane, oy, r - oy * p.Wo);
}

// (plane, oy, ox) of the window holding input element q; oy ≥ Ho or ox ≥ Wo for a dropped
// odd last row/column.
fn window_of(q: u32) -> vec3u {
  return vec3u(q / (p.W * p.H), ((q / p.W) % p.H) / 2u, (q % p.W) / 2u);
}

// Flat index (within x) of the top-left element of window c = (plane, oy, ox).
fn window_base(c: vec3u) -> u32 {
  return c.x * p.H * p.W + (2u * c.y) * p.W + 2u * c.z;
}

// The window's first maximum (ties take the first in row-major order): its value and its place
// 0…3 in the window (top row, then bottom row). Each input is loaded once.
struct WindowMax {
  value: f32,
  at: u32,
}

fn window_max(base: u32) -> WindowMax {
  return first_max(vec4f(x[base], x[base + 1u], x[base + p.W], x[base + p.W + 1u]));
}

// The first maximum of a window's values v (top row, then bottom row).
fn first_max(v: vec4f) -> WindowMax {
  var m = WindowMax(v.x, 0u);
  if (v.y > m.value) { m = WindowMax(v.y, 1u); }
  if (v.z > m.value) { m = WindowMax(v.z, 2u); }
  if (v.w > m.value) { m = WindowMax(v.w, 3u); }
  return m;
}

// The max-pool entries take one row of windows (plane, oy) per invocation and walk its Wo
// windows: the row's place is divided out once, not per window (a CPU adapter divides lane by
// lane; one window per invocation spent most of its time on the divisions).
fn window_row(r: u32) -> u32 {
  let plane = r / p.Ho;
  return window_base(vec3u(plane, r - plane * p.Ho, 0u));
}

@compute @workgroup_size(WG)
fn max_pool2_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= p.planes * p.Ho) { return; }
  let base = window_row(r);
  let o = r * p.Wo;
  for (var ox = 0u; ox < p.Wo; ox++) { out[o + ox] = window_max(base + 2u * ox).value; }
}

@compute @workgroup_size(WG)
fn max_pool2_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= p.planes * p.Ho) { return; }
  let base = window_row(r);
  let o = r * p.Wo;
  for (var ox = 0u; ox < p.Wo; ox++) {
    let at = base + 2u * ox;
    let best = window_max(at).at;
    let gv = g[o + ox];
    out[at] = select(0.0, gv, best == 0u);
    out[at + 1u] = select(0.0, gv, best == 1u);
    out[at + p.W] = select(0.0, gv, best == 2u);
    out[at + p.W + 1u] = select(0.0, gv, best == 3u);
  }
  // a dropped odd last column (row) gets its zeros from the window row beside (above) it
  if (p.W % 2u == 1u) {
    out[base + p.W - 1u] = 0.0;
    out[base + 2u * p.W - 1u] = 0.0;
  }
  if (p.H % 2u == 1u && (r + 1u) % p.Ho == 0u) {
    for (var j = 0u; j < p.W; j++) { out[base + 2u * p.W + j] = 0.0; }
  }
}

// max_pool2_fwd4, max_pool2_bwd4: the same for W a multiple of 4, two windows per step: their
// top and bottom rows are one vec4 each, loaded (and, backward, stored) whole — on CPU adapters
// every access costs per lane, a vec4 far less than four f32s.
@compute @workgroup_size(WG)
fn max_pool2_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= p.planes * p.Ho) { return; }
  let base = window_row(r) / 4u;
  let o = r * p.Wo;
  for (var k = 0u; k < p.W / 4u; k++) {
    let m = window_pair(base + k);
    out[o + 2u * k] = m[0].value;
    out[o + 2u * k + 1u] = m[1].value;
  }
}

@compute @workgroup_size(WG)
fn max_pool2_bwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= p.planes * p.Ho) { return; }
  let base = window_row(r) / 4u;
  let below = p.W / 4u;
  let o = r * p.Wo;
  let z = 0.0;
  for (var k = 0u; k < p.W / 4u; k++) {
    let m = window_pair(base + k);
    let left = m[0].at;
    let right = m[1].at;
    let gl = g[o + 2u * k];
    let gr = g[o + 2u * k + 1u];
    out4[base + k] = vec4f(select(z, gl, left == 0u), select(z, gl, left == 1u), select(z, gr, right == 0u), select(z, gr, right == 1u));
    out4[base + below + k] = vec4f(select(z, gl, left == 2u), select(z, gl, left == 3u), select(z, gr, right == 2u), select(z, gr, right == 3u));
  }
  // a dropped odd last row gets its zeros from the window row above it (W is even: no dropped column)
  if (p.H % 2u == 1u && (r + 1u) % p.Ho == 0u) {
    for (var k = 0u; k < p.W / 4u; k++) { out4[base + 2u * below + k] = vec4f(0.0); }
  }
}

// The first maxima of the two windows whose top rows are the vec4 x4[top] (their bottom rows the
// vec4 one input row below): left window, then right.
fn window_pair(top: u32) -> array<WindowMax, 2> {
  let t = x4[top];
  let b = x4[top + p.W / 4u];
  return array<WindowMax, 2>(first_max(vec4f(t.xy, b.xy)), first_max(vec4f(t.zw, b.zw)));
}

@compute @workgroup_size(WG)
fn avg_pool2_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= p.planes * p.Ho * p.Wo) { return; }
  let c = output_coords(i);
  let base = window_base(c);
  out[i] = 0.25 * (x[base] + x[base + 1u] + x[base + p.W] + x[base + p.W + 1u]);
}

@compute @workgroup_size(WG)
fn avg_pool2_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = flat_index(wid, nwg, lid);
  if (q >= p.planes * p.H * p.W) { return; }
  let c = window_of(q);
  if (c.y >= p.Ho || c.z >= p.Wo) { out[q] = 0.0; return; }
  let gi = (c.x * p.Ho + c.y) * p.Wo + c.z;
  out[q] = 0.25 * g[gi];
}

@compute @workgroup_size(WG)
fn global_avg_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pl = flat_index(wid, nwg, lid);
  if (pl >= p.planes) { return; }
  let n = p.H * p.W;
  let base = pl * n;
  // 4 values per iteration (a constant inner trip count, unrolled): fewer loop iterations, which
  // cost lavapipe more than a load (0.8× the time on 128 × 64 × 7 × 7)
  var acc = vec4f(0.0);
  var k = 0u;
  for (; k + 4u <= n; k += 4u) {
    acc += vec4f(x[base + k], x[base + k + 1u], x[base + k + 2u], x[base + k + 3u]);
  }
  var rest = 0.0;
  for (; k < n; k++) { rest += x[base + k]; }
  out[pl] = (acc.x + acc.y + acc.z + acc.w + rest) / f32(n);
}

// One invocation per plane, as the forward: one invocation per element, dividing out its plane,
// took 5× as long (128 × 64 × 7 × 7).
@compute @workgroup_size(WG)
fn global_avg_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pl = flat_index(wid, nwg, lid);
  if (pl >= p.planes) { return; }
  let n = p.H * p.W;
  let base = pl * n;
  let v = g[pl] / f32(n);
  var k = 0u;
  for (; k + 4u <= n; k += 4u) {  // 4 per iteration (unrolled): a loop iteration costs more than a store
    out[base + k] = v;
    out[base + k + 1u] = v;
    out[base + k + 2u] = v;
    out[base + k + 3u] = v;
  }
  for (; k < n; k++) { out[base + k] = v; }
}
