// gru.wgsl — the gate arithmetic of a GRU cell (PyTorch's GRUCell), forward and backward, one
// step at a time or a whole sequence per dispatch.
//
// The cell's two affine maps are matmuls (matmul.wgsl, through `linear`):
//   gi = x · W_ihᵀ + b_ih   [B, 3H]      gh = h · W_hhᵀ + b_hh   [B, 3H]
// with the gate blocks in PyTorch's order r | z | n: gi[b, g * H + j] for gate g ∈ {0: r, 1: z, 2: n}.
// The gates, one invocation per (b, j):
//   r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r · gh_n)
//   h' = (1 − z) · n + z · h
// and their derivatives (a_n = gi_n + r · gh_n):
//   dn = dh'(1 − z)   dz = dh'(h − n)   dh = dh' · z
//   da_n = dn (1 − n²):  dgi_n = da_n,  dgh_n = da_n · r,  dr = da_n · gh_n
//   dgi_r = dgh_r = dr · r(1 − r)        dgi_z = dgh_z = dz · z(1 − z)
//
//   gru_gates_fwd   one step: writes h' into out [B, H]
//   gru_gates_bwd   one step: from dh' (binding 5) writes dgi, dgh [B, 3H] and the direct part of
//                   dh into out [B, H]. Gates are recomputed from gi, gh, h instead of stored.
//
//   gru_recurrence_fwd, gru_recurrence_bwd: a whole sequence of T steps in one dispatch, one
//   workgroup per batch row b (rows are independent), so a short sequence (the predictors' one
//   step per layer) costs one dispatch instead of a matmul, a bias add and a gate kernel per
//   step. gi [T, B, 3H] is precomputed for all steps by one matmul; gh = h · W_hhᵀ + b_hh is
//   summed here, invocation j taking hidden units j, j + WG, …; h lives in workgroup memory and a
//   barrier ends each step. Step s processes time t = s (t = T − 1 − s with `reverse`).
//     fwd: h0 [B, H] (binding 3) → out [T, B, H] (binding 4: h after step t), and for the
//          backward gh_saved [T, B, 3H] (gh with its bias) and h_prev [T, B, H] (h before step t).
//     bwd: walks the steps backwards from dout [T, B, H] (binding 5): dh(t) = dout(t) + what the
//          next step sends back (its direct part dh'·z plus dgh · W_hh); writes dgi, dgh
//          [T, B, 3H] and dh0 into out [B, H]. W_hh's and b_hh's gradients are then one matmul
//          and one row sum over all steps (in TS).
//   H ≤ MAX_H = 512 (workgroup memory); gruLayer takes these kernels while B·H ≤ 512 and runs
//   larger batches cell by cell (ops/gru.ts says why).

struct GruParams {
  B: u32,
  H: u32,
  T: u32,        // recurrence only: steps
  reverse: u32,  // recurrence only: 1 walks the sequence from its end
}

@group(0) @binding(0) var<uniform> p: GruParams;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> gh: array<f32>;
@group(0) @binding(3) var<storage, read> h: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dh_next: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgi: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgh: array<f32>;
@group(0) @binding(8) var<storage, read> w_hh: array<f32>;
@group(0) @binding(9) var<storage, read> b_hh: array<f32>;
@group(0) @binding(10) var<storage, read_write> gh_saved: array<f32>;
@group(0) @binding(11) var<storage, read_write> h_prev: array<f32>;

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

// The gates from the pre-activations' three blocks: gi_ = (gi_r, gi_z, gi_n), gh_ likewise.
fn gate_values(gi_: vec3f, gh_: vec3f) -> Gates {
  let r = sigmoid(gi_.x + gh_.x);
  let z = sigmoid(gi_.y + gh_.y);
  return Gates(r, z, tanh(gi_.z + r * gh_.z), gh_.z);
}

// gi's three blocks at element `at` (= row · 3H + j) of its [·, 3H] rows.
fn gi3(at: u32) -> vec3f {
  return vec3f(gi[at], gi[at + p.H], gi[at + 2u * p.H]);
}

// One step's gates at batch row b, hidden unit j.
fn gates(b: u32, j: u32) -> Gates {
  let at = b * 3u * p.H + j;
  return gate_values(gi3(at), vec3f(gh[at], gh[at + p.H], gh[at + 2u * p.H]));
}

struct GateGrads {
  dgi: vec3f,  // (da_r, da_z, da_n): the gradient of gi's three blocks
  dgh: vec3f,  // gh's: (da_r, da_z, da_n · r)
  dh: f32,     // the direct part of dh (dh' · z)
}

fn gate_grads(q: Gates, d: f32, h_old: f32) -> GateGrads {
  let dn = d * (1.0 - q.z);
  let dz = d * (h_old - q.n);
  let dan = dn * (1.0 - q.n * q.n);
  let dar = dan * q.hn * q.r * (1.0 - q.r);
  let daz = dz * q.z * (1.0 - q.z);
  return GateGrads(vec3f(dar, daz, dan), vec3f(dar, daz, dan * q.r), d * q.z);
}

// Writes gi's and gh's gradients at element `at` (= row · 3H + j) of their [·, 3H] rows.
fn store_grads(at: u32, gg: GateGrads) {
  dgi[at] = gg.dgi.x;
  dgi[at + p.H] = gg.dgi.y;
  dgi[at + 2u * p.H] = gg.dgi.z;
  dgh[at] = gg.dgh.x;
  dgh[at + p.H] = gg.dgh.y;
  dgh[at + 2u * p.H] = gg.dgh.z;
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
  let gg = gate_grads(gates(b, j), dh_next[idx], h[idx]);
  store_grads(b * 3u * p.H + j, gg);
  out[idx] = gg.dh;
}

const MAX_H = 512u;
var<workgroup> h_two: array<f32, 1024>;    // the recurrence's h, two halves: before / after a step
var<workgroup> dgh_step: array<f32, 1536>; // dgh of the step being walked back, [3H]
var<workgroup> dh_step: array<f32, 512>;   // its direct part of dh
var<workgroup> dh_rec: array<f32, 512>;    // the recurrent part of dh flowing into the step

// Time index of step s.
fn step_time(s: u32) -> u32 {
  return select(s, p.T - 1u - s, p.reverse != 0u);
}

// gh's three blocks at hidden unit j: b_hh + W_hh · h over h_two[base …].
fn hidden_affine(j: u32, base: u32) -> vec3f {
  var acc = vec3f(b_hh[j], b_hh[p.H + j], b_hh[2u * p.H + j]);
  let rows = vec3u(j, p.H + j, 2u * p.H + j) * p.H;
  for (var k = 0u; k < p.H; k++) {
    acc += vec3f(w_hh[rows.x + k], w_hh[rows.y + k], w_hh[rows.z + k]) * h_two[base + k];
  }
  return acc;
}

@compute @workgroup_size(WG)
fn gru_recurrence_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) lid: u32) {
  let b = wid.y * nwg.x + wid.x;
  if (b >= p.B) { return; }  // uniform per workgroup
  for (var j = lid; j < p.H; j += WG) { h_two[j] = h[b * p.H + j]; }
  workgroupBarrier();
  for (var s = 0u; s < p.T; s++) {
    let row = step_time(s) * p.B + b;
    let old = (s & 1u) * MAX_H;
    for (var j = lid; j < p.H; j += WG) {
      let at = row * 3u * p.H + j;
      let gh_ = hidden_affine(j, old);
      let q = gate_values(gi3(at), gh_);
      gh_saved[at] = gh_.x;
      gh_saved[at + p.H] = gh_.y;
      gh_saved[at + 2u * p.H] = gh_.z;
      let h_old = h_two[old + j];
      h_prev[row * p.H + j] = h_old;
      let h_new = (1.0 - q.z) * q.n + q.z * h_old;
      out[row * p.H + j] = h_new;
      h_two[MAX_H - old + j] = h_new;
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn gru_recurrence_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) lid: u32) {
  let b = wid.y * nwg.x + wid.x;
  if (b >= p.B) { return; }  // uniform per workgroup
  for (var j = lid; j < p.H; j += WG) { dh_rec[j] = 0.0; }
  workgroupBarrier();
  for (var i = 0u; i < p.T; i++) {
    let row = step_time(p.T - 1u - i) * p.B + b;
    for (var j = lid; j < p.H; j += WG) {
      let at = row * 3u * p.H + j;
      let q = gate_values(gi3(at), vec3f(gh_saved[at], gh_saved[at + p.H], gh_saved[at + 2u * p.H]));
      let gg = gate_grads(q, dh_next[row * p.H + j] + dh_rec[j], h_prev[row * p.H + j]);
      store_grads(at, gg);
      dgh_step[j] = gg.dgh.x;
      dgh_step[p.H + j] = gg.dgh.y;
      dgh_step[2u * p.H + j] = gg.dgh.z;
      dh_step[j] = gg.dh;
    }
    workgroupBarrier();
    // dh flowing into the step before: its direct part + dgh · W_hh
    for (var k = lid; k < p.H; k += WG) {
      var acc = dh_step[k];
      for (var m = 0u; m < 3u * p.H; m++) { acc += dgh_step[m] * w_hh[m * p.H + k]; }
      dh_rec[k] = acc;
    }
    workgroupBarrier();
  }
  for (var j = lid; j < p.H; j += WG) { out[b * p.H + j] = dh_rec[j]; }
}
