import { beforeAll, describe, expect, it } from 'vitest';
import { concat, slice, stack, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** Reference concat of row-major arrays along `axis` (independent index arithmetic). */
function refConcat(parts: { shape: number[]; data: Float64Array }[], axis: number): Float64Array {
  const shape = parts[0]!.shape;
  const rows = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let r = 0; r < rows; r++)
    for (const p of parts) {
      const w = p.shape[axis]! * inner;
      for (let k = 0; k < w; k++) out.push(p.data[r * w + k]!);
    }
  return Float64Array.from(out);
}

describe('concat / stack / slice', () => {
  for (const axis of [0, 1, 2]) {
    it(`concat of three tensors along axis ${axis}, gradients split back`, async () => {
      const rng = new Rng(axis + 5);
      const base = [3, 2, 5];
      const shapes = [1, 4, 2].map((d) => base.map((b, i) => (i === axis ? d : b)));
      const inputs = shapes.map((shape) => ({ shape, data: randomArray(rng, shape.reduce((a, b) => a * b, 1)) }));
      await checkOp(engine, {
        name: `concat axis ${axis}`,
        inputs,
        gpu: (...xs) => concat(xs, axis),
        ref: (...xs) => refConcat(xs.map((d, i) => ({ shape: shapes[i]!, data: d })), axis),
        refGrad: (g) => {
          // the gradient of input i is its block of g: concat is a permutation of its inputs
          const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
          const marks = shapes.map((s, i) => ({ shape: s, data: new Float64Array(sizes[i]!).fill(i + 1) }));
          const owner = refConcat(marks, axis);
          return shapes.map((_, i) => Float64Array.from(g.filter((_, k) => owner[k] === i + 1)));
        },
      });
    });
  }

  it('slice along the middle axis; its gradient is zero outside the slice', async () => {
    const rng = new Rng(9);
    await checkOp(engine, {
      name: 'slice',
      inputs: [{ shape: [2, 6, 3], data: randomArray(rng, 36) }],
      gpu: (x) => slice(x!, 1, 2, 3),
      ref: (x) => Float64Array.from({ length: 18 }, (_, k) => x![Math.floor(k / 9) * 18 + 6 + (k % 9)]!),
      refGrad: (g) => {
        const dx = new Float64Array(36);
        for (let k = 0; k < 18; k++) dx[Math.floor(k / 9) * 18 + 6 + (k % 9)] = g[k]!;
        return [dx];
      },
    });
  });

  it('stack adds an axis', async () => {
    const a = Tensor.from(engine, [1, 2, 3], [3]);
    const b = Tensor.from(engine, [4, 5, 6], [3]);
    const s = stack([a, b], 1);
    expect(s.shape).toEqual([3, 2]);
    expect(Array.from(await s.toArray())).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('rejects mismatched shapes and out-of-range slices, naming the op', () => {
    const a = Tensor.from(engine, new Float32Array(6), [2, 3]);
    const b = Tensor.from(engine, new Float32Array(4), [2, 2]);
    expect(() => concat([a, b], 0)).toThrow(/concat.*differ outside axis 0/);
    expect(() => slice(a, 1, 2, 2)).toThrow(/slice.*outside axis 1/);
    expect(() => concat([a], 2)).toThrow(/concat: axis 2 is out of range/);
  });
});
