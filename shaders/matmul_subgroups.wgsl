// matmul_subgroups.wgsl — matmul.wgsl's C = op(A) · op(B) again for devices with the 'subgroups'
// feature: same uniforms and strides (see matmul.wgsl), two layouts that each need some strides to
// be 1 and a third for any strides; matmul.ts picks the first that applies (all tested against
// the float64 reference).
//
// Why: on CPU adapters (lavapipe) every storage load is issued lane by lane, and matmul.wgsl's 4×4
// block per invocation spends 8 such loads on 16 multiply-adds. Here the lanes of a subgroup share
// a block of 16 rows of A: lane k loads rows k and k + 8 and subgroupBroadcast hands them to every
// lane, so a lane's loads serve 64 multiply-adds (the same scheme as conv2d_fwd_1x1_sg).
//   matmul_rows_sg   op(B) with contiguous rows (b_col = 1, N mod 4 = 0): a lane takes 4
//                    consecutive columns of C, loads row k of op(B) there as one vec4 and adds
//                    A[i, k]·B[k, j..j + 3] for its 16 rows (two blocks of 8 vec4 accumulators)
//   matmul_cols_sg   op(B) with contiguous columns (b_k = 1) and op(A) with contiguous rows
//                    (a_k = 1), K mod 4 = 0 (e.g. x·Wᵀ): a lane takes one column of C, loads 4
//                    consecutive k of it as one vec4, and lanes k, k + 8 load 4 consecutive k of
//                    rows k and k + 8 of A; 16 dot products per 4 k
//   matmul_any_sg    any strides, any N: matmul_rows_sg's lanes with op(B) and C read and
//                    written as single values, and a block of 16 rows per subgroup
// Workgroup row wid.y = block of 16 rows of C (matmul_any_sg: of WG/SG blocks), wid.z = batch; control flow is uniform per
// subgroup (a subgroup whose columns all lie past N returns at once; lanes past N in a working
// subgroup load clamped columns and store nothing, rows past M likewise).

enable subgroups;
// The broadcasts run under control flow that is uniform per subgroup but not per workgroup.
diagnostic(off, subgroup_uniformity);

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
  a_row: u32,
  a_k: u32,
  a_batch: u32,
  b_k: u32,
  b_col: u32,
  b_batch: u32,
}

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> a4: array<vec4f>;  // a as vec4s (matmul_cols_sg)
@group(0) @binding(5) var<storage, read> b4: array<vec4f>;  // b as vec4s
@group(0) @binding(6) var<storage, read_write> c4: array<vec4f>;  // c as vec4s (matmul_rows_sg)

override WG: u32 = 64;
// matmul_rows_sg: steps of k whose terms are summed before they reach the accumulators, 1, 2 or
// 4 per loop iteration (the rest one by one), as SUM_STEP in conv2d_subgroups.wgsl's 1 × 1
// kernels: on lavapipe each accumulator update in the loop is a blend with the loop's lane mask
// and a spill and reload (the host's rules: sumStep in src/gpu/conv_variant.ts).
override K_STEP: u32 = 1;
// matmul_rows_sg with K_STEP = 4: each lane loads its two rows' 4 steps of k as one vec4 each from
// a4 (A bound again) instead of 8 f32s from a — op(A) with contiguous rows (a_k = 1) and K, the
// row and batch strides multiples of 4 (matmul.ts checks them), as W_VEC4 in conv2d_subgroups.wgsl.
override A_VEC4: bool = false;

// 8 rows × 4 values of sums.
struct Block8 {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
  r4: vec4f,
  r5: vec4f,
  r6: vec4f,
  r7: vec4f,
}

fn zero_block() -> Block8 {
  return Block8(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
}

// t.rk += v · (row k's value of A, held by lane k).
fn fma_broadcast(t: ptr<function, Block8>, v: vec4f, av: f32) {
  (*t).r0 += v * subgroupBroadcast(av, 0u);
  (*t).r1 += v * subgroupBroadcast(av, 1u);
  (*t).r2 += v * subgroupBroadcast(av, 2u);
  (*t).r3 += v * subgroupBroadcast(av, 3u);
  (*t).r4 += v * subgroupBroadcast(av, 4u);
  (*t).r5 += v * subgroupBroadcast(av, 5u);
  (*t).r6 += v * subgroupBroadcast(av, 6u);
  (*t).r7 += v * subgroupBroadcast(av, 7u);
}

// t.rk += b0·a0 + b1·a1 (components of row k's values of A, held by lane k): two steps of k summed
// before they reach the accumulator.
fn fma_broadcast2(t: ptr<function, Block8>, b0: vec4f, b1: vec4f, av: vec2f) {
  (*t).r0 += terms2(b0, b1, subgroupBroadcast(av, 0u));
  (*t).r1 += terms2(b0, b1, subgroupBroadcast(av, 1u));
  (*t).r2 += terms2(b0, b1, subgroupBroadcast(av, 2u));
  (*t).r3 += terms2(b0, b1, subgroupBroadcast(av, 3u));
  (*t).r4 += terms2(b0, b1, subgroupBroadcast(av, 4u));
  (*t).r5 += terms2(b0, b1, subgroupBroadcast(av, 5u));
  (*t).r6 += terms2(b0, b1, subgroupBroadcast(av, 6u));
  (*t).r7 += terms2(b0, b1, subgroupBroadcast(av, 7u));
}

fn terms2(b0: vec4f, b1: vec4f, av: vec2f) -> vec4f {
  return b0 * av.x + b1 * av.y;
}

// The same for four steps of k.
fn fma_broadcast4(t: ptr<function, Block8>, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f, av: vec4f) {
  (*t).r0 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 0u));
  (*t).r1 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 1u));
  (*t).r2 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 2u));
  (*t).r3 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 3u));
  (*t).r4 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 4u));
  (*t).r5 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 5u));
  (*t).r6 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 6u));
  (*t).r7 += terms4(b0, b1, b2, b3, subgroupBroadcast(av, 7u));
}

fn terms4(b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f, av: vec4f) -> vec4f {
  return (b0 * av.x + b1 * av.y) + (b2 * av.z + b3 * av.w);
}

// Steps k … k + 3 of the A row starting at `row` (see A_VEC4).
fn a_steps4(row: u32, k: u32) -> vec4f {
  if (A_VEC4) { return a4[(row + k) / 4u]; }
  return vec4f(a[row + k * p.a_k], a[row + (k + 1u) * p.a_k], a[row + (k + 2u) * p.a_k], a[row + (k + 3u) * p.a_k]);
}

// The lane's pair of A rows (k and k + 8 of the workgroup row's block, clamped below M).
fn lane_rows(wid: vec3u, q: u32) -> vec2u {
  let first = wid.y * 16u + (q & 7u);
  return vec2u(min(first, p.M - 1u), min(first + 8u, p.M - 1u));
}

@compute @workgroup_size(WG)
fn matmul_rows_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(subgroup_invocation_id) q: u32) {
  let col = (wid.x * WG + lid) * 4u;  // the lane's first column
  if ((wid.x * WG + lid - q) * 4u >= p.N) { return; }  // the whole subgroup is past N: uniform per subgroup
  let z = wid.z;
  let rows = lane_rows(wid, q);
  let ra = z * p.a_batch + rows * p.a_row;
  // row k of op(B) at columns col … col + 3, as a vec4 (b_col = 1, N mod 4 = 0)
  let bq = (z * p.b_batch + min(col, p.N - 4u)) / 4u;
  let b_step = p.b_k / 4u;
  var lo = zero_block();
  var hi = zero_block();
  var k = 0u;
  if (K_STEP == 4u) {
    // all loads first, then each accumulator once
    for (; k + 4u <= p.K; k += 4u) {
      let b0 = b4[bq + k * b_step];
      let b1 = b4[bq + (k + 1u) * b_step];
      let b2 = b4[bq + (k + 2u) * b_step];
      let b3 = b4[bq + (k + 3u) * b_step];
      fma_broadcast4(&lo, b0, b1, b2, b3, a_steps4(ra.x, k));
      fma_broadcast4(&hi, b0, b1, b2, b3, a_steps4(ra.y, k));
    }
  }
  if (K_STEP == 2u) {
    for (; k + 2u <= p.K; k += 2u) {
      let b0 = b4[bq + k * b_step];
      let b1 = b4[bq + (k + 1u) * b_step];
      let al = vec2f(a[ra.x + k * p.a_k], a[ra.x + (k + 1u) * p.a_k]);
      let ah = vec2f(a[ra.y + k * p.a_k], a[ra.y + (k + 1u) * p.a_k]);
      fma_broadcast2(&lo, b0, b1, al);
      fma_broadcast2(&hi, b0, b1, ah);
    }
  }
  for (; k < p.K; k++) {
    let bv = b4[bq + k * b_step];
    fma_broadcast(&lo, bv, a[ra.x + k * p.a_k]);
    fma_broadcast(&hi, bv, a[ra.y + k * p.a_k]);
  }
  if (col >= p.N) { return; }
  let first = wid.y * 16u;
  let cb = (z * p.M * p.N + col) / 4u;
  let row = p.N / 4u;
  store_block(cb, row, first, lo);
  store_block(cb, row, first + 8u, hi);
}

// Rows first … first + 7 (those below M) of C at columns col … col + 3: c4[cb + i·row].
fn store_block(cb: u32, row: u32, first: u32, t: Block8) {
  let rows = array<vec4f, 8>(t.r0, t.r1, t.r2, t.r3, t.r4, t.r5, t.r6, t.r7);
  for (var i = 0u; i < 8u; i++) {
    if (first + i >= p.M) { return; }
    c4[cb + (first + i) * row] = rows[i];
  }
}

@compute @workgroup_size(WG)
fn matmul_cols_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(subgroup_invocation_id) q: u32) {
  let col = wid.x * WG + lid;  // the lane's column
  if (wid.x * WG + lid - q >= p.N) { return; }  // uniform per subgroup
  let z = wid.z;
  let rows = lane_rows(wid, q);
  // 4 consecutive k of the lane's A rows and of its column of op(B), as vec4s (a_k = b_k = 1, K mod 4 = 0)
  let ra = (z * p.a_batch + rows * p.a_row) / 4u;
  let bq = (z * p.b_batch + min(col, p.N - 1u) * p.b_col) / 4u;
  var lo = Sums8(vec4f(0.0), vec4f(0.0));
  var hi = Sums8(vec4f(0.0), vec4f(0.0));
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
    // both A loads before the sums: a load between them (lane by lane on lavapipe, with a branch
    // per lane) split the sums' updates, which LLVM spilled around it: 0.89–0.94× the time
    // (paired runs, 512 × 512 × 512 and 128 / 2048 rows)
    let bv = b4[bq + k4];
    let al = a4[ra.x + k4];
    let ah = a4[ra.y + k4];
    lo = add_dots(lo, al, bv);
    hi = add_dots(hi, ah, bv);
  }
  if (col >= p.N) { return; }
  let base = z * p.M * p.N + col;
  store_column(base, wid.y * 16u, lo);
  store_column(base, wid.y * 16u + 8u, hi);
}

// The sums of 8 rows of one column: row i in component i mod 4 of s0 (i < 4) or s1.
struct Sums8 {
  s0: vec4f,
  s1: vec4f,
}

// Adds dot(row i's 4 values of A, held by lane i as av, bv) to row i's sum, i < 8.
fn add_dots(t: Sums8, av: vec4f, bv: vec4f) -> Sums8 {
  return Sums8(t.s0 + vec4f(dot(subgroupBroadcast(av, 0u), bv), dot(subgroupBroadcast(av, 1u), bv),
                            dot(subgroupBroadcast(av, 2u), bv), dot(subgroupBroadcast(av, 3u), bv)),
               t.s1 + vec4f(dot(subgroupBroadcast(av, 4u), bv), dot(subgroupBroadcast(av, 5u), bv),
                            dot(subgroupBroadcast(av, 6u), bv), dot(subgroupBroadcast(av, 7u), bv)));
}

// Rows first … first + 7 (those below M) of C's column at base.
fn store_column(base: u32, first: u32, t: Sums8) {
  let sums = array<f32, 8>(t.s0.x, t.s0.y, t.s0.z, t.s0.w, t.s1.x, t.s1.y, t.s1.z, t.s1.w);
  for (var i = 0u; i < 8u; i++) {
    if (first + i >= p.M) { return; }
    c[base + (first + i) * p.N] = sums[i];
  }
}

// matmul_any_sg: any strides and any N (where neither layout above applies: e.g. N = 81, the
// kernel predictor's k_max² columns). A lane takes 4 consecutive columns of C as matmul_rows_sg
// does, but loads row k of op(B) there as 4 single values (b_k, b_col any; columns past N
// clamped) and stores single values; and each subgroup of a workgroup takes a block of 16 rows
// of its own (block wid.y·(WG/SG) + lid/SG), so a narrow C (N ≤ 4·SG: one subgroup's columns)
// still fills whole workgroups instead of leaving all but one subgroup of each idle.
@compute @workgroup_size(WG)
fn matmul_any_sg(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                 @builtin(subgroup_invocation_id) q: u32, @builtin(subgroup_size) sg: u32) {
  let block = wid.y * (WG / sg) + lid / sg;
  let col = (wid.x * sg + q) * 4u;  // the lane's first column
  if (block * 16u >= p.M || (wid.x * sg) * 4u >= p.N) { return; }  // uniform per subgroup
  let z = wid.z;
  let first = block * 16u + (q & 7u);
  let ra = z * p.a_batch + vec2u(min(first, p.M - 1u), min(first + 8u, p.M - 1u)) * p.a_row;
  // op(B)[k, j] at b[z·b_batch + k·b_k + j·b_col], the lane's 4 columns clamped below N
  let bc = z * p.b_batch + min(vec4u(col) + vec4u(0u, 1u, 2u, 3u), vec4u(p.N - 1u)) * p.b_col;
  var lo = zero_block();
  var hi = zero_block();
  var k = 0u;
  // all loads first, then each accumulator once (as matmul_rows_sg's K_STEP 4; A's steps spelt out
  // rather than a_steps4, whose a4 would join this pipeline's bindings)
  for (; k + 4u <= p.K; k += 4u) {
    let b0 = b_row(bc, k);
    let b1 = b_row(bc, k + 1u);
    let b2 = b_row(bc, k + 2u);
    let b3 = b_row(bc, k + 3u);
    let al = vec4f(a[ra.x + k * p.a_k], a[ra.x + (k + 1u) * p.a_k], a[ra.x + (k + 2u) * p.a_k], a[ra.x + (k + 3u) * p.a_k]);
    let ah = vec4f(a[ra.y + k * p.a_k], a[ra.y + (k + 1u) * p.a_k], a[ra.y + (k + 2u) * p.a_k], a[ra.y + (k + 3u) * p.a_k]);
    fma_broadcast4(&lo, b0, b1, b2, b3, al);
    fma_broadcast4(&hi, b0, b1, b2, b3, ah);
  }
  for (; k < p.K; k++) {
    let bv = b_row(bc, k);
    fma_broadcast(&lo, bv, a[ra.x + k * p.a_k]);
    fma_broadcast(&hi, bv, a[ra.y + k * p.a_k]);
  }
  if (col >= p.N) { return; }
  let base = z * p.M * p.N + col;
  store_block_any(base, block * 16u, col, lo);
  store_block_any(base, block * 16u + 8u, col, hi);
}

// Row k of op(B) at the lane's 4 columns (element offsets bc, without k).
fn b_row(bc: vec4u, k: u32) -> vec4f {
  let o = bc + vec4u(k * p.b_k);
  return vec4f(b[o.x], b[o.y], b[o.z], b[o.w]);
}

// Rows first … first + 7 (those below M) of C at columns col … col + 3 (those below N): c[base + i·N].
fn store_block_any(base: u32, first: u32, col: u32, t: Block8) {
  let rows = array<vec4f, 8>(t.r0, t.r1, t.r2, t.r3, t.r4, t.r5, t.r6, t.r7);
  let n = min(p.N - col, 4u);
  for (var i = 0u; i < 8u; i++) {
    if (first + i >= p.M) { return; }
    let o = base + (first + i) * p.N;
    let v = rows[i];
    c[o] = v.x;
    if (n > 1u) { c[o + 1u] = v.y; }
    if (n > 2u) { c[o + 2u] = v.z; }
    if (n > 3u) { c[o + 3u] = v.w; }
  }
}
