import { beforeAll, describe, expect, it } from 'vitest';
import { budgetLossOp, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** P(v) = rest + Σ cc·v² in float64. */
const countRef = (v: Float64Array, cc: Float64Array, rest: number) => v.reduce((s, x, l) => s + cc[l]! * x * x, rest);

describe('budgetLoss (one dispatch each way)', () => {
  // a count above the target and one below it, both kinds (the asymmetric loss is flat below)
  for (const kind of ['symmetric', 'asymmetric'] as const) {
    for (const [name, targetOverCount] of [['above', 0.5], ['below', 2]] as const) {
      it(`${kind}, P(v) ${name} the target: loss and dL/dv vs float64 reference and finite differences`, async () => {
        const rng = new Rng(targetOverCount * 10 + (kind === 'symmetric' ? 1 : 2));
        const L = 7;
        const v = Float64Array.from(Float32Array.from(randomArray(rng, L, 1.5, 8.5))); // as the GPU sees it
        const cc = Float64Array.from({ length: L }, () => [16, 256, 512, 1024, 2048, 4096][rng.int(6)]!);
        const rest = 1234;
        const target = countRef(v, cc, rest) * targetOverCount;
        const lossRef = (vs: Float64Array) => {
          const ratio = Math.log(countRef(vs, cc, rest) / target);
          return kind === 'symmetric' ? ratio * ratio : Math.max(ratio, 0);
        };
        await checkOp(engine, {
          name: `budgetLoss ${kind} ${name}`,
          inputs: [{ shape: [L], data: v }, { shape: [L], data: cc, grad: false }],
          gpu: (vt, cct) => budgetLossOp(vt!, cct!, rest, target, kind).loss,
          ref: (vs) => Float64Array.of(lossRef(vs!)),
          refGrad: (g, vs) => {
            const count = countRef(vs!, cc, rest);
            const ratio = Math.log(count / target);
            const dCount = (kind === 'symmetric' ? 2 * ratio : ratio > 0 ? 1 : 0) / count;
            return [Float64Array.from(vs!, (x, l) => g[0]! * dCount * 2 * cc[l]! * x), null];
          },
          fdEps: 1e-5,
          fwdTol: { rtol: 1e-5, atol: 1e-6 },
          gradTol: { rtol: 1e-4, atol: 1e-7 },
          dirEps: 1e-3,
        });
      });
    }
  }

  it('also returns P(v), and rejects mismatched shapes and a non-positive target', async () => {
    const v = Tensor.from(engine, [3, 5], [2]);
    const cc = Tensor.from(engine, [16, 32], [2]);
    const { params } = engine.tidy(() => budgetLossOp(v, cc, 100, 1000, 'symmetric'));
    expect((await params.toFloat32())[0]).toBeCloseTo(100 + 16 * 9 + 32 * 25, 2);
    expect(() => budgetLossOp(v, Tensor.from(engine, [1, 2, 3], [3]), 0, 1, 'symmetric')).toThrow(/budgetLoss.*\[L\]/);
    expect(() => budgetLossOp(v, cc, 0, 0, 'symmetric')).toThrow(/budgetLoss: target must be a positive number/);
  });
});
