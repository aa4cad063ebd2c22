// conv2d.wgsl — variable-size 2-D convolution (cross-correlation, as in PyTorch), optionally with
// the EffConv Gaussian mask fused in; forward and backward.
//
// Layouts (row-major, NCHW):
//   x   [N, Cin, H, W]            x[((n * Cin + c) * H + y) * W + x]
//   w   [Cout, Cin, kw, kw]       the stored kernel grid (k_max for predicted weights ŵ)
//   out [N, Cout, Ho, Wo]         Ho = (H + 2 pad − s) / stride + 1
// Only the centred s × s window of w is used: tap (a, b), 0 ≤ a, b < s, reads w at grid position
// (off + a, off + b) with off = (kw − s) / 2, so work grows with s², not kw². s is a uniform, or,
// when the uniform s is 0, the hard size the EffConv size predictor assigns to v, computed here
// so that the search never reads v back: s = clamp(2·⌊(v − 1)/2 + ½⌋ + 1, kmin, kw), with 'same'
// padding (s − 1)/2 (the output size does not depend on s then).
// Effective weight: w_eff = w · m(off + a, off + b), m(i, j) = exp(−r²/v²) with
// r² = (i − c)² + (j − c)², c = (kw − 1) / 2, v = size_v[0]; when masked = 0, m ≡ 1.
//
//   conv2d_fwd         out[n,o,oy,ox] = Σ_{a,b} m(a,b) Σ_c x[n,c,oy·st−pad+a, ox·st−pad+b] w[o,c,a,b]
//                      one invocation per output element
//   conv2d_bwd_input   dx[n,c,iy,ix] = Σ_{o,a,b: iy = oy·st−pad+a, ...} g[n,o,oy,ox] w_eff[o,c,a,b]
//                      one invocation per input element
//   conv2d_bwd_weight  dw[o,c,i,j] = m(i,j) Σ_{n,oy,ox} g[n,o,oy,ox] x[n,c,oy·st−pad+a, ox·st−pad+b]
//                      for (i,j) in the window, 0 elsewhere; one invocation per grid element
//   conv2d_bwd_size    t[i,j] = Σ_{o,c} dw[o,c,i,j] w[o,c,i,j] · 2 r² / v³ (dm/dv = m·2r²/v³, and
//                      dw already carries m); dL/dv = Σ t via reduce.wgsl. One invocation per tap.
// Out-of-range input positions are zero padding.

struct ConvParams {
  N: u32,
  Cin: u32,
  H: u32,
  W: u32,
  Cout: u32,
  Ho: u32,
  Wo: u32,
  s: u32,
  kw: u32,
  off: u32,
  stride: u32,
  pad: i32,
  masked: u32,
  kmin: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;          // upstream gradient (or dw for bwd_size)
@group(0) @binding(5) var<storage, read> size_v: array<f32>;     // soft size v (1 element)

override WG: u32 = 64;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

fn radius2(i: u32, j: u32) -> f32 {
  let c = f32(p.kw - 1u) * 0.5;
  let di = f32(i) - c;
  let dj = f32(j) - c;
  return di * di + dj * dj;
}

struct Window {
  s: u32,    // kernel size in use
  off: u32,  // grid position of the window's first tap: (kw − s) / 2
  pad: i32,
}

fn window() -> Window {
  if (p.s != 0u) { return Window(p.s, p.off, p.pad); }
  let v = size_v[0];
  let half = floor((v - 1.0) * 0.5 + 0.5);
  let s = clamp(2u * u32(max(half, 0.0)) + 1u, p.kmin, p.kw);
  return Window(s, (p.kw - s) / 2u, i32((s - 1u) / 2u));
}

// Mask at grid position (i, j).
fn mask(i: u32, j: u32) -> f32 {
  if (p.masked == 0u) { return 1.0; }
  let v = size_v[0];
  return exp(-radius2(i, j) / (v * v));
}

@compute @workgroup_size(WG)
fn conv2d_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid);
  if (idx >= p.N * p.Cout * p.Ho * p.Wo) { return; }
  let ox = idx % p.Wo;
  var t = idx / p.Wo;
  let oy = t % p.Ho;
  t /= p.Ho;
  let o = t % p.Cout;
  let n = t / p.Cout;
  let plane = p.H * p.W;
  let kk = p.kw * p.kw;
  let win = window();
  var acc = 0.0;
  for (var a = 0u; a < win.s; a++) {
    let iy = i32(oy * p.stride + a) - win.pad;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var b = 0u; b < win.s; b++) {
      let ix = i32(ox * p.stride + b) - win.pad;
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let gi = win.off + a;
      let gj = win.off + b;
      var xi = n * p.Cin * plane + u32(iy) * p.W + u32(ix);
      var wi = o * p.Cin * kk + gi * p.kw + gj;
      var tap = 0.0;
      for (var c = 0u; c < p.Cin; c++) {
        tap += x[xi] * w[wi];
        xi += plane;
        wi += kk;
      }
      acc += mask(gi, gj) * tap;
    }
  }
  out[idx] = acc;
}

@compute @workgroup_size(WG)
fn conv2d_bwd_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid);
  if (idx >= p.N * p.Cin * p.H * p.W) { return; }
  let ix = idx % p.W;
  var t = idx / p.W;
  let iy = t % p.H;
  t /= p.H;
  let c = t % p.Cin;
  let n = t / p.Cin;
  let st = i32(p.stride);
  let oplane = p.Ho * p.Wo;
  let kk = p.kw * p.kw;
  let win = window();
  var acc = 0.0;
  for (var a = 0u; a < win.s; a++) {
    let ty = i32(iy) + win.pad - i32(a);
    if (ty < 0 || ty % st != 0 || ty / st >= i32(p.Ho)) { continue; }
    let oy = u32(ty / st);
    for (var b = 0u; b < win.s; b++) {
      let tx = i32(ix) + win.pad - i32(b);
      if (tx < 0 || tx % st != 0 || tx / st >= i32(p.Wo)) { continue; }
      let ox = u32(tx / st);
      let gi = win.off + a;
      let gj = win.off + b;
      var gidx = n * p.Cout * oplane + oy * p.Wo + ox;
      var wi = c * kk + gi * p.kw + gj;
      var tap = 0.0;
      for (var o = 0u; o < p.Cout; o++) {
        tap += g[gidx] * w[wi];
        gidx += oplane;
        wi += p.Cin * kk;
      }
      acc += mask(gi, gj) * tap;
    }
  }
  out[idx] = acc;
}

@compute @workgroup_size(WG)
fn conv2d_bwd_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = flat_index(wid, nwg, lid);
  if (idx >= p.Cout * p.Cin * p.kw * p.kw) { return; }
  let j = idx % p.kw;
  var t = idx / p.kw;
  let i = t % p.kw;
  t /= p.kw;
  let c = t % p.Cin;
  let o = t / p.Cin;
  let win = window();
  if (i < win.off || j < win.off || i >= win.off + win.s || j >= win.off + win.s) {
    out[idx] = 0.0;  // outside the s × s window: no gradient
    return;
  }
  let a = i - win.off;
  let b = j - win.off;
  var acc = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let xbase = (n * p.Cin + c) * p.H * p.W;
    let gbase = (n * p.Cout + o) * p.Ho * p.Wo;
    for (var oy = 0u; oy < p.Ho; oy++) {
      let iy = i32(oy * p.stride + a) - win.pad;
      if (iy < 0 || iy >= i32(p.H)) { continue; }
      for (var ox = 0u; ox < p.Wo; ox++) {
        let ix = i32(ox * p.stride + b) - win.pad;
        if (ix < 0 || ix >= i32(p.W)) { continue; }
        acc += g[gbase + oy * p.Wo + ox] * x[xbase + u32(iy) * p.W + u32(ix)];
      }
    }
  }
  out[idx] = mask(i, j) * acc;
}

@compute @workgroup_size(WG)
fn conv2d_bwd_size(@builtin(global_invocation_id) gid: vec3u) {
  let tap = gid.x;
  let kk = p.kw * p.kw;
  if (tap >= kk) { return; }
  let i = tap / p.kw;
  let j = tap % p.kw;
  var acc = 0.0;
  for (var oc = 0u; oc < p.Cout * p.Cin; oc++) {
    acc += g[oc * kk + tap] * w[oc * kk + tap];
  }
  let v = size_v[0];
  out[tap] = acc * 2.0 * radius2(i, j) / (v * v * v);
}
