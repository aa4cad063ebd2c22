// softmax_xent.wgsl — fused, numerically stable softmax cross-entropy with integer labels.
//
// logits: [N, K] row-major; labels: [N] i32 in [0, K); loss: [N] (per-row; the mean is taken by
// reduce.wgsl so the op composes). One invocation per row (K is small: class counts).
//   softmax_xent_fwd  m = max_k x[k];  lse = m + log sum_k exp(x[k] - m);  loss = lse - x[label]
//                     a label out of range yields NaN (the TS side validates labels on upload).
//   softmax_xent_bwd  dx[k] = g_row * (softmax(x)[k] - [k == label])

struct XentParams {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> p: XentParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // loss [N] or dlogits [N, K]
@group(0) @binding(4) var<storage, read> grad_loss: array<f32>;   // dL/dloss [N] (backward)

override WG: u32 = 64;

fn row_lse(base: u32) -> f32 {
  var m = logits[base];
  for (var k = 1u; k < p.classes; k++) { m = max(m, logits[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.classes; k++) { s += exp(logits[base + k] - m); }
  return m + log(s);
}

@compute @workgroup_size(WG)
fn softmax_xent_fwd(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let label = labels[r];
  if (label < 0 || u32(label) >= p.classes) {
    let zero = f32(p.classes) * 0.0;  // a runtime zero: 0/0 is NaN without const-eval rejecting it
    out[r] = zero / zero;
    return;
  }
  out[r] = row_lse(base) - logits[base + u32(label)];
}

@compute @workgroup_size(WG)
fn softmax_xent_bwd(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let lse = row_lse(base);
  let g = grad_loss[r];
  let label = labels[r];
  for (var k = 0u; k < p.classes; k++) {
    let prob = exp(logits[base + k] - lse);
    out[base + k] = g * (prob - select(0.0, 1.0, i32(k) == label));
  }
}
