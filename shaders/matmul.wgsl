// matmul.wgsl — batched C = op(A) · op(B), float32, optional transposes via strides.
//
// C is [batch, M, N] row-major. Element (i, k) of op(A) in batch z is
// a[z * a_batch + i * a_row + k * a_k]; element (k, j) of op(B) is b[z * b_batch + k * b_k + j * b_col].
// A plain row-major A [M, K] has a_row = K, a_k = 1; its transpose (A stored [K, M]) has a_row = 1,
// a_k = M. A weight shared across the batch has b_batch = 0.
//
// Each invocation computes a 4×4 block of C (rows 4·gid.y…, columns 4·gid.x…) with 16
// accumulators in registers, reading straight from storage (no workgroup memory, no barriers: on
// CPU adapters the caches do the tiling, see DESIGN.md §3). Rows/columns past the edge are clamped
// to the last valid index for the loads (no branches in the k loop) and skipped on store.
//
// Backward (in TS, with the same entry point): dA = dC · op(B)^T, dB = op(A)^T · dC.

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

override WG_X: u32 = 8;
override WG_Y: u32 = 8;

@compute @workgroup_size(WG_X, WG_Y)
fn matmul(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let z = gid.z;
  let last_r = p.M - 1u;
  let last_c = p.N - 1u;
  let ra = z * p.a_batch + vec4u(min(row0, last_r), min(row0 + 1u, last_r), min(row0 + 2u, last_r), min(row0 + 3u, last_r)) * p.a_row;
  let cb = z * p.b_batch + vec4u(min(col0, last_c), min(col0 + 1u, last_c), min(col0 + 2u, last_c), min(col0 + 3u, last_c)) * p.b_col;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.a_k;
    let bk = k * p.b_k;
    let bv = vec4f(b[bk + cb.x], b[bk + cb.y], b[bk + cb.z], b[bk + cb.w]);
    acc0 += a[ra.x + ak] * bv;
    acc1 += a[ra.y + ak] * bv;
    acc2 += a[ra.z + ak] * bv;
    acc3 += a[ra.w + ak] * bv;
  }
  let base = z * p.M * p.N;
  store_row(base, row0, col0, acc0);
  store_row(base, row0 + 1u, col0, acc1);
  store_row(base, row0 + 2u, col0, acc2);
  store_row(base, row0 + 3u, col0, acc3);
}

fn store_row(base: u32, row: u32, col0: u32, v: vec4f) {
  if (row >= p.M) { return; }
  let o = base + row * p.N + col0;
  c[o] = v.x;
  if (col0 + 1u < p.N) { c[o + 1u] = v.y; }
  if (col0 + 2u < p.N) { c[o + 2u] = v.z; }
  if (col0 + 3u < p.N) { c[o + 3u] = v.w; }
}
