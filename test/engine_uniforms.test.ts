import { beforeAll, describe, expect, it } from 'vitest';
import { scale, Tensor, type Engine } from '../src/index.js';
import { testEngine } from './helpers/engine.js';

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
});
