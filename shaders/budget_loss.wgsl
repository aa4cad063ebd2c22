// budget_loss.wgsl — EffConv's parameter-budget loss L_param from the soft sizes, in one dispatch
// forward and one backward (it was seven tiny element-wise and reduction ops each way).
//
//   v [L] soft sizes, cc [L] Cin·Cout of each layer
//   P(v) = rest + Σ_l cc_l · v_l²          ratio = log(P / budget)
//   symmetric (kind 0):  L = ratio²        dL/dP = 2 · ratio / P
//   asymmetric (kind 1): L = max(ratio, 0) dL/dP = [ratio > 0] / P
//   dL/dv_l = dL/dP · 2 · cc_l · v_l
//
//   budget_loss_fwd   one invocation (L is a network's layer count): loss [1], params [1] = P(v)
//   budget_loss_bwd   one invocation per layer: dv [L] = g · dL/dv, with g = dLoss/dL (binding 5)
//                     and P read back from `params` as the forward wrote it

struct BudgetParams {
  L: u32,
  kind: u32,
  rest: f32,
  budget: f32,  // the target count ('target' is reserved in WGSL)
}

@group(0) @binding(0) var<uniform> p: BudgetParams;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> cc: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dv: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(1)
fn budget_loss_fwd() {
  var count = p.rest;
  for (var l = 0u; l < p.L; l++) { count += cc[l] * v[l] * v[l]; }
  let ratio = log(count / p.budget);
  loss[0] = select(max(ratio, 0.0), ratio * ratio, p.kind == 0u);
  params[0] = count;
}

@compute @workgroup_size(WG)
fn budget_loss_bwd(@builtin(global_invocation_id) gid: vec3u) {
  let l = gid.x;
  if (l >= p.L) { return; }
  let count = params[0];
  let ratio = log(count / p.budget);
  let d_count = select(select(0.0, 1.0, ratio > 0.0), 2.0 * ratio, p.kind == 0u) / count;
  dv[l] = g[0] * d_count * 2.0 * cc[l] * v[l];
}
