// size_encoding.wgsl — one-hot encoding of the hard kernel sizes the soft sizes round to, computed
// on the GPU so that the kernel predictor's input never needs v on the CPU.
//
//   v   [L]                soft sizes
//   out [L, n]             out[l, k] = 1 if hardSize(v_l) = kmin + 2k else 0, n = (kmax − kmin)/2 + 1
// hardSize(v) = clamp(2·⌊(v − 1)/2 + ½⌋ + 1, kmin, kmax), the same rule as conv2d.wgsl's window().
//   size_one_hot   one invocation per output element; no gradient (the hard size is a step function).

struct SizeParams {
  L: u32,
  kmin: u32,
  kmax: u32,
}

@group(0) @binding(0) var<uniform> p: SizeParams;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn size_one_hot(@builtin(global_invocation_id) gid: vec3u) {
  let n = (p.kmax - p.kmin) / 2u + 1u;
  let idx = gid.x;
  if (idx >= p.L * n) { return; }
  let l = idx / n;
  let k = idx % n;
  let half = floor((v[l] - 1.0) * 0.5 + 0.5);
  let s = clamp(2u * u32(max(half, 0.0)) + 1u, p.kmin, p.kmax);
  out[idx] = select(0.0, 1.0, s == p.kmin + 2u * k);
}
