// copy.wgsl — strided block copy: the kernels behind concat, slice and their gradients.
//
// A tensor viewed as [rows, cols]: element (r, k) of the source block is
//   src[src_off + r * src_stride + k]   and goes to   dst[dst_off + r * dst_stride + k],
// for 0 ≤ r < rows, 0 ≤ k < cols. concat along an axis copies each input into its column range
// of the output (rows = product of the leading dims); slice is the reverse copy.
//   copy_rows   one invocation per copied element; dst elements outside the block are untouched.
//   add_rows    the same, adding the block into dst (dst += src): a slice's gradient added into
//               its input's gradient in place (autograd/tape.ts, BlockGrad).

struct CopyParams {
  rows: u32,
  cols: u32,
  src_off: u32,
  src_stride: u32,
  dst_off: u32,
  dst_stride: u32,
}

@group(0) @binding(0) var<uniform> p: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 64;

// The element of invocation (wid, lid): its (source, destination) indices, or none past the block.
fn block_element(wid: vec3u, nwg: vec3u, lid: u32) -> vec3u {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid;
  let r = idx / p.cols;
  let k = idx - r * p.cols;
  return vec3u(p.src_off + r * p.src_stride + k, p.dst_off + r * p.dst_stride + k, u32(idx < p.rows * p.cols));
}

@compute @workgroup_size(WG)
fn copy_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = block_element(wid, nwg, lid);
  if (e.z == 0u) { return; }
  dst[e.y] = src[e.x];
}

@compute @workgroup_size(WG)
fn add_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = block_element(wid, nwg, lid);
  if (e.z == 0u) { return; }
  dst[e.y] += src[e.x];
}
