/**
 * conv2d.wgsl's tiled kernels under every configuration bench/tiled_sweep.ts races
 * (TILED_CANDIDATES: blocks, workgroup sizes, stage depths, prefetching), each against the
 * float64 reference; and which configurations tiledConfigProblem refuses. The default
 * configurations' wider set of cases is in conv2d.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { TILED_CANDIDATES, tiledConfigProblem, tiledSweep, tiledTile, type TiledConfig } from '../src/ops/conv2d_tiled.js';
import { checkConv, convCaseName, type ConvCase } from './helpers/conv_check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterEach(() => {
  tiledSweep.config = null;
  delete tiledSweep.weightMinPixels;
});

// Each case crosses a boundary the staging must get right under any tile: a sum of several
// stages with a partial last one, tiles across images and past the last column, a second tile of
// rows, a masked window inside k_max, the weight gradient in chunks.
const cases: ConvCase[] = [
  { N: 3, Cin: 5, H: 9, W: 11, Cout: 6, kw: 5, s: 5, stride: 1, pad: 2 }, // K = 125 (partial last stage), 297 pixels across images
  { N: 1, Cin: 3, H: 5, W: 7, Cout: 70, kw: 3, s: 3, stride: 1, pad: 1 }, // batch 1; 70 rows: a second tile of rows (4 × 4 blocks), 70 input-gradient columns
  { N: 2, Cin: 17, H: 6, W: 5, Cout: 9, kw: 9, s: 3, stride: 2, pad: 1, v: 2.4 }, // masked window inside k_max, stride 2
];

describe('conv2d tiled configurations vs float64 reference', () => {
  for (const [name, candidate] of Object.entries(TILED_CANDIDATES)) {
    cases.forEach((c, i) =>
      it(`${name}: ${convCaseName(c)}`, async () => {
        tiledSweep.config = (rows) => candidate(rows);
        await checkConv(engine, c, 700 + i, 'tiled');
      }),
    );
  }

  it('the weight gradient in many short chunks (weightMinPixels 64), prefetching', async () => {
    tiledSweep.config = (rows) => TILED_CANDIDATES['4x4 pf']!(rows);
    tiledSweep.weightMinPixels = 64;
    await checkConv(engine, { N: 2, Cin: 3, H: 17, W: 15, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.1 }, 710, 'tiled');
  });
});

describe('tiledConfigProblem', () => {
  it('takes every candidate at every row count, and the defaults', () => {
    for (const rows of [1, 32, 33, 64, 65, 200]) {
      for (const [name, candidate] of Object.entries(TILED_CANDIDATES)) expect(tiledConfigProblem(candidate(rows)), `${name}, ${rows} rows`).toBeNull();
      for (const tile of ['4x4', '8x8'] as const) expect(tiledConfigProblem(tiledTile(rows, tile)), `${tile}, ${rows} rows`).toBeNull();
    }
  });

  it('refuses what the kernels cannot stage', () => {
    const base: TiledConfig = { TILED_WG: 256, RM: 4, CN: 4, TM: 64, TN: 64, TK: 16, PREFETCH: 1 };
    const problem = (c: Partial<TiledConfig>) => tiledConfigProblem({ ...base, ...c });
    expect(problem({ TILED_WG: 512 })).toMatch(/TILED_WG 512 is not 64, 128 or 256/);
    expect(problem({ RM: 2 })).toMatch(/block 2 × 4/);
    expect(problem({ TN: 128 })).toMatch(/64 × 128 tile of 4 × 4 blocks is not 256 invocations/);
    expect(problem({ TM: 128, TN: 32 })).toMatch(/TN 32 < 64/);
    expect(problem({ TK: 64 })).toMatch(/32768 bytes of workgroup memory, over 16384/);
    expect(problem({ TILED_WG: 64, RM: 8, CN: 8, TM: 64, TN: 64, TK: 32 })).toMatch(/the forward stages more values per invocation than its registers hold/);
    expect(problem({ TK: 2 })).toMatch(/the forward stages TK = 2 rows of B in steps of TILED_WG \/ TN = 4/);
  });
});
