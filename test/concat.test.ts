import { beforeAll, describe, expect, it } from 'vitest';
import { add, backward, concat, mul, reshape, scale, slice, stack, sum, Tensor, unstack, type Engine } from '../src/index.js';
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

  it('slices of one tensor (overlapping, and the tensor used directly between them) sum their gradients', async () => {
    // backward meets them as: C (a new gradient), B (added in place), x itself (a full add), A (in place)
    const rng = new Rng(10);
    const [R, C, I] = [2, 6, 3];
    const blocks = [[0, 4], [2, 3], [5, 1]] as const; // (start, length) along axis 1: A, B, C
    const take = (x: Float64Array, [start, len]: readonly [number, number]) => {
      const out: number[] = [];
      for (let r = 0; r < R; r++) for (let k = 0; k < len * I; k++) out.push(x[r * C * I + start * I + k]!);
      return out;
    };
    await checkOp(engine, {
      name: 'slices of one tensor',
      inputs: [{ shape: [R, C, I], data: randomArray(rng, R * C * I) }],
      gpu: (x) => {
        const flat = (t: Tensor) => reshape(t, [t.size]);
        const [a, b, c] = blocks.map(([start, len]) => flat(slice(x!, 1, start, len)));
        return concat([a!, flat(x!), b!, c!], 0);
      },
      ref: (x) => Float64Array.from([...take(x!, blocks[0]), ...x!, ...take(x!, blocks[1]), ...take(x!, blocks[2])]),
      refGrad: (g) => {
        const dx = new Float64Array(R * C * I);
        let at = 0;
        const scatter = ([start, len]: readonly [number, number]) => {
          for (let r = 0; r < R; r++) for (let k = 0; k < len * I; k++) dx[r * C * I + start * I + k]! += g[at++]!;
        };
        scatter(blocks[0]);
        for (let i = 0; i < dx.length; i++) dx[i]! += g[at++]!;
        scatter(blocks[1]);
        scatter(blocks[2]);
        return [dx];
      },
    });
  });

  it("a slice's gradient is not added into a gradient that shares storage with another tensor's (add hands both operands g)", async () => {
    const rng = new Rng(13);
    const n = 2 * 6 * 3;
    await checkOp(engine, {
      name: 'slice, then add',
      inputs: [{ shape: [2, 6, 3], data: randomArray(rng, n) }, { shape: [2, 6, 3], data: randomArray(rng, n) }],
      // backward meets add first (x's and w's gradients: the same g), then the slice
      gpu: (x, w) => concat([reshape(slice(x!, 1, 2, 3), [18]), reshape(add(x!, w!), [n])], 0),
      ref: (x, w) => Float64Array.from([...Array.from({ length: 18 }, (_, k) => x![Math.floor(k / 9) * 18 + 6 + (k % 9)]!), ...x!.map((v, i) => v + w![i]!)]),
      refGrad: (g) => {
        const dx = Float64Array.from({ length: n }, (_, i) => g[18 + i]!);
        for (let k = 0; k < 18; k++) dx[Math.floor(k / 9) * 18 + 6 + (k % 9)]! += g[k]!;
        return [dx, Float64Array.from({ length: n }, (_, i) => g[18 + i]!)];
      },
    });
  });

  it('summing slice gradients with other gradients leaves no tensor behind', () => {
    const x = Tensor.from(engine, randomArray(new Rng(14), 12), [3, 4]);
    x.requiresGrad = true;
    const live = engine.liveTensors;
    for (let step = 0; step < 3; step++) {
      engine.tidy(() => {
        // backward meets x's one direct use first (a plain gradient, not the tape's own), then the
        // slices' block gradients: the path that makes a new gradient and adds the two
        const parts = unstack(x).map((row) => sum(row));
        backward(add(sum(stack(parts)), sum(scale(x, 3))));
      });
      x.grad!.dispose();
      x.grad = null;
    }
    expect(engine.liveTensors).toBe(live);
    x.dispose();
  });

  it("unstack's gradient is one zero fill and a block copy or add per piece, not a fill, a copy and a full-size add per piece", async () => {
    const x = Tensor.from(engine, randomArray(new Rng(11), 6 * 8), [6, 8]);
    x.requiresGrad = true;
    const r = Tensor.from(engine, randomArray(new Rng(12), 8), [8]);
    let dispatches = 0;
    engine.tidy(() => {
      const loss = sum(stack(unstack(x).map((row) => mul(row, r))));
      const before = engine.dispatchCount;
      backward(loss);
      dispatches = engine.dispatchCount - before;
    });
    const grad = await x.grad!.toFloat32();
    const rows = await r.toFloat32();
    for (let i = 0; i < 48; i++) expect(grad[i]).toBeCloseTo(rows[i % 8]!, 6);
    // the seed, sum's gradient, stack's 6 copies, the 6 muls' (r needs none), then the rows': one
    // fill and 6 block copies / adds (it was 6 fills, 6 copies and 5 full-size adds: 31 in all)
    expect(dispatches).toBeLessThanOrEqual(1 + 1 + 6 + 6 + 1 + 6);
    x.grad!.dispose();
    r.dispose();
    x.dispose();
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
