import { beforeAll, describe, expect, it } from 'vitest';
import { mean, sum, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { refSumMiddle } from './helpers/reference.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Axis lengths below 64 or at least 64 outputs take the serial kernel, longer sums into fewer
// outputs the workgroup tree ([1000], [2, 200, 3] axis 1).
const cases: { shape: number[]; axis?: number }[] = [
  { shape: [1] },
  { shape: [7, 13] },
  { shape: [1000] },
  { shape: [3, 5, 7], axis: 0 },
  { shape: [3, 5, 7], axis: 1 },
  { shape: [3, 5, 7], axis: -1 },
  { shape: [2, 200, 3], axis: 1 },
  { shape: [1, 1, 9], axis: 2 },
  { shape: [65, 1], axis: 0 },
  { shape: [100, 70], axis: 0 },
];

describe('sum / mean vs reference', () => {
  for (const op of ['sum', 'mean'] as const) {
    for (const c of cases) {
      it(`${op} ${JSON.stringify(c.shape)} axis=${c.axis ?? 'all'}`, async () => {
        const rng = new Rng(prod(c.shape) + (c.axis ?? 7));
        const n = prod(c.shape);
        const ax = c.axis === undefined ? undefined : c.axis < 0 ? c.axis + c.shape.length : c.axis;
        const outer = ax === undefined ? 1 : prod(c.shape.slice(0, ax));
        const mid = ax === undefined ? n : c.shape[ax]!;
        const inner = ax === undefined ? 1 : prod(c.shape.slice(ax + 1));
        const scale = op === 'mean' ? 1 / mid : 1;
        await checkOp(engine, {
          name: `${op} ${JSON.stringify(c.shape)}`,
          inputs: [{ shape: c.shape, data: randomArray(rng, n) }],
          gpu: (x) => (op === 'sum' ? sum(x, c.axis) : mean(x, c.axis)),
          ref: (x) => refSumMiddle(x, outer, mid, inner).map((v) => v * scale),
          refGrad: (g, x) => [
            x.map((_, i) => g[Math.floor(i / (mid * inner)) * inner + (i % inner)]! * scale),
          ],
          fwdTol: { rtol: 1e-5, atol: 2e-5 },
        });
      });
    }
  }

  it('keepDims keeps the reduced axis as 1', () => {
    const x = Tensor.from(engine, new Float32Array(24), [2, 3, 4]);
    expect(sum(x, 1, true).shape).toEqual([2, 1, 4]);
    expect(sum(x, 1).shape).toEqual([2, 4]);
    expect(mean(x).shape).toEqual([]);
    expect(() => sum(x, 3)).toThrow(/sum: axis 3 out of range for shape \[2, 3, 4\]/);
  });
});
