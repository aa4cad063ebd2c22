/** Float64 reference GRU (PyTorch's GRUCell equations), forward and backpropagation through time. */

export interface GruRefWeights {
  wIh: Float64Array; // [3H, I]
  wHh: Float64Array; // [3H, H]
  bIh: Float64Array; // [3H]
  bHh: Float64Array; // [3H]
}

const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** aff[b, r] = bias[r] + Σ_k in[b, k] · W[r, k] for W [R, K]. */
function affine(inp: Float64Array, W: Float64Array, bias: Float64Array, B: number, K: number, R: number): Float64Array {
  const out = new Float64Array(B * R);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < R; r++) {
      let s = bias[r]!;
      for (let k = 0; k < K; k++) s += inp[b * K + k]! * W[r * K + k]!;
      out[b * R + r] = s;
    }
  return out;
}

interface CellCache {
  r: Float64Array;
  z: Float64Array;
  n: Float64Array;
  hn: Float64Array;
}

function cellForward(x: Float64Array, h: Float64Array, w: GruRefWeights, B: number, I: number, H: number): { h: Float64Array; c: CellCache } {
  const gi = affine(x, w.wIh, w.bIh, B, I, 3 * H);
  const gh = affine(h, w.wHh, w.bHh, B, H, 3 * H);
  const c: CellCache = { r: new Float64Array(B * H), z: new Float64Array(B * H), n: new Float64Array(B * H), hn: new Float64Array(B * H) };
  const out = new Float64Array(B * H);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) {
      const q = b * 3 * H;
      const k = b * H + j;
      c.r[k] = sig(gi[q + j]! + gh[q + j]!);
      c.z[k] = sig(gi[q + H + j]! + gh[q + H + j]!);
      c.hn[k] = gh[q + 2 * H + j]!;
      c.n[k] = Math.tanh(gi[q + 2 * H + j]! + c.r[k]! * c.hn[k]!);
      out[k] = (1 - c.z[k]!) * c.n[k]! + c.z[k]! * h[k]!;
    }
  return { h: out, c };
}

export function gruCellRef(x: Float64Array, h: Float64Array, w: GruRefWeights, B: number, I: number, H: number): Float64Array {
  return cellForward(x, h, w, B, I, H).h;
}

/** Gradients of Σ h' ⊙ dh for one cell: [dx, dh, dW_ih, dW_hh, db_ih, db_hh] (weight grads added into acc). */
function cellBackward(
  dhNext: Float64Array, x: Float64Array, h: Float64Array, w: GruRefWeights, c: CellCache, B: number, I: number, H: number, acc: GruRefWeights,
): { dx: Float64Array; dh: Float64Array } {
  const dgi = new Float64Array(B * 3 * H);
  const dgh = new Float64Array(B * 3 * H);
  const dh = new Float64Array(B * H);
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const q = b * 3 * H;
      const d = dhNext[k]!;
      const dn = d * (1 - c.z[k]!);
      const dz = d * (h[k]! - c.n[k]!);
      const dan = dn * (1 - c.n[k]! ** 2);
      const dar = dan * c.hn[k]! * c.r[k]! * (1 - c.r[k]!);
      const daz = dz * c.z[k]! * (1 - c.z[k]!);
      dgi[q + j] = dgh[q + j] = dar;
      dgi[q + H + j] = dgh[q + H + j] = daz;
      dgi[q + 2 * H + j] = dan;
      dgh[q + 2 * H + j] = dan * c.r[k]!;
      dh[k] = d * c.z[k]!;
    }
  const dx = new Float64Array(B * I);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < 3 * H; r++) {
      const gI = dgi[b * 3 * H + r]!;
      const gH = dgh[b * 3 * H + r]!;
      acc.bIh[r]! += gI;
      acc.bHh[r]! += gH;
      for (let k = 0; k < I; k++) {
        dx[b * I + k]! += gI * w.wIh[r * I + k]!;
        acc.wIh[r * I + k]! += gI * x[b * I + k]!;
      }
      for (let k = 0; k < H; k++) {
        dh[b * H + k]! += gH * w.wHh[r * H + k]!;
        acc.wHh[r * H + k]! += gH * h[b * H + k]!;
      }
    }
  return { dx, dh };
}

const zerosLike = (w: GruRefWeights): GruRefWeights => ({
  wIh: new Float64Array(w.wIh.length),
  wHh: new Float64Array(w.wHh.length),
  bIh: new Float64Array(w.bIh.length),
  bHh: new Float64Array(w.bHh.length),
});

/** Runs the GRU over xs [T, B, I] from h0 (default 0); outputs [T, B, H] in sequence order. */
export function gruSequenceRef(xs: Float64Array, w: GruRefWeights, T: number, B: number, I: number, H: number, reverse = false, h0?: Float64Array) {
  const outs = new Float64Array(T * B * H);
  const steps: { t: number; x: Float64Array; h: Float64Array; c: CellCache }[] = [];
  let h = h0 ? Float64Array.from(h0) : new Float64Array(B * H);
  for (let i = 0; i < T; i++) {
    const t = reverse ? T - 1 - i : i;
    const x = xs.subarray(t * B * I, (t + 1) * B * I);
    const r = cellForward(x, h, w, B, I, H);
    steps.push({ t, x, h, c: r.c });
    h = r.h;
    outs.set(h, t * B * H);
  }
  return { outs, steps };
}

/** BPTT: gradients of Σ outs ⊙ g (g [T, B, H]) w.r.t. xs, the weights and h0. */
export function gruSequenceRefGrad(g: Float64Array, xs: Float64Array, w: GruRefWeights, T: number, B: number, I: number, H: number, reverse = false, h0?: Float64Array) {
  const { steps } = gruSequenceRef(xs, w, T, B, I, H, reverse, h0);
  const acc = zerosLike(w);
  const dxs = new Float64Array(xs.length);
  let dh = new Float64Array(B * H);
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    const dhNext = Float64Array.from(dh, (v, k) => v + g[s.t * B * H + k]!);
    const r = cellBackward(dhNext, s.x, s.h, w, s.c, B, I, H, acc);
    dxs.set(r.dx, s.t * B * I);
    dh = r.dh;
  }
  return { dxs, dw: acc, dh0: dh };
}

/** Gradients of one cell: [dx, dh, dW_ih, dW_hh, db_ih, db_hh]. */
export function gruCellRefGrad(g: Float64Array, x: Float64Array, h: Float64Array, w: GruRefWeights, B: number, I: number, H: number): Float64Array[] {
  const { c } = cellForward(x, h, w, B, I, H);
  const acc = zerosLike(w);
  const { dx, dh } = cellBackward(g, x, h, w, c, B, I, H, acc);
  return [dx, dh, acc.wIh, acc.wHh, acc.bIh, acc.bHh];
}
