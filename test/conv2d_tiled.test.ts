/**
 * conv2d.wgsl's tiled kernels under every configuration bench/tiled_sweep.ts races
 * (TILED_CANDIDATES: blocks, workgroup sizes, stage depths, prefetching), each against the
 * float64 reference; and which configurations tiledConfigProblem refuses. The default
 * configurations' wider set of cases is in conv2d.test.ts.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { TILED_CANDIDATES, TILED_MAX_SPLITS, tiledConfigProblem, tiledSplits, tiledSweep, tiledTile, type TiledConfig } from '../src/ops/conv2d_tiled.js';
import { checkConv, checkSoftSizeConv, convCaseName, type ConvCase } from './helpers/conv_check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterEach(() => {
  tiledSweep.config = null;
  delete tiledSweep.weightMinPixels;
  delete tiledSweep.splits;
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
    tiledSweep.config = (rows) => TILED_CANDIDATES['4x4-pf']!(rows);
    tiledSweep.weightMinPixels = 64;
    await checkConv(engine, { N: 2, Cin: 3, H: 17, W: 15, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.1 }, 710, 'tiled');
  });

  // stepped pixels (WSTEP) from chunk starts that are no multiple of TK or of a row, across
  // images, and on planes smaller than a stage (2 × 2 outputs: a step of 16 crosses 4 images)
  for (const name of ['4x4-wstep', '8x8-wstep']) {
    it(`${name}: the weight gradient in short chunks, and on planes smaller than a stage`, async () => {
      tiledSweep.config = (rows) => TILED_CANDIDATES[name]!(rows);
      tiledSweep.weightMinPixels = 64;
      await checkConv(engine, { N: 2, Cin: 3, H: 17, W: 15, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.1 }, 711, 'tiled');
      await checkConv(engine, { N: 9, Cin: 2, H: 4, W: 3, Cout: 3, kw: 3, s: 3, stride: 2, pad: 1 }, 712, 'tiled');
    });
  }
});

// The forward's sum split over workgroups (z), each writing a copy of the output, added after.
describe('conv2d tiled forward with its sum split vs float64 reference', () => {
  it('split by the rule: one 8 × 8 plane, 400 steps in 5 splits of 5 stages (forward and input gradient)', async () => {
    expect(tiledSplits(1, 16 * 25, 16, 8 * 64)).toEqual({ splits: 5, perSplit: 80 });
    await checkConv(engine, { N: 1, Cin: 16, H: 8, W: 8, Cout: 8, kw: 5, s: 5, stride: 1, pad: 2 }, 720, 'tiled');
  });
  it('3 splits forced, a masked window inside k_max, stride 2', async () => {
    tiledSweep.splits = 3;
    await checkConv(engine, { N: 2, Cin: 17, H: 6, W: 5, Cout: 9, kw: 9, s: 3, stride: 2, pad: 1, v: 2.4 }, 721, 'tiled');
  });
  it('5 splits forced with the size found on the GPU: splits sized for k_max, the last ones past the window empty', async () => {
    tiledSweep.splits = 5;
    await checkSoftSizeConv(engine, { N: 2, Cin: 3, H: 9, W: 8, Cout: 2 }, 2.3, 1, 1, 'tiled');
  });
  it('tiledSplits: fills 512 workgroups, at least 4 stages a split, at most 16 splits and 4 Mi floats of copies', () => {
    expect(tiledSplits(256, 3136, 32, 262144)).toEqual({ splits: 2, perSplit: 1568 });
    expect(tiledSplits(512, 3136, 32, 262144).splits).toBe(1);
    expect(tiledSplits(2, 27, 16, 100)).toEqual({ splits: 1, perSplit: 32 });
    expect(tiledSplits(1, 1 << 16, 16, 100).splits).toBe(TILED_MAX_SPLITS);
    expect(tiledSplits(1, 1 << 16, 16, 1 << 21).splits).toBe(2);
    // each split a whole number of stages, together covering every step
    for (const [tiles, steps, TK] of [[7, 1000, 16], [3, 125, 16], [40, 2592, 32]] as const) {
      const { splits, perSplit } = tiledSplits(tiles, steps, TK, 1000);
      expect(perSplit % TK).toBe(0);
      expect(splits * perSplit).toBeGreaterThanOrEqual(steps);
      expect((splits - 1) * perSplit).toBeLessThan(steps);
    }
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
    const base: TiledConfig = { TILED_WG: 256, RM: 4, CN: 4, TM: 64, TN: 64, TK: 16, PREFETCH: 1, WSTEP: 0 };
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
