import { beforeAll, describe, expect, it } from 'vitest';
import { backward, biGru, biGruLayer, gruCell, gruLayer, gruRecurrence, gruSequence, stack, sum, Tensor, unstack, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { gruCellRef, gruCellRefGrad, gruSequenceRef, gruSequenceRefGrad, type GruRefWeights } from './helpers/gru_reference.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const weightsOf = (wIh: Float64Array, wHh: Float64Array, bIh: Float64Array, bHh: Float64Array): GruRefWeights => ({ wIh, wHh, bIh, bHh });

/** Weights U(−bound, bound); gruCellParams' bound 1/√H keeps wide cells out of saturation. */
function weightInputs(rng: Rng, I: number, H: number, bound = 1) {
  const draw = (n: number) => randomArray(rng, n).map((v) => v * bound);
  return [
    { shape: [3 * H, I], data: draw(3 * H * I) },
    { shape: [3 * H, H], data: draw(3 * H * H) },
    { shape: [3 * H], data: draw(3 * H) },
    { shape: [3 * H], data: draw(3 * H) },
  ];
}

describe('gruCell', () => {
  // batch 1 and > 1; hidden sizes 1, odd, and not a multiple of the workgroup
  for (const [B, I, H] of [[1, 3, 1], [1, 1, 5], [4, 7, 6], [3, 5, 67]] as const) {
    it(`B=${B} I=${I} H=${H}: forward and all gradients vs float64 reference and finite differences`, async () => {
      const rng = new Rng(B * 100 + I * 10 + H);
      await checkOp(engine, {
        name: `gruCell ${B}×${I}→${H}`,
        inputs: [{ shape: [B, I], data: randomArray(rng, B * I) }, { shape: [B, H], data: randomArray(rng, B * H) }, ...weightInputs(rng, I, H)],
        gpu: (x, h, wIh, wHh, bIh, bHh) => gruCell(x!, h!, { wIh: wIh!, wHh: wHh!, bIh: bIh!, bHh: bHh! }),
        ref: (x, h, wIh, wHh, bIh, bHh) => gruCellRef(x!, h!, weightsOf(wIh!, wHh!, bIh!, bHh!), B, I, H),
        refGrad: (g, x, h, wIh, wHh, bIh, bHh) => gruCellRefGrad(g, x!, h!, weightsOf(wIh!, wHh!, bIh!, bHh!), B, I, H),
        gradTol: { rtol: 1e-4, atol: 2e-5 },
      });
    });
  }

  it('rejects a hidden state or input of the wrong size, naming the op', () => {
    const rng = new Rng(3);
    const mk = (shape: number[]) => Tensor.from(engine, randomArray(rng, shape.reduce((a, b) => a * b, 1)), shape);
    const p = { wIh: mk([9, 4]), wHh: mk([9, 3]), bIh: mk([9]), bHh: mk([9]) };
    expect(() => gruCell(mk([2, 5]), mk([2, 3]), p)).toThrow(/gruCell.*\[B, 4\]/);
    expect(() => gruCell(mk([2, 4]), mk([2, 4]), p)).toThrow(/gruCell.*\[2, 3\]/);
    expect(() => gruCell(mk([2, 4]), mk([1, 3]), p)).toThrow(/gruCell/);
  });
});

describe('GRU over a sequence', () => {
  // a small batch (gruLayer's one-dispatch recurrence) and one past B·H = 512, which the list
  // functions step cell by cell themselves
  for (const [T, B, I, H] of [[4, 2, 3, 5], [2, 9, 3, 64]] as const) {
    const bound = H > 8 ? 1 / Math.sqrt(H) : 1;
    const gradTol = H > 8 ? { rtol: 1e-4, atol: 2e-5 } : undefined;

    it(`unidirectional, ${T} steps, B=${B} H=${H}: outputs and gradients (through time) vs float64 reference`, async () => {
      const rng = new Rng(77 + B);
      await checkOp(engine, {
        name: 'gruSequence',
        inputs: [{ shape: [T, B, I], data: randomArray(rng, T * B * I) }, ...weightInputs(rng, I, H, bound)],
        gpu: (xs, wIh, wHh, bIh, bHh) => stack(gruSequence(unstack(xs!), { wIh: wIh!, wHh: wHh!, bIh: bIh!, bHh: bHh! })),
        ref: (xs, wIh, wHh, bIh, bHh) => gruSequenceRef(xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H).outs,
        refGrad: (g, xs, wIh, wHh, bIh, bHh) => {
          const r = gruSequenceRefGrad(g, xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H);
          return [r.dxs, r.dw.wIh, r.dw.wHh, r.dw.bIh, r.dw.bHh];
        },
        ...(gradTol ? { gradTol } : {}),
      });
    });

    it(`bidirectional, ${T} steps, B=${B} H=${H}: [h_fwd ‖ h_bwd] per step and gradients of both cells vs float64 reference`, async () => {
      const rng = new Rng(78 + B);
      await checkOp(engine, {
        name: 'biGru',
        inputs: [{ shape: [T, B, I], data: randomArray(rng, T * B * I) }, ...weightInputs(rng, I, H, bound), ...weightInputs(rng, I, H, bound)],
        gpu: (xs, a, b, c, d, e, f, g, h) =>
          stack(biGru(unstack(xs!), { wIh: a!, wHh: b!, bIh: c!, bHh: d! }, { wIh: e!, wHh: f!, bIh: g!, bHh: h! })),
        ref: (xs, a, b, c, d, e, f, g, h) => {
          const fw = gruSequenceRef(xs!, weightsOf(a!, b!, c!, d!), T, B, I, H).outs;
          const bw = gruSequenceRef(xs!, weightsOf(e!, f!, g!, h!), T, B, I, H, true).outs;
          const out = new Float64Array(T * B * 2 * H);
          for (let tb = 0; tb < T * B; tb++) {
            out.set(fw.subarray(tb * H, (tb + 1) * H), tb * 2 * H);
            out.set(bw.subarray(tb * H, (tb + 1) * H), tb * 2 * H + H);
          }
          return out;
        },
        refGrad: (grad, xs, a, b, c, d, e, f, g, h) => {
          const gf = new Float64Array(T * B * H);
          const gb = new Float64Array(T * B * H);
          for (let tb = 0; tb < T * B; tb++) {
            gf.set(grad.subarray(tb * 2 * H, tb * 2 * H + H), tb * H);
            gb.set(grad.subarray(tb * 2 * H + H, (tb + 1) * 2 * H), tb * H);
          }
          const rf = gruSequenceRefGrad(gf, xs!, weightsOf(a!, b!, c!, d!), T, B, I, H);
          const rb = gruSequenceRefGrad(gb, xs!, weightsOf(e!, f!, g!, h!), T, B, I, H, true);
          const dxs = Float64Array.from(rf.dxs, (v, k) => v + rb.dxs[k]!);
          return [dxs, rf.dw.wIh, rf.dw.wHh, rf.dw.bIh, rf.dw.bHh, rb.dw.wIh, rb.dw.wHh, rb.dw.bIh, rb.dw.bHh];
        },
        ...(gradTol ? { gradTol } : {}),
      });
    });
  }
});

/** gruLayer over xs [T, B, I] from a given h0 vs the float64 reference: outputs, and gradients of xs, h0 and the weights. */
async function checkGruLayer(name: string, [T, B, I, H]: readonly [number, number, number, number], reverse: boolean, rng: Rng, weightBound: number) {
  await checkOp(engine, {
    name,
    inputs: [{ shape: [T, B, I], data: randomArray(rng, T * B * I) }, { shape: [B, H], data: randomArray(rng, B * H) }, ...weightInputs(rng, I, H, weightBound)],
    gpu: (xs, h0, wIh, wHh, bIh, bHh) => gruLayer(xs!, { wIh: wIh!, wHh: wHh!, bIh: bIh!, bHh: bHh! }, h0!, reverse),
    ref: (xs, h0, wIh, wHh, bIh, bHh) => gruSequenceRef(xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H, reverse, h0!).outs,
    refGrad: (g, xs, h0, wIh, wHh, bIh, bHh) => {
      const r = gruSequenceRefGrad(g, xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H, reverse, h0!);
      return [r.dxs, r.dh0, r.dw.wIh, r.dw.wHh, r.dw.bIh, r.dw.bHh];
    },
    gradTol: { rtol: 1e-4, atol: 2e-5 },
  });
}

describe('gruLayer (one dispatch per sequence: gruRecurrence)', () => {
  // batch 1 and > 1; one step; hidden sizes 1, odd, past the workgroup (67: two units per
  // invocation, 130: three) and the kernel's largest (512); both directions; a given h0, whose gradient is checked too
  for (const [T, B, I, H, reverse] of [[1, 1, 2, 3, false], [5, 1, 3, 1, false], [4, 3, 5, 6, true], [3, 2, 4, 67, true], [2, 1, 3, 130, false], [2, 1, 2, 512, true]] as const) {
    it(`T=${T} B=${B} I=${I} H=${H}${reverse ? ' reversed' : ''}: outputs and gradients (xs, h0, weights) vs float64 reference`, async () => {
      await checkGruLayer(`gruLayer ${T}×${B}×${I}→${H}`, [T, B, I, H], reverse, new Rng(T * 1000 + B * 100 + H), 1 / Math.sqrt(H));
    });
  }

  it('a larger batch (B·H > 512: 9 × 64) runs cell by cell, with the same results', async () => {
    await checkGruLayer('gruLayer B=9 H=64', [3, 9, 3, 64], true, new Rng(576), 1);
  });

  it('a bidirectional layer of 6 steps takes a handful of dispatches forward and backward, not ~15 per step', () => {
    const rng = new Rng(6);
    const mk = (shape: number[]) => {
      const t = Tensor.from(engine, randomArray(rng, shape.reduce((a, b) => a * b, 1)), shape);
      t.requiresGrad = true;
      return t;
    };
    const cell = () => ({ wIh: mk([24, 4]), wHh: mk([24, 8]), bIh: mk([24]), bHh: mk([24]) });
    const [f, b, xs] = [cell(), cell(), mk([6, 1, 4])];
    const before = engine.dispatchCount;
    engine.tidy(() => {
      const y = biGruLayer(xs, f, b);
      const forward = engine.dispatchCount - before;
      // per direction: input maps (matmul, bias add), h0 zeros, the recurrence; then one concat (2 copies)
      expect(forward).toBeLessThanOrEqual(10);
      backward(sum(y));
    });
    expect(engine.dispatchCount - before).toBeLessThanOrEqual(30);
  });

  it('rejects input maps, weights or h0 of the wrong shape, and a hidden size past the kernel, naming the op', () => {
    const rng = new Rng(4);
    const mk = (shape: number[]) => Tensor.from(engine, randomArray(rng, shape.reduce((a, b) => a * b, 1)), shape);
    const [wHh, bHh, h0] = [mk([9, 3]), mk([9]), mk([2, 3])];
    expect(() => gruRecurrence(mk([4, 2, 8]), wHh, bHh, h0)).toThrow(/gruRecurrence.*\[T, 2, 9\]/);
    expect(() => gruRecurrence(mk([4, 2, 9]), mk([9, 4]), bHh, h0)).toThrow(/gruRecurrence.*W_hh/);
    expect(() => gruRecurrence(mk([4, 2, 9]), wHh, mk([8]), h0)).toThrow(/gruRecurrence.*b_hh/);
    expect(() => gruRecurrence(mk([4, 2, 9]), wHh, bHh, mk([2, 3, 1]))).toThrow(/gruRecurrence.*\[B, H\]/);
    expect(() => gruRecurrence(mk([1, 1, 1539]), mk([1539, 513]), mk([1539]), mk([1, 513]))).toThrow(/gruRecurrence.*513 exceeds 512/);
    const p = { wIh: mk([9, 4]), wHh, bIh: mk([9]), bHh };
    expect(() => gruLayer(mk([3, 2, 5]), p)).toThrow(/gruLayer.*\[T, B, 4\]/);
    expect(() => gruLayer(mk([3, 2, 4]), p, mk([1, 3]))).toThrow(/gruLayer.*\[2, 3\]/);
  });
});
