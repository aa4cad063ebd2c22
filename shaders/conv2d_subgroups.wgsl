// conv2d_subgroups.wgsl — the convolution and its input and weight gradients again (the size
// gradient stays in conv2d.wgsl), for devices with the 'subgroups' feature, stride 1 and 'same'
// padding (the EffConv case). Same layouts, uniforms, window and Gaussian mask as conv2d.wgsl;
// conv2d.ts picks this file when it applies and conv2d.wgsl otherwise (both are tested against
// the float64 reference).
//
// Why: on CPU adapters (lavapipe) every storage load is issued lane by lane with a bounds check,
// even when all lanes read the same address, so conv2d.wgsl spends most of its time loading
// weights that are the same for the whole subgroup and re-loading inputs that a neighbouring lane
// already holds. Here one load serves the whole subgroup and lanes trade values with shuffles:
//   - weights: conv2d_pack_weights_sg first writes the masked S × S window with each kernel row
//     padded to whole vec4s; lane q loads 4 taps of channel (q mod 8) in one vec4 and
//     subgroupBroadcast hands each channel's value to every lane (1 load per 4 taps, not 8 per tap);
//   - inputs: a subgroup of SG lanes covers a run of 4·SG consecutive pixels of the flat index
//     n·H·W + pixel over the batch (rows and planes wrap, so small planes fill whole subgroups),
//     lane q holding pixels base + q + SG·j, j < 4 (the quad kernels: 4q … 4q + 3). For one
//     kernel row it loads the run once (5 values per lane, the fifth only where a shift reads it:
//     a run of 5·SG covers every shift up to SG), and each tap b takes its shifted view with
//     subgroupShuffle (5 loads per row, not 4 per tap);
//   - weight gradient: the lanes of a subgroup share a block of 8 output channels, and one load
//     plus 8 broadcasts serve the upstream gradient of all 8 (conv2d_bwd_weight_sg); a lane's 4
//     input channels come in one vec4 from a channel-interleaved copy of x (conv2d_pack_input_sg),
//     loaded only by the lanes of a kernel row's last tap: the others take the next lane's value
//     from the previous pixel by a shuffle (a load's cost is per lane that executes it);
//   - loads before sums: a lane-by-lane load is a branch per lane, and a branch between two
//     updates of the accumulators makes LLVM spill and reload them all around it, so the hot
//     loops load (and mask) first and then update each accumulator once, several terms summed
//     (fma_broadcast2, fma_broadcast_block).
// A lane's pixel whose shifted position leaves its row or the plane is zeroed by a 0/1 mask,
// like conv2d.wgsl's padding. Control flow is uniform over each subgroup: a subgroup whose run
// starts past the batch returns at once; lanes past it in a working subgroup compute on
// clamped addresses and store nothing. Requires SG ≥ 8 (the 8 weight lanes), S − 1 ≤ SG (the
// shifts) and S ≤ 9 (ColumnMasks); conv2d.ts checks them.
//
//   conv2d_pack_weights_sg  wq[o,c,a,b] = m(a,b) w[o,c,off+a,off+b], rows padded to 4·⌈S/4⌉
//   conv2d_fwd_sg           out[n,o,y,x] = Σ_{a,b} Σ_c x[n,c,y+a−pad,x+b−pad] wq[o,c,a,b]
//   conv2d_bwd_input_sg     dx[n,c,y,x]  = Σ_{a,b} Σ_o g[n,o,y+pad−a,x+pad−b] wq[o,c,a,b]
//                           one invocation per 8·BLOCKS channels × 4 pixels of the batch's N·H·W
//   conv2d_fwd_quads_sg, conv2d_bwd_input_quads_sg   the same on rows of a multiple of 4 pixels,
//                           4 consecutive pixels per lane loaded as one vec4 per kernel row, and
//                           BLOCKS (1 or 2) blocks of 8 channels of ROWS (1 or 2) rows per lane
//                           sharing each load
//   conv2d_fwd_1x1_sg, conv2d_bwd_input_1x1_sg   the same for S = 1 on planes of a multiple of
//                           4 pixels: 16 channels × 4 consecutive pixels (one vec4) per invocation,
//                           SUM_STEP input channels summed per accumulator update
//   conv2d_winograd_product_sg   the 1 × 1 forward's sums for the Winograd convolutions' 36
//                           or 64 products, one weight matrix per position (conv2d_winograd.wgsl)
//   conv2d_pack_input_sg    x4[n,c/4,y,x][c mod 4] = x[n,c,y,x]
//   conv2d_bwd_weight_sg    dw[o,c,off+a,off+b] = m(a,b) Σ_{n,y,x} g[n,o,y,x] x[n,c,y+a−pad,x+b−pad]
//                           one invocation per 8·BLOCKS output × 4·QUADS input channels of one tap
//                           (and chunk of p.nchunk images)
//   conv2d_bwd_weight_slide_sg  the same with a kernel row's S taps in one subgroup, which loads
//                           each input once per S pixels and trades it by shuffles
//   conv2d_bwd_weight_taps_sg   the same for few input channels: one invocation per 8 output
//                           channels × 4 taps of a kernel row of one input channel

enable subgroups;
// The subgroup operations below run under control flow that is uniform per subgroup (early
// returns of whole subgroups) but not per workgroup, which the uniformity analysis cannot see.
diagnostic(off, subgroup_uniformity);

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
  cs: u32,
  nchunk: u32,  // conv2d_bwd_weight_sg: images per workgroup row (see there); 0: all
  cfirst: u32,  // the row kernels' first channel: 0, or that of a dispatch of the channels past the last whole row of blocks (channelRows in conv2d_subgroup_rules.ts)
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;  // the convolved input: x, or g for the input gradients
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read> size_v: array<f32>;
@group(0) @binding(6) var<storage, read> wq: array<vec4f>;  // packed window (conv2d_pack_weights_sg)
@group(0) @binding(7) var<storage, read> x4: array<vec4f>;  // interleaved input (conv2d_pack_input_sg)
@group(0) @binding(8) var<storage, read_write> out4: array<vec4f>;  // output as quads (packing, 1 × 1 kernels)
@group(0) @binding(9) var<storage, read> in_quads: array<vec4f>;  // x or g as quads of pixels (the 1 × 1 and quad-rows kernels, g_run)
@group(0) @binding(10) var<storage, read> g2: array<vec2f>;  // g as pairs of pixels (the weight gradients: G_PAIRS, g_run)
@group(0) @binding(11) var<storage, read> w4: array<vec4f>;  // w again, as vec4s (the 1 × 1 forward's W_VEC4)

override WG: u32 = 64;
// The window size, a pipeline constant: constant trip counts let the compiler unroll the tap
// loops, which on lavapipe removes the per-iteration blend of all 32 accumulators with the loop's
// lane mask. When the size comes from the soft size on the GPU (p.s = 0), the host dispatches one
// pipeline per admissible size and all but the matching one return at once (see skip()).
override S: u32 = 1;
override PAD: i32 = i32((S - 1u) / 2u);
// A packed kernel row holds its S taps padded to whole vec4s.
override Q: u32 = (S + 3u) / 4u;
// conv2d_bwd_weight_taps_sg: pixels of a row per loop iteration, 4, 2 or 1 (whichever divides W)
override PX: u32 = 1;
// The quad-rows kernels: whether a subgroup's run can start or end inside a row, so that the
// halo either side of it is read. When W divides the run (4·SG pixels) every run starts and ends
// a row, and the host sets false: no halo loads (the values are masked off anyway): 0.89–0.94×
// the forward time at S = 5…9 on 32×32 and 16×16 planes, 1.06 (noise) at S = 3 (paired runs).
override HALO: bool = true;
// The row pairs (ROWS = 2) on rows of W not a multiple of 4 (14×14, 15×15: where at most 1/8 of
// the slots are padding, paddedRowPairs in conv2d.ts; not 7×7, which lose): each row laid out as
// row_slots() = 4·⌈W/4⌉ slots, the last quad's slots past W padding — read as 0 and never stored —
// so quads, shifts, masks and the halo work as on rows of a multiple of 4, while the lane's loads
// and stores go value by value to the real row (its quad is not 4 aligned floats there).
override PADDED: bool = false;
// The 1 × 1 kernels read their weights from w: the packed window (one vec4 per output and input
// channel, the weight in its first component: stride 4) or, for an unmasked 1 × 1 grid, the
// weights as they are (stride 1), which spares the packing dispatch.
override W_STRIDE: u32 = 4;
// Blocks of 8 output channels per lane in the quad-rows and run-layout kernels (conv2d_fwd_sg,
// conv2d_bwd_input_sg and their _quads_sg forms: 1 or 2, and 4 in the run layout) and
// conv2d_bwd_weight_sg (1 or 2, and 4 with PIXELS = 4). The blocks share each input load and
// shifted view, so a kernel row's (a pixel's) loads serve 8·BLOCKS channels; the host takes more
// where the multiplied accumulators still pay (quadLayout, runBlocks, bwdWeightBlocks in conv2d_subgroup_rules.ts).
override BLOCKS: u32 = 1;
// Output rows per lane in the quad-rows kernels: 1, or 2 (row pairs: a lane holds the quad below
// its own too, and each input row it loads serves both, as do the kernel rows' weights it loads
// once per channel). Two rows take BLOCKS ≤ 2; the host takes them under its 'cpu-avx512' rules
// at S = 3 and 5 (quadLayout in conv2d_subgroup_rules.ts).
override ROWS: u32 = 1;
// The 1 × 1 kernels (and the Winograd products): input channels whose terms are summed before
// they reach the accumulators, 1, 2 or 4 per loop iteration (the rest one by one). On lavapipe
// each accumulator update in the loop is a blend with the loop's lane mask and, with 64
// accumulators, a spill and reload: four channels per update took 0.61–0.89× the forward's and
// input gradient's time (sumStep in src/gpu/conv_variant.ts).
override SUM_STEP: u32 = 1;
// conv2d_bwd_weight_sg on rows of an even number of pixels: a pixel pair's upstream gradients in
// one vec2 load (g2, g bound again) instead of two f32 loads; lavapipe's per-lane test and buffer
// reload then come once per pair (its loop 6 % shorter).
override G_PAIRS: bool = false;
// conv2d_bwd_weight_sg: pixels per loop iteration, 2 or 4, their terms summed before each
// accumulator update (the host's rules: bwdWeightPixels in conv2d_subgroup_rules.ts); its BLOCKS = 4 runs with
// PIXELS = 4 only.
override PIXELS: u32 = 2;
// conv2d_bwd_weight_sg: blocks of 4 input channels per lane (1 or 2; the host's rules:
// bwdWeightQuads); 2 runs with BLOCKS ≤ 2 and PIXELS = 4 only.
override QUADS: u32 = 1;
// The 1 × 1 forward and Winograd products (forward_1x1): each lane loads its two channels' weights
// of 4 input channels as two vec4s from w4 instead of 8 f32s from w (SUM_STEP = 4, W_STRIDE = 1
// and Cin mod 4 = 0; forward1x1Constants checks them): 0.89–0.97 of the time on lavapipe (AVX-512 host).
override W_VEC4: bool = false;

// Grid position of the first tap of the window of size s.
fn window_offset(s: u32) -> u32 {
  return (p.kw - s) / 2u;
}

// As conv2d.wgsl: the hard size of the soft size v.
fn hard_size(v: f32) -> u32 {
  let half = floor((v - 1.0) * 0.5 + 0.5);
  return clamp(2u * u32(max(half, 0.0)) + 1u, p.kmin, p.kw);
}

// The window size in use: the fixed size p.s, or the hard size of the soft size v (p.s = 0).
fn size_in_use(v: f32) -> u32 {
  return select(p.s, hard_size(v), p.s == 0u);
}

// Whether this pipeline's S is not the size in use (the host dispatches S = p.s for a fixed size).
fn other_size(v: f32) -> bool {
  return size_in_use(v) != S;
}

// Gaussian mask factor of grid row or column i: m(i, j) = e(i)·e(j), e(i) = exp(−(i − c)²/v²),
// c the grid centre; 1 when unmasked.
fn mask_factor(i: u32, v: f32) -> f32 {
  if (p.masked == 0u) { return 1.0; }
  let d = f32(i) - f32(p.kw - 1u) * 0.5;
  return exp(-d * d / (v * v));
}

// conv2d_pack_weights_sg: the window of w with the Gaussian mask applied, each kernel row padded
// with zeros to 4·⌈s/4⌉ taps: wq[((o·Cin + c)·s + a)·⌈s/4⌉ + j] holds taps 4j…4j + 3 of row a. The
// forward and input-gradient kernels then load 4 taps of a lane's channel in one vec4. The size s
// is the one in use (p.s, or the hard size of the soft size), not the pipeline constant S, so a
// soft-size convolution packs once for the pipeline that will do the work rather than once per
// admissible size (the host sizes the grid for the largest). One invocation per packed row
// (o, c, a): its index is divided out once for the row's taps, not per tap (a CPU adapter
// divides lane by lane).
@compute @workgroup_size(WG)
fn conv2d_pack_weights_sg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                          @builtin(local_invocation_index) lid: u32) {
  let v = size_v[0];
  let s = size_in_use(v);
  let idx = (wid.y * nwg.x + wid.x) * WG + lid;
  if (idx >= p.Cout * p.Cin * s) { return; }
  let a = idx % s;
  let oc = idx / s;
  let off = window_offset(s);
  let row_mask = mask_factor(off + a, v);
  let src = (oc * p.kw + off + a) * p.kw + off;
  let dst = idx * 4u * ((s + 3u) / 4u);
  for (var b = 0u; b < 4u * ((s + 3u) / 4u); b++) {
    var val = 0.0;
    if (b < s) { val = w[src + b] * row_mask * mask_factor(off + b, v); }
    out[dst + b] = val;
  }
}

// Five values per lane of a kernel row's input: of a run of 5·SG consecutive elements, element
// q + SG·k; or, in the quad-rows kernels (quad_layout), the lane's quad (r0 … r3) and its value
// of the halo (r4).
struct Run {
  r0: f32,
  r1: f32,
  r2: f32,
  r3: f32,
  r4: f32,
}

// Lane q's 4 pixels (q + SG·j) shifted by t ≤ SG along the run: element q + t + SG·j, which lane
// (q + t) mod SG holds in register j, or j + 1 once q + t passes the subgroup.
fn shifted(r: Run, t: u32, q: u32, sg: u32) -> vec4f {
  if (t == 0u) { return vec4f(r.r0, r.r1, r.r2, r.r3); }  // a lane's own values (t is constant once unrolled)
  let src = (q + t) & (sg - 1u);
  let s0 = subgroupShuffle(r.r0, src);
  let s1 = subgroupShuffle(r.r1, src);
  let s2 = subgroupShuffle(r.r2, src);
  let s3 = subgroupShuffle(r.r3, src);
  let s4 = subgroupShuffle(r.r4, src);
  return select(vec4f(s0, s1, s2, s3), vec4f(s1, s2, s3, s4), q + t >= sg);
}

// Clamps a run element's flat position into [0, size) (the value is masked off when it was out).
fn clamp_pos(pos: i32, size: u32) -> u32 {
  return u32(clamp(pos, 0, i32(size) - 1));
}

fn x_at(plane_base: u32, pos: i32, size: u32) -> f32 {
  return select(0.0, x[plane_base + clamp_pos(pos, size)], u32(pos) < size);
}

// Whether each of the lane's 4 pixels, shifted to column col, stays in its row.
fn in_row(col: vec4i) -> vec4<bool> {
  return vec4u(col) < vec4u(p.W);
}

// 8 channels × 4 pixels of sums.
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

// t.ck += xs · (channel k's weight, held by lane k).
fn fma_broadcast(t: ptr<function, Block8>, xs: vec4f, wv: f32) {
  (*t).c0 += xs * subgroupBroadcast(wv, 0u);
  (*t).c1 += xs * subgroupBroadcast(wv, 1u);
  (*t).c2 += xs * subgroupBroadcast(wv, 2u);
  (*t).c3 += xs * subgroupBroadcast(wv, 3u);
  (*t).c4 += xs * subgroupBroadcast(wv, 4u);
  (*t).c5 += xs * subgroupBroadcast(wv, 5u);
  (*t).c6 += xs * subgroupBroadcast(wv, 6u);
  (*t).c7 += xs * subgroupBroadcast(wv, 7u);
}

// A subgroup's run starts at pixel 4·(index of its lane 0): lane q holds every SG-th pixel from
// q (run layout, see run_tile) or, in the quad kernels, pixels 4q … 4q + 3.

fn run_base(wid: vec3u, lid: u32, q: u32) -> u32 {
  return (wid.x * WG + lid - q) * 4u;
}

// The quad of 4 pixels starting at `first` of a plane (clamped for lanes past the plane).
fn quad_index(plane_base: u32, first: u32, plane: u32) -> u32 {
  return (plane_base + min(first, plane - 4u)) / 4u;
}

// One kernel row's taps into acc: packed weights at wq[wb …], the run shifted by tap b (forward)
// or by S − 1 − b (input gradient, flipped); `quad_layout` (a constant at every call) says which
// kind of run it is (see Run). The quads of 4 taps (at most 3, as S ≤ 9) are calls with constant
// j: with j and S constant the compiler unrolls the taps completely (a loop over j of 3 × 4 taps
// was left rolled, at a third less speed).
fn row_taps(acc: ptr<function, Block8>, run: Run, wb: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) {
  // the row's weights loaded before its first tap: a load between taps (lane by lane on
  // lavapipe, with a branch per lane) splits the accumulators' updates, which LLVM then spills and
  // reloads around it — 0.89× the time of the quad-rows forward and 0.90–0.91× of its input
  // gradient at S = 7 and 9, 0.95–0.97× forward at S = 5; the run-layout forward (14×14, 7×7)
  // 0.97–1.03× (paired runs)
  let wv = row_weights(wb);
  if (quad_layout || S == 9u) {
    // the quad layout takes the row's S views and weights first and then each accumulator once,
    // its S terms summed (fma_broadcast_block, as the weight gradients): 0.70–0.91× the forward's
    // time and 0.74–0.96× the input gradient's at S = 3…9; the run layout so ordered measured
    // 0.76–0.90× (forward) and 0.87–0.95× (input gradient) at S = 9 but 0.85–1.26× (within the
    // noise) at S = 3…7, where it keeps a tap at a time (paired runs)
    var xs: array<vec4f, 9>;
    var gs: array<f32, 9>;
    tap_quad(&xs, &gs, run, wv[0], 0u, q, sg, masks, flipped, quad_layout);
    if (Q > 1u) { tap_quad(&xs, &gs, run, wv[1], 1u, q, sg, masks, flipped, quad_layout); }
    if (Q > 2u) { tap_quad(&xs, &gs, run, wv[2], 2u, q, sg, masks, flipped, quad_layout); }
    fma_broadcast_block(acc, xs, gs, S);
  } else {
    quad_taps(acc, run, wv[0], 0u, q, sg, masks, flipped, quad_layout);
    if (Q > 1u) { quad_taps(acc, run, wv[1], 1u, q, sg, masks, flipped, quad_layout); }
    if (Q > 2u) { quad_taps(acc, run, wv[2], 2u, q, sg, masks, flipped, quad_layout); }
  }
}

// A kernel row's packed weights at wq[wb …]: its Q vec4s, the rest 0.
fn row_weights(wb: u32) -> array<vec4f, 3> {
  var wv = array<vec4f, 3>(wq[wb], vec4f(0.0), vec4f(0.0));
  if (Q > 1u) { wv[1] = wq[wb + 1u]; }
  if (Q > 2u) { wv[2] = wq[wb + 2u]; }
  return wv;
}

// Taps 4j … 4j + 3 (those < S) of one kernel row, weights wv, a tap at a time.
fn quad_taps(acc: ptr<function, Block8>, run: Run, wv: vec4f, j: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) {
  for (var t = 0u; t < 4u; t++) {
    let b = 4u * j + t;
    if (b < S) { fma_broadcast(acc, tap_view(run, b, q, sg, masks, flipped, quad_layout), wv[t]); }
  }
}

// The views and weights of taps 4j … 4j + 3 (those < S) of one kernel row into xs[b], gs[b].
fn tap_quad(xs: ptr<function, array<vec4f, 9>>, gs: ptr<function, array<f32, 9>>, run: Run, wv: vec4f, j: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) {
  for (var t = 0u; t < 4u; t++) {
    let b = 4u * j + t;
    if (b < S) {
      (*xs)[b] = tap_view(run, b, q, sg, masks, flipped, quad_layout);
      (*gs)[b] = wv[t];
    }
  }
}

// The lane's 4 pixels as tap b of the kernel row reads them (b constant once unrolled).
fn tap_view(run: Run, b: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) -> vec4f {
  if (quad_layout) {
    let d = select(i32(b) - PAD, PAD - i32(b), flipped);
    return quad_shifted(vec4f(run.r0, run.r1, run.r2, run.r3), run.r4, d, q, sg, (*masks).left, (*masks).right);
  }
  return shifted(run, select(b, S - 1u - b, flipped), q, sg) * (*masks).columns[b];
}

// Per tap b of a kernel row, 1 or 0 for each of the lane's 4 pixels: whether the pixel's column
// moved by the tap (b − pad, or pad − b when flipped) stays in its row. Computed once per
// invocation and applied by a multiply: a select per tap inside the loops cost a fifth of the
// forward's time on lavapipe (paired runs).
alias ColumnMasks = array<vec4f, 9>;

// How a lane's shifted pixels are zeroed where they leave their row: by the column masks (run
// layout), or, in the quad layout, by two factors only: there just the values shuffled in from a
// neighbouring quad can leave the row, and they do exactly when the lane's quad starts (left) or
// ends (right) its row. Masking only those values, not whole views, made the quad-rows 3 × 3
// forward 0.88× the time (input gradient 0.92×, 7 × 7 0.88×/0.94×; paired runs).
struct RowMasks {
  columns: ColumnMasks,
  left: f32,
  right: f32,
}

fn column_masks(px: vec4i, flipped: bool) -> ColumnMasks {
  var m: ColumnMasks;
  for (var b = 0u; b < S; b++) {
    let col = select(i32(b) - PAD, PAD - i32(b), flipped);
    m[b] = select(vec4f(0.0), vec4f(1.0), in_row(px + vec4i(col)));
  }
  return m;
}

fn zero_block() -> Block8 {
  return Block8(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
}

// What one lane of a quad kernel works on: its 4 consecutive pixels, which lie in one image (H·W
// is a multiple of 4). Runs span the batch as in the run layout (see RunTile): the subgroup's run
// starts at pixel lane0 of the flat index n·H·W + pixel, so small planes (4 × 4: 16 pixels) fill
// whole subgroups. Workgroup row wid.y = block of `block` channels starting at `first`; idle when
// the run starts past the batch or the pipeline's size is not in use.
struct Tile {
  n: u32,         // the lane's image
  first: u32,
  inside: u32,    // its first pixel's position in the image
  px: vec4i,      // the columns of its 4 pixels
  lane0: u32,     // the subgroup's first pixel, flat over the batch
  idle: bool,
}

fn tile(wid: vec3u, lid: u32, q: u32, block: u32) -> Tile {
  let plane = p.H * p.W;
  let lane0 = run_base(wid, lid, q);
  let first_px = lane0 + 4u * q;
  let n = min(first_px / plane, p.N - 1u);
  let inside = first_px - n * plane;
  let idle = lane0 >= p.N * plane || other_size(size_v[0]);
  return Tile(n, p.cfirst + wid.y * block, inside, vec4i((vec4u(inside) + vec4u(0u, 1u, 2u, 3u)) % p.W), lane0, idle);
}

// conv2d_fwd_quads_sg, conv2d_bwd_input_quads_sg: conv2d_fwd_sg and conv2d_bwd_input_sg for rows
// of a multiple of 4 pixels (W mod 4 = 0). Lane q holds 4 consecutive pixels, as in the 1 × 1
// kernels; for each kernel row it loads its part of the run as one vec4 (in_quads: x, or g for
// the input gradient, which is then bound as x too) and one value of the halo (the 4 elements
// either side of the subgroup's 4·SG: right halo in lanes 0…3, left in lanes SG − 4…SG − 1).
// Tap b's view, moved by d = b − pad (pad − b flipped), takes |d| components from the
// neighbouring lane's quad by subgroupShuffle (from the halo at the subgroup's ends): 2 loads
// per kernel row instead of 5.
@compute @workgroup_size(WG)
fn conv2d_fwd_quads_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                       @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  if (ROWS == 2u) {
    let t = pair_tile(wid, lid, q);
    if (t.tile.idle) { return; }  // uniform per subgroup
    let o = t.tile.first + (q & 7u);
    store_row_pairs(t.tile, p.Cout, quad_row_pairs(t, p.Cin, min(vec2u(o) + BLOCK_OFFSETS.xy, vec2u(p.Cout - 1u)) * p.Cin * S * Q, S * Q, false, q, sg));
    return;
  }
  let t = tile(wid, lid, q, 8u * BLOCKS);
  if (t.idle) { return; }  // uniform per subgroup
  // output channel o's weights for input channel c, kernel row a at wq[((o·Cin + c)·S + a)·Q]
  let o = t.first + (q & 7u);
  let acc = quad_rows(t, p.Cin, min(vec2u(o) + BLOCK_OFFSETS.xy, vec2u(p.Cout - 1u)) * p.Cin * S * Q, S * Q, false, q, sg);
  store_blocks(t, p.Cout, acc, BLOCKS);
}

@compute @workgroup_size(WG)
fn conv2d_bwd_input_quads_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                             @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  if (ROWS == 2u) {
    let t = pair_tile(wid, lid, q);
    if (t.tile.idle) { return; }  // uniform per subgroup
    let c = t.tile.first + (q & 7u);
    store_row_pairs(t.tile, p.Cin, quad_row_pairs(t, p.Cout, min(vec2u(c) + BLOCK_OFFSETS.xy, vec2u(p.Cin - 1u)) * S * Q, p.Cin * S * Q, true, q, sg));
    return;
  }
  let t = tile(wid, lid, q, 8u * BLOCKS);
  if (t.idle) { return; }  // uniform per subgroup
  let c = t.first + (q & 7u);
  let acc = quad_rows(t, p.Cout, min(vec2u(c) + BLOCK_OFFSETS.xy, vec2u(p.Cin - 1u)) * S * Q, p.Cin * S * Q, true, q, sg);
  store_blocks(t, p.Cin, acc, BLOCKS);
}

// The sums of a quad-rows lane over `channels` planes of the input: block k's (k < BLOCKS) packed
// weights for channel c, kernel row a at wq[w_first[k] + c·w_step + a·Q] (hi stays 0 with one
// block).
fn quad_rows(t: Tile, channels: u32, w_first: vec2u, w_step: u32, flipped: bool, q: u32, sg: u32) -> Pair {
  let plane = p.H * p.W;
  // the lane's halo element (see conv2d_fwd_quads_sg), in its own image: a lane reads it only
  // when the element lies in the lane's row (a shift across a row's end is masked off)
  let halo_px = i32(t.lane0) + select(i32(q) - i32(sg), 4 * i32(sg) + i32(q), q < 4u);
  let halo_n = u32(clamp(halo_px / i32(plane), 0, i32(p.N) - 1));  // halo_px ≥ −4: truncation is floor but for −4…−1, which clamp makes 0
  let halo_at = halo_px - i32(halo_n * plane);
  var masks = RowMasks(ColumnMasks(), select(0.0, 1.0, t.px.x != 0), select(0.0, 1.0, u32(t.px.x) + 4u != p.W));
  // only the lanes holding halo values that a shift reads load theirs: right-halo element k
  // (lane k) serves shifts d > k, left-halo element k (lane SG − 4 + k) shifts d ≤ k − 4, and
  // |d| ≤ pad (a load costs per lane that executes it on lavapipe: 0.85–0.92× the forward time
  // at S = 3, 0.94 at S = 5, none at 7; paired runs)
  let halo_used = HALO && (q < u32(PAD) || q + u32(PAD) >= sg);
  var acc = zero_block();
  var acc_hi = zero_block();
  // one kernel row per iteration of the channel loop, only the rows that reach into the plane.
  // All three rows of a channel per iteration at S = 3 (one accumulator blend per channel instead
  // of three) measured 0.89–0.98× the time on a Zen 4 host but 1.7–1.85× on a Zen 3 one, whose
  // decoded-op cache its loop of ~3700 instructions most likely outgrows (one row: ~1100)
  let rows = kernel_rows_in_plane(t.lane0, flipped, sg);
  for (var a = rows.x; a < rows.y; a++) {
    // kernel row a's values: the lane's pixels moved by a − pad rows (pad − a flipped)
    let shift = select(i32(a) - PAD, PAD - i32(a), flipped) * i32(p.W);
    for (var c = 0u; c < channels; c++) {
      let pb = (t.n * channels + c) * plane;
      let quad = quad_at(pb, i32(t.inside) + shift, plane);
      var halo = 0.0;
      if (halo_used) { halo = x_at((halo_n * channels + c) * plane, halo_at + shift, plane); }
      let run = Run(quad.x, quad.y, quad.z, quad.w, halo);
      let wb = c * w_step + a * Q;
      row_taps_blocks(&acc, &acc_hi, run, w_first.x + wb, w_first.y + wb, q, sg, &masks, flipped, true);
    }
  }
  return Pair(acc, acc_hi);
}

// One kernel row's taps into the lane's BLOCKS blocks of 8 channels (hi untouched with one block):
// its weights at wq[wb_lo …] and wq[wb_hi …].
fn row_taps_blocks(lo: ptr<function, Block8>, hi: ptr<function, Block8>, run: Run, wb_lo: u32, wb_hi: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) {
  if (BLOCKS == 1u) {
    row_taps(lo, run, wb_lo, q, sg, masks, flipped, quad_layout);
  } else {
    row_taps_pair(lo, hi, run, wb_lo, wb_hi, q, sg, masks, flipped, quad_layout);
  }
}

// row_taps for two blocks of 8 channels (lo, hi): both blocks' weights, then the S views (shared),
// then each accumulator once, its S terms summed.
fn row_taps_pair(lo: ptr<function, Block8>, hi: ptr<function, Block8>, run: Run, wb_lo: u32, wb_hi: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool, quad_layout: bool) {
  let wl = row_weights(wb_lo);
  let gh = row_taps_weights(wb_hi);
  var xs: array<vec4f, 9>;
  var gl: array<f32, 9>;
  tap_quad(&xs, &gl, run, wl[0], 0u, q, sg, masks, flipped, quad_layout);
  if (Q > 1u) { tap_quad(&xs, &gl, run, wl[1], 1u, q, sg, masks, flipped, quad_layout); }
  if (Q > 2u) { tap_quad(&xs, &gl, run, wl[2], 2u, q, sg, masks, flipped, quad_layout); }
  fma_broadcast_block(lo, xs, gl, S);
  fma_broadcast_block(hi, xs, gh, S);
}

// The weights of taps 4j … 4j + 3 (those < S) of one kernel row into gs[b].
fn quad_weights(gs: ptr<function, array<f32, 9>>, wv: vec4f, j: u32) {
  for (var t = 0u; t < 4u; t++) {
    if (4u * j + t < S) { (*gs)[4u * j + t] = wv[t]; }
  }
}

// Stores a quad lane's `blocks` blocks of 8 channels (1 or 2: hi only with 2; channels past
// `count` are dropped) — the quad-rows and 1 × 1 kernels.
fn store_blocks(t: Tile, count: u32, sums: Pair, blocks: u32) {
  let plane = p.H * p.W;
  let base = (t.n * count + t.first) * plane;
  store_quads(base, plane, t.first, count, t.inside, sums.lo);
  if (blocks > 1u && t.first + 8u < count) { store_quads(base + 8u * plane, plane, t.first + 8u, count, t.inside, sums.hi); }
}

// The row-pairs layout (ROWS = 2) of the quad-rows kernels: quads are numbered over (image, pair
// of rows, quad of the row), and lane q of a subgroup whose first lane has quad number quad0 holds
// quad quad0 + q of rows 2·pair and 2·pair + 1 (the bottom row past the plane when H is odd).
// Consecutive lanes still hold consecutive quads of a row, so the taps' shuffles and the halo
// work as in quad_rows; a kernel row's input row serves the top row with one kernel row and the
// bottom row with the next.
struct PairTile {
  tile: Tile,     // the top row's quad (Tile.lane0 unused)
  quad0: u32,     // the subgroup's first quad number
}

// The slots of a row in the row-pairs layout: W, or with PADDED W rounded up to whole quads.
fn row_slots() -> u32 {
  return (p.W + 3u) / 4u * 4u;
}

// Quad number k as (image, pair of rows, quad of the row); image clamped to the batch.
fn pair_coords(k: u32) -> vec3u {
  let row_quads = row_slots() / 4u;
  let per_image = row_quads * ((p.H + 1u) / 2u);
  let n = min(k / per_image, p.N - 1u);
  let r = k - n * per_image;
  return vec3u(n, r / row_quads, r % row_quads);
}

// Workgroup row wid.y = block of 8·BLOCKS channels. A lane past the batch (its image clamped to
// the last) gets a pair of rows past that plane: it reads zeros and store_quads skips its sums.
fn pair_tile(wid: vec3u, lid: u32, q: u32) -> PairTile {
  let quads = p.N * (row_slots() / 4u) * ((p.H + 1u) / 2u);
  let quad0 = wid.x * WG + lid - q;
  let at = pair_coords(quad0 + q);
  let idle = quad0 >= quads || other_size(size_v[0]);
  let px = vec4i(vec4u(4u * at.z) + vec4u(0u, 1u, 2u, 3u));
  return PairTile(Tile(at.x, p.cfirst + wid.y * 8u * BLOCKS, 2u * at.y * p.W + 4u * at.z, px, 0u, idle), quad0);
}

// A kernel row's S weights (packed at wq[wb …]) as a list.
fn row_taps_weights(wb: u32) -> array<f32, 9> {
  var gs: array<f32, 9>;
  let wv = row_weights(wb);
  quad_weights(&gs, wv[0], 0u);
  if (Q > 1u) { quad_weights(&gs, wv[1], 1u); }
  if (Q > 2u) { quad_weights(&gs, wv[2], 2u); }
  return gs;
}

// The sums of a row pair's top and bottom rows.
struct RowPairSums {
  top: Pair,
  bottom: Pair,
}

// quad_rows for the row pairs (w_first: block k's packed weights as in quad_rows). Per input channel the S
// kernel rows' weights are loaded once and the S + 1 input rows the pair reads once each: for
// S = 3 and two blocks, 6 weight and 4 input loads per channel where quad_rows' four blocks (as
// many sums) take 12 and 3.
fn quad_row_pairs(t: PairTile, channels: u32, w_first: vec2u, w_step: u32, flipped: bool, q: u32, sg: u32) -> RowPairSums {
  let plane = p.H * p.W;
  // the halo (see conv2d_fwd_quads_sg): the quad before the subgroup's first (left halo, lanes
  // SG − 4 … SG − 1) or after its last (right halo, lanes 0 … 3), its element in the top row; it
  // is read only when it lies in the lane's rows (a shift across a row's end is masked off)
  let right = q < 4u;
  let halo_quad = pair_coords(select(max(t.quad0, 1u) - 1u, t.quad0 + sg, right));
  let halo_col = 4u * halo_quad.z + select(q + 4u - sg, q, right);
  let halo_at = i32(2u * halo_quad.y * p.W + halo_col);
  // (a padding slot's halo element is 0: not read)
  let halo_used = HALO && (q < u32(PAD) || q + u32(PAD) >= sg) && halo_col < p.W;
  var masks = RowMasks(ColumnMasks(), select(0.0, 1.0, t.tile.px.x != 0), select(0.0, 1.0, u32(t.tile.px.x) + 4u != row_slots()));
  var top_lo = zero_block();
  var top_hi = zero_block();
  var bottom_lo = zero_block();
  var bottom_hi = zero_block();
  for (var c = 0u; c < channels; c++) {
    var gl: array<array<f32, 9>, 9>;
    var gh: array<array<f32, 9>, 9>;
    for (var a = 0u; a < S; a++) {
      gl[a] = row_taps_weights(w_first.x + c * w_step + a * Q);
      if (BLOCKS > 1u) { gh[a] = row_taps_weights(w_first.y + c * w_step + a * Q); }
    }
    let pb = (t.tile.n * channels + c) * plane;
    let hb = (halo_quad.x * channels + c) * plane;
    if (S == 3u) {
      // all 9 taps of each row in one update
      var views: array<array<vec4f, 9>, 4>;
      for (var j = 0u; j <= S; j++) { views[j] = input_row_views(t.tile, pb, hb, halo_at, halo_used, j, q, sg, &masks, flipped); }
      var xt: array<vec4f, 9>;
      var xb: array<vec4f, 9>;
      var wl: array<f32, 9>;
      var wh: array<f32, 9>;
      for (var j = 0u; j < S; j++) {
        let a = select(j, S - 1u - j, flipped);
        for (var b = 0u; b < S; b++) {
          xt[3u * j + b] = views[j][b];
          xb[3u * j + b] = views[j + 1u][b];
          wl[3u * j + b] = gl[a][b];
          if (BLOCKS > 1u) { wh[3u * j + b] = gh[a][b]; }
        }
      }
      fma_broadcast_block(&top_lo, xt, wl, 9u);
      fma_broadcast_block(&bottom_lo, xb, wl, 9u);
      if (BLOCKS > 1u) {
        fma_broadcast_block(&top_hi, xt, wh, 9u);
        fma_broadcast_block(&bottom_hi, xb, wh, 9u);
      }
      continue;
    }
    // input row j reads the top row moved by j − pad rows: kernel row j of the top row and j − 1
    // of the bottom one (flipped: S − 1 − j and S − j)
    for (var j = 0u; j <= S; j++) {
      let xs = input_row_views(t.tile, pb, hb, halo_at, halo_used, j, q, sg, &masks, flipped);
      if (j < S) {
        let a = select(j, S - 1u - j, flipped);
        fma_broadcast_block(&top_lo, xs, gl[a], S);
        if (BLOCKS > 1u) { fma_broadcast_block(&top_hi, xs, gh[a], S); }
      }
      if (j > 0u) {
        let a = select(j - 1u, S - j, flipped);
        fma_broadcast_block(&bottom_lo, xs, gl[a], S);
        if (BLOCKS > 1u) { fma_broadcast_block(&bottom_hi, xs, gh[a], S); }
      }
    }
  }
  return RowPairSums(Pair(top_lo, top_hi), Pair(bottom_lo, bottom_hi));
}

// The S tap views of input row j of a row pair (the top row moved by j − pad rows): the lane's
// quad of channel plane pb and, where used, its halo element of plane hb (see quad_row_pairs).
fn input_row_views(t: Tile, pb: u32, hb: u32, halo_at: i32, halo_used: bool, j: u32, q: u32, sg: u32, masks: ptr<function, RowMasks>, flipped: bool) -> array<vec4f, 9> {
  let plane = p.H * p.W;
  let shift = (i32(j) - PAD) * i32(p.W);
  var quad: vec4f;
  if (PADDED) {
    quad = padded_quad_at(pb, i32(t.inside) + shift, plane, t.px);
  } else {
    quad = quad_at(pb, i32(t.inside) + shift, plane);
  }
  var halo = 0.0;
  if (halo_used) { halo = x_at(hb, halo_at + shift, plane); }
  let run = Run(quad.x, quad.y, quad.z, quad.w, halo);
  var xs: array<vec4f, 9>;
  for (var b = 0u; b < S; b++) { xs[b] = tap_view(run, b, q, sg, masks, flipped, true); }
  return xs;
}

// Stores quad_row_pairs' sums: the top row's blocks at the lane's quad, the bottom row's one row
// down (store_quads skips it past the plane).
fn store_row_pairs(top: Tile, count: u32, sums: RowPairSums) {
  store_blocks(top, count, sums.top, BLOCKS);
  var bottom = top;
  bottom.inside += p.W;
  store_blocks(bottom, count, sums.bottom, BLOCKS);
}

// Kernel rows [first, end) that read some input row inside the plane for the image rows that
// the subgroup's run of 4·SG pixels from lane0 (flat over the batch) covers: kernel row a reads
// input row y + a − pad (y + pad − a flipped), so on a 32-wide plane the first and last image rows
// skip pad kernel rows each (0.88–0.94× the forward time at S = 5…9 on 32×32 and 16×16, input
// gradient 0.93 at S = 7; paired runs). A run that reaches into the next image covers the bottom
// rows of one and the top rows of the other: all kernel rows.
fn kernel_rows_in_plane(lane0: u32, flipped: bool, sg: u32) -> vec2u {
  let h = i32(p.H);
  let inside = lane0 % (p.H * p.W);
  var y_top = i32(inside / p.W);
  var y_bottom = i32((inside + 4u * sg - 1u) / p.W);
  if (y_bottom >= h) {
    y_top = 0;
    y_bottom = h - 1;
  }
  var first = PAD - y_bottom;
  var end = h + PAD - y_top;
  if (flipped) {
    first = y_top + PAD - h + 1;
    end = y_bottom + PAD + 1;
  }
  return vec2u(u32(clamp(first, 0, i32(S))), u32(clamp(end, 0, i32(S))));
}

// The quad of in_quads at flat position pos (a multiple of 4) of a plane, 0 outside it (with
// W mod 4 = 0 a quad lies wholly inside or outside).
fn quad_at(plane_base: u32, pos: i32, size: u32) -> vec4f {
  let v = in_quads[(plane_base + u32(clamp(pos, 0, i32(size) - 4))) / 4u];
  return select(vec4f(0.0), v, u32(pos) < size);
}

// PADDED: quad_at value by value from x at flat position pos (its row's first slot column px.x),
// 0 outside the plane and at the padding slots (columns px ≥ W).
fn padded_quad_at(plane_base: u32, pos: i32, size: u32, px: vec4i) -> vec4f {
  let live = select(vec4<bool>(false), vec4u(px) < vec4u(p.W), u32(pos) < size);
  let at = plane_base + u32(clamp(pos, 0, i32(size) - 1));
  let last = plane_base + size - 1u;
  return select(vec4f(0.0), vec4f(x[min(at, last)], x[min(at + 1u, last)], x[min(at + 2u, last)], x[min(at + 3u, last)]), live);
}

// Component k of the next lane's quad (the right halo's for the subgroup's last lane).
fn from_right(v: f32, halo: f32, k: u32, q: u32, sg: u32) -> f32 {
  return select(subgroupShuffle(v, (q + 1u) & (sg - 1u)), subgroupShuffle(halo, k), q + 1u == sg);
}

// Component k of the previous lane's quad (the left halo's for lane 0).
fn from_left(v: f32, halo: f32, k: u32, q: u32, sg: u32) -> f32 {
  return select(subgroupShuffle(v, (q + sg - 1u) & (sg - 1u)), subgroupShuffle(halo, sg - 4u + k), q == 0u);
}

// The lane's 4 pixels moved by d (|d| ≤ 4; constant once the taps are unrolled) along the run;
// the values taken from the next (previous) lane's quad are scaled by right (left): 0 where the
// lane's quad ends (starts) its row.
fn quad_shifted(l: vec4f, h: f32, d: i32, q: u32, sg: u32, left: f32, right: f32) -> vec4f {
  switch d {
    case 0: { return l; }
    case 1: { return vec4f(l.yzw, from_right(l.x, h, 0u, q, sg) * right); }
    case 2: { return vec4f(l.zw, vec2f(from_right(l.x, h, 0u, q, sg), from_right(l.y, h, 1u, q, sg)) * right); }
    case 3: { return vec4f(l.w, vec3f(from_right(l.x, h, 0u, q, sg), from_right(l.y, h, 1u, q, sg), from_right(l.z, h, 2u, q, sg)) * right); }
    case 4: { return vec4f(from_right(l.x, h, 0u, q, sg), from_right(l.y, h, 1u, q, sg), from_right(l.z, h, 2u, q, sg), from_right(l.w, h, 3u, q, sg)) * right; }
    case -1: { return vec4f(from_left(l.w, h, 3u, q, sg) * left, l.xyz); }
    case -2: { return vec4f(vec2f(from_left(l.z, h, 2u, q, sg), from_left(l.w, h, 3u, q, sg)) * left, l.xy); }
    case -3: { return vec4f(vec3f(from_left(l.y, h, 1u, q, sg), from_left(l.z, h, 2u, q, sg), from_left(l.w, h, 3u, q, sg)) * left, l.x); }
    default: { return vec4f(from_left(l.x, h, 0u, q, sg), from_left(l.y, h, 1u, q, sg), from_left(l.z, h, 2u, q, sg), from_left(l.w, h, 3u, q, sg)) * left; }
  }
}

// The run layout's runs span the batch: a subgroup's run of 4·SG pixels is cut from the flat
// index n·H·W + pixel over all N planes, so on small planes (7 × 7: 49 pixels, 14 × 14: 196) every
// subgroup is full instead of each plane leaving a run's tail idle. Lane q's pixel j (j < 4) is
// P_j = run start + q + SG·j; element j (j ≤ 4) of a kernel row's run is the input at P_j − pad
// moved by the kernel row, taken in the image of P_j − pad: a lane reading element j + t (tap t)
// wants the input at its own pixel + t − pad, which lies in its own row — so in the image of that
// element's P − pad — whenever its column is in range, and is masked off otherwise.
struct RunTile {
  first: u32,          // the block's first channel (workgroup row wid.y = block of 8·BLOCKS channels)
  at: vec4u,           // the lane's 4 output pixels: n·C·H·W + pixel for C output planes (see run_tile)
  ok: vec4<bool>,      // which of them exist (P_j < N·H·W)
  px: vec4i,           // their columns
  image: vec4u,        // element j's input image n times the input's C·H·W
  image4: u32,         // the same for element 4
  rel: vec4i,          // element j's position P_j − pad in its image, before the kernel row's move
  rel4: i32,
  idle: bool,
}

// in_planes: channels of the convolved input (x, or g for the input gradient); out_planes:
// channels of the output.
fn run_tile(wid: vec3u, lid: u32, q: u32, sg: u32, in_planes: u32, out_planes: u32) -> RunTile {
  let plane = p.H * p.W;
  let total = p.N * plane;
  let first_px = run_base(wid, lid, q);
  let pix = vec4u(first_px + q) + vec4u(0u, 1u, 2u, 3u) * sg;
  let n = min(pix / plane, vec4u(p.N - 1u));
  let inside = pix - n * plane;
  let g = vec4i(pix) - PAD;
  let g4 = i32(pix.x + 4u * sg) - PAD;
  let m = vec4u(clamp(g / i32(plane), vec4i(0), vec4i(i32(p.N) - 1)));  // g ≥ −pad: truncation is floor but for −pad…−1, which clamp makes 0
  let m4 = u32(clamp(g4 / i32(plane), 0, i32(p.N) - 1));
  let idle = first_px >= total || other_size(size_v[0]);
  return RunTile(p.cfirst + wid.y * 8u * BLOCKS, n * out_planes * plane + inside, pix < vec4u(total), vec4i(inside % p.W),
                 m * in_planes * plane, m4 * in_planes * plane, g - vec4i(m * plane), g4 - i32(m4 * plane), idle);
}

// One kernel row's run for channel c of the convolved input: element j at rel_j + shift of
// image_j's plane c; elements outside the plane read 0, which is the padding above and below it
// (a pixel whose shifted column leaves its row is masked per tap). Element 4 is only read, by
// shuffle, from lanes q < S − 1 (shifts are at most S − 1), so only they load it: lavapipe skips a
// load's per-lane work for lanes that do not execute it (0.89–0.97× the forward and input-gradient
// time on 14 × 14 and 7 × 7, paired runs).
fn run_of_tile(t: RunTile, c: u32, shift: i32, size: u32, q: u32) -> Run {
  let cb = c * size;
  var r4 = 0.0;
  if (q + 1u < S) { r4 = x_at(t.image4 + cb, t.rel4 + shift, size); }
  return Run(x_at(t.image.x + cb, t.rel.x + shift, size), x_at(t.image.y + cb, t.rel.y + shift, size),
             x_at(t.image.z + cb, t.rel.z + shift, size), x_at(t.image.w + cb, t.rel.w + shift, size), r4);
}

// Stores channel k (first + k < count) of a run-layout block: pixel j at at_j + k·plane.
fn store_run_block(t: RunTile, first: u32, count: u32, b: Block8) {
  let plane = p.H * p.W;
  let base = t.at + vec4u(first * plane);
  store_run_px(base, t.ok, b.c0);
  if (first + 1u < count) { store_run_px(base + plane, t.ok, b.c1); }
  if (first + 2u < count) { store_run_px(base + 2u * plane, t.ok, b.c2); }
  if (first + 3u < count) { store_run_px(base + 3u * plane, t.ok, b.c3); }
  if (first + 4u < count) { store_run_px(base + 4u * plane, t.ok, b.c4); }
  if (first + 5u < count) { store_run_px(base + 5u * plane, t.ok, b.c5); }
  if (first + 6u < count) { store_run_px(base + 6u * plane, t.ok, b.c6); }
  if (first + 7u < count) { store_run_px(base + 7u * plane, t.ok, b.c7); }
}

// Stores a run-layout lane's BLOCKS blocks of 8 channels (channels past `count` are dropped).
fn store_run_blocks(t: RunTile, count: u32, sums: Blocks4) {
  store_run_block(t, t.first, count, sums.b0);
  if (BLOCKS > 1u && t.first + 8u < count) { store_run_block(t, t.first + 8u, count, sums.b1); }
  if (BLOCKS > 2u && t.first + 16u < count) { store_run_block(t, t.first + 16u, count, sums.b2); }
  if (BLOCKS > 3u && t.first + 24u < count) { store_run_block(t, t.first + 24u, count, sums.b3); }
}

fn store_run_px(at: vec4u, ok: vec4<bool>, v: vec4f) {
  if (ok.x) { out[at.x] = v.x; }
  if (ok.y) { out[at.y] = v.y; }
  if (ok.z) { out[at.z] = v.z; }
  if (ok.w) { out[at.w] = v.w; }
}

// conv2d_fwd_sg: workgroup row wid.y = block of 8·BLOCKS output channels; x runs over the batch's pixels.
@compute @workgroup_size(WG)
fn conv2d_fwd_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                 @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let t = run_tile(wid, lid, q, sg, p.Cin, p.Cout);
  if (t.idle) { return; }  // uniform per subgroup
  let plane = p.H * p.W;
  // this lane's packed weights: output channel first + 8k + (q mod 8) of block k, clamped (extra channels are dropped)
  let wrow = min(vec4u(t.first + (q & 7u)) + BLOCK_OFFSETS, vec4u(p.Cout - 1u)) * p.Cin * S * Q;
  var masks = RowMasks(column_masks(t.px, false), 1.0, 1.0);
  var acc = zero_block();
  var acc_hi = zero_block();
  var acc2 = zero_block();
  var acc3 = zero_block();
  for (var a = 0u; a < S; a++) {
    // kernel row a's run: the elements moved by a − pad rows
    let shift = (i32(a) - PAD) * i32(p.W);
    // one channel per iteration: a loop body holding two channels' taps (fewer iterations, so
    // fewer of lavapipe's per-iteration accumulator blends) ran 1.1–1.4× slower in paired runs,
    // the unrolled taps being long already
    for (var c = 0u; c < p.Cin; c++) {
      let run = run_of_tile(t, c, shift, plane, q);
      let wb = (c * S + a) * Q;
      row_taps_blocks(&acc, &acc_hi, run, wrow.x + wb, wrow.y + wb, q, sg, &masks, false, false);
      if (BLOCKS > 2u) { row_taps_blocks(&acc2, &acc3, run, wrow.z + wb, wrow.w + wb, q, sg, &masks, false, false); }
    }
  }
  store_run_blocks(t, p.Cout, Blocks4(acc, acc_hi, acc2, acc3));
}

// conv2d_bwd_input_sg: workgroup row wid.y = block of 8·BLOCKS input channels; x runs over the batch's
// pixels. The upstream gradient g is bound as x (the input it convolves), so run_of_tile serves
// both kernels. Tap (a, b) reads g at (y + pad − a, x + pad − b): for kernel row a the run starts
// at column x + pad − (S − 1) = x − pad, and tap b is the shift S − 1 − b.
@compute @workgroup_size(WG)
fn conv2d_bwd_input_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                       @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let t = run_tile(wid, lid, q, sg, p.Cout, p.Cin);
  if (t.idle) { return; }  // uniform per subgroup
  let plane = p.H * p.W;
  // this lane's packed weights: input channel first + 8k + (q mod 8) of block k, clamped
  let wcol = min(vec4u(t.first + (q & 7u)) + BLOCK_OFFSETS, vec4u(p.Cin - 1u));
  var masks = RowMasks(column_masks(t.px, true), 1.0, 1.0);
  var acc = zero_block();
  var acc_hi = zero_block();
  var acc2 = zero_block();
  var acc3 = zero_block();
  for (var a = 0u; a < S; a++) {
    let shift = (PAD - i32(a)) * i32(p.W);
    for (var o = 0u; o < p.Cout; o++) {
      let run = run_of_tile(t, o, shift, plane, q);
      let wb = ((vec4u(o * p.Cin) + wcol) * S + a) * Q;
      row_taps_blocks(&acc, &acc_hi, run, wb.x, wb.y, q, sg, &masks, true, false);
      if (BLOCKS > 2u) { row_taps_blocks(&acc2, &acc3, run, wb.z, wb.w, q, sg, &masks, true, false); }
    }
  }
  store_run_blocks(t, p.Cin, Blocks4(acc, acc_hi, acc2, acc3));
}

// The 1 × 1 window (S = 1) on planes of a multiple of 4 pixels: nothing is shifted, so a lane
// takes 4 consecutive pixels and loads and stores them as one vec4 (input bound as in_quads: x
// for the forward, g for the input gradient; output as out4). A workgroup row covers 16 channels
// as two blocks of 8 (lo, hi), so each loaded quad serves 16 sums per pixel: 1.3× faster than
// one block on lavapipe (paired runs), where the loads, not the multiply-adds, set the pace.
//   conv2d_fwd_1x1_sg        as conv2d_fwd_sg
//   conv2d_bwd_input_1x1_sg  as conv2d_bwd_input_sg
@compute @workgroup_size(WG)
fn conv2d_fwd_1x1_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let t = tile(wid, lid, q, 16u);
  if (t.idle) { return; }  // uniform per subgroup
  forward_1x1(t, q, 0u);
}

// The 1 × 1 forward of a lane's 16 channels × 4 pixels: output channel o's weight for input
// channel c at w[(w_first + o·Cin + c)·W_STRIDE].
fn forward_1x1(t: Tile, q: u32, w_first: u32) {
  let o = t.first + (q & 7u);
  let w_lo = w_first + min(o, p.Cout - 1u) * p.Cin;
  let w_hi = w_first + min(o + 8u, p.Cout - 1u) * p.Cin;
  if (W_VEC4) {
    store_blocks(t, p.Cout, sum_1x1_w4(t, p.Cin, w_lo / 4u, w_hi / 4u), 2u);
  } else {
    store_blocks(t, p.Cout, sum_1x1(t, p.Cin, w_lo, w_hi, 1u), 2u);
  }
}

@compute @workgroup_size(WG)
fn conv2d_bwd_input_1x1_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                           @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let t = tile(wid, lid, q, 16u);
  if (t.idle) { return; }  // uniform per subgroup
  // input channel c's weight for output channel o at w[(o·Cin + c)·W_STRIDE]
  let c = t.first + (q & 7u);
  store_blocks(t, p.Cin, sum_1x1(t, p.Cout, min(c, p.Cin - 1u), min(c + 8u, p.Cin - 1u), p.Cin), 2u);
}

// conv2d_winograd_product_sg: the 36 (3 × 3) or 64 (5 × 5) matrix products of the Winograd
// convolutions (conv2d_winograd.wgsl), M[ξ, o, j] = Σ_c U[ξ, o, c] V[ξ, c, j] over the batch's
// tiles j, as the 1 × 1 forward over p.N = 36 or 64 "images" of p.W tiles each, image ξ's weights at
// w[(ξ·Cout + o)·Cin + c] (W_STRIDE 1). The host pads p.W to a multiple of 4·WG, so every
// subgroup's run lies in one image and its lanes broadcast one matrix's weights.
@compute @workgroup_size(WG)
fn conv2d_winograd_product_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                              @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let t = tile(wid, lid, q, 16u);
  if (t.idle) { return; }  // uniform per subgroup
  forward_1x1(t, q, t.n * p.Cout * p.Cin);
}

// Channels first … first + 7 (lo) and first + 8 … first + 15 (hi) of a quad lane (the quad-rows and 1 × 1 kernels).
struct Pair {
  lo: Block8,
  hi: Block8,
}

// Up to four blocks of 8 channels (the run-layout kernels' BLOCKS; store_run_blocks).
struct Blocks4 {
  b0: Block8,
  b1: Block8,
  b2: Block8,
  b3: Block8,
}

// Block k's first channel past the lane's first block's (with the lane's q mod 8: its weight row).
const BLOCK_OFFSETS = vec4u(0u, 8u, 16u, 24u);

// One lane's sums of a 1 × 1 kernel: Σ_c in[n, c, the lane's 4 pixels] · (weight of lane k's
// channel, broadcast to channel k) over `channels` input planes, the weights at
// w[(w_lo + c·w_stride)·W_STRIDE] (lo) and w[(w_hi + c·w_stride)·W_STRIDE] (hi). SUM_STEP
// channels per loop iteration, all their loads first and then each accumulator once (a load
// between two updates makes LLVM spill and reload the accumulators around it).
fn sum_1x1(t: Tile, channels: u32, w_lo: u32, w_hi: u32, w_stride: u32) -> Pair {
  var lo = zero_block();
  var hi = zero_block();
  var c = 0u;
  if (SUM_STEP == 4u) {
    for (; c + 4u <= channels; c += 4u) {
      let x0 = quad_1x1(t, channels, c);
      let x1 = quad_1x1(t, channels, c + 1u);
      let x2 = quad_1x1(t, channels, c + 2u);
      let x3 = quad_1x1(t, channels, c + 3u);
      let l = vec4f(weight_1x1(w_lo, c, w_stride), weight_1x1(w_lo, c + 1u, w_stride),
                    weight_1x1(w_lo, c + 2u, w_stride), weight_1x1(w_lo, c + 3u, w_stride));
      let h = vec4f(weight_1x1(w_hi, c, w_stride), weight_1x1(w_hi, c + 1u, w_stride),
                    weight_1x1(w_hi, c + 2u, w_stride), weight_1x1(w_hi, c + 3u, w_stride));
      fma_broadcast4(&lo, x0, x1, x2, x3, l);
      fma_broadcast4(&hi, x0, x1, x2, x3, h);
    }
  }
  if (SUM_STEP == 2u) {
    for (; c + 2u <= channels; c += 2u) {
      let x0 = quad_1x1(t, channels, c);
      let x1 = quad_1x1(t, channels, c + 1u);
      let l0 = weight_1x1(w_lo, c, w_stride);
      let l1 = weight_1x1(w_lo, c + 1u, w_stride);
      let h0 = weight_1x1(w_hi, c, w_stride);
      let h1 = weight_1x1(w_hi, c + 1u, w_stride);
      fma_broadcast2(&lo, x0, l0, x1, l1);
      fma_broadcast2(&hi, x0, h0, x1, h1);
    }
  }
  for (; c < channels; c++) {
    let xs = quad_1x1(t, channels, c);
    fma_broadcast(&lo, xs, weight_1x1(w_lo, c, w_stride));
    fma_broadcast(&hi, xs, weight_1x1(w_hi, c, w_stride));
  }
  return Pair(lo, hi);
}

// sum_1x1 with SUM_STEP 4 and the weights of input channels c … c + 3 at w4[lo + c/4] (lo) and
// w4[hi + c/4] (hi): channels is a multiple of 4 (W_VEC4). A loop of its own rather than a vec4
// weight load inside sum_1x1's: that merged form took 1.10–1.22× this one's time in the 1 × 1
// forward (paired trees, both orders), most likely for sum_1x1's 2-step and remainder loops left
// in the kernel; the input gradient, binding w4 too then, 1.03–1.05×.
fn sum_1x1_w4(t: Tile, channels: u32, lo: u32, hi: u32) -> Pair {
  var sums = Pair(zero_block(), zero_block());
  for (var c = 0u; c < channels; c += 4u) {
    let x0 = quad_1x1(t, channels, c);
    let x1 = quad_1x1(t, channels, c + 1u);
    let x2 = quad_1x1(t, channels, c + 2u);
    let x3 = quad_1x1(t, channels, c + 3u);
    let l = w4[lo + c / 4u];
    let h = w4[hi + c / 4u];
    fma_broadcast4(&sums.lo, x0, x1, x2, x3, l);
    fma_broadcast4(&sums.hi, x0, x1, x2, x3, h);
  }
  return sums;
}

// The weight of a 1 × 1 lane's channel (row `first`) for input channel c (see sum_1x1).
fn weight_1x1(first: u32, c: u32, w_stride: u32) -> f32 {
  return w[(first + c * w_stride) * W_STRIDE];
}

// The quad lane's 4 pixels of input channel c (of `channels`) in its image.
fn quad_1x1(t: Tile, channels: u32, c: u32) -> vec4f {
  let plane = p.H * p.W;
  return in_quads[quad_index((t.n * channels + c) * plane, t.inside, plane)];
}

// t.ck += Σ_j xj · (component j of channel k's weights g, held by lane k): four input channels'
// terms summed before they reach the accumulator (sum_1x1).
fn fma_broadcast4(t: ptr<function, Block8>, x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, g: vec4f) {
  (*t).c0 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 0u));
  (*t).c1 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 1u));
  (*t).c2 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 2u));
  (*t).c3 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 3u));
  (*t).c4 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 4u));
  (*t).c5 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 5u));
  (*t).c6 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 6u));
  (*t).c7 += terms4(x0, x1, x2, x3, subgroupBroadcast(g, 7u));
}

fn terms4(x0: vec4f, x1: vec4f, x2: vec4f, x3: vec4f, g: vec4f) -> vec4f {
  return (x0 * g.x + x1 * g.y) + (x2 * g.z + x3 * g.w);
}

// Stores channel k (first + k < count) of the block at base + k·plane, pixels first_pixel … + 3.
fn store_quads(base: u32, plane: u32, first: u32, count: u32, first_pixel: u32, b: Block8) {
  if (first_pixel >= plane) { return; }
  let at = base + first_pixel;
  // PADDED: the quad's first column (its slots past W are padding)
  var col = 0u;
  if (PADDED) { col = first_pixel % p.W; }
  store_quad(at, col, b.c0);
  if (first + 1u < count) { store_quad(at + plane, col, b.c1); }
  if (first + 2u < count) { store_quad(at + 2u * plane, col, b.c2); }
  if (first + 3u < count) { store_quad(at + 3u * plane, col, b.c3); }
  if (first + 4u < count) { store_quad(at + 4u * plane, col, b.c4); }
  if (first + 5u < count) { store_quad(at + 5u * plane, col, b.c5); }
  if (first + 6u < count) { store_quad(at + 6u * plane, col, b.c6); }
  if (first + 7u < count) { store_quad(at + 7u * plane, col, b.c7); }
}

// A quad's 4 values from flat position at: one vec4 (at a multiple of 4: H·W is), or with PADDED
// value by value, those from column col on below W only.
fn store_quad(at: u32, col: u32, v: vec4f) {
  if (!PADDED) {
    out4[at / 4u] = v;
    return;
  }
  for (var k = 0u; k < 4u; k++) {
    if (col + k < p.W) { out4[(at + k) / 4u][(at + k) % 4u] = v[k]; }
  }
}

// conv2d_pack_input_sg: x with each group of 4 channels interleaved, x4[(n·⌈Cin/4⌉ + cb)·H·W + pixel]
// = x[n, 4cb … 4cb + 3, pixel] (0 past Cin), so the weight gradient loads a lane's 4 channels in
// one vec4.
@compute @workgroup_size(WG)
fn conv2d_pack_input_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  // grid (⌈N·H·W/(4·WG)⌉, ⌈Cin/4⌉): 4 consecutive pixels of the batch per invocation, their image
  // divided out once (lavapipe divides lane by lane) and counted on across an image's end. Over
  // the batch rather than one grid row per image, so a small plane (7 × 7) does not cost
  // workgroups of its own: 0.5× the time on 7×7 planes at N = 128, the same on 14×14 to 32×32.
  let first = (wid.x * WG + lid) * 4u;
  let plane = p.H * p.W;
  let cb = wid.y;
  let c = vec4u(4u * cb) + vec4u(0u, 1u, 2u, 3u);
  let nbc = (p.Cin + 3u) / 4u;
  var n = first / plane;
  var pixel = first - n * plane;
  for (var k = 0u; k < 4u; k++) {
    if (n >= p.N) { return; }
    let src = (n * p.Cin + min(c, vec4u(p.Cin - 1u))) * plane + pixel;
    let v = vec4f(x[src.x], x[src.y], x[src.z], x[src.w]);
    out4[(n * nbc + cb) * plane + pixel] = select(vec4f(0.0), v, c < vec4u(p.Cin));
    pixel += 1u;
    if (pixel == plane) {
      pixel = 0u;
      n += 1u;
    }
  }
}

// A weight-gradient lane's place: lanes tasks per block of 8·BLOCKS output channels (from o0),
// in whole subgroups; r the lane's index in its block (≥ tasks: idle, repeating the last task,
// storing nothing); idle_block when the block is past Cout (uniform per subgroup).
struct WeightTask {
  o0: u32,
  r: u32,
  task: u32,
  idle_block: bool,
}

fn weight_task(wid: vec3u, lid: u32, sg: u32, tasks: u32) -> WeightTask {
  let per_block = (tasks + sg - 1u) / sg * sg;
  let idx = wid.x * WG + lid;
  let o0 = idx / per_block * 8u * BLOCKS;
  let r = idx % per_block;
  return WeightTask(o0, r, min(r, tasks - 1u), o0 >= p.Cout);
}

// A weight gradient has only ⌈Cout/8⌉·(tasks per block) invocations, too few to keep even 2 CPU
// cores (let alone a GPU) busy, so the host may split the images: workgroup row wid.y sums images
// [first, end) (p.nchunk per row; 0: all) into its own copy of dw, and the host adds them. (A
// uniform, not a pipeline constant, so a new batch size compiles nothing.)
fn weight_images(wid: vec3u) -> vec2u {
  let first = wid.y * p.nchunk;
  return vec2u(first, select(p.N, min(first + p.nchunk, p.N), p.nchunk > 0u));
}

// Output rows [first, end) whose input row y + a − pad lies in the plane for some lane of the
// subgroup (kernel row a): the others are zero padding, and a lane outside its own range
// multiplies by 0. A subgroup of one kernel row skips |a − pad| of the H rows (0.93–0.98× the
// time at S = 5…9, paired runs). Every lane of the subgroup must call it.
fn weight_rows(a: u32) -> vec2u {
  return vec2u(u32(max(PAD - i32(subgroupMax(a)), 0)), u32(clamp(i32(p.H) + PAD - i32(subgroupMin(a)), 0, i32(p.H))));
}

// A weight-gradient lane's walk over the pixels of an image, flat (rows wrap): the pixel's column
// and the input row that the lane's tap reads, counted along so that no pixel is divided.
struct Walk {
  col: u32,
  iy: i32,
}

// The pixels [first, end) of weight_rows(a), flat over the plane; tap (a, b) reads x at pixel
// P + tap_offset (clamped into the plane where it leaves it, and masked off by pixel_mask).
// Every lane of the subgroup must call it.
struct WeightSpan {
  first: u32,
  end: u32,
  tap_offset: i32,
  walk: Walk,
}

fn weight_span(a: u32, b: u32) -> WeightSpan {
  let rows = weight_rows(a);
  return WeightSpan(rows.x * p.W, rows.y * p.W, (i32(a) - PAD) * i32(p.W) + i32(b) - PAD, Walk(0u, i32(rows.x) - PAD + i32(a)));
}

// Pixel px's factor for a weight-gradient lane's input: 1, or 0 where its tap reads outside the
// plane or px is past the rows' end; moves the walk one pixel on.
fn pixel_mask(walk: ptr<function, Walk>, px: u32, end: u32, b: u32) -> f32 {
  let m = select(0.0, 1.0, px < end && u32((*walk).iy) < p.H && u32(i32((*walk).col) - PAD + i32(b)) < p.W);
  (*walk).col += 1u;
  if ((*walk).col == p.W) {
    (*walk).col = 0u;
    (*walk).iy += 1;
  }
  return m;
}

// A block of n terms (n a constant at every call) summed into each accumulator: t.ck +=
// Σ_{i < n} xs[i] · (channel k's factor gs[i], held by lane k) — a weight gradient's block of
// pixels (gs: upstream gradients), or a quad-rows kernel row's taps (gs: weights).
fn fma_broadcast_block(t: ptr<function, Block8>, xs: array<vec4f, 9>, gs: array<f32, 9>, n: u32) {
  var gb: array<array<f32, 8>, 9>;  // gb[i][ch]: channel ch's factor of term i
  for (var k = 0u; k < n; k++) {
    let v = gs[k];
    gb[k] = array<f32, 8>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
                          subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
  }
  (*t).c0 += block_sum(xs, gb, 0u, n);
  (*t).c1 += block_sum(xs, gb, 1u, n);
  (*t).c2 += block_sum(xs, gb, 2u, n);
  (*t).c3 += block_sum(xs, gb, 3u, n);
  (*t).c4 += block_sum(xs, gb, 4u, n);
  (*t).c5 += block_sum(xs, gb, 5u, n);
  (*t).c6 += block_sum(xs, gb, 6u, n);
  (*t).c7 += block_sum(xs, gb, 7u, n);
}

// Σ_{k < n} xs[k] · gb[k][ch].
fn block_sum(xs: array<vec4f, 9>, gb: array<array<f32, 8>, 9>, ch: u32, n: u32) -> vec4f {
  var sum = vec4f(0.0);
  for (var k = 0u; k < n; k++) { sum += xs[k] * gb[k][ch]; }
  return sum;
}

// t.ck += xa · (channel k's ga, held by lane k) + xb · (channel k's gb): two pixels' (sum_1x1: two
// input channels') terms summed before they reach the accumulator. (fma_broadcast_block with
// n = 2 gives the same loop but leaves a small rolled loop beside it in LLVM's output, so the
// weight gradient keeps this.)
fn fma_broadcast2(t: ptr<function, Block8>, xa: vec4f, ga: f32, xb: vec4f, gb: f32) {
  (*t).c0 += xa * subgroupBroadcast(ga, 0u) + xb * subgroupBroadcast(gb, 0u);
  (*t).c1 += xa * subgroupBroadcast(ga, 1u) + xb * subgroupBroadcast(gb, 1u);
  (*t).c2 += xa * subgroupBroadcast(ga, 2u) + xb * subgroupBroadcast(gb, 2u);
  (*t).c3 += xa * subgroupBroadcast(ga, 3u) + xb * subgroupBroadcast(gb, 3u);
  (*t).c4 += xa * subgroupBroadcast(ga, 4u) + xb * subgroupBroadcast(gb, 4u);
  (*t).c5 += xa * subgroupBroadcast(ga, 5u) + xb * subgroupBroadcast(gb, 5u);
  (*t).c6 += xa * subgroupBroadcast(ga, 6u) + xb * subgroupBroadcast(gb, 6u);
  (*t).c7 += xa * subgroupBroadcast(ga, 7u) + xb * subgroupBroadcast(gb, 7u);
}

// conv2d_bwd_weight_sg: dw[o, c, off + a, off + b] = m · Σ_{n, y, x} g[n, o, y, x] x[n, c, y + a − pad, x + b − pad]
// for the S × S window (S is a pipeline constant here; taps outside it are zeroed by the host).
// Lane = (4 input channels, window tap), 32 sums in 8 vec4 accumulators as in conv2d.wgsl, but
// every lane of a subgroup shares one block of 8 output channels and walks the same pixels, so
// one load serves the upstream gradient of all 8 channels (lane k loads channel o0 + k and
// subgroupBroadcast hands it on) instead of 8 loads per lane. Lanes whose input position falls in
// the padding read a clamped position and multiply by 0. With BLOCKS = 2 a lane sums 16 output
// channels (acc: o0 …, acc_hi: o0 + 8 …), two g loads per pixel sharing its input load, mask and
// shuffles. With QUADS = 2 a lane sums 8 input channels c0 … c0 + 7 (acc2, acc3: the second block
// of 4, o0 … and o0 + 8 …), its two inputs per pixel sharing the mask, the g loads and their
// broadcasts.
@compute @workgroup_size(WG)
fn conv2d_bwd_weight_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                        @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let v = size_v[0];
  if (other_size(v)) { return; }
  let nbc = (p.Cin + 3u) / 4u;
  let groups = (nbc + QUADS - 1u) / QUADS;  // a lane's QUADS blocks of 4 input channels
  let lanes = groups * S * S;
  let wt = weight_task(wid, lid, sg, lanes);
  if (wt.idle_block) { return; }  // uniform per subgroup
  let o0 = wt.o0;
  let r = wt.r;
  let task = wt.task;
  // tasks ordered (kernel row a, group of input channels, tap b), so that the lanes of a
  // subgroup mostly share one kernel row and with it the image rows they can skip (weight_rows)
  let a = task / (groups * S);
  let c0 = task / S % groups * 4u * QUADS;
  let b = task % S;
  let plane = p.H * p.W;
  // QUADS = 2: the second block's offset in x4 from the first's — 0 where it is past Cin (the
  // first block summed twice, not stored)
  let x_hi = select(0u, plane, c0 + 4u < p.Cin);
  let og = min(o0 + (q & 7u), p.Cout - 1u) * plane;  // this lane's share of the g loads
  let og_hi = min(o0 + 8u + (q & 7u), p.Cout - 1u) * plane;
  let og2 = min(o0 + 16u + (q & 7u), p.Cout - 1u) * plane;
  let og3 = min(o0 + 24u + (q & 7u), p.Cout - 1u) * plane;
  // Tap b at pixel P reads what tap b + 1 (the next lane: same channels and kernel row) read at
  // pixel P − 1, so only the last tap of each kernel row (and the subgroup's last lane, whose
  // next lane is in another subgroup) loads after an image's first pixel; the others take it by
  // a shuffle. On lavapipe a load costs per active lane: 0.97× the time at S = 3, 0.90× at S = 7
  // (paired runs). Idle lanes repeat the last task, a last tap, and so load.
  let loads = b == S - 1u || q == sg - 1u;
  let next_lane = (q + 1u) & (sg - 1u);
  var acc = zero_block();
  var acc_hi = zero_block();
  var acc2 = zero_block();
  var acc3 = zero_block();
  let images = weight_images(wid);
  let span = weight_span(a, b);
  // The pixels P of those rows in one loop, flat over the plane (rows wrap): the lane's tap reads
  // x at P + (a − pad)·W + b − pad (clamped into the plane where the tap leaves it, and masked
  // off: the pixel's column and the tap's input row are counted along), which is what the next
  // lane read at P − 1 across a row's end too. Per row loops cost all lanes' loads at each row's
  // first pixel, and their 4 pixels per iteration needed 4 | W: flat, 0.80–0.85× the time on
  // 7×7 planes, 0.87–0.96 on 14×14, 0.80 on 28×28, 0.90–0.99 on 16×16 and 32×32 (paired runs).
  // PIXELS (2 or 4) pixels per iteration: lavapipe blends the vectors this loop writes with its
  // lane mask once per iteration; pixels past the span's end are masked off. 4 pixels measured
  // 0.87–0.99× the time of 1 on a Zen 4 host (8 was slower), but on a Zen 3 one (its
  // ~3100-instruction loop most likely outgrowing the decoded-op cache) 2 took 0.60–0.78× the
  // time of 4 (S = 1…9, 7×7 to 32×32 planes) and 1 pixel about the same as 2. Both pixels' inputs, masks and gradients come first
  // and their terms are summed before the accumulators (fma_broadcast2): the masks' and loads'
  // branches then no longer split the accumulators' updates, which LLVM had spilled and reloaded
  // around them — 8 % fewer instructions in the loop and 0.86–0.95× the time (S = 3, 5, 9 on the
  // bench's and fmnist-6's planes, paired runs, the sums bit for bit the same in them). Summed
  // over 4 pixels: 1.02–1.15× the time of 2 then; on the Intel Xeon host with AVX-512 (stop 39)
  // 0.89–0.95 at S = 1…9, so 4 under its rules; the sliding kernel's pixels so paired
  // 0.98–1.37×, the by-taps kernel's 0.94–1.07× (neither kept).
  for (var n = images.x; n < images.y; n++) {
    let xn = (n * nbc + c0 / 4u) * plane;
    let gn = n * p.Cout * plane + og;
    let gn_hi = n * p.Cout * plane + og_hi;
    let gn2 = n * p.Cout * plane + og2;
    let gn3 = n * p.Cout * plane + og3;
    var prev = vec4f(0.0);  // this lane's input at the previous pixel
    var prev_hi = vec4f(0.0);  // the same for its second block of input channels (QUADS = 2)
    var walk = span.walk;
    for (var p0 = span.first; p0 < span.end; p0 += PIXELS) {
      let v0 = tap_input(prev, p0 == span.first || loads, xn, i32(p0) + span.tap_offset, next_lane);
      let m0 = pixel_mask(&walk, p0, span.end, b);
      let xa = v0 * m0;
      let v1 = tap_input(v0, loads, xn, i32(p0 + 1u) + span.tap_offset, next_lane);
      let m1 = pixel_mask(&walk, p0 + 1u, span.end, b);
      let xb = v1 * m1;
      if (PIXELS == 4u) {
        let v2 = tap_input(v1, loads, xn, i32(p0 + 2u) + span.tap_offset, next_lane);
        let m2 = pixel_mask(&walk, p0 + 2u, span.end, b);
        let xc = v2 * m2;
        let v3 = tap_input(v2, loads, xn, i32(p0 + 3u) + span.tap_offset, next_lane);
        let m3 = pixel_mask(&walk, p0 + 3u, span.end, b);
        let xd = v3 * m3;
        prev = v3;
        // QUADS = 2: the same pixels of the lane's second block of input channels
        var ya = vec4f(0.0);
        var yb = vec4f(0.0);
        var yc = vec4f(0.0);
        var yd = vec4f(0.0);
        if (QUADS > 1u) {
          let xh = xn + x_hi;
          let u0 = tap_input(prev_hi, p0 == span.first || loads, xh, i32(p0) + span.tap_offset, next_lane);
          let u1 = tap_input(u0, loads, xh, i32(p0 + 1u) + span.tap_offset, next_lane);
          let u2 = tap_input(u1, loads, xh, i32(p0 + 2u) + span.tap_offset, next_lane);
          let u3 = tap_input(u2, loads, xh, i32(p0 + 3u) + span.tap_offset, next_lane);
          prev_hi = u3;
          ya = u0 * m0;
          yb = u1 * m1;
          yc = u2 * m2;
          yd = u3 * m3;
        }
        // every block's gradients are loaded before any block's sums
        let gl = g_quad(gn, p0, span.end);
        var gh = vec4f(0.0);
        var g2 = vec4f(0.0);
        var g3 = vec4f(0.0);
        if (BLOCKS > 1u) { gh = g_quad(gn_hi, p0, span.end); }
        if (BLOCKS > 2u) {
          g2 = g_quad(gn2, p0, span.end);
          g3 = g_quad(gn3, p0, span.end);
        }
        fma_broadcast4(&acc, xa, xb, xc, xd, gl);
        if (BLOCKS > 1u) { fma_broadcast4(&acc_hi, xa, xb, xc, xd, gh); }
        if (BLOCKS > 2u) {
          fma_broadcast4(&acc2, xa, xb, xc, xd, g2);
          fma_broadcast4(&acc3, xa, xb, xc, xd, g3);
        }
        if (QUADS > 1u) {
          fma_broadcast4(&acc2, ya, yb, yc, yd, gl);
          if (BLOCKS > 1u) { fma_broadcast4(&acc3, ya, yb, yc, yd, gh); }
        }
      } else {
        prev = v1;
        let gl = g_pair(gn, p0, span.end);
        if (BLOCKS == 1u) {
          fma_broadcast2(&acc, xa, gl.x, xb, gl.y);
        } else {
          let gh = g_pair(gn_hi, p0, span.end);
          fma_broadcast2(&acc, xa, gl.x, xb, gl.y);
          fma_broadcast2(&acc_hi, xa, gh.x, xb, gh.y);
        }
      }
    }
  }
  if (r >= lanes) { return; }
  store_weight_block(wid, o0, c0, window_offset(S) + a, window_offset(S) + b, v, acc);
  if (BLOCKS > 1u && o0 + 8u < p.Cout) { store_weight_block(wid, o0 + 8u, c0, window_offset(S) + a, window_offset(S) + b, v, acc_hi); }
  if (BLOCKS > 2u && o0 + 16u < p.Cout) { store_weight_block(wid, o0 + 16u, c0, window_offset(S) + a, window_offset(S) + b, v, acc2); }
  if (BLOCKS > 2u && o0 + 24u < p.Cout) { store_weight_block(wid, o0 + 24u, c0, window_offset(S) + a, window_offset(S) + b, v, acc3); }
  if (QUADS > 1u && c0 + 4u < p.Cin) {
    store_weight_block(wid, o0, c0 + 4u, window_offset(S) + a, window_offset(S) + b, v, acc2);
    if (BLOCKS > 1u && o0 + 8u < p.Cout) { store_weight_block(wid, o0 + 8u, c0 + 4u, window_offset(S) + a, window_offset(S) + b, v, acc3); }
  }
}

// The upstream gradients g[gn + p0] and g[gn + p0 + 1] (clamped to the span's last pixel): one
// vec2 load where G_PAIRS (gn and p0 even, the span's end too: nothing to clamp).
// A weight-gradient lane's input at the pixel whose tap reads x4 at `pos` of image block xn:
// loaded where `load`, else what the next lane held at the previous pixel (v_prev).
fn tap_input(v_prev: vec4f, load: bool, xn: u32, pos: i32, next_lane: u32) -> vec4f {
  var v = subgroupShuffle(v_prev, next_lane);
  if (load) { v = x4[xn + clamp_pos(pos, p.H * p.W)]; }
  return v;
}

// The upstream gradients of pixels p0 … p0 + 3 (two g_pairs).
fn g_quad(gn: u32, p0: u32, end: u32) -> vec4f {
  return vec4f(g_pair(gn, p0, end), g_pair(gn, p0 + 2u, end));
}

fn g_pair(gn: u32, p0: u32, end: u32) -> vec2f {
  if (G_PAIRS) { return g2[(gn + p0) / 2u]; }
  return vec2f(g[gn + min(p0, end - 1u)], g[gn + min(p0 + 1u, end - 1u)]);
}

// Stores a weight-gradient lane's sums: grid tap (i, j) of output channels o0 … o0 + 7 and input
// channels c0 … c0 + 3 (those that exist), times the tap's Gaussian mask, into workgroup row
// wid.y's copy of dw.
fn store_weight_block(wid: vec3u, o0: u32, c0: u32, i: u32, j: u32, v: f32, acc: Block8) {
  let scale = mask_factor(i, v) * mask_factor(j, v);
  let kk = p.kw * p.kw;
  let chunk_base = wid.y * p.Cout * p.Cin * kk;
  let accs = array<vec4f, 8>(acc.c0, acc.c1, acc.c2, acc.c3, acc.c4, acc.c5, acc.c6, acc.c7);
  for (var k = 0u; k < 8u; k++) {
    let o = o0 + k;
    if (o >= p.Cout) { break; }
    let val = accs[k] * scale;
    let base = chunk_base + (o * p.Cin + c0) * kk + i * p.kw + j;
    out[base] = val.x;
    if (c0 + 1u < p.Cin) { out[base + kk] = val.y; }
    if (c0 + 2u < p.Cin) { out[base + 2u * kk] = val.z; }
    if (c0 + 3u < p.Cin) { out[base + 3u * kk] = val.w; }
  }
}

// conv2d_bwd_weight_slide_sg: conv2d_bwd_weight_sg with the inputs loaded once per S pixels.
// There a kernel row's last tap loads at every pixel and the others shuffle — but lavapipe runs a
// load's loop over every lane of the subgroup, active or not, so the per-pixel load cost all 8
// lanes (4 components each). Here the S taps of a kernel row (one group: same kernel row, same 4
// channels) sit in one subgroup — floor(SG/S) groups per subgroup, the lanes past them idle — and
// at the start of each block of S pixels P0 … P0 + S − 1 every lane loads one value: tap t's
// input at pixel P0 + S − 1 ("cur"), i.e. flat position P0 + S − 1 + t − pad (+ the kernel row's
// offset). With what it loaded for the previous block ("prev", S pixels earlier), the group then
// holds every position its taps read in this block: tap b at pixel P0 + k reads position
// P0 + k + b − pad, which is lane (k + b + 1) mod S's cur when k + b ≥ S − 1, else its prev. A
// source lane t is read for its cur exactly when t ≤ k, so it offers select(prev, cur, t ≤ k) and
// one shuffle per pixel serves the group. Masks, the g loads (one per lane and pixel, handed on by
// subgroupBroadcast) and the accumulators are those of conv2d_bwd_weight_sg. A block's S inputs,
// masks and gradients come first and each accumulator then takes their S terms summed (as that
// kernel's pixel pairs, fma_broadcast2): 0.68–0.73× the time of a pixel at a time at S = 7 (the
// bench's and fmnist-6's planes, paired runs). Needs S ≤ SG.
// Lanes: per block of 8 output channels, ⌈S·⌈Cin/4⌉ / floor(SG/S)⌉ whole subgroups; group
// (a, block of 4 input channels) with the kernel row a major, as there.
@compute @workgroup_size(WG)
fn conv2d_bwd_weight_slide_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                              @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let v = size_v[0];
  if (other_size(v)) { return; }
  let nbc = (p.Cin + 3u) / 4u;
  let groups = S * nbc;
  let per_sub = sg / S;  // groups per subgroup
  let subs = (groups + per_sub - 1u) / per_sub;  // subgroups per block of 8 output channels
  let sub = (wid.x * WG + lid) / sg;
  let o0 = sub / subs * 8u;
  if (o0 >= p.Cout) { return; }  // uniform per subgroup
  let gi = q / S;  // the lane's group in its subgroup (≥ per_sub: idle)
  let b = q % S;  // the lane's tap
  let group_raw = (sub % subs) * per_sub + gi;
  let stores = gi < per_sub && group_raw < groups;
  let group = min(group_raw, groups - 1u);  // idle lanes repeat the last group and store nothing
  let a = group / nbc;
  let c0 = group % nbc * 4u;
  let first_lane = min(gi, per_sub - 1u) * S;  // idle lanes trade among the last group's lanes
  let plane = p.H * p.W;
  let og = min(o0 + (q & 7u), p.Cout - 1u) * plane;  // this lane's share of the g loads
  var acc = zero_block();
  let images = weight_images(wid);
  let span = weight_span(a, b);
  for (var n = images.x; n < images.y; n++) {
    let xn = (n * nbc + c0 / 4u) * plane;
    let gn = n * p.Cout * plane + og;
    // the block before the first: this lane's input at pixel span.first − 1
    var prev = x4[xn + clamp_pos(i32(span.first) - 1 + span.tap_offset, plane)];
    var walk = span.walk;
    for (var p0 = span.first; p0 < span.end; p0 += S) {
      let cur = x4[xn + clamp_pos(i32(p0 + S) - 1 + span.tap_offset, plane)];
      // the block's inputs (masked) and upstream gradients first, then its terms, summed per
      // accumulator before they reach it (fma_broadcast_block)
      var xs: array<vec4f, 9>;
      var gs: array<f32, 9>;
      for (var k = 0u; k < S; k++) {
        let offered = select(prev, cur, b <= k);
        xs[k] = subgroupShuffle(offered, first_lane + (k + b + 1u) % S) * pixel_mask(&walk, p0 + k, span.end, b);
        gs[k] = g[gn + min(p0 + k, span.end - 1u)];
      }
      fma_broadcast_block(&acc, xs, gs, S);
      prev = cur;
    }
  }
  if (!stores) { return; }
  store_weight_block(wid, o0, c0, window_offset(S) + a, window_offset(S) + b, v, acc);
}

// conv2d_bwd_weight_taps_sg: conv2d_bwd_weight_sg for inputs of few channels (the first layer of
// an image CNN: 1 or 3), where its 4 channels per lane would be partly padding. Here a lane's
// vec4s run over 4 consecutive taps of one kernel row: lane = (input channel c, kernel row a,
// quad j of taps 4j … 4j + 3), 8 output channels as there (one g load per lane and pixel, handed
// to all by subgroupBroadcast). x is read as it is (no interleaved copy): moving one pixel right
// moves the lane's 4 taps' inputs one place along the row, so it keeps 3 and takes the fourth
// from the next lane (the next quad of the row: its first tap at the previous pixel) by a
// shuffle, and only the row's last quad (and the subgroup's last lane) loads it. Inputs outside
// the plane are loaded as 0, so the shifted values need no mask.
@compute @workgroup_size(WG)
fn conv2d_bwd_weight_taps_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                             @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let v = size_v[0];
  if (other_size(v)) { return; }
  let lanes = p.Cin * S * Q;
  let wt = weight_task(wid, lid, sg, lanes);
  if (wt.idle_block) { return; }  // uniform per subgroup
  let o0 = wt.o0;
  let r = wt.r;
  let task = wt.task;  // idle lanes repeat the last task (a row's last quad) and store nothing
  // tasks ordered (c, a, j): the next lane holds the row's next quad but at a row's last quad
  let j = task % Q;
  let a = task / Q % S;
  let c = task / (Q * S);
  let plane = p.H * p.W;
  let og = min(o0 + (q & 7u), p.Cout - 1u) * plane;  // this lane's share of the g loads
  let loads = j == Q - 1u || q == sg - 1u;
  let next_lane = (q + 1u) & (sg - 1u);
  let first_tap = i32(4u * j) - PAD;  // column offset of the lane's tap 0 from the output pixel
  var acc = zero_block();
  let images = weight_images(wid);
  let rows = weight_rows(a);
  for (var n = images.x; n < images.y; n++) {
    let xn = (n * p.Cin + c) * plane;
    let gn = n * p.Cout * plane + og;
    for (var y = rows.x; y < rows.y; y++) {
      let iy = i32(y) - PAD + i32(a);
      let row_ok = u32(iy) < p.H;
      let xr = xn + clamp_pos(iy, p.H) * p.W;
      let gr = gn + y * p.W;
      // the 4 taps' inputs at pixel −1, so that the loop's first move gives pixel 0's
      var taps = vec4f(row_at(xr, first_tap - 1, row_ok), row_at(xr, first_tap, row_ok),
                       row_at(xr, first_tap + 1, row_ok), row_at(xr, first_tap + 2, row_ok));
      // PX pixels per iteration (constant trip count, unrolled): their inputs and gradients first,
      // then each accumulator takes their terms summed (fma_broadcast_block, as the sliding
      // kernel): 0.66–0.86× the time of the terms added pixel by pixel with PX = 4, and 2 pixels
      // (was 1) on rows of 2 mod 4 pixels 0.74–0.92× (paired runs, 1 and 3 input channels)
      for (var x0 = 0u; x0 < p.W; x0 += PX) {
        var xs: array<vec4f, 9>;
        var gs: array<f32, 9>;
        let gv = g_run(gr + x0);
        for (var k = 0u; k < PX; k++) {
          let xx = x0 + k;
          var next = subgroupShuffle(taps.x, next_lane);
          if (loads) { next = row_at(xr, i32(xx) + first_tap + 3, row_ok); }
          taps = vec4f(taps.yzw, next);
          xs[k] = taps;
          gs[k] = gv[k];
        }
        fma_broadcast_block(&acc, xs, gs, PX);
      }
    }
  }
  if (r >= lanes) { return; }
  let off = window_offset(S);
  let i = off + a;
  let row_scale = mask_factor(i, v);
  let kk = p.kw * p.kw;
  let chunk_base = wid.y * p.Cout * p.Cin * kk;
  let accs = array<vec4f, 8>(acc.c0, acc.c1, acc.c2, acc.c3, acc.c4, acc.c5, acc.c6, acc.c7);
  for (var t = 0u; t < 4u; t++) {
    let b = 4u * j + t;
    if (b >= S) { break; }
    let scale = row_scale * mask_factor(off + b, v);
    for (var k = 0u; k < 8u; k++) {
      let o = o0 + k;
      if (o >= p.Cout) { break; }
      out[chunk_base + ((o * p.Cin + c) * p.kw + i) * p.kw + off + b] = accs[k][t] * scale;
    }
  }
}

// conv2d_bwd_weight_taps_sg: the PX upstream gradients from g[at] (at a multiple of PX: rows of a
// multiple of PX pixels, planes and images too), one vec4 or vec2 load when PX is 4 or 2 (g bound
// again as in_quads and g2) — lavapipe's per-lane test and buffer reload once per PX pixels: the
// loop 1787 → 1605 instructions, 0.87–0.98× the time (first layers 1→16, 3→32, 3→16; paired runs).
fn g_run(at: u32) -> vec4f {
  if (PX == 4u) { return in_quads[at / 4u]; }
  if (PX == 2u) { return vec4f(g2[at / 2u], 0.0, 0.0); }
  var v = vec4f(0.0);
  for (var k = 0u; k < PX; k++) { v[k] = g[at + k]; }
  return v;
}

// Input column col of the image row at xr, 0 outside the row or when the row is outside the plane.
fn row_at(xr: u32, col: i32, row_ok: bool) -> f32 {
  return select(0.0, x_at(xr, col, p.W), row_ok);
}
