// conv2d_winograd.wgsl — the transforms of the Winograd convolutions F(4 × 4, 3 × 3) and
// F(4 × 4, 5 × 5): a 3 × 3 (5 × 5) 'same' convolution at stride 1 computed tile by tile, each
// 4 × 4 block of outputs from the 6 × 6 (8 × 8) block of inputs around it with 36 (64) products
// per input and output channel instead of 144 (400) (Lavin & Gray, "Fast algorithms for
// convolutional neural networks", 2016):
//   y_tile = Aᵀ [ Σ_c (G w[o, c] Gᵀ) ⊙ (Bᵀ d[c] B) ] A
// The Σ_c at each position ξ of the transformed tile is one of 36 (64) independent matrix
// products, which conv2d_subgroups.wgsl's conv2d_winograd_product_sg computes (the 1 × 1 kernel's
// sums with one weight matrix per position); this file holds what comes before and after it. The
// 3 × 3 kernels:
//   conv2d_winograd_weights  U[ξ, r, k]    = (G w_rk Gᵀ)[ξ], w_rk the packed 3 × 3 window
//                            (conv2d_pack_weights_sg's layout, mask applied) of output channel r
//                            and input channel k — or, with p.flip, of output channel k and input
//                            channel r rotated by 180°: the input gradient's weights
//   conv2d_winograd_input    V[ξ, c, n·P + t] = (Bᵀ d B)[ξ], d the 6 × 6 inputs of tile t of
//                            image n (rows 4·ty − 1 …, columns 4·tx − 1 …; 0 outside the plane);
//                            _interleaved: the same with channels interleaved by 4
//   conv2d_winograd_output   y[n, o, 4·ty + i, 4·tx + j] = (Aᵀ M[·, o, n·P + t] A)[i, j] inside
//                            the plane; _rows: the same where ROWS holds
// and for the weight gradient, dw[o, c] = Gᵀ [ Σ_{n,t} (A gy Aᵀ) ⊙ (Bᵀ d B) ] G — the upstream
// gradient's 4 × 4 tiles gy transformed like M's inverse, their products with V summed over the
// batch's tiles per position (conv2d_bwd_weight_sg at S = 1, one chunk per position: dU[ξ, o, c]),
// and each pair's 6 × 6 sums taken back to 3 × 3:
//   conv2d_winograd_upstream    D[ξ, o, n·P + t] = (A gy Aᵀ)[ξ], gy the 4 × 4 upstream gradients of tile t
//   conv2d_winograd_weight_grad dw[o, c, a, b] = (Gᵀ dU[·, o, c] G)[a, b]
// The 5 × 5 kernels (conv2d_winograd5_*, at the end) are the same with 8 × 8 tiles: WGSL has no
// arrays of a length a function is generic over, so their transforms are written again.
// Tiles are numbered t = ty·TW + tx over TW = ⌈W/4⌉ columns and ⌈H/4⌉ rows, then padded to P, a
// multiple of 4 (the product reads 4 tiles per lane as one vec4); a channel's row of V and M
// holds the batch's tiles, N·P of them padded to L (see the product). The padding tiles of V are
// 0, and so is V (and D) past N·P; M's there are never read. The tile transforms take 4
// consecutive tiles per invocation, one vec4 across them per position, so V and M move as vec4s
// (the product's layout); where the rows are a multiple of 16 pixels (ROWS) the 4 tiles are
// neighbours on one tile row, and their inputs and outputs move as vec4s too: 6 rows of 4 vec4s
// and 2 values in, 16 vec4s out, against 144 single values (lavapipe gathers every load and
// scatters every store lane by lane, so that count is what these kernels cost). Their loops have
// constant trip counts, which the compiler unrolls, so every local array is indexed by constants
// (one indexed at run time would live on the stack, gathered lane by lane too). The weight
// transform, one invocation per channel pair, is light next to them.
//
// Accuracy: the transforms' entries reach 5 (Bᵀ), 1/24 (G) and 8 (Aᵀ) at 3 × 3, 5.25 and 1/90 at
// 5 × 5, so float32 rounding grows a few times against the direct sums' (simulated at 5 × 5: about
// 4× at 32 and 64 channels; tested against the float64 reference in test/conv2d_winograd.test.ts).

struct WinogradParams {
  N: u32,
  C: u32,     // channels of the transformed tensor (weights: the product's output channels R)
  H: u32,
  W: u32,
  TW: u32,    // tiles per row: ⌈W/4⌉
  P: u32,     // tiles per plane: ⌈H/4⌉·TW rounded up to a multiple of 4
  L: u32,     // tiles per channel row of V and M: N·P rounded up (the product's plane)
  K: u32,     // weights: the product's input channels
  flip: u32,  // weights: 1 for the input gradient's (transposed, rotated by 180°)
}

@group(0) @binding(0) var<uniform> p: WinogradParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4f>;

override WG: u32 = 64;
// The 4 tiles of an invocation lie on one tile row and W is a multiple of 16 (TW a multiple of 4).
override ROWS: bool = false;
// The planes have 2 × 2 tiles (5 ≤ H, W ≤ 8: fmnist-6's 7 × 7, cifar-8's 8 × 8), so an
// invocation's quad is its whole plane: a row of the quad's windows reads two rows of the plane
// once each (plane_row) instead of each tile's part of them — at 7 × 7, 63 loads of the input
// transform's 144 (3 × 3), 77 of 256 (5 × 5), the upstream gradient's 49 of 64.
override PLANE: bool = false;

fn invocation(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

// Bᵀ d for one column (or row) of 6 values, 4 tiles at once.
fn bt6(d: array<vec4f, 6>) -> array<vec4f, 6> {
  return array<vec4f, 6>(
    4.0 * d[0] - 5.0 * d[2] + d[4],
    -4.0 * (d[1] + d[2]) + d[3] + d[4],
    4.0 * (d[1] - d[2]) - d[3] + d[4],
    2.0 * (d[3] - d[1]) - d[2] + d[4],
    2.0 * (d[1] - d[3]) - d[2] + d[4],
    4.0 * d[1] - 5.0 * d[3] + d[5],
  );
}

// G g for one column (or row) of 3 weights.
fn g6(g: array<f32, 3>) -> array<f32, 6> {
  let even = g[0] + g[2];
  return array<f32, 6>(
    0.25 * g[0],
    -(even + g[1]) / 6.0,
    -(even - g[1]) / 6.0,
    g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
    g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
    g[2],
  );
}

// Aᵀ m for one column (or row) of 6 products, 4 tiles at once.
fn at4(m: array<vec4f, 6>) -> array<vec4f, 4> {
  let s12 = m[1] + m[2];
  let d12 = m[1] - m[2];
  let s34 = m[3] + m[4];
  let d34 = m[3] - m[4];
  return array<vec4f, 4>(m[0] + s12 + s34, d12 + 2.0 * d34, s12 + 4.0 * s34, d12 + 8.0 * d34 + m[5]);
}

// Tap (a, b) of the window at `base` (rows of 4 floats), rotated by 180° for the input gradient.
fn tap(base: u32, a: u32, b: u32) -> f32 {
  return src[base + select(a * 4u + b, (2u - a) * 4u + 2u - b, p.flip == 1u)];
}

// Row u of G g Gᵀ from G g's row u (c0 … c2: its 3 columns), stored at positions (u, 0 … 5).
fn store_weight_row(i: u32, pairs: u32, u: u32, c0: f32, c1: f32, c2: f32) {
  let row = g6(array<f32, 3>(c0, c1, c2));
  let at = u * 6u * pairs + i;
  dst[at] = row[0];
  dst[at + pairs] = row[1];
  dst[at + 2u * pairs] = row[2];
  dst[at + 3u * pairs] = row[3];
  dst[at + 4u * pairs] = row[4];
  dst[at + 5u * pairs] = row[5];
}

// One invocation per (product output channel r, input channel k); src is the packed window
// (rows of 4 floats, conv2d_pack_weights_sg), dst is U [36, R, K].
@compute @workgroup_size(WG)
fn conv2d_winograd_weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let pairs = p.C * p.K;
  if (i >= pairs) { return; }
  let r = i / p.K;
  let k = i - r * p.K;
  // the convolution's (output, input) channel and its input-channel count
  let pair = select(vec3u(r, k, p.K), vec3u(k, r, p.C), p.flip == 1u);
  let base = (pair.x * pair.z + pair.y) * 12u;
  // G g: each column of the window to 6 rows
  let g0 = g6(array<f32, 3>(tap(base, 0u, 0u), tap(base, 1u, 0u), tap(base, 2u, 0u)));
  let g1 = g6(array<f32, 3>(tap(base, 0u, 1u), tap(base, 1u, 1u), tap(base, 2u, 1u)));
  let g2 = g6(array<f32, 3>(tap(base, 0u, 2u), tap(base, 1u, 2u), tap(base, 2u, 2u)));
  store_weight_row(i, pairs, 0u, g0[0], g1[0], g2[0]);
  store_weight_row(i, pairs, 1u, g0[1], g1[1], g2[1]);
  store_weight_row(i, pairs, 2u, g0[2], g1[2], g2[2]);
  store_weight_row(i, pairs, 3u, g0[3], g1[3], g2[3]);
  store_weight_row(i, pairs, 4u, g0[4], g1[4], g2[4]);
  store_weight_row(i, pairs, 5u, g0[5], g1[5], g2[5]);
}

// Gᵀ of a column (or row) of 6 sums: the 3 taps' share.
fn gt3(v: array<f32, 6>) -> array<f32, 3> {
  let s12 = v[1] + v[2];
  let s34 = v[3] + v[4];
  return array<f32, 3>(0.25 * v[0] - s12 / 6.0 + s34 / 24.0, (v[2] - v[1]) / 6.0 + (v[3] - v[4]) / 12.0, (s34 - s12) / 6.0 + v[5]);
}

// Column u's 6 sums of dU for pair i (positions (u, 0 … 5)), taken to 3 by Gᵀ along the row.
fn weight_grad_row(i: u32, pairs: u32, u: u32) -> array<f32, 3> {
  let at = u * 6u * pairs + i;
  return gt3(array<f32, 6>(src[at], src[at + pairs], src[at + 2u * pairs], src[at + 3u * pairs], src[at + 4u * pairs], src[at + 5u * pairs]));
}

// One invocation per (output channel o, input channel c): src is dU [36, C, K] (pair i = o·K + c),
// dst is dw [C, K, 3, 3].
@compute @workgroup_size(WG)
fn conv2d_winograd_weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let pairs = p.C * p.K;
  if (i >= pairs) { return; }
  // Gᵀ dU G: each row of the 6 × 6 sums to 3 columns, then each of those columns to 3 rows
  let r0 = weight_grad_row(i, pairs, 0u);
  let r1 = weight_grad_row(i, pairs, 1u);
  let r2 = weight_grad_row(i, pairs, 2u);
  let r3 = weight_grad_row(i, pairs, 3u);
  let r4 = weight_grad_row(i, pairs, 4u);
  let r5 = weight_grad_row(i, pairs, 5u);
  let c0 = gt3(array<f32, 6>(r0[0], r1[0], r2[0], r3[0], r4[0], r5[0]));
  let c1 = gt3(array<f32, 6>(r0[1], r1[1], r2[1], r3[1], r4[1], r5[1]));
  let c2 = gt3(array<f32, 6>(r0[2], r1[2], r2[2], r3[2], r4[2], r5[2]));
  let at = i * 9u;
  dst[at] = c0[0];
  dst[at + 1u] = c1[0];
  dst[at + 2u] = c2[0];
  dst[at + 3u] = c0[1];
  dst[at + 4u] = c1[1];
  dst[at + 5u] = c2[1];
  dst[at + 6u] = c0[2];
  dst[at + 7u] = c1[2];
  dst[at + 8u] = c2[2];
}

// An invocation's 4 tiles: image plane n·C + c (image n, channel c), first tile t0 (a multiple of
// 4), and the vec4 index of position 0 of its tiles in V or M (position ξ is ξ·C·L/4 further on).
struct Quad {
  plane: u32,
  n: u32,
  c: u32,
  t0: u32,
  at: u32,
  live: bool,  // output_quad: whether it has tiles to write; quad_of_interleaved: whether c < C
}

// From invocation i = (c·N + n)·P/4 + t0/4 (i within the batch's quads): consecutive invocations
// take consecutive quads of V's (M's, D's) channel rows, so a subgroup's store (load) of a
// position is one run of vec4s. With the channel fastest (i = (n·C + c)·P/4 + …) a subgroup on
// 7 × 7 planes (a quad a plane) had written 8 runs 2 KB apart at each of the 64 positions: the
// 5 × 5 input transform took 1.2–1.8× the time, the upstream gradient's 1.7–2.1×, the output
// 0.9–1.2× (lavapipe, fmnist-6's 64 → 64 layer at batch 128).
fn quad_of(i: u32) -> Quad {
  let quads = p.P / 4u;
  let row = i / quads;  // c·N + n
  let t0 = (i - row * quads) * 4u;
  let c = row / p.N;
  let n = row - c * p.N;
  return Quad(n * p.C + c, n, c, t0, (c * p.L + n * p.P + t0) / 4u, true);
}

// The interleaved layout's order (the _input_interleaved kernels), over 4·⌈C/4⌉ channel slots
// (c ≥ C: a padding slot, written as zeros): with several quads a plane, i = ((cb·N + n)·4 + k)·P/4
// + t0/4, c = 4·cb + k — a quad's block of 4 channels' interleaved floats is completed by the
// next channel's subgroups right after, where in quad_of's order the rest of it came from
// another image's (32×32 and 14×14 planes at 5 × 5: 0.68–0.85× the time); with a quad a plane
// (PLANE) quad_of's order, i = (c·N + n) + …, which measured faster there (0.68–0.73× the time of
// the other on 7 × 7 planes at 5 × 5; at 3 × 3 within the noise).
fn quad_of_interleaved(i: u32) -> Quad {
  let quads = p.P / 4u;
  let rest = i / quads;
  let t0 = (i - rest * quads) * 4u;
  var c = rest / p.N;  // PLANE: rest = c·N + n
  var n = rest - c * p.N;
  if (!PLANE) {  // rest = (cb·N + n)·4 + k
    let row = rest / 4u;
    let cb = row / p.N;
    n = row - cb * p.N;
    c = 4u * cb + rest % 4u;
  }
  return Quad(n * p.C + min(c, p.C - 1u), n, c, t0, 0u, c < p.C);  // at unused: interleaved_at places the tiles
}

// Invocations past the batch's quads zero the quads that pad each channel's row of V or D to L
// (the weight gradient's product sums over all L; the forward's never reads them into an output):
// j-th of them, C·(L − N·P)/4 in all.
fn zero_padding(j: u32, positions: u32) {
  let per_channel = (p.L - p.N * p.P) / 4u;
  if (j >= p.C * per_channel) { return; }
  let c = j / per_channel;
  let at = (c * p.L + p.N * p.P) / 4u + j - c * per_channel;
  let stride = p.C * p.L / 4u;
  for (var k = 0u; k < positions; k++) { dst4[k * stride + at] = vec4f(0.0); }
}

// x at (row y, column x) of plane `base`, 0 outside the plane.
fn input_at(base: u32, y: i32, x: i32) -> f32 {
  let inside = y >= 0 && y < i32(p.H) && x >= 0 && x < i32(p.W);
  return select(0.0, src[base + u32(clamp(y, 0, i32(p.H) - 1)) * p.W + u32(clamp(x, 0, i32(p.W) - 1))], inside);
}

// Row a of tile t's 6 × 6 inputs (zeros for a padding tile).
fn tile_row(base: u32, t: u32, a: i32) -> array<f32, 6> {
  let ty = t / p.TW;
  let y = select(-1, i32(ty * 4u) - 1 + a, ty * 4u < p.H);  // a padding tile reads row −1: zeros
  let x0 = i32((t - ty * p.TW) * 4u) - 1;
  return array<f32, 6>(input_at(base, y, x0), input_at(base, y, x0 + 1), input_at(base, y, x0 + 2),
                       input_at(base, y, x0 + 3), input_at(base, y, x0 + 4), input_at(base, y, x0 + 5));
}

// PLANE: row y of the plane at `base`, columns 0 … 7 (0 outside the plane; y constant once unrolled).
fn plane_row(base: u32, y: i32) -> array<f32, 8> {
  var r: array<f32, 8>;
  if (y >= 0 && y < i32(p.H)) {
    let at = base + u32(y) * p.W;
    for (var x = 0u; x < 8u; x++) {
      if (x < p.W) { r[x] = src[at + x]; }
    }
  }
  return r;
}

// Column x of a plane row, 0 outside columns 0 … 7 (x constant once unrolled).
fn plane_col(r: array<f32, 8>, x: i32) -> f32 {
  if (x < 0 || x > 7) { return 0.0; }
  return r[x];
}

// PLANE: element b of row a of the quad's windows, which start at row and column `origin` of
// their tiles (−1 at 3 × 3, −2 at 5 × 5, 0 for the upstream gradient): tile k = (k / 2, k mod 2)
// reads plane row top (k < 2) or bottom at column origin + 4·(k mod 2) + b.
fn plane_element(top: array<f32, 8>, bottom: array<f32, 8>, origin: i32, b: i32) -> vec4f {
  return vec4f(plane_col(top, origin + b), plane_col(top, origin + 4 + b), plane_col(bottom, origin + b), plane_col(bottom, origin + 4 + b));
}

// Row a of the quad's inputs, column b in element b, tile k in component k.
fn quad_row(q: Quad, a: i32) -> array<vec4f, 6> {
  let base = q.plane * p.H * p.W;
  if (PLANE) {
    let top = plane_row(base, a - 1);
    let bottom = plane_row(base, a + 3);
    return array<vec4f, 6>(plane_element(top, bottom, -1, 0), plane_element(top, bottom, -1, 1), plane_element(top, bottom, -1, 2),
                           plane_element(top, bottom, -1, 3), plane_element(top, bottom, -1, 4), plane_element(top, bottom, -1, 5));
  }
  if (ROWS) {
    // tiles tx0 … tx0 + 3 of tile row ty: image columns 4·tx0 − 1 … 4·tx0 + 16
    let ty = q.t0 / p.TW;
    let tx0 = q.t0 - ty * p.TW;
    let y = i32(ty * 4u) - 1 + a;
    let inside = y >= 0 && y < i32(p.H);  // padding tiles (ty·4 ≥ H) read zeros this way too
    let at = (base + u32(clamp(y, 0, i32(p.H) - 1)) * p.W) / 4u + tx0;
    let q0 = select(vec4f(0.0), src4[at], inside);
    let q1 = select(vec4f(0.0), src4[at + 1u], inside);
    let q2 = select(vec4f(0.0), src4[at + 2u], inside);
    let q3 = select(vec4f(0.0), src4[at + 3u], inside);
    let left = input_at(base, y, i32(tx0 * 4u) - 1);
    let right = input_at(base, y, i32(tx0 * 4u) + 16);
    return array<vec4f, 6>(vec4f(left, q0.w, q1.w, q2.w), vec4f(q0.x, q1.x, q2.x, q3.x), vec4f(q0.y, q1.y, q2.y, q3.y),
                           vec4f(q0.z, q1.z, q2.z, q3.z), vec4f(q0.w, q1.w, q2.w, q3.w), vec4f(q1.x, q2.x, q3.x, right));
  }
  let r0 = tile_row(base, q.t0, a);
  let r1 = tile_row(base, q.t0 + 1u, a);
  let r2 = tile_row(base, q.t0 + 2u, a);
  let r3 = tile_row(base, q.t0 + 3u, a);
  return array<vec4f, 6>(vec4f(r0[0], r1[0], r2[0], r3[0]), vec4f(r0[1], r1[1], r2[1], r3[1]), vec4f(r0[2], r1[2], r2[2], r3[2]),
                         vec4f(r0[3], r1[3], r2[3], r3[3]), vec4f(r0[4], r1[4], r2[4], r3[4]), vec4f(r0[5], r1[5], r2[5], r3[5]));
}

// Bᵀ d B of the quad's tiles: element [v][u] is position (u, v) (tile k in component k).
fn transformed_input(q: Quad) -> array<array<vec4f, 6>, 6> {
  // each row's d B (bt6 along it), then each column of those
  let e0 = bt6(quad_row(q, 0));
  let e1 = bt6(quad_row(q, 1));
  let e2 = bt6(quad_row(q, 2));
  let e3 = bt6(quad_row(q, 3));
  let e4 = bt6(quad_row(q, 4));
  let e5 = bt6(quad_row(q, 5));
  return array<array<vec4f, 6>, 6>(bt6(array<vec4f, 6>(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0])), bt6(array<vec4f, 6>(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1])),
                                   bt6(array<vec4f, 6>(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2])), bt6(array<vec4f, 6>(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3])),
                                   bt6(array<vec4f, 6>(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4])), bt6(array<vec4f, 6>(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5])));
}

// One invocation per (image, channel, 4 tiles), then zero_padding: src (and src4) is x [N, C, H, W],
// dst4 is V [36, C, L]. (The loops over positions unroll: constant trip counts.)
@compute @workgroup_size(WG)
fn conv2d_winograd_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * p.C * p.P / 4u;
  if (i >= quads) { zero_padding(i - quads, 36u); return; }
  let q = quad_of(i);
  let t = transformed_input(q);
  let stride = p.C * p.L / 4u;
  for (var u = 0u; u < 6u; u++) {
    for (var v = 0u; v < 6u; v++) { dst4[(u * 6u + v) * stride + q.at] = t[v][u]; }
  }
}

// conv2d_winograd_input for the weight gradient: V with its channels interleaved by 4,
// V4[ξ, c/4, j, c mod 4] — conv2d_pack_input_sg's layout of 36 images of L tiles, which
// conv2d_bwd_weight_sg reads a lane's 4 channels from in one vec4 — written value by value
// (lavapipe stores a vec4 value by value too), so no packing pass is needed. The last channel's
// invocations zero the rest of its block of 4 (as conv2d_pack_input_sg does: no sum of those
// slots is stored, but the buffer holds no stale values); past the batch's quads,
// zero_padding_interleaved.
@compute @workgroup_size(WG)
fn conv2d_winograd_input_interleaved(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * ((p.C + 3u) / 4u) * p.P;  // N·4⌈C/4⌉·P/4
  if (i >= quads) { zero_padding_interleaved(i - quads, 36u); return; }
  let q = quad_of_interleaved(i);
  let to = interleaved_at(q);
  if (!q.live) { zero_slot(to, 36u); return; }
  let t = transformed_input(q);
  for (var u = 0u; u < 6u; u++) {
    for (var v = 0u; v < 6u; v++) { store_interleaved((u * 6u + v) * to.stride + to.first, t[v][u]); }
  }
}

// Where the quad's tiles of channel c go in the interleaved layout: position 0's first float
// (the next tiles 4 floats apart) and the floats between positions.
struct InterleavedAt {
  c: u32,
  first: u32,
  stride: u32,
}

fn interleaved_at(q: Quad) -> InterleavedAt {
  return InterleavedAt(q.c, ((q.c / 4u) * p.L + q.n * p.P + q.t0) * 4u + q.c % 4u, (p.C + 3u) / 4u * p.L * 4u);
}

// The 4 tiles' values (by component) of one position and channel, 4 floats apart.
fn store_interleaved(at: u32, value: vec4f) {
  dst[at] = value.x;
  dst[at + 4u] = value.y;
  dst[at + 8u] = value.z;
  dst[at + 12u] = value.w;
}

// A padding slot (channel c ≥ C of the last block of 4): zeros at the quad's 4 tiles of every position.
fn zero_slot(to: InterleavedAt, positions: u32) {
  for (var e = 0u; e < positions; e++) { store_interleaved(e * to.stride + to.first, vec4f(0.0)); }
}

// zero_padding in the interleaved layout: the j-th quad past the batch's tiles of channel slot
// c < 4·⌈C/4⌉ (those past C too), 4·⌈C/4⌉·(L − N·P)/4 in all.
fn zero_padding_interleaved(j: u32, positions: u32) {
  let per_channel = (p.L - p.N * p.P) / 4u;
  let slots = (p.C + 3u) / 4u * 4u;
  if (j >= slots * per_channel) { return; }
  let c = j / per_channel;
  let stride = slots * p.L;
  let first = ((c / 4u) * p.L + p.N * p.P + (j - c * per_channel) * 4u) * 4u + c % 4u;
  for (var e = 0u; e < positions; e++) { store_interleaved(e * stride + first, vec4f(0.0)); }
}

// Aᵀ of column v of the quad's products: its 4 output rows' values at column v.
fn product_column(at: u32, v: u32) -> array<vec4f, 4> {
  let stride = p.C * p.L / 4u;
  return at4(array<vec4f, 6>(src4[v * stride + at], src4[(6u + v) * stride + at], src4[(12u + v) * stride + at],
                             src4[(18u + v) * stride + at], src4[(24u + v) * stride + at], src4[(30u + v) * stride + at]));
}

// Aᵀ m A of the quad's 4 tiles: output row a's 4 columns in elements (tile k in component k).
fn quad_outputs(q: Quad) -> array<array<vec4f, 4>, 4> {
  let c0 = product_column(q.at, 0u);
  let c1 = product_column(q.at, 1u);
  let c2 = product_column(q.at, 2u);
  let c3 = product_column(q.at, 3u);
  let c4 = product_column(q.at, 4u);
  let c5 = product_column(q.at, 5u);
  return array<array<vec4f, 4>, 4>(at4(array<vec4f, 6>(c0[0], c1[0], c2[0], c3[0], c4[0], c5[0])),
                                   at4(array<vec4f, 6>(c0[1], c1[1], c2[1], c3[1], c4[1], c5[1])),
                                   at4(array<vec4f, 6>(c0[2], c1[2], c2[2], c3[2], c4[2], c5[2])),
                                   at4(array<vec4f, 6>(c0[3], c1[3], c2[3], c3[3], c4[3], c5[3])));
}

// The quad of output invocation i, or none (past the batch, or padding tiles only).
fn output_quad(i: u32) -> Quad {
  if (i >= p.N * p.C * p.P / 4u) { return Quad(0u, 0u, 0u, 0u, 0u, false); }
  var q = quad_of(i);
  q.live = (q.t0 / p.TW) * 4u < p.H;
  return q;
}

// The 4 × 4 outputs of the quad's tiles, tile by tile inside the plane.
fn store_tiles(q: Quad, y: array<array<vec4f, 4>, 4>) {
  for (var a = 0u; a < 4u; a++) { store_quad_row(q, a, y[a]); }
}

// The same where ROWS holds: each tile's output rows are whole vec4s of the plane.
fn store_plane_rows(q: Quad, y: array<array<vec4f, 4>, 4>) {
  for (var a = 0u; a < 4u; a++) { store_plane_row(q, a, y[a]); }
}

// Tile row a's 4 outputs of tile t (inside the plane only).
fn store_tile_row(base: u32, t: u32, a: u32, v: vec4f) {
  let ty = t / p.TW;
  let row = ty * 4u + a;
  if (row >= p.H) { return; }  // also every row of a padding tile
  let col = (t - ty * p.TW) * 4u;
  let at = base + row * p.W + col;
  dst[at] = v.x;
  if (col + 1u < p.W) { dst[at + 1u] = v.y; }
  if (col + 2u < p.W) { dst[at + 2u] = v.z; }
  if (col + 3u < p.W) { dst[at + 3u] = v.w; }
}

// The 4 tiles' outputs of row a (its 4 columns, tile k in component k) stored tile by tile.
fn store_quad_row(q: Quad, a: u32, r: array<vec4f, 4>) {
  let base = q.plane * p.H * p.W;
  store_tile_row(base, q.t0, a, vec4f(r[0].x, r[1].x, r[2].x, r[3].x));
  store_tile_row(base, q.t0 + 1u, a, vec4f(r[0].y, r[1].y, r[2].y, r[3].y));
  store_tile_row(base, q.t0 + 2u, a, vec4f(r[0].z, r[1].z, r[2].z, r[3].z));
  store_tile_row(base, q.t0 + 3u, a, vec4f(r[0].w, r[1].w, r[2].w, r[3].w));
}

// One invocation per (image, channel, 4 tiles): src4 is M [36, C, L], dst is y [N, C, H, W].
@compute @workgroup_size(WG)
fn conv2d_winograd_output(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = output_quad(invocation(wid, nwg, lid));
  if (q.live) { store_tiles(q, quad_outputs(q)); }
}

// Row a of the quad's 4 neighbouring tiles as 4 vec4s of the plane (ROWS).
fn store_plane_row(q: Quad, a: u32, r: array<vec4f, 4>) {
  let ty = q.t0 / p.TW;
  let row = ty * 4u + a;
  if (row >= p.H) { return; }
  let at = (q.plane * p.H * p.W + row * p.W) / 4u + q.t0 - ty * p.TW;
  dst4[at] = vec4f(r[0].x, r[1].x, r[2].x, r[3].x);
  dst4[at + 1u] = vec4f(r[0].y, r[1].y, r[2].y, r[3].y);
  dst4[at + 2u] = vec4f(r[0].z, r[1].z, r[2].z, r[3].z);
  dst4[at + 3u] = vec4f(r[0].w, r[1].w, r[2].w, r[3].w);
}

// conv2d_winograd_output where ROWS holds: each tile's output rows are whole vec4s of the plane.
@compute @workgroup_size(WG)
fn conv2d_winograd_output_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = output_quad(invocation(wid, nwg, lid));
  if (q.live) { store_plane_rows(q, quad_outputs(q)); }
}

// A of a column (or row) of 4 upstream gradients: 6 values, 4 tiles at once.
fn a6(v: array<vec4f, 4>) -> array<vec4f, 6> {
  let s02 = v[0] + v[2];
  let s13 = v[1] + v[3];
  let t02 = v[0] + 4.0 * v[2];
  let t13 = 2.0 * v[1] + 8.0 * v[3];
  return array<vec4f, 6>(v[0], s02 + s13, s02 - s13, t02 + t13, t02 - t13, v[3]);
}

// Row a of tile t's 4 × 4 upstream gradients (zeros outside the plane and for a padding tile).
fn tile_row4(base: u32, t: u32, a: u32) -> array<f32, 4> {
  let ty = t / p.TW;
  let y = i32(ty * 4u + a);  // a padding tile's rows lie below the plane: zeros
  let x0 = i32((t - ty * p.TW) * 4u);
  return array<f32, 4>(input_at(base, y, x0), input_at(base, y, x0 + 1), input_at(base, y, x0 + 2), input_at(base, y, x0 + 3));
}

// Row a of the quad's upstream gradients, column b in element b, tile k in component k.
fn quad_row4(q: Quad, a: u32) -> array<vec4f, 4> {
  let base = q.plane * p.H * p.W;
  if (PLANE) {
    let top = plane_row(base, i32(a));
    let bottom = plane_row(base, i32(a) + 4);
    return array<vec4f, 4>(plane_element(top, bottom, 0, 0), plane_element(top, bottom, 0, 1), plane_element(top, bottom, 0, 2), plane_element(top, bottom, 0, 3));
  }
  if (ROWS) {
    let ty = q.t0 / p.TW;
    let y = ty * 4u + a;
    let inside = y < p.H;
    let at = (base + min(y, p.H - 1u) * p.W) / 4u + q.t0 - ty * p.TW;
    let q0 = select(vec4f(0.0), src4[at], inside);
    let q1 = select(vec4f(0.0), src4[at + 1u], inside);
    let q2 = select(vec4f(0.0), src4[at + 2u], inside);
    let q3 = select(vec4f(0.0), src4[at + 3u], inside);
    return array<vec4f, 4>(vec4f(q0.x, q1.x, q2.x, q3.x), vec4f(q0.y, q1.y, q2.y, q3.y), vec4f(q0.z, q1.z, q2.z, q3.z), vec4f(q0.w, q1.w, q2.w, q3.w));
  }
  let r0 = tile_row4(base, q.t0, a);
  let r1 = tile_row4(base, q.t0 + 1u, a);
  let r2 = tile_row4(base, q.t0 + 2u, a);
  let r3 = tile_row4(base, q.t0 + 3u, a);
  return array<vec4f, 4>(vec4f(r0[0], r1[0], r2[0], r3[0]), vec4f(r0[1], r1[1], r2[1], r3[1]), vec4f(r0[2], r1[2], r2[2], r3[2]), vec4f(r0[3], r1[3], r2[3], r3[3]));
}

// One invocation per (image, channel, 4 tiles), then zero_padding: src (and src4) is gy [N, C, H, W],
// dst4 is D [36, C, L].
@compute @workgroup_size(WG)
fn conv2d_winograd_upstream(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * p.C * p.P / 4u;
  if (i >= quads) { zero_padding(i - quads, 36u); return; }
  let q = quad_of(i);
  // A gy Aᵀ: each row's gy Aᵀ (a6 along it), then each column of those
  let e0 = a6(quad_row4(q, 0u));
  let e1 = a6(quad_row4(q, 1u));
  let e2 = a6(quad_row4(q, 2u));
  let e3 = a6(quad_row4(q, 3u));
  store_upstream_column(q.at, 0u, e0[0], e1[0], e2[0], e3[0]);
  store_upstream_column(q.at, 1u, e0[1], e1[1], e2[1], e3[1]);
  store_upstream_column(q.at, 2u, e0[2], e1[2], e2[2], e3[2]);
  store_upstream_column(q.at, 3u, e0[3], e1[3], e2[3], e3[3]);
  store_upstream_column(q.at, 4u, e0[4], e1[4], e2[4], e3[4]);
  store_upstream_column(q.at, 5u, e0[5], e1[5], e2[5], e3[5]);
}

// Column v of A gy Aᵀ from the rows' gy Aᵀ (e_a for row a), stored at positions (u, v), u < 6.
fn store_upstream_column(at: u32, v: u32, e0: vec4f, e1: vec4f, e2: vec4f, e3: vec4f) {
  let stride = p.C * p.L / 4u;
  let c = a6(array<vec4f, 4>(e0, e1, e2, e3));
  dst4[v * stride + at] = c[0];
  dst4[(6u + v) * stride + at] = c[1];
  dst4[(12u + v) * stride + at] = c[2];
  dst4[(18u + v) * stride + at] = c[3];
  dst4[(24u + v) * stride + at] = c[4];
  dst4[(30u + v) * stride + at] = c[5];
}

// ---- F(4 × 4, 5 × 5) ---------------------------------------------------------------------------
// The same for a 5 × 5 window: 4 × 4 blocks of outputs from 8 × 8 blocks of inputs (rows 4·ty − 2 …,
// columns 4·tx − 2 …), 64 positions, 64 products per tile and channel pair instead of 400. Points
// 0, ±1, ±2, ±1/2 and ∞; Bᵀ (8 × 8), G (8 × 5), Aᵀ (4 × 8) solved from them (the transforms'
// entries reach 5.25 and 1/90: about 4× the direct sums' float32 rounding at 32 channels). Tiles,
// P, L, quads and layouts are those above, with 64 positions; the weights are packed in rows of
// 8 floats (conv2d_pack_weights_sg at S = 5).
//   conv2d_winograd5_weights, _input, _input_interleaved, _output, _output_rows, _upstream,
//   _weight_grad: as the 3 × 3 kernels of the same names

// Bᵀ d for one column (or row) of 8 values, 4 tiles at once.
fn bt8(d: array<vec4f, 8>) -> array<vec4f, 8> {
  let s26 = d[2] + d[6];
  let s15 = d[1] + d[5];
  return array<vec4f, 8>(
    d[6] - d[0] + 5.25 * (d[2] - d[4]),
    s15 + s26 - 4.25 * (d[3] + d[4]),
    s26 - d[1] - d[5] + 4.25 * (d[3] - d[4]),
    0.5 * d[1] + 0.25 * d[2] - 2.5 * d[3] - 1.25 * d[4] + 2.0 * d[5] + d[6],
    -0.5 * d[1] + 0.25 * d[2] + 2.5 * d[3] - 1.25 * d[4] - 2.0 * d[5] + d[6],
    2.0 * d[1] + 4.0 * d[2] - 2.5 * d[3] - 5.0 * d[4] + 0.5 * d[5] + d[6],
    -2.0 * d[1] + 4.0 * d[2] + 2.5 * d[3] - 5.0 * d[4] - 0.5 * d[5] + d[6],
    d[7] - d[1] + 5.25 * (d[3] - d[5]),
  );
}

// G g for one column (or row) of 5 weights.
fn g8(g: array<f32, 5>) -> array<f32, 8> {
  let even = g[0] + g[2] + g[4];
  let odd = g[1] + g[3];
  return array<f32, 8>(
    -g[0],
    -2.0 / 9.0 * (even + odd),
    -2.0 / 9.0 * (even - odd),
    (g[0] + 4.0 * g[2] + 16.0 * g[4] + 2.0 * g[1] + 8.0 * g[3]) / 90.0,
    (g[0] + 4.0 * g[2] + 16.0 * g[4] - 2.0 * g[1] - 8.0 * g[3]) / 90.0,
    (32.0 * g[0] + 8.0 * g[2] + 2.0 * g[4] + 16.0 * g[1] + 4.0 * g[3]) / 45.0,
    (32.0 * g[0] + 8.0 * g[2] + 2.0 * g[4] - 16.0 * g[1] - 4.0 * g[3]) / 45.0,
    g[4],
  );
}

// Aᵀ m for one column (or row) of 8 products, 4 tiles at once.
fn at8(m: array<vec4f, 8>) -> array<vec4f, 4> {
  let s12 = m[1] + m[2];
  let d12 = m[1] - m[2];
  let s34 = m[3] + m[4];
  let d34 = m[3] - m[4];
  let s56 = m[5] + m[6];
  let d56 = m[5] - m[6];
  return array<vec4f, 4>(m[0] + s12 + s34 + s56, d12 + 2.0 * d34 + 0.5 * d56, s12 + 4.0 * s34 + 0.25 * s56, d12 + 8.0 * d34 + 0.125 * d56 + m[7]);
}

// A of a column (or row) of 4 upstream gradients: 8 values, 4 tiles at once.
fn a8(v: array<vec4f, 4>) -> array<vec4f, 8> {
  let s02 = v[0] + v[2];
  let s13 = v[1] + v[3];
  let t02 = v[0] + 4.0 * v[2];
  let t13 = 2.0 * v[1] + 8.0 * v[3];
  let h02 = v[0] + 0.25 * v[2];
  let h13 = 0.5 * v[1] + 0.125 * v[3];
  return array<vec4f, 8>(v[0], s02 + s13, s02 - s13, t02 + t13, t02 - t13, h02 + h13, h02 - h13, v[3]);
}

// Gᵀ of a column (or row) of 8 sums: the 5 taps' share.
fn gt5(v: array<f32, 8>) -> array<f32, 5> {
  let s12 = v[1] + v[2];
  let d12 = v[1] - v[2];
  let s34 = v[3] + v[4];
  let d34 = v[3] - v[4];
  let s56 = v[5] + v[6];
  let d56 = v[5] - v[6];
  return array<f32, 5>(
    -v[0] - 2.0 / 9.0 * s12 + s34 / 90.0 + 32.0 / 45.0 * s56,
    -2.0 / 9.0 * d12 + d34 / 45.0 + 16.0 / 45.0 * d56,
    -2.0 / 9.0 * s12 + 2.0 / 45.0 * s34 + 8.0 / 45.0 * s56,
    -2.0 / 9.0 * d12 + 4.0 / 45.0 * d34 + 4.0 / 45.0 * d56,
    -2.0 / 9.0 * s12 + 8.0 / 45.0 * s34 + 2.0 / 45.0 * s56 + v[7],
  );
}

// Tap (a, b) of the 5 × 5 window at `base` (rows of 8 floats), rotated by 180° for the input gradient.
fn tap5(base: u32, a: u32, b: u32) -> f32 {
  return src[base + select(a * 8u + b, (4u - a) * 8u + 4u - b, p.flip == 1u)];
}

// Column b of the window (its 5 rows), G applied: 8 values.
fn weight_column5(base: u32, b: u32) -> array<f32, 8> {
  return g8(array<f32, 5>(tap5(base, 0u, b), tap5(base, 1u, b), tap5(base, 2u, b), tap5(base, 3u, b), tap5(base, 4u, b)));
}

// One invocation per (product output channel r, input channel k): src is the packed window, dst is U [64, R, K].
@compute @workgroup_size(WG)
fn conv2d_winograd5_weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let pairs = p.C * p.K;
  if (i >= pairs) { return; }
  let r = i / p.K;
  let k = i - r * p.K;
  let pair = select(vec3u(r, k, p.K), vec3u(k, r, p.C), p.flip == 1u);
  let base = (pair.x * pair.z + pair.y) * 40u;
  // G g: each column of the window to 8 rows, then each of those rows to 8 columns
  let c0 = weight_column5(base, 0u);
  let c1 = weight_column5(base, 1u);
  let c2 = weight_column5(base, 2u);
  let c3 = weight_column5(base, 3u);
  let c4 = weight_column5(base, 4u);
  for (var u = 0u; u < 8u; u++) {
    let row = g8(array<f32, 5>(c0[u], c1[u], c2[u], c3[u], c4[u]));
    for (var v = 0u; v < 8u; v++) { dst[(u * 8u + v) * pairs + i] = row[v]; }
  }
}

// Row a of tile t's 8 × 8 inputs (zeros for a padding tile).
fn tile_row8(base: u32, t: u32, a: i32) -> array<f32, 8> {
  let ty = t / p.TW;
  let y = select(-1, i32(ty * 4u) - 2 + a, ty * 4u < p.H);  // a padding tile reads row −1: zeros
  let x0 = i32((t - ty * p.TW) * 4u) - 2;
  return array<f32, 8>(input_at(base, y, x0), input_at(base, y, x0 + 1), input_at(base, y, x0 + 2), input_at(base, y, x0 + 3),
                       input_at(base, y, x0 + 4), input_at(base, y, x0 + 5), input_at(base, y, x0 + 6), input_at(base, y, x0 + 7));
}

// Row a of the quad's 8 × 8 inputs, column b in element b, tile k in component k.
fn quad_row8(q: Quad, a: i32) -> array<vec4f, 8> {
  let base = q.plane * p.H * p.W;
  if (PLANE) {
    let top = plane_row(base, a - 2);
    let bottom = plane_row(base, a + 2);
    return array<vec4f, 8>(plane_element(top, bottom, -2, 0), plane_element(top, bottom, -2, 1), plane_element(top, bottom, -2, 2), plane_element(top, bottom, -2, 3),
                           plane_element(top, bottom, -2, 4), plane_element(top, bottom, -2, 5), plane_element(top, bottom, -2, 6), plane_element(top, bottom, -2, 7));
  }
  if (ROWS) {
    // tiles tx0 … tx0 + 3 of tile row ty: image columns 4·tx0 − 2 … 4·tx0 + 17
    let ty = q.t0 / p.TW;
    let tx0 = q.t0 - ty * p.TW;
    let y = i32(ty * 4u) - 2 + a;
    let inside = y >= 0 && y < i32(p.H);
    let at = (base + u32(clamp(y, 0, i32(p.H) - 1)) * p.W) / 4u + tx0;
    let q0 = select(vec4f(0.0), src4[at], inside);
    let q1 = select(vec4f(0.0), src4[at + 1u], inside);
    let q2 = select(vec4f(0.0), src4[at + 2u], inside);
    let q3 = select(vec4f(0.0), src4[at + 3u], inside);
    let x0 = i32(tx0 * 4u);
    let l0 = input_at(base, y, x0 - 2);
    let l1 = input_at(base, y, x0 - 1);
    let r0 = input_at(base, y, x0 + 16);
    let r1 = input_at(base, y, x0 + 17);
    return array<vec4f, 8>(vec4f(l0, q0.z, q1.z, q2.z), vec4f(l1, q0.w, q1.w, q2.w), vec4f(q0.x, q1.x, q2.x, q3.x), vec4f(q0.y, q1.y, q2.y, q3.y),
                           vec4f(q0.z, q1.z, q2.z, q3.z), vec4f(q0.w, q1.w, q2.w, q3.w), vec4f(q1.x, q2.x, q3.x, r0), vec4f(q1.y, q2.y, q3.y, r1));
  }
  let t0 = tile_row8(base, q.t0, a);
  let t1 = tile_row8(base, q.t0 + 1u, a);
  let t2 = tile_row8(base, q.t0 + 2u, a);
  let t3 = tile_row8(base, q.t0 + 3u, a);
  return array<vec4f, 8>(vec4f(t0[0], t1[0], t2[0], t3[0]), vec4f(t0[1], t1[1], t2[1], t3[1]), vec4f(t0[2], t1[2], t2[2], t3[2]), vec4f(t0[3], t1[3], t2[3], t3[3]),
                         vec4f(t0[4], t1[4], t2[4], t3[4]), vec4f(t0[5], t1[5], t2[5], t3[5]), vec4f(t0[6], t1[6], t2[6], t3[6]), vec4f(t0[7], t1[7], t2[7], t3[7]));
}

// Bᵀ d B of the quad's tiles: element [v][u] is position (u, v) (tile k in component k).
fn transformed_input8(q: Quad) -> array<array<vec4f, 8>, 8> {
  // each row's d B (written out: a local array indexed in a loop would live on the stack)
  let e0 = bt8(quad_row8(q, 0));
  let e1 = bt8(quad_row8(q, 1));
  let e2 = bt8(quad_row8(q, 2));
  let e3 = bt8(quad_row8(q, 3));
  let e4 = bt8(quad_row8(q, 4));
  let e5 = bt8(quad_row8(q, 5));
  let e6 = bt8(quad_row8(q, 6));
  let e7 = bt8(quad_row8(q, 7));
  return array<array<vec4f, 8>, 8>(
    bt8(array<vec4f, 8>(e0[0], e1[0], e2[0], e3[0], e4[0], e5[0], e6[0], e7[0])), bt8(array<vec4f, 8>(e0[1], e1[1], e2[1], e3[1], e4[1], e5[1], e6[1], e7[1])),
    bt8(array<vec4f, 8>(e0[2], e1[2], e2[2], e3[2], e4[2], e5[2], e6[2], e7[2])), bt8(array<vec4f, 8>(e0[3], e1[3], e2[3], e3[3], e4[3], e5[3], e6[3], e7[3])),
    bt8(array<vec4f, 8>(e0[4], e1[4], e2[4], e3[4], e4[4], e5[4], e6[4], e7[4])), bt8(array<vec4f, 8>(e0[5], e1[5], e2[5], e3[5], e4[5], e5[5], e6[5], e7[5])),
    bt8(array<vec4f, 8>(e0[6], e1[6], e2[6], e3[6], e4[6], e5[6], e6[6], e7[6])), bt8(array<vec4f, 8>(e0[7], e1[7], e2[7], e3[7], e4[7], e5[7], e6[7], e7[7])));
}

// One invocation per (image, channel, 4 tiles), then zero_padding: src (and src4) is x, dst4 is V [64, C, L].
@compute @workgroup_size(WG)
fn conv2d_winograd5_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * p.C * p.P / 4u;
  if (i >= quads) { zero_padding(i - quads, 64u); return; }
  let q = quad_of(i);
  let t = transformed_input8(q);
  let stride = p.C * p.L / 4u;
  for (var u = 0u; u < 8u; u++) {
    for (var v = 0u; v < 8u; v++) { dst4[(u * 8u + v) * stride + q.at] = t[v][u]; }
  }
}

// conv2d_winograd5_input with V interleaved by 4 channels (as conv2d_winograd_input_interleaved).
@compute @workgroup_size(WG)
fn conv2d_winograd5_input_interleaved(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * ((p.C + 3u) / 4u) * p.P;  // N·4⌈C/4⌉·P/4
  if (i >= quads) { zero_padding_interleaved(i - quads, 64u); return; }
  let q = quad_of_interleaved(i);
  let to = interleaved_at(q);
  if (!q.live) { zero_slot(to, 64u); return; }
  let t = transformed_input8(q);
  for (var u = 0u; u < 8u; u++) {
    for (var v = 0u; v < 8u; v++) { store_interleaved((u * 8u + v) * to.stride + to.first, t[v][u]); }
  }
}

// Aᵀ m A of the quad's 4 tiles: output row a's 4 columns in elements (tile k in component k).
fn quad_outputs8(q: Quad) -> array<array<vec4f, 4>, 4> {
  let stride = p.C * p.L / 4u;
  var cols: array<array<vec4f, 4>, 8>;  // cols[v]: Aᵀ of column v
  for (var v = 0u; v < 8u; v++) {
    var m: array<vec4f, 8>;
    for (var u = 0u; u < 8u; u++) { m[u] = src4[(u * 8u + v) * stride + q.at]; }
    cols[v] = at8(m);
  }
  var y: array<array<vec4f, 4>, 4>;
  for (var a = 0u; a < 4u; a++) { y[a] = at8(array<vec4f, 8>(cols[0][a], cols[1][a], cols[2][a], cols[3][a], cols[4][a], cols[5][a], cols[6][a], cols[7][a])); }
  return y;
}

// One invocation per (image, channel, 4 tiles): src4 is M [64, C, L], dst is y [N, C, H, W].
@compute @workgroup_size(WG)
fn conv2d_winograd5_output(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = output_quad(invocation(wid, nwg, lid));
  if (q.live) { store_tiles(q, quad_outputs8(q)); }
}

// conv2d_winograd5_output where ROWS holds: each tile's output rows are whole vec4s of the plane.
@compute @workgroup_size(WG)
fn conv2d_winograd5_output_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = output_quad(invocation(wid, nwg, lid));
  if (q.live) { store_plane_rows(q, quad_outputs8(q)); }
}

// One invocation per (image, channel, 4 tiles), then zero_padding: src (and src4) is gy, dst4 is D [64, C, L].
@compute @workgroup_size(WG)
fn conv2d_winograd5_upstream(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let quads = p.N * p.C * p.P / 4u;
  if (i >= quads) { zero_padding(i - quads, 64u); return; }
  let q = quad_of(i);
  // A gy Aᵀ: each row's gy Aᵀ (a8 along it), then each column of those
  var e: array<array<vec4f, 8>, 4>;
  for (var a = 0u; a < 4u; a++) { e[a] = a8(quad_row4(q, a)); }
  let stride = p.C * p.L / 4u;
  for (var v = 0u; v < 8u; v++) {
    let c = a8(array<vec4f, 4>(e[0][v], e[1][v], e[2][v], e[3][v]));
    for (var u = 0u; u < 8u; u++) { dst4[(u * 8u + v) * stride + q.at] = c[u]; }
  }
}

// One invocation per (output channel o, input channel c): src is dU [64, C, K], dst is dw [C, K, 5, 5].
@compute @workgroup_size(WG)
fn conv2d_winograd5_weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = invocation(wid, nwg, lid);
  let pairs = p.C * p.K;
  if (i >= pairs) { return; }
  // Gᵀ dU G: each row of the 8 × 8 sums to 5 columns, then each of those columns to 5 rows
  var rows: array<array<f32, 5>, 8>;
  for (var u = 0u; u < 8u; u++) {
    let at = u * 8u * pairs + i;
    rows[u] = gt5(array<f32, 8>(src[at], src[at + pairs], src[at + 2u * pairs], src[at + 3u * pairs],
                                src[at + 4u * pairs], src[at + 5u * pairs], src[at + 6u * pairs], src[at + 7u * pairs]));
  }
  for (var b = 0u; b < 5u; b++) {
    let col = gt5(array<f32, 8>(rows[0][b], rows[1][b], rows[2][b], rows[3][b], rows[4][b], rows[5][b], rows[6][b], rows[7][b]));
    for (var a = 0u; a < 5u; a++) { dst[i * 25u + a * 5u + b] = col[a]; }
  }
}
