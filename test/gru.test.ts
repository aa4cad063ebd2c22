import { beforeAll, describe, expect, it } from 'vitest';
import { biGru, gruCell, gruSequence, stack, Tensor, unstack, type Engine } from '../src/index.js';
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

function weightInputs(rng: Rng, I: number, H: number) {
  return [
    { shape: [3 * H, I], data: randomArray(rng, 3 * H * I) },
    { shape: [3 * H, H], data: randomArray(rng, 3 * H * H) },
    { shape: [3 * H], data: randomArray(rng, 3 * H) },
    { shape: [3 * H], data: randomArray(rng, 3 * H) },
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
  const T = 4;
  const B = 2;
  const I = 3;
  const H = 5;

  it('unidirectional, 4 steps: outputs and gradients (through time) vs float64 reference', async () => {
    const rng = new Rng(77);
    await checkOp(engine, {
      name: 'gruSequence',
      inputs: [{ shape: [T, B, I], data: randomArray(rng, T * B * I) }, ...weightInputs(rng, I, H)],
      gpu: (xs, wIh, wHh, bIh, bHh) => stack(gruSequence(unstack(xs!), { wIh: wIh!, wHh: wHh!, bIh: bIh!, bHh: bHh! })),
      ref: (xs, wIh, wHh, bIh, bHh) => gruSequenceRef(xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H).outs,
      refGrad: (g, xs, wIh, wHh, bIh, bHh) => {
        const r = gruSequenceRefGrad(g, xs!, weightsOf(wIh!, wHh!, bIh!, bHh!), T, B, I, H);
        return [r.dxs, r.dw.wIh, r.dw.wHh, r.dw.bIh, r.dw.bHh];
      },
    });
  });

  it('bidirectional, 4 steps: [h_fwd ‖ h_bwd] per step and gradients of both cells vs float64 reference', async () => {
    const rng = new Rng(78);
    await checkOp(engine, {
      name: 'biGru',
      inputs: [{ shape: [T, B, I], data: randomArray(rng, T * B * I) }, ...weightInputs(rng, I, H), ...weightInputs(rng, I, H)],
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
    });
  });
});
