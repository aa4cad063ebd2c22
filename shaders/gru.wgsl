// gru.wgsl — the gate arithmetic of a GRU cell (PyTorch's GRUCell), forward and backward.
//
// The cell's two affine maps are matmuls (matmul.wgsl, through `linear`):
//   gi = x · W_ihᵀ + b_ih   [B, 3H]      gh = h · W_hhᵀ + b_hh   [B, 3H]
// with the gate blocks in PyTorch's order r | z | n: gi[b, g * H + j] for gate g ∈ {0: r, 1: z, 2: n}.
// This file does the rest, one invocation per (b, j):
//   r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r · gh_n)
//   h' = (1 − z) · n + z · h
//   gru_gates_fwd   writes h' into out [B, H]
//   gru_gates_bwd   from dh' (binding 5) writes dgi, dgh [B, 3H] and the direct part of dh into
//                   out [B, H]; the maths (a_n = gi_n + r · gh_n):
//     dn = dh'(1 − z)   dz = dh'(h − n)   dh = dh' · z
//     da_n = dn (1 − n²):  dgi_n = da_n,  dgh_n = da_n · r,  dr = da_n · gh_n
//     dgi_r = dgh_r = dr · r(1 − r)        dgi_z = dgh_z = dz · z(1 − z)
// Gates are recomputed in the backward from gi, gh, h instead of being stored.

struct GruParams {
  B: u32,
  H: u32,
}

@group(0) @binding(0) var<uniform> p: GruParams;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> gh: array<f32>;
@group(0) @binding(3) var<storage, read> h: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dh_next: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgi: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgh: array<f32>;

override WG: u32 = 64;

fn sigmoid(a: f32) -> f32 {
  return 1.0 / (1.0 + exp(-a));
}

struct Gates {
  r: f32,
  z: f32,
  n: f32,
  hn: f32,  // gh_n, the hidden part of the candidate's pre-activation
}

fn gates(b: u32, j: u32) -> Gates {
  let row = b * 3u * p.H;
  let r = sigmoid(gi[row + j] + gh[row + j]);
  let z = sigmoid(gi[row + p.H + j] + gh[row + p.H + j]);
  let hn = gh[row + 2u * p.H + j];
  let n = tanh(gi[row + 2u * p.H + j] + r * hn);
  return Gates(r, z, n, hn);
}

@compute @workgroup_size(WG)
fn gru_gates_fwd(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x;
  if (idx >= p.B * p.H) { return; }
  let b = idx / p.H;
  let j = idx % p.H;
  let q = gates(b, j);
  out[idx] = (1.0 - q.z) * q.n + q.z * h[idx];
}

@compute @workgroup_size(WG)
fn gru_gates_bwd(@builtin(global_invocation_id) gid: vec3u) {
  let idx = gid.x;
  if (idx >= p.B * p.H) { return; }
  let b = idx / p.H;
  let j = idx % p.H;
  let q = gates(b, j);
  let d = dh_next[idx];
  let dn = d * (1.0 - q.z);
  let dz = d * (h[idx] - q.n);
  let dan = dn * (1.0 - q.n * q.n);
  let dar = dan * q.hn * q.r * (1.0 - q.r);
  let daz = dz * q.z * (1.0 - q.z);
  let row = b * 3u * p.H;
  dgi[row + j] = dar;
  dgh[row + j] = dar;
  dgi[row + p.H + j] = daz;
  dgh[row + p.H + j] = daz;
  dgi[row + 2u * p.H + j] = dan;
  dgh[row + 2u * p.H + j] = dan * q.r;
  out[idx] = d * q.z;
}
