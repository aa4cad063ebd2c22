// optim.wgsl — in-place optimizer updates, one invocation per parameter element.
//
// sgd_step (PyTorch semantics):
//   g = grad + weight_decay * w
//   if momentum > 0: buf = momentum * buf + (1 - dampening) * g   (buf starts at 0)
//                    g = nesterov ? g + momentum * buf : buf
//   w -= lr * g
// adam_step (Adam; AdamW when decoupled = 1):
//   g = grad (+ weight_decay * w unless decoupled)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   w -= lr * (m / bias1) / (sqrt(v / bias2) + eps)   with bias_i = 1 - beta_i^t (from the CPU)
//   decoupled: w -= lr * weight_decay * w first
// Step-dependent scalars come in the uniform, so no state is read back.

struct SgdParams {
  n: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
  nesterov: u32,
}

struct AdamParams {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  decoupled: u32,
  bias1: f32,
  bias2: f32,
}

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;   // SGD momentum buffer / Adam m
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;   // Adam v

override WG: u32 = 256;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= sgd.n) { return; }
  var g = grad[i] + sgd.weight_decay * w[i];
  if (sgd.momentum > 0.0) {
    let buf = sgd.momentum * m1[i] + (1.0 - sgd.dampening) * g;
    m1[i] = buf;
    g = select(buf, g + sgd.momentum * buf, sgd.nesterov != 0u);
  }
  w[i] -= sgd.lr * g;
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= adam.n) { return; }
  var wi = w[i];
  var g = grad[i];
  if (adam.decoupled != 0u) {
    wi -= adam.lr * adam.weight_decay * wi;
  } else {
    g += adam.weight_decay * wi;
  }
  let m = adam.beta1 * m1[i] + (1.0 - adam.beta1) * g;
  let v = adam.beta2 * m2[i] + (1.0 - adam.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  w[i] = wi - adam.lr * (m / adam.bias1) / (sqrt(v / adam.bias2) + adam.eps);
}
