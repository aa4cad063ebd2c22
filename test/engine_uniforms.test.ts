import { beforeAll, describe, expect, it } from 'vitest';
import { scale, Tensor, type Engine } from '../src/index.js';
import { allKernels, type KernelDef } from '../src/gpu/kernel.js';
import { testEngine } from './helpers/engine.js';

const kernel = (entry: string): KernelDef => allKernels().find((k) => k.entry === entry)!;

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('engine uniforms', () => {
  it('a repeated step skips rewriting uniforms it already holds, and a reused uniform buffer gets new values when they change', async () => {
    const x = Tensor.from(engine, [1, 2, 3, 4, 5], [5]);
    // each "step": one scale in a scope, then a submit; the pool hands every step the same
    // uniform buffer, so the values written must follow the step's alpha and beta
    const step = async (alpha: number, beta: number) => {
      const skipped = engine.uniformWritesSkipped;
      const y = engine.tidy(() => engine.keep(scale(x, alpha, beta)));
      const values = Array.from(await y.toFloat32());
      y.dispose();
      return { values, skipped: engine.uniformWritesSkipped - skipped };
    };
    await step(2, 0);
    expect(await step(2, 0)).toEqual({ values: [2, 4, 6, 8, 10], skipped: 1 });
    expect(await step(3, 0)).toEqual({ values: [3, 6, 9, 12, 15], skipped: 0 });
    expect(await step(3, 1)).toEqual({ values: [4, 7, 10, 13, 16], skipped: 0 });
    expect(await step(2, 0)).toEqual({ values: [2, 4, 6, 8, 10], skipped: 0 });
    expect(await step(2, 0)).toEqual({ values: [2, 4, 6, 8, 10], skipped: 1 });
    x.dispose();
  });

  it('a dispatch whose uniforms are invalid throws before it takes a uniform buffer', () => {
    const x = Tensor.from(engine, [1, 2, 3, 4], [4]);
    const live = engine.memory().liveBuffers;
    // n is a u32: a negative one is refused while packing, and no pooled buffer stays handed out
    expect(() => engine.dispatch(kernel('scale'), { n: -4, bn: 4, inner: 1, alpha: 1, beta: 0 }, [x.buffer, x.buffer], [1])).toThrow(/uniform .*\.n = -4 is not a u32/);
    expect(engine.memory().liveBuffers).toBe(live);
    x.dispose();
  });

  it('override constants written in another order reach the same pipeline, other values another', () => {
    const def = kernel('conv2d_fwd_quads_sg');
    if (!engine.supportsFile(def.file)) return; // no subgroups: the kernel is not compiled here
    const a = engine.pipeline(def, { S: 3, HALO: 0 });
    expect(engine.pipeline(def, { HALO: 0, S: 3 })).toBe(a);
    expect(engine.pipeline(def, { S: 3, HALO: 0, ...def.constants })).toBe(a); // the defaults, spelt out
    expect(engine.pipeline(def, { S: 5, HALO: 0 })).not.toBe(a);
  });

  it('dispatches of one pipeline in a row, in one pass and in the next, each run with their own values', async () => {
    const x = Tensor.from(engine, [1, 2, 3, 4], [4]);
    const [y1, y2, y3] = engine.tidy(() => [scale(x, 2), scale(x, 3, 1), scale(x, -1)].map((t) => engine.keep(t)));
    const y4 = engine.tidy(() => engine.keep(scale(x, 10))); // a later pass: its pipeline set again
    expect([await y1!.toFloat32(), await y2!.toFloat32(), await y3!.toFloat32()].map((a) => Array.from(a))).toEqual([
      [2, 4, 6, 8],
      [4, 7, 10, 13],
      [-1, -2, -3, -4],
    ]);
    const y5 = engine.tidy(() => engine.keep(scale(y4, 0.5))); // after a readback (a submit)
    expect(Array.from(await y5.toFloat32())).toEqual([5, 10, 15, 20]);
    for (const t of [x, y1!, y2!, y3!, y4, y5]) t.dispose();
  });
});
