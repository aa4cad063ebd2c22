// conv2d.wgsl — variable-size 2-D convolution (cross-correlation, as in PyTorch), optionally with
// the EffConv Gaussian mask fused in; forward and backward.
//
// Layouts (row-major, NCHW):
//   x   [N, Cin, H, W]            x[((n * Cin + c) * H + y) * W + x]
//   w   [Cout, Cin, kw, kw]       the stored kernel grid (k_max for predicted weights ŵ)
//   out [N, Cout, Ho, Wo]         Ho = (H + 2 pad − s) / stride + 1
// Only the centred s × s window of w is used: tap (a, b), 0 ≤ a, b < s, reads w at grid position
// (off + a, off + b) with off = (kw − s) / 2, so work grows with s², not kw². s is a uniform, or,
// when the uniform s is 0, the hard size the EffConv size predictor assigns to v, computed here
// so that the search never reads v back: s = clamp(2·⌊(v − 1)/2 + ½⌋ + 1, kmin, kw), with 'same'
// padding (s − 1)/2 (the output size does not depend on s then).
// Effective weight: w_eff = w · m(off + a, off + b), m(i, j) = exp(−r²/v²) with
// r² = (i − c)² + (j − c)², c = (kw − 1) / 2, v = size_v[0]; when masked = 0, m ≡ 1.
//
//   conv2d_fwd         out[n,o,oy,ox] = Σ_{a,b} m(a,b) Σ_c x[n,c,oy·st−pad+a, ox·st−pad+b] w[o,c,a,b]
//                      one invocation per 4 output channels × 4 output columns
//   conv2d_bwd_input   dx[n,c,iy,ix] = Σ_{o,a,b: iy = oy·st−pad+a, ...} g[n,o,oy,ox] w_eff[o,c,a,b]
//                      one invocation per 4 input channels × 4 input columns
//   conv2d_bwd_weight  dw[o,c,i,j] = m(i,j) Σ_{n,oy,ox} g[n,o,oy,ox] x[n,c,oy·st−pad+a, ox·st−pad+b]
//                      for (i,j) in the window, 0 elsewhere; one invocation per 4 × 4 channel
//                      pairs of one grid tap
//   conv2d_bwd_size    t[b,i] = Σ_{(o,c) in block b} Σ_j dw[o,c,i,j] w[o,c,i,j] · 2 r²(i,j) / v³
//                      (dm/dv = m·2r²/v³, and dw already carries m); dL/dv = Σ t via reduce.wgsl.
//                      One workgroup per grid row i and block b of p.nchunk channel pairs.
// Out-of-range input positions are zero padding. The same three passes as workgroup-tiled matrix
// products, for GPUs (variant 'tiled'), are at the end of the file.

struct ConvParams {
  N: u32,
  Cin: u32,
  H: u32,
  W: u32,
  Cout: u32,
  Ho: u32,
  Wo: u32,
  s: u32,
  kw: u32,
  off: u32,
  stride: u32,
  pad: i32,
  masked: u32,
  kmin: u32,
  cs: u32,   // column stride of the register block (see below)
  nchunk: u32,  // a chunk's length: the subgroup weight gradient's images, the tiled weight gradient's pixels, the tiled forward's steps of the sum
  cfirst: u32,  // conv2d_subgroups.wgsl: the channel its workgroup rows start from (unused here)
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;          // upstream gradient (or dw for bwd_size)
@group(0) @binding(5) var<storage, read> size_v: array<f32>;     // soft size v (1 element)
@group(0) @binding(6) var<storage, read> a4: array<vec4f>;       // the tiled kernels' packed weights (conv2d_pack_tiled)
@group(0) @binding(7) var<storage, read> taps: array<vec4i>;     // their tap table (conv2d_taps_tiled)
@group(0) @binding(8) var<storage, read_write> taps_out: array<vec4i>;  // the tap table, written

override WG: u32 = 64;
// conv2d_pack_tiled: pack for the input gradient (w transposed and flipped) instead of the forward.
override FLIP: bool = false;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn radius2(i: u32, j: u32) -> f32 {
  let c = f32(p.kw - 1u) * 0.5;
  let di = f32(i) - c;
  let dj = f32(j) - c;
  return di * di + dj * dj;
}

struct Window {
  s: u32,    // kernel size in use
  off: u32,  // grid position of the window's first tap: (kw − s) / 2
  pad: i32,
}

fn window() -> Window {
  if (p.s != 0u) { return Window(p.s, p.off, p.pad); }
  let v = size_v[0];
  let half = floor((v - 1.0) * 0.5 + 0.5);
  let s = clamp(2u * u32(max(half, 0.0)) + 1u, p.kmin, p.kw);
  return Window(s, (p.kw - s) / 2u, i32((s - 1u) / 2u));
}

// Whether grid row (or column) i is one of the window's.
fn in_window_row(win: Window, i: u32) -> bool {
  return i >= win.off && i < win.off + win.s;
}

// Whether grid position (i, j) is one of the window's taps.
fn in_window(win: Window, i: u32, j: u32) -> bool {
  return in_window_row(win, i) && in_window_row(win, j);
}

// Mask at grid position (i, j).
fn mask(i: u32, j: u32) -> f32 {
  if (p.masked == 0u) { return 1.0; }
  let v = size_v[0];
  return exp(-radius2(i, j) / (v * v));
}

// ---- register-blocked kernels ----------------------------------------------------------------
// Each invocation computes an 8 × 4 block (8 channels × 4 columns, or 8 × 4 channel pairs for
// the weight gradient) in vec4 accumulators, reading straight from storage (no workgroup memory,
// no barriers: on lavapipe the CPU caches do the tiling and barriers are expensive). The 4
// columns of an invocation are cs apart, and the cs invocations of a strip of 4·cs columns are
// neighbours: column j of invocation q is strip·4·cs + q + cs·j, so neighbouring invocations
// (which a CPU adapter runs as SIMD lanes) load neighbouring addresses. cs = min(8, ⌈W/4⌉).
// Out-of-range columns are read at a clamped address and zeroed by a 0/1 lane mask after the
// channel loop, so the inner loop has no branches; row ranges are computed once per invocation.

// 0/1 per lane: which of the 4 columns cols are inside [0, W).
fn inside(cols: vec4i, limit: u32) -> vec4f {
  return select(vec4f(0.0), vec4f(1.0), (cols >= vec4i(0)) & (cols < vec4i(i32(limit))));
}

fn clamp_cols(cols: vec4i, limit: u32) -> vec4u {
  return vec4u(clamp(cols, vec4i(0), vec4i(i32(limit) - 1)));
}

// Writes an invocation's 4 columns col0 + cs·j of one row (columns ≥ width are dropped).
fn store_row(base: u32, col0: u32, width: u32, v: vec4f) {
  if (col0 < width) { out[base + col0] = v.x; }
  if (col0 + p.cs < width) { out[base + col0 + p.cs] = v.y; }
  if (col0 + 2u * p.cs < width) { out[base + col0 + 2u * p.cs] = v.z; }
  if (col0 + 3u * p.cs < width) { out[base + col0 + 3u * p.cs] = v.w; }
}

// 8 channels × 4 columns of sums: the register block of the forward and input-gradient kernels.
struct Block8 {
  c0: vec4f,
  c1: vec4f,
  c2: vec4f,
  c3: vec4f,
  c4: vec4f,
  c5: vec4f,
  c6: vec4f,
  c7: vec4f,
}

fn zero_block() -> Block8 {
  return Block8(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
}

// fma_block with the 8 weights loaded before the first multiply-add (conv2d_fwd): a load between
// them (lane by lane on lavapipe, a branch per lane) split the sums' updates, which LLVM spilled
// and reloaded around each: 0.73–0.80× the forward's time at stride 1, 0.82–0.93× at stride 2
// (paired runs). The input gradient keeps fma_block: so ordered it ran 1.6–2.0× slower.
fn fma_block_loads_first(t: ptr<function, Block8>, v: vec4f, lo: vec4u, hi: vec4u, wi: u32) {
  add_scaled(t, v, vec4f(w[lo.x + wi], w[lo.y + wi], w[lo.z + wi], w[lo.w + wi]), vec4f(w[hi.x + wi], w[hi.y + wi], w[hi.z + wi], w[hi.w + wi]));
}

// t.ck += v · (k < 4 ? lo[k] : hi[k − 4]), its 8 factors loaded by the caller.
fn add_scaled(t: ptr<function, Block8>, v: vec4f, lo: vec4f, hi: vec4f) {
  (*t).c0 += v * lo.x;
  (*t).c1 += v * lo.y;
  (*t).c2 += v * lo.z;
  (*t).c3 += v * lo.w;
  (*t).c4 += v * hi.x;
  (*t).c5 += v * hi.y;
  (*t).c6 += v * hi.z;
  (*t).c7 += v * hi.w;
}

// t.ck += v · w[wk + wi] for the 8 channels whose weight offsets are lo (0–3) and hi (4–7).
fn fma_block(t: ptr<function, Block8>, v: vec4f, lo: vec4u, hi: vec4u, wi: u32) {
  (*t).c0 += v * w[lo.x + wi];
  (*t).c1 += v * w[lo.y + wi];
  (*t).c2 += v * w[lo.z + wi];
  (*t).c3 += v * w[lo.w + wi];
  (*t).c4 += v * w[hi.x + wi];
  (*t).c5 += v * w[hi.y + wi];
  (*t).c6 += v * w[hi.z + wi];
  (*t).c7 += v * w[hi.w + wi];
}

// acc += t · m (m: the per-column lane mask times the tap's Gaussian mask).
fn add_block(acc: ptr<function, Block8>, t: Block8, m: vec4f) {
  (*acc).c0 += t.c0 * m;
  (*acc).c1 += t.c1 * m;
  (*acc).c2 += t.c2 * m;
  (*acc).c3 += t.c3 * m;
  (*acc).c4 += t.c4 * m;
  (*acc).c5 += t.c5 * m;
  (*acc).c6 += t.c6 * m;
  (*acc).c7 += t.c7 * m;
}

fn scale_block(b: Block8, m: f32) -> Block8 {
  return Block8(b.c0 * m, b.c1 * m, b.c2 * m, b.c3 * m, b.c4 * m, b.c5 * m, b.c6 * m, b.c7 * m);
}

// Stores the block's rows: channel k (first + k < count) at base + k·plane.
fn store_block(base: u32, plane: u32, first: u32, count: u32, col0: u32, width: u32, b: Block8) {
  store_row(base, col0, width, b.c0);
  if (first + 1u < count) { store_row(base + plane, col0, width, b.c1); }
  if (first + 2u < count) { store_row(base + 2u * plane, col0, width, b.c2); }
  if (first + 3u < count) { store_row(base + 3u * plane, col0, width, b.c3); }
  if (first + 4u < count) { store_row(base + 4u * plane, col0, width, b.c4); }
  if (first + 5u < count) { store_row(base + 5u * plane, col0, width, b.c5); }
  if (first + 6u < count) { store_row(base + 6u * plane, col0, width, b.c6); }
  if (first + 7u < count) { store_row(base + 7u * plane, col0, width, b.c7); }
}

// conv2d_fwd: invocation (n, output-channel block ob, oy, column block bx) computes
// out[n, 8ob + k, oy, col0 + cs·j] for k < 8, j < 4 (8 vec4 accumulators).
@compute @workgroup_size(WG)
fn conv2d_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nbx = (p.Wo + 4u * p.cs - 1u) / (4u * p.cs) * p.cs;
  let nbo = (p.Cout + 7u) / 8u;
  let pix = wid.x * WG + lid;  // (oy, column block) within the plane
  if (pix >= p.Ho * nbx) { return; }
  let bx = pix % nbx;
  let col0 = (bx / p.cs) * 4u * p.cs + bx % p.cs;  // first of this invocation's columns
  let oy = pix / nbx;
  let o0 = (wid.y % nbo) * 8u;  // uniform over the workgroup: weight loads are broadcasts
  let n = wid.y / nbo;
  let win = window();
  let kk = p.kw * p.kw;
  let plane = p.H * p.W;
  let st = i32(p.stride);
  // weight offsets of the 4 output channels (clamped: extra channels compute and are dropped)
  let wo = vec4u(min(vec4u(o0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.Cout - 1u))) * (p.Cin * kk);
  let wo2 = vec4u(min(vec4u(o0) + vec4u(4u, 5u, 6u, 7u), vec4u(p.Cout - 1u))) * (p.Cin * kk);
  let iy0 = i32(oy) * st - win.pad;
  let lane_cols = (vec4i(i32(col0)) + vec4i(0, 1, 2, 3) * i32(p.cs)) * st - vec4i(win.pad);
  var acc = zero_block();
  // Loop bounds are uniform (every lane runs every tap); rows outside the input are read at a
  // clamped row and zeroed by the lane mask, like columns.
  for (var a = 0u; a < win.s; a++) {
    let iy = iy0 + i32(a);
    let row_ok = select(0.0, 1.0, iy >= 0 && iy < i32(p.H));
    let xrow = n * p.Cin * plane + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;
    for (var b = 0u; b < win.s; b++) {
      let cols = lane_cols + vec4i(i32(b));
      let cc = clamp_cols(cols, p.W);
      var xi = xrow;
      var wi = (win.off + a) * p.kw + win.off + b;
      // lane mask (padding) and Gaussian mask folded into the loaded inputs: one block of sums
      let m = inside(cols, p.W) * (row_ok * mask(win.off + a, win.off + b));
      for (var c = 0u; c < p.Cin; c++) {
        let xv = vec4f(x[xi + cc.x], x[xi + cc.y], x[xi + cc.z], x[xi + cc.w]) * m;
        fma_block_loads_first(&acc, xv, wo, wo2, wi);
        xi += plane;
        wi += kk;
      }
    }
  }
  let oplane = p.Ho * p.Wo;
  let ob = (n * p.Cout + o0) * oplane + oy * p.Wo;
  store_block(ob, oplane, o0, p.Cout, col0, p.Wo, acc);
}

// conv2d_bwd_input: invocation (n, input-channel block, iy, column block) computes
// dx[n, 8cb + k, iy, col0 + cs·j] (k < 8, j < 4): the sum over output positions (oy, ox) and taps (a, b) with
// iy = oy·st − pad + a, ix = ox·st − pad + b. A lane whose (ix + pad − b) is not a multiple of
// the stride, or lands outside the output, contributes nothing (its 0/1 mask).
@compute @workgroup_size(WG)
fn conv2d_bwd_input(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nbx = (p.W + 4u * p.cs - 1u) / (4u * p.cs) * p.cs;
  let nbc = (p.Cin + 7u) / 8u;
  let pix = wid.x * WG + lid;
  if (pix >= p.H * nbx) { return; }
  let bx = pix % nbx;
  let col0 = (bx / p.cs) * 4u * p.cs + bx % p.cs;
  let iy = pix / nbx;
  let c0 = (wid.y % nbc) * 8u;  // uniform over the workgroup
  let n = wid.y / nbc;
  let win = window();
  let kk = p.kw * p.kw;
  let st = i32(p.stride);
  let oplane = p.Ho * p.Wo;
  let wc = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.Cin - 1u)) * kk;
  let wc2 = min(vec4u(c0) + vec4u(4u, 5u, 6u, 7u), vec4u(p.Cin - 1u)) * kk;
  let ostride = p.Cin * kk;
  let lane_ix = vec4i(i32(col0)) + vec4i(0, 1, 2, 3) * i32(p.cs);
  var acc = zero_block();
  for (var a = 0u; a < win.s; a++) {
    let ty = i32(iy) + win.pad - i32(a);
    let row_ok = select(0.0, 1.0, ty >= 0 && ty % st == 0 && ty / st < i32(p.Ho));
    let grow = n * p.Cout * oplane + u32(clamp(ty / st, 0, i32(p.Ho) - 1)) * p.Wo;
    for (var b = 0u; b < win.s; b++) {
      let tx = lane_ix + vec4i(win.pad - i32(b));
      let on_grid = select(vec4f(0.0), vec4f(1.0), (tx % vec4i(st)) == vec4i(0));
      let oxs = tx / vec4i(st);
      let ok = inside(oxs, p.Wo) * on_grid * select(vec4f(0.0), vec4f(1.0), tx >= vec4i(0));
      let cc = clamp_cols(oxs, p.Wo);
      var gi = grow;
      var wi = (win.off + a) * p.kw + win.off + b;
      var t = zero_block();
      for (var o = 0u; o < p.Cout; o++) {
        let gv = vec4f(g[gi + cc.x], g[gi + cc.y], g[gi + cc.z], g[gi + cc.w]);
        fma_block(&t, gv, wc, wc2, wi);
        gi += oplane;
        wi += ostride;
      }
      let m = ok * (row_ok * mask(win.off + a, win.off + b));
      add_block(&acc, t, m);
    }
  }
  let plane = p.H * p.W;
  let xb = (n * p.Cin + c0) * plane + iy * p.W;
  store_block(xb, plane, c0, p.Cin, col0, p.W, acc);
}

// conv2d_bwd_weight: invocation (output-channel block, input-channel block, grid tap (i, j))
// computes dw[8ob + k, 4cb + l, i, j] = m(i, j) Σ_{n, oy, ox} g[n, o, oy, ox] x[n, c, iy, ix]
// (32 sums in 8 vec4 accumulators, one per output channel, lanes = input channels). Taps
// outside the s × s window get 0. The valid (oy, ox) ranges are fixed per tap, so the
// reduction loop has no bounds checks.
@compute @workgroup_size(WG)
fn conv2d_bwd_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid);
  let kk = p.kw * p.kw;
  let nbc = (p.Cin + 3u) / 4u;
  let nbo = (p.Cout + 7u) / 8u;
  if (idx >= nbo * nbc * kk) { return; }
  let tap = idx % kk;
  var t = idx / kk;
  let c0 = (t % nbc) * 4u;
  let o0 = (t / nbc) * 8u;
  let i = tap / p.kw;
  let j = tap % p.kw;
  let win = window();
  var acc = zero_block();
  if (in_window(win, i, j)) {
    let a = i32(i - win.off);
    let b = i32(j - win.off);
    let st = i32(p.stride);
    // oy with 0 ≤ oy·st − pad + a < H, likewise ox
    let oy_lo = u32(max(0, (win.pad - a + st - 1) / st));
    let oy_hi = u32(clamp((i32(p.H) - 1 + win.pad - a) / st + 1, 0, i32(p.Ho)));
    let ox_lo = u32(max(0, (win.pad - b + st - 1) / st));
    let ox_hi = u32(clamp((i32(p.W) - 1 + win.pad - b) / st + 1, 0, i32(p.Wo)));
    let plane = p.H * p.W;
    let oplane = p.Ho * p.Wo;
    let cs = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.Cin - 1u)) * plane;
    let os = min(vec4u(o0) + vec4u(0u, 1u, 2u, 3u), vec4u(p.Cout - 1u)) * oplane;
    let os2 = min(vec4u(o0) + vec4u(4u, 5u, 6u, 7u), vec4u(p.Cout - 1u)) * oplane;
    for (var n = 0u; n < p.N; n++) {
      let xn = n * p.Cin * plane;
      let gn = n * p.Cout * oplane;
      for (var oy = oy_lo; oy < oy_hi; oy++) {
        let xr = xn + u32(i32(oy) * st - win.pad + a) * p.W;
        let gr = gn + oy * p.Wo;
        for (var ox = ox_lo; ox < ox_hi; ox++) {
          let xi = xr + u32(i32(ox) * st - win.pad + b);
          let gi = gr + ox;
          let xv = vec4f(x[cs.x + xi], x[cs.y + xi], x[cs.z + xi], x[cs.w + xi]);
          // the 8 upstream gradients loaded before the multiply-adds (see fma_block_loads_first):
          // 0.78–0.85× the time (paired runs, stride 1 and 2)
          add_scaled(&acc, xv, vec4f(g[os.x + gi], g[os.y + gi], g[os.z + gi], g[os.w + gi]), vec4f(g[os2.x + gi], g[os2.y + gi], g[os2.z + gi], g[os2.w + gi]));
        }
      }
    }
    acc = scale_block(acc, mask(i, j));
  }
  // out[((o·Cin + c)·kw + i)·kw + j]; channels beyond Cout / Cin are dropped
  let accs = array<vec4f, 8>(acc.c0, acc.c1, acc.c2, acc.c3, acc.c4, acc.c5, acc.c6, acc.c7);
  for (var k = 0u; k < 8u; k++) {
    let o = o0 + k;
    if (o >= p.Cout) { break; }
    let v = accs[k];
    let base = (o * p.Cin + c0) * kk + tap;
    out[base] = v.x;
    if (c0 + 1u < p.Cin) { out[base + kk] = v.y; }
    if (c0 + 2u < p.Cin) { out[base + 2u * kk] = v.z; }
    if (c0 + 3u < p.Cin) { out[base + 3u * kk] = v.w; }
  }
}

// conv2d_sum_window_chunks: the weight gradient of a window inside the k_max grid from the
// copies conv2d_bwd_weight_sg wrote per chunk of images (g: p.nchunk copies of [Cout, Cin, kw, kw]
// here, a count of copies, not images): out = their sum at the window's taps, 0 at the others —
// which the copies never write, so they need no zeros first. With p.nchunk = 0, out is the one
// copy itself (g unread): only the zeros outside the window are written, where a fill of the
// whole grid wrote every tap (all of them again at s = k_max). One invocation per (o, c) pair.
@compute @workgroup_size(WG)
fn conv2d_sum_window_chunks(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let pair = flat_index(wid, nwg, lid);
  if (pair >= p.Cout * p.Cin) { return; }
  let win = window();
  if (p.nchunk == 0u) {
    zeros_outside_window(pair * p.kw * p.kw, win);
    return;
  }
  let size = p.Cout * p.Cin * p.kw * p.kw;
  for (var i = 0u; i < p.kw; i++) {
    let row = pair * p.kw * p.kw + i * p.kw;
    for (var j = 0u; j < p.kw; j++) {
      var total = 0.0;
      if (in_window(win, i, j)) {
        for (var k = 0u; k < p.nchunk; k++) { total += g[k * size + row + j]; }
      }
      out[row + j] = total;
    }
  }
}

// 0 at the taps of the kw × kw grid at out[first …] outside the window, its rows' outer columns
// and the rows above and below it, visiting no tap inside: 4.5 ms against the whole grid's fill's
// 7.1 at s = 5 in cifar-8's 256 → 256 9 × 9 grid (a loop over every tap that skipped the window's:
// 5.7), none at s = k_max.
fn zeros_outside_window(first: u32, win: Window) {
  for (var i = 0u; i < p.kw; i++) {
    let row = first + i * p.kw;
    if (!in_window_row(win, i)) {
      for (var j = 0u; j < p.kw; j++) { out[row + j] = 0.0; }
    } else {
      for (var j = 0u; j < win.off; j++) {
        out[row + j] = 0.0;
        out[row + p.kw - 1u - j] = 0.0;
      }
    }
  }
}

var<workgroup> size_terms: array<f32, WG>;

// One workgroup per row i of the k_max grid and block of p.nchunk channel pairs (o, c): each lane
// sums its pairs' taps of that row in the window, each pair's row read as consecutive floats, then
// the lanes' sums are halved in workgroup memory. A workgroup per tap (all pairs) read the pairs
// kw² floats apart, a cache line per value: cifar-8's 256 → 256 layer (65536 pairs, s = 5) took
// 15–17 ms a search step so. A lane per tap, summing all 4096 of a 64 → 64 layer, had taken 0.5 ms
// a call on an H200 (a fifth of a search step), hence blocks of pairs for a GPU's many workgroups.
// A row outside the window in use adds 0 (dw is 0 there): its workgroup writes 0 without reading.
@compute @workgroup_size(WG)
fn conv2d_bwd_size(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let term = wid.y * p.kw + i;
  let win = window();
  if (!in_window_row(win, i)) {  // uniform per workgroup
    if (lid == 0u) { out[term] = 0.0; }
    return;
  }
  let kk = p.kw * p.kw;
  let last = min((wid.y + 1u) * p.nchunk, p.Cout * p.Cin);
  var acc = 0.0;
  for (var oc = wid.y * p.nchunk + lid; oc < last; oc += WG) {
    let row = oc * kk + i * p.kw;
    for (var j = win.off; j < win.off + win.s; j++) {
      acc += g[row + j] * w[row + j] * radius2(i, j);
    }
  }
  size_terms[lid] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { size_terms[lid] += size_terms[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let v = size_v[0];
    out[term] = size_terms[0] * 2.0 / (v * v * v);
  }
}

// ---- workgroup-tiled kernels (for GPUs) -------------------------------------------------------
// The convolution as a matrix product C = A · B (implicit GEMM): row m of C is an output channel,
// column j an output pixel n·Ho·Wo + oy·Wo + ox of the whole batch, and k = (c·s + a)·s + b runs
// over input channel and tap. A is the masked s × s window packed k-major (conv2d_pack_tiled),
// B is never stored: its element (k, j) is the input under tap (a, b) of pixel j, or padding,
// found through a table of the taps (conv2d_taps_tiled). A workgroup of TILED_WG invocations
// computes a TM × TN tile of C; per stage of TK along the sum it stages the two factors' slices in
// workgroup memory, and each invocation adds a block of RM rows × CN columns of products, reading
// RM/4 vec4s of A's slice and CN/4 of B's per step. The host (src/ops/conv2d_tiled.ts) picks the
// configuration: its two blocks (TiledTile) 4 × 4 and 8 × 8 — twice the products per value read
// from workgroup memory, which a GPU's shared-memory bandwidth rewards, for four times the
// accumulators —, the workgroup's size, and whether the next stage's loads are issued before this
// stage's products (PREFETCH). This is the classic GPU layout: on
// lavapipe its barriers and per-lane workgroup loads make it slower than the register-blocked and
// subgroup kernels, so 'auto' takes it on GPUs only (EngineOptions.convAutoRules; variant 'tiled').
//   conv2d_taps_tiled          taps_out[k] = (offset (c·H + a)·W + b, a, b, c) for k < K = C·s²
//                              (C = Cin, H × W the convolved input's plane).
//   conv2d_pack_tiled          A[k·4⌈M/4⌉ + m] (into out) for k < K_max = C·kw², 0 past K or M.
//                              Forward: m = output channel, c = input channel, A = w_eff[m, c, a, b].
//                              With FLIP, for the input gradient (the uniforms describe the
//                              convolution of g: Cin ↔ Cout, H × W ↔ Ho × Wo, pad ↔ s − 1 − pad),
//                              m = input channel, c = output channel, A = w_eff[c, m, s−1−a, s−1−b].
//   conv2d_fwd_tiled           out = C: the forward from x, or (after a FLIP packing, with those
//                              uniforms) the stride-1 input gradient from g bound as x; the sum
//                              over k split into runs of nchunk steps (workgroup z), each written
//                              to its own copy of C (out at z·Cout·N·Ho·Wo; the copies added after).
//   conv2d_bwd_weight_tiled    dw[o, k] = m(a, b) Σ_j g[o, j] · B[k, j]: rows o, columns k, the sum
//                              over the batch's output pixels j, split into chunks of nchunk
//                              pixels (workgroup z), each written to its own copy of dw (out at
//                              z·Cout·Cin·kw²; the copies are added after); only the window's taps
//                              are written.

// An invocation's block: RM rows × CN columns (4 or 8 each); the tile: TM rows × TN columns, with
// (TM / RM)·(TN / CN) = TILED_WG invocations; TK steps of the sum per stage (the two slices,
// TK·(TM + TN) floats, within WebGPU's default 16 KiB of workgroup memory). The host's
// tiledConfigProblem states every other condition the staging below relies on.
override TILED_WG: u32 = 256u;
override RM: u32 = 4u;
override CN: u32 = 4u;
override TM: u32 = 64u;
override TN: u32 = TILED_WG * RM * CN / TM;
override TK: u32 = 16u;
// The forward: load the next stage's values into registers before multiplying this one, so that
// the global loads are in flight during the products (one stage's values live in registers
// meanwhile); without it each stage loads, waits, then multiplies, and other workgroups hide the
// wait (on an H200 they did: off, bench/HISTORY.md stop 35).
override PREFETCH: bool = false;
// The weight gradient: step each invocation's output pixel (image, row, column) by TK at each
// stage with carries, instead of dividing its index by the plane and the row width again (two
// divisions and two remainders a stage, against TK·RM·CN multiply-adds) — a candidate of
// bench/tiled_sweep.ts (TILED_CANDIDATES' -wstep), not yet timed on a GPU.
override WSTEP: bool = false;
var<workgroup> tile_a: array<vec4f, TK * TM / 4u>;  // [TK][TM / 4]: 4 rows of A per vec4
var<workgroup> tile_b: array<vec4f, TK * TN / 4u>;  // [TK][TN / 4]: 4 columns of B per vec4

// One invocation's share of a forward's stage, in registers between its loads and its stores to
// the slices: loops of a fixed count (once the override constants are), so that all of a stage's
// loads are in flight before its stores. Sized for the largest share a valid configuration gives
// (tiledConfigProblem).
struct Staged {
  a: array<vec4f, 8>,   // vec4s of A's slice
  b: array<f32, 16>,    // values of B's slice
}

// Invocation t's block: its rows are the RM/4 vec4s va(t, i) = t / (TN/CN) + i·(TM/RM) of a step of
// tile_a, its columns the CN/4 vec4s vb(t, j) = t mod (TN/CN) + j·(TN/CN) of a row of tile_b — a
// stride of whole thread rows / columns rather than neighbouring vec4s, so that the invocations of
// a warp read consecutive vec4s (no bank conflicts). acc[(4i + r)·(CN/4) + j] holds row 4·va + r,
// the 4 columns of vb (an 8 × 8 block fills all 16; a 4 × 4 one the first 4).
fn block_row(t: u32, i: u32) -> u32 {
  return t / (TN / CN) + i * (TM / RM);
}

fn block_col(t: u32, j: u32) -> u32 {
  return t % (TN / CN) + j * (TN / CN);
}

// One stage, once every invocation has stored its values and passed the barrier: adds
// invocation t's block of products to acc.
fn multiply_stage(acc: ptr<function, array<vec4f, 16>>, t: u32) {
  for (var q = 0u; q < TK; q++) {
    var bv4: array<vec4f, 2>;
    for (var j = 0u; j < CN / 4u; j++) { bv4[j] = tile_b[q * (TN / 4u) + block_col(t, j)]; }
    for (var i = 0u; i < RM / 4u; i++) {
      let av4 = tile_a[q * (TM / 4u) + block_row(t, i)];
      for (var j = 0u; j < CN / 4u; j++) {
        let at = 4u * i * (CN / 4u) + j;
        (*acc)[at] += av4.x * bv4[j];
        (*acc)[at + CN / 4u] += av4.y * bv4[j];
        (*acc)[at + 2u * (CN / 4u)] += av4.z * bv4[j];
        (*acc)[at + 3u * (CN / 4u)] += av4.w * bv4[j];
      }
    }
  }
}

// Step k = (c·s + a)·s + b of the sum over an s × s window: (channel c, tap row a, tap column b).
fn tap_of(k: u32, s: u32) -> vec3u {
  return vec3u(k / (s * s), (k / s) % s, k % s);
}

@compute @workgroup_size(WG)
fn conv2d_taps_tiled(@builtin(global_invocation_id) gid: vec3u) {
  let s = window().s;
  let k = gid.x;
  if (k >= p.Cin * s * s) { return; }
  let tap = tap_of(k, s);  // c, a, b
  taps_out[k] = vec4i(i32((tap.x * p.H + tap.y) * p.W + tap.z), i32(tap.y), i32(tap.z), i32(tap.x));
}

@compute @workgroup_size(WG)
fn conv2d_pack_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid);
  let rows = 4u * ((p.Cout + 3u) / 4u);
  if (idx >= p.Cin * p.kw * p.kw * rows) { return; }
  let win = window();
  let s = win.s;
  let k = idx / rows;
  let m = idx % rows;
  let tap = tap_of(k, s);
  let c = tap.x;
  let a = tap.y;
  let b = tap.z;
  let inside = k < p.Cin * s * s;
  var value = 0.0;
  if (inside && m < p.Cout) {
    var i = win.off + a;
    var j = win.off + b;
    var src = ((m * p.Cin + c) * p.kw + i) * p.kw + j;
    if (FLIP) {
      i = win.off + s - 1u - a;
      j = win.off + s - 1u - b;
      src = ((c * p.Cout + m) * p.kw + i) * p.kw + j;
    }
    value = w[src] * mask(i, j);
  }
  out[idx] = value;
}

// The forward's column of B an invocation stages (the same at every stage: lc = t mod TN, as
// TN divides TILED_WG) and its window's corner.
struct FwdColumn {
  lc: u32,
  has: bool,
  iy0: i32,
  ix0: i32,
  base: i32,  // x's offset of channel 0 at the corner
}

// Loads invocation t's share of the forward's stage k0 into r: A's vec4s e = t + i·TILED_WG of
// the slice, and B's rows t / TN + i·(TILED_WG / TN) of column col.lc.
fn load_fwd_stage(r: ptr<function, Staged>, t: u32, k0: u32, depth: u32, quads: u32, q0: u32, col: FwdColumn) {
  for (var i = 0u; i < (TK * TM / 4u + TILED_WG - 1u) / TILED_WG; i++) {
    let e = t + i * TILED_WG;
    let ka = k0 + e / (TM / 4u);
    let qa = q0 + e % (TM / 4u);
    var av = vec4f(0.0);
    if (e < TK * TM / 4u && ka < depth && qa < quads) { av = a4[ka * quads + qa]; }
    (*r).a[i] = av;
  }
  for (var i = 0u; i < TK * TN / TILED_WG; i++) {
    let kb = k0 + t / TN + i * (TILED_WG / TN);
    var bv = 0.0;
    if (kb < depth && col.has) {
      let tap = taps[kb];
      let iy = col.iy0 + tap.y;
      let ix = col.ix0 + tap.z;
      if (iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W)) { bv = x[u32(col.base + tap.x)]; }
    }
    (*r).b[i] = bv;
  }
}

fn store_fwd_stage(r: ptr<function, Staged>, t: u32) {
  for (var i = 0u; i < (TK * TM / 4u + TILED_WG - 1u) / TILED_WG; i++) {
    let e = t + i * TILED_WG;
    if (e < TK * TM / 4u) { tile_a[e] = (*r).a[i]; }
  }
  let lc = t % TN;
  for (var i = 0u; i < TK * TN / TILED_WG; i++) {
    let row = t / TN + i * (TILED_WG / TN);
    tile_b[row * (TN / 4u) + lc / 4u][lc % 4u] = (*r).b[i];
  }
}

@compute @workgroup_size(TILED_WG)
fn conv2d_fwd_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let win = window();
  let depth = p.Cin * win.s * win.s;  // K
  let quads = (p.Cout + 3u) / 4u;     // vec4s per k of a4
  let plane = p.Ho * p.Wo;
  let cols = p.N * plane;
  let col0 = wid.x * TN;
  let lc = t % TN;
  let j = min(col0 + lc, cols - 1u);
  let r = j % plane;
  let iy0 = i32((r / p.Wo) * p.stride) - win.pad;
  let ix0 = i32((r % p.Wo) * p.stride) - win.pad;
  let col = FwdColumn(lc, col0 + lc < cols, iy0, ix0, i32((j / plane) * p.Cin * p.H * p.W) + iy0 * i32(p.W) + ix0);
  let q0 = wid.y * (TM / 4u);
  // this split of the sum (workgroup z): steps kfirst … klast − 1, p.nchunk (a multiple of TK)
  // of them; split z writes its partial sums to its own copy of out (the copies added after)
  let kfirst = wid.z * p.nchunk;
  let klast = min(kfirst + p.nchunk, depth);
  let copy = wid.z * cols * p.Cout;
  var sums: array<vec4f, 16>;  // the invocation's block (block_row, block_col)
  var staged: Staged;
  if (PREFETCH && kfirst < klast) { load_fwd_stage(&staged, t, kfirst, depth, quads, q0, col); }
  for (var k0 = kfirst; k0 < klast; k0 += TK) {
    if (!PREFETCH) { load_fwd_stage(&staged, t, k0, depth, quads, q0, col); }
    store_fwd_stage(&staged, t);
    workgroupBarrier();
    if (PREFETCH && k0 + TK < klast) { load_fwd_stage(&staged, t, k0 + TK, depth, quads, q0, col); }
    multiply_stage(&sums, t);
    workgroupBarrier();  // the slices may be overwritten
  }
  for (var jv = 0u; jv < CN / 4u; jv++) {
    for (var c = 0u; c < 4u; c++) {
      let col = col0 + 4u * block_col(t, jv) + c;
      if (col >= cols) { return; }  // the columns grow with (jv, c)
      let n = col / plane;
      let at = col % plane;
      for (var i = 0u; i < RM / 4u; i++) {
        for (var rr = 0u; rr < 4u; rr++) {
          let m = wid.y * TM + 4u * block_row(t, i) + rr;
          if (m < p.Cout) { out[copy + (n * p.Cout + m) * plane + at] = sums[(4u * i + rr) * (CN / 4u) + jv][c]; }
        }
      }
    }
  }
}

// Output pixel j of the batch as (image, row, column) of the Ho × Wo planes.
struct Pixel {
  n: u32,
  y: u32,
  x: u32,
}

fn pixel_of(j: u32) -> Pixel {
  let plane = p.Ho * p.Wo;
  let r = j % plane;
  return Pixel(j / plane, r / p.Wo, r % p.Wo);
}

// The pixel `step` (pixel_of of the step count) further on: its column and row each carry at most
// once, as both parts are below Wo and Ho.
fn next_pixel(a: Pixel, step: Pixel) -> Pixel {
  var x = a.x + step.x;
  var y = a.y + step.y;
  var n = a.n + step.n;
  if (x >= p.Wo) {
    x -= p.Wo;
    y += 1u;
  }
  if (y >= p.Ho) {
    y -= p.Ho;
    n += 1u;
  }
  return Pixel(n, y, x);
}

@compute @workgroup_size(TILED_WG)
fn conv2d_bwd_weight_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let win = window();
  let depth = p.Cin * win.s * win.s;  // taps k: the columns of dw
  let plane = p.Ho * p.Wo;
  let first = wid.z * p.nchunk;  // this chunk's output pixels of the batch
  let last = min(first + p.nchunk, p.N * plane);
  let o0 = wid.y * TM;
  let k0 = wid.x * TN;
  // a grid sized for k_max (the size is found on the GPU) has tiles past the window's taps
  if (k0 >= depth) { return; }
  // staged per step, each value stored as it is loaded (PREFETCH is the forward's only: staged
  // ahead it took 1.09–1.42× the time on an H200): pixel jj = t mod TK of the stage, for rows
  // (channels) e + E·i, i < TM / E, and columns (taps) e + E·i, i < TN / E, with E = TILED_WG / TK
  // invocations per pixel
  let jj = t % TK;
  let e = t / TK;
  let E = TILED_WG / TK;
  var sums: array<vec4f, 16>;  // the invocation's block (block_row, block_col)
  var walk = pixel_of(first + jj);  // WSTEP: the next stage's pixel
  let step = pixel_of(TK);
  for (var j0 = first; j0 < last; j0 += TK) {
    let j = j0 + jj;
    let has_pixel = j < last;  // (past it, nothing is loaded, whatever the pixel)
    var px = walk;
    if (WSTEP) {
      walk = next_pixel(walk, step);
    } else {
      px = pixel_of(min(j, last - 1u));  // divided out at every stage
    }
    let n = px.n;
    let r = px.y * p.Wo + px.x;
    let iy0 = i32(px.y * p.stride) - win.pad;
    let ix0 = i32(px.x * p.stride) - win.pad;
    let base = i32(n * p.Cin * p.H * p.W) + iy0 * i32(p.W) + ix0;
    for (var i = 0u; i < TM / E; i++) {
      let row = e + E * i;
      let o = o0 + row;
      var gv = 0.0;
      if (has_pixel && o < p.Cout) { gv = g[(n * p.Cout + o) * plane + r]; }
      tile_a[jj * (TM / 4u) + row / 4u][row % 4u] = gv;
    }
    for (var i = 0u; i < TN / E; i++) {
      let col = e + E * i;
      let k = k0 + col;
      let tap = taps[min(k, depth - 1u)];
      let iy = iy0 + tap.y;
      let ix = ix0 + tap.z;
      var xv = 0.0;
      if (has_pixel && k < depth && iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W)) { xv = x[u32(base + tap.x)]; }
      tile_b[jj * (TN / 4u) + col / 4u][col % 4u] = xv;
    }
    workgroupBarrier();
    multiply_stage(&sums, t);
    workgroupBarrier();  // the slices may be overwritten
  }
  let copy = wid.z * p.Cout * p.Cin * p.kw * p.kw;
  for (var jv = 0u; jv < CN / 4u; jv++) {
    for (var c = 0u; c < 4u; c++) {
      let k = k0 + 4u * block_col(t, jv) + c;
      if (k >= depth) { return; }  // the columns grow with (jv, c)
      let tap = taps[k];
      let i = win.off + u32(tap.y);
      let jcol = win.off + u32(tap.z);
      let m = mask(i, jcol);
      for (var iv = 0u; iv < RM / 4u; iv++) {
        for (var rr = 0u; rr < 4u; rr++) {
          let o = o0 + 4u * block_row(t, iv) + rr;
          if (o < p.Cout) { out[copy + ((o * p.Cin + u32(tap.w)) * p.kw + i) * p.kw + jcol] = sums[(4u * iv + rr) * (CN / 4u) + jv][c] * m; }
        }
      }
    }
  }
}
