// optim.wgsl — in-place optimizer updates, one invocation per parameter element.
//
// sgd_step (PyTorch semantics):
//   g = grad + weight_decay * w
//   if momentum > 0: buf = g on the parameter's first step (first = 1),
//                    else momentum * buf + (1 - dampening) * g
//                    g = nesterov ? g + momentum * buf : buf
//   w -= lr * g
//   The hyperparameters (SgdHyper, binding 21) are one buffer written once per step, as Adam's.
// adam_step (Adam; AdamW when decoupled = 1):
//   g = grad (+ weight_decay * w unless decoupled)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   w -= lr * (m / bias1) / (sqrt(v / bias2) + eps)   with bias_i = 1 - beta_i^t (from the CPU)
//   decoupled: w -= lr * weight_decay * w first
//   The hyperparameters (AdamHyper, binding 21) are one buffer the optimizer writes once per step,
//   apart from the dispatches' own uniforms (sizes only): a captured step's replays then update
//   every parameter with the step's own lr and bias corrections.
// adam_step4: adam_step for up to 4 parameters in one dispatch (a model's many small parameters
//   — biases, batch-norm scales — would otherwise cost a dispatch each): invocation i updates
//   element i of the parameters' concatenation, parameter k holding [end_(k−1), end_k); the
//   four must be distinct tensors (one buffer may not be bound to two writable slots).
//   Bindings 5…20: w, grad, m, v of parameter 0, then 1, 2, 3 (16 storage buffers, the most a
//   WebGPU device must allow per stage; the optimizer falls back to adam_step below that).
// Step-dependent scalars come from the CPU (SgdHyper, AdamHyper), so no state is read back.

struct SgdParams {
  n: u32,
  first: u32,  // 1 on the step that created the parameter's momentum buffer
}

struct SgdHyper {
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
  nesterov: u32,
}

struct AdamParams {
  n: u32,
}

struct AdamHyper {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  decoupled: u32,
  bias1: f32,
  bias2: f32,
}

struct Adam4Params {
  end0: u32,  // parameter k's elements end at end_k in the concatenation
  end1: u32,
  end2: u32,
  end3: u32,
}

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(0) var<uniform> adam4: Adam4Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;   // SGD momentum buffer / Adam m
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;   // Adam v
// adam_step4's four parameters
@group(0) @binding(5) var<storage, read_write> w_0: array<f32>;
@group(0) @binding(6) var<storage, read> grad_0: array<f32>;
@group(0) @binding(7) var<storage, read_write> m_0: array<f32>;
@group(0) @binding(8) var<storage, read_write> v_0: array<f32>;
@group(0) @binding(9) var<storage, read_write> w_1: array<f32>;
@group(0) @binding(10) var<storage, read> grad_1: array<f32>;
@group(0) @binding(11) var<storage, read_write> m_1: array<f32>;
@group(0) @binding(12) var<storage, read_write> v_1: array<f32>;
@group(0) @binding(13) var<storage, read_write> w_2: array<f32>;
@group(0) @binding(14) var<storage, read> grad_2: array<f32>;
@group(0) @binding(15) var<storage, read_write> m_2: array<f32>;
@group(0) @binding(16) var<storage, read_write> v_2: array<f32>;
@group(0) @binding(17) var<storage, read_write> w_3: array<f32>;
@group(0) @binding(18) var<storage, read> grad_3: array<f32>;
@group(0) @binding(19) var<storage, read_write> m_3: array<f32>;
@group(0) @binding(20) var<storage, read_write> v_3: array<f32>;
@group(0) @binding(21) var<uniform> adam_hyper: AdamHyper;
@group(0) @binding(21) var<uniform> sgd_hyper: SgdHyper;

override WG: u32 = 256;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= sgd.n) { return; }
  let h = sgd_hyper;
  var g = grad[i] + h.weight_decay * w[i];
  if (h.momentum > 0.0) {
    let buf = select(h.momentum * m1[i] + (1.0 - h.dampening) * g, g, sgd.first != 0u);
    m1[i] = buf;
    g = select(buf, g + h.momentum * buf, h.nesterov != 0u);
  }
  w[i] -= h.lr * g;
}

// One element's Adam update: (w, g, m, v) → (w', m', v'), the hyperparameters from h.
fn adam_update(h: AdamHyper, w_old: f32, grad_in: f32, m_old: f32, v_old: f32) -> vec3f {
  var wi = w_old;
  var g = grad_in;
  if (h.decoupled != 0u) {
    wi -= h.lr * h.weight_decay * wi;
  } else {
    g += h.weight_decay * wi;
  }
  let m = h.beta1 * m_old + (1.0 - h.beta1) * g;
  let v = h.beta2 * v_old + (1.0 - h.beta2) * g * g;
  return vec3f(wi - h.lr * (m / h.bias1) / (sqrt(v / h.bias2) + h.eps), m, v);
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= adam.n) { return; }
  let r = adam_update(adam_hyper, w[i], grad[i], m1[i], m2[i]);
  w[i] = r.x;
  m1[i] = r.y;
  m2[i] = r.z;
}

@compute @workgroup_size(WG)
fn adam_step4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  let e = vec4u(adam4.end0, adam4.end1, adam4.end2, adam4.end3);
  if (i >= e.w) { return; }
  let h = adam_hyper;
  if (i < e.x) {
    let r = adam_update(h, w_0[i], grad_0[i], m_0[i], v_0[i]);
    w_0[i] = r.x;
    m_0[i] = r.y;
    v_0[i] = r.z;
  } else if (i < e.y) {
    let j = i - e.x;
    let r = adam_update(h, w_1[j], grad_1[j], m_1[j], v_1[j]);
    w_1[j] = r.x;
    m_1[j] = r.y;
    v_1[j] = r.z;
  } else if (i < e.z) {
    let j = i - e.y;
    let r = adam_update(h, w_2[j], grad_2[j], m_2[j], v_2[j]);
    w_2[j] = r.x;
    m_2[j] = r.y;
    v_2[j] = r.z;
  } else {
    let j = i - e.z;
    let r = adam_update(h, w_3[j], grad_3[j], m_3[j], v_3[j]);
    w_3[j] = r.x;
    m_3[j] = r.y;
    v_3[j] = r.z;
  }
}
