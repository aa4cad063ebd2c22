import { beforeAll, describe, expect, it } from 'vitest';
import { fmaPeak, type Engine } from '../src/index.js';
import { expectClose } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** The kernel's recurrence in float64: 8 chains a ← a·b + c, summed over chains and lanes. */
function reference(i: number, iters: number): number {
  const seed = (i % 7) * 1e-3;
  const b = [0.9999, 0.9998, 0.9997, 0.9996];
  let total = 0;
  for (let chain = 0; chain < 8; chain++)
    for (let lane = 0; lane < 4; lane++) {
      let a = seed + chain * 0.1;
      for (let k = 0; k < iters; k++) a = a * b[lane]! + (1e-4 + seed);
      total += a;
    }
  return total;
}

describe('fma_peak', () => {
  it('computes its 8 multiply-add chains (so the bench times real work)', async () => {
    const n = 130; // not a multiple of the workgroup
    // 37 = 9 whole groups of 4 rounds and 1 more; 40 only whole groups; 1 only the rest
    for (const [iters, rounds] of [[1, 4], [37, 4], [40, 4], [37, 1], [37, 8]] as const) {
      const out = await fmaPeak(engine, n, iters, rounds).toArray();
      expectClose(out, Array.from({ length: n }, (_, i) => reference(i, iters)), { rtol: 1e-5, atol: 1e-5 });
    }
  });

  it('rejects a rounds-per-iteration it cannot compile', () => {
    expect(() => fmaPeak(engine, 4, 4, 0)).toThrow(/roundsPerIteration/);
    expect(() => fmaPeak(engine, 4, 4, 1.5)).toThrow(/roundsPerIteration/);
  });
});
