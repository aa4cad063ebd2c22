import { afterAll, beforeAll, describe, it } from 'vitest';
import { LOAD_SOURCE_ELEMENTS, LOAD_SOURCES, LoadCost, STORAGE_ELEMENTS, type Engine, type LoadSource } from '../src/index.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
let loads: LoadCost;
const rng = new Rng(11);
const values = Float32Array.from({ length: 4 * STORAGE_ELEMENTS }, () => rng.uniform(-1, 1));

beforeAll(async () => {
  engine = await testEngine();
  loads = new LoadCost(engine, values);
});
afterAll(() => loads.dispose());

/** Invocation i's sum in float64: the values at (7i + 3k) mod size, k < iters, components summed. */
function reference(source: LoadSource, i: number, iters: number): number {
  const mask = LOAD_SOURCE_ELEMENTS[source] - 1;
  let total = 0;
  for (let k = 0; k < iters; k++) {
    const a = (7 * i + 3 * k) & mask;
    if (source === 'none') total += a;
    else if (source === 'storage1') total += values[a]!;
    else for (let c = 0; c < 4; c++) total += values[4 * a + c]!;
  }
  return total;
}

describe('load_cost', () => {
  for (const source of LOAD_SOURCES) {
    it(`${source}: each invocation sums the values it loads (so the bench times real loads)`, async () => {
      const n = 130; // not a multiple of the workgroup; 7·i wraps the smaller sources
      const iters = source === 'none' ? 5 : 700; // enough loads to wrap every source
      const out = await loads.run(source, n, iters).toArray();
      expectClose(out, Array.from({ length: n }, (_, i) => reference(source, i, iters)), { rtol: 1e-4, atol: 1e-3 });
    });
  }
});
