// gaussian_mask.wgsl — the EffConv Gaussian mask on the k_max × k_max tap grid, and its
// derivative with respect to the soft size v.
//
// c = (k - 1) / 2 is the grid centre; r²(i, j) = (i − c)² + (j − c)²; v = size_v[0] (> 0).
//   gaussian_mask_fwd  m[i * k + j] = exp(−r² / v²)                    one invocation per tap
//   gaussian_mask_bwd  t[i * k + j] = g[i * k + j] · m · 2 r² / v³      (dm/dv = m · 2 r² / v³);
//                      dL/dv = Σ t, taken by reduce.wgsl
// conv2d.wgsl applies the same mask on the fly (fused); this stand-alone op is the unfused
// reference path, and serves visualisation.

struct MaskParams {
  k: u32,
}

@group(0) @binding(0) var<uniform> p: MaskParams;
@group(0) @binding(1) var<storage, read> size_v: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

fn r2(idx: u32) -> f32 {
  let c = f32(p.k - 1u) * 0.5;
  let di = f32(idx / p.k) - c;
  let dj = f32(idx % p.k) - c;
  return di * di + dj * dj;
}

@compute @workgroup_size(WG)
fn gaussian_mask_fwd(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x;
  if (idx >= p.k * p.k) { return; }
  let v = size_v[0];
  out[idx] = exp(-r2(idx) / (v * v));
}

@compute @workgroup_size(WG)
fn gaussian_mask_bwd(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x;
  if (idx >= p.k * p.k) { return; }
  let v = size_v[0];
  let rr = r2(idx);
  out[idx] = g[idx] * exp(-rr / (v * v)) * 2.0 * rr / (v * v * v);
}
