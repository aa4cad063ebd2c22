/** Float64 reference for the masked variable-size convolution, written from DESIGN.md §1. */

export interface ConvShape {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  kw: number; // stored grid (k_max)
  s: number; // used window
  stride: number;
  pad: number;
}

export function outSize(c: ConvShape): [number, number] {
  return [Math.floor((c.H + 2 * c.pad - c.s) / c.stride) + 1, Math.floor((c.W + 2 * c.pad - c.s) / c.stride) + 1];
}

/** Gaussian mask on the kw grid for soft size v (all ones when v is undefined). */
export function refMask(kw: number, v: number | undefined): Float64Array {
  const m = new Float64Array(kw * kw);
  const c = (kw - 1) / 2;
  for (let i = 0; i < kw; i++) for (let j = 0; j < kw; j++) m[i * kw + j] = v === undefined ? 1 : Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (v * v));
  return m;
}

/** dm/dv on the kw grid. */
export function refMaskDv(kw: number, v: number): Float64Array {
  const m = refMask(kw, v);
  const c = (kw - 1) / 2;
  return m.map((mv, idx) => {
    const r2 = (Math.floor(idx / kw) - c) ** 2 + ((idx % kw) - c) ** 2;
    return (mv * 2 * r2) / v ** 3;
  });
}

/** Effective weight: the centred s×s window of w ⊙ m, as a dense [Cout, Cin, s, s] array. */
export function effectiveWeight(c: ConvShape, w: Float64Array, v: number | undefined): Float64Array {
  const m = refMask(c.kw, v);
  const off = (c.kw - c.s) / 2;
  const out = new Float64Array(c.Cout * c.Cin * c.s * c.s);
  for (let o = 0; o < c.Cout; o++)
    for (let ci = 0; ci < c.Cin; ci++)
      for (let a = 0; a < c.s; a++)
        for (let b = 0; b < c.s; b++) {
          const gi = (off + a) * c.kw + off + b;
          out[((o * c.Cin + ci) * c.s + a) * c.s + b] = w[(o * c.Cin + ci) * c.kw * c.kw + gi]! * m[gi]!;
        }
  return out;
}

/** Plain direct convolution with a dense s×s weight. */
export function refConvDense(c: ConvShape, x: Float64Array, we: Float64Array): Float64Array {
  const [Ho, Wo] = outSize(c);
  const y = new Float64Array(c.N * c.Cout * Ho * Wo);
  for (let n = 0; n < c.N; n++)
    for (let o = 0; o < c.Cout; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let acc = 0;
          for (let ci = 0; ci < c.Cin; ci++)
            for (let a = 0; a < c.s; a++)
              for (let b = 0; b < c.s; b++) {
                const iy = oy * c.stride - c.pad + a;
                const ix = ox * c.stride - c.pad + b;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                acc += x[((n * c.Cin + ci) * c.H + iy) * c.W + ix]! * we[((o * c.Cin + ci) * c.s + a) * c.s + b]!;
              }
          y[((n * c.Cout + o) * Ho + oy) * Wo + ox] = acc;
        }
  return y;
}

export function refConv(c: ConvShape, x: Float64Array, w: Float64Array, v?: number): Float64Array {
  return refConvDense(c, x, effectiveWeight(c, w, v));
}

/** Analytic backward: dx, dw (on the kw grid, zero outside the window) and dv. */
export function refConvGrad(c: ConvShape, g: Float64Array, x: Float64Array, w: Float64Array, v?: number): { dx: Float64Array; dw: Float64Array; dv: number } {
  const [Ho, Wo] = outSize(c);
  const we = effectiveWeight(c, w, v);
  const m = refMask(c.kw, v);
  const dm = v === undefined ? new Float64Array(c.kw * c.kw) : refMaskDv(c.kw, v);
  const off = (c.kw - c.s) / 2;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  let dv = 0;
  for (let n = 0; n < c.N; n++)
    for (let o = 0; o < c.Cout; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          const gv = g[((n * c.Cout + o) * Ho + oy) * Wo + ox]!;
          for (let ci = 0; ci < c.Cin; ci++)
            for (let a = 0; a < c.s; a++)
              for (let b = 0; b < c.s; b++) {
                const iy = oy * c.stride - c.pad + a;
                const ix = ox * c.stride - c.pad + b;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                const xi = ((n * c.Cin + ci) * c.H + iy) * c.W + ix;
                const gi = (off + a) * c.kw + off + b;
                const wi = (o * c.Cin + ci) * c.kw * c.kw + gi;
                dx[xi]! += gv * we[((o * c.Cin + ci) * c.s + a) * c.s + b]!;
                dw[wi]! += gv * x[xi]! * m[gi]!;
                dv += gv * x[xi]! * w[wi]! * dm[gi]!;
              }
        }
  return { dx, dw, dv };
}
