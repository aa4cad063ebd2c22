import { beforeAll, describe, expect, it } from 'vitest';
import { backward, conv2d, conv2dKernels, Engine, hardSize, gaussianMask, mul, parameter, reshape, ShapeError, sum, Tensor, type ConvVariant } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp, expectClose } from './helpers/check.js';
import { refConv, refConvGrad, refMask, type ConvShape } from './helpers/conv_reference.js';
import { tiledConfigProblem, tiledTile, type TiledTile } from '../src/ops/conv2d.js';
import { bwdWeightBlocks, bwdWeightChunks, bwdWeightQuads, channelRows, subgroupWeightKernel, type WeightGradient } from '../src/ops/conv2d_subgroup_rules.js';
import { itSubgroups as itSubgroupsOn, testEngine, underAutoRules, underForcedWeightQuads, withAutoRules } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { checkConv as checkConvOn, checkSoftSizeConv, convCaseName, nearestOdd, subgroupCase, type ConvCase } from './helpers/conv_check.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
/** A test of the subgroup kernels (skipped on a device without them). */
const itSubgroups = (name: string, fn: () => Promise<void>) => itSubgroupsOn(() => engine, name, fn);

type Case = ConvCase;
const caseName = convCaseName;
const checkConv = (c: Case, seed: number, variant: ConvVariant = 'plain', weightGradient: WeightGradient = 'auto', tile?: TiledTile) =>
  checkConvOn(engine, c, seed, variant, weightGradient, tile);

describe('conv2d (plain) vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, Cin: 1, H: 5, W: 5, Cout: 1, kw: 1, s: 1, stride: 1, pad: 0 },
    { N: 2, Cin: 3, H: 7, W: 6, Cout: 5, kw: 3, s: 3, stride: 1, pad: 1 },
    { N: 2, Cin: 3, H: 9, W: 7, Cout: 2, kw: 3, s: 3, stride: 2, pad: 1 },
    { N: 1, Cin: 2, H: 6, W: 6, Cout: 3, kw: 5, s: 5, stride: 1, pad: 0 },
    { N: 3, Cin: 5, H: 11, W: 13, Cout: 6, kw: 5, s: 5, stride: 2, pad: 2 },
    { N: 1, Cin: 1, H: 9, W: 9, Cout: 1, kw: 9, s: 9, stride: 1, pad: 4 },
  ];
  cases.forEach((c, i) => it(caseName(c), () => checkConv(c, 100 + i)));
  cases.filter(subgroupCase).forEach((c, i) => itSubgroups(`subgroups: ${caseName(c)}`, () => checkConv(c, 150 + i, 'subgroups')));
});

// conv2d_subgroups.wgsl: runs of 4·SG pixels wrap rows and end mid-plane; channel blocks of 8.
describe('conv2d subgroup kernels vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, kw: 1, s: 1, stride: 1, pad: 0 }, // one pixel
    { N: 2, Cin: 9, H: 5, W: 3, Cout: 17, kw: 3, s: 3, stride: 1, pad: 1 }, // plane < one run, channels past a block
    { N: 1, Cin: 4, H: 13, W: 11, Cout: 8, kw: 5, s: 5, stride: 1, pad: 2 }, // rows wrap inside runs
    { N: 3, Cin: 2, H: 9, W: 37, Cout: 3, kw: 7, s: 7, stride: 1, pad: 3 }, // a row longer than a run
    { N: 1, Cin: 3, H: 10, W: 10, Cout: 5, kw: 9, s: 9, stride: 1, pad: 4 }, // shift 8 = k_max − 1
    { N: 2, Cin: 5, H: 12, W: 9, Cout: 6, kw: 9, s: 3, stride: 1, pad: 1, v: 2.2 }, // masked, window inside k_max
    { N: 1, Cin: 8, H: 7, W: 7, Cout: 9, kw: 9, s: 9, stride: 1, pad: 4, v: 4.4 },
    // runs span the batch: they cross from one image into the next
    { N: 5, Cin: 3, H: 7, W: 7, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // 49-pixel planes
    { N: 4, Cin: 2, H: 3, W: 5, Cout: 3, kw: 9, s: 9, stride: 1, pad: 4 }, // one run holds two planes; window taller than them
    { N: 6, Cin: 2, H: 1, W: 7, Cout: 10, kw: 5, s: 5, stride: 1, pad: 2, v: 2.5 }, // one-row images, masked
    // 1 × 1 on planes of a multiple of 4 pixels: 4 consecutive pixels per lane (QUADS)
    { N: 2, Cin: 3, H: 4, W: 6, Cout: 10, kw: 1, s: 1, stride: 1, pad: 0 },
    { N: 3, Cin: 2, H: 2, W: 2, Cout: 5, kw: 3, s: 1, stride: 1, pad: 0 }, // one quad, window inside the grid
    { N: 1, Cin: 2, H: 20, W: 20, Cout: 4, kw: 1, s: 1, stride: 1, pad: 0 }, // several workgroups per plane
    { N: 2, Cin: 9, H: 8, W: 4, Cout: 3, kw: 9, s: 1, stride: 1, pad: 0, v: 1.5 }, // masked
    { N: 2, Cin: 18, H: 4, W: 3, Cout: 37, kw: 1, s: 1, stride: 1, pad: 0 }, // blocks of 16 channels: several, the last partial
    { N: 2, Cin: 5, H: 4, W: 4, Cout: 3, kw: 1, s: 1, stride: 1, pad: 0, v: 0.7 }, // masked 1 × 1 grid: w read as it is
    // forward on rows of a multiple of 4 pixels (conv2d_fwd_quads_sg): halo lanes, every shift
    { N: 2, Cin: 3, H: 5, W: 8, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // two rows per run, plane < one run
    { N: 1, Cin: 2, H: 6, W: 12, Cout: 4, kw: 9, s: 9, stride: 1, pad: 4 }, // shifts ±4: whole neighbour quads
    { N: 1, Cin: 4, H: 7, W: 4, Cout: 3, kw: 7, s: 7, stride: 1, pad: 3 }, // window wider than the row
    { N: 2, Cin: 5, H: 3, W: 36, Cout: 8, kw: 5, s: 5, stride: 1, pad: 2 }, // a row longer than a run
    { N: 2, Cin: 3, H: 3, W: 40, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // S = 3 halos mid-row (a run starts inside a row)
    { N: 1, Cin: 3, H: 9, W: 16, Cout: 5, kw: 9, s: 5, stride: 1, pad: 2, v: 3.1 }, // masked, window inside k_max
    // the weight gradient by taps (Cin ≤ 6: conv2d_bwd_weight_taps_sg) at its limit, and just past it
    { N: 2, Cin: 6, H: 6, W: 8, Cout: 11, kw: 7, s: 7, stride: 1, pad: 3 },
    { N: 3, Cin: 7, H: 5, W: 5, Cout: 4, kw: 3, s: 3, stride: 1, pad: 1 },
    { N: 2, Cin: 3, H: 5, W: 10, Cout: 9, kw: 5, s: 5, stride: 1, pad: 2 }, // by taps, 2 pixels per iteration (W = 2 mod 4)
    // quad kernels whose runs span the batch: they cross from one image into the next
    { N: 5, Cin: 3, H: 4, W: 4, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // 16-pixel planes, two per run
    { N: 3, Cin: 2, H: 3, W: 12, Cout: 5, kw: 5, s: 5, stride: 1, pad: 2 }, // halos in the next or previous image
    { N: 4, Cin: 2, H: 5, W: 4, Cout: 4, kw: 7, s: 7, stride: 1, pad: 3, v: 2.9 }, // masked, a window taller than the plane
    { N: 7, Cin: 5, H: 2, W: 2, Cout: 18, kw: 1, s: 1, stride: 1, pad: 0 }, // 1 × 1, 4-pixel planes: eight per run
    // quad rows at S = 3 with two blocks of 8 channels per lane (passes writing ≥ 16 channels)
    { N: 2, Cin: 25, H: 5, W: 8, Cout: 37, kw: 3, s: 3, stride: 1, pad: 1 }, // forward: 3 grid rows, the last with one partial block; input gradient: a second block of one channel
    { N: 3, Cin: 16, H: 4, W: 4, Cout: 16, kw: 3, s: 3, stride: 1, pad: 1 }, // exactly two blocks; runs span the batch
    { N: 2, Cin: 17, H: 3, W: 40, Cout: 25, kw: 9, s: 3, stride: 1, pad: 1, v: 2.2 }, // masked, window inside k_max, halos mid-row
    // the run layout with two blocks of 8 channels per lane (S ≤ 5, passes writing ≥ 16 channels)
    { N: 3, Cin: 25, H: 7, W: 7, Cout: 16, kw: 3, s: 3, stride: 1, pad: 1 }, // input gradient: a second block of one channel
    { N: 2, Cin: 18, H: 5, W: 6, Cout: 41, kw: 5, s: 5, stride: 1, pad: 2 }, // forward: 3 grid rows, the last's second block of one channel
    { N: 4, Cin: 16, H: 3, W: 3, Cout: 20, kw: 1, s: 1, stride: 1, pad: 0 }, // 1 × 1 on 9-pixel planes
    { N: 2, Cin: 20, H: 7, W: 5, Cout: 17, kw: 9, s: 5, stride: 1, pad: 2, v: 4.0 }, // masked, window inside k_max
  ];
  cases.forEach((c, i) => itSubgroups(caseName(c), () => checkConv(c, 300 + i, 'subgroups')));
  // the layouts the 'cpu-avx512' rules add to 'cpu''s: two blocks of 8 channels per lane at S = 5, 7, 9 (one under 'cpu'), both
  // layouts; four in the run layout at S ≤ 5; row pairs of two blocks in the quad rows at S = 3 and 5
  const blockCases: Case[] = [
    { N: 2, Cin: 18, H: 5, W: 8, Cout: 20, kw: 7, s: 7, stride: 1, pad: 3 }, // quad rows; the second blocks partial (4 and 2 channels)
    { N: 1, Cin: 16, H: 6, W: 12, Cout: 17, kw: 9, s: 9, stride: 1, pad: 4 }, // quad rows, shifts ±4
    { N: 2, Cin: 17, H: 4, W: 8, Cout: 16, kw: 9, s: 5, stride: 1, pad: 2, v: 3.3 }, // quad rows (row pairs under 'cpu-avx512'), masked, window inside k_max
    { N: 3, Cin: 16, H: 7, W: 7, Cout: 19, kw: 7, s: 7, stride: 1, pad: 3 }, // run layout, runs across images
    { N: 2, Cin: 20, H: 5, W: 6, Cout: 16, kw: 9, s: 9, stride: 1, pad: 4 }, // run layout, window taller than the plane
    { N: 2, Cin: 16, H: 7, W: 5, Cout: 24, kw: 9, s: 7, stride: 1, pad: 3, v: 5.5 }, // run layout, masked
    // quad rows at S = 3, passes writing ≥ 32 channels (two blocks under 'cpu', row pairs of two under 'cpu-avx512')
    { N: 2, Cin: 33, H: 5, W: 8, Cout: 45, kw: 3, s: 3, stride: 1, pad: 1 }, // forward: a third grid row of 13 channels; input gradient: of one
    { N: 1, Cin: 32, H: 3, W: 40, Cout: 32, kw: 3, s: 3, stride: 1, pad: 1 }, // exactly two grid rows, halos mid-row
    { N: 3, Cin: 40, H: 4, W: 4, Cout: 34, kw: 9, s: 3, stride: 1, pad: 1, v: 2.1 }, // masked, window inside k_max, runs across images
    // the run layout with four blocks at S ≤ 5 ('cpu-avx512', passes writing ≥ 32 channels)
    { N: 3, Cin: 33, H: 7, W: 7, Cout: 40, kw: 3, s: 3, stride: 1, pad: 1 }, // forward: a second row of 8 channels; input gradient: of one
    { N: 2, Cin: 32, H: 5, W: 6, Cout: 45, kw: 5, s: 5, stride: 1, pad: 2 }, // forward: a second row of 13 channels
    { N: 2, Cin: 34, H: 7, W: 5, Cout: 32, kw: 9, s: 3, stride: 1, pad: 1, v: 2.4 }, // masked, window inside k_max
    // quad rows in row pairs at S = 3 and 5 ('cpu-avx512', passes writing ≥ 16 channels)
    { N: 3, Cin: 17, H: 5, W: 8, Cout: 20, kw: 3, s: 3, stride: 1, pad: 1 }, // odd H: each image's last pair has no bottom row; pairs span images; second blocks partial
    { N: 1, Cin: 16, H: 4, W: 40, Cout: 16, kw: 5, s: 5, stride: 1, pad: 2 }, // halos mid-row (a subgroup starts inside a row), shifts ±2
    { N: 2, Cin: 20, H: 7, W: 12, Cout: 17, kw: 9, s: 3, stride: 1, pad: 1, v: 2.3 }, // masked, window inside k_max, halos across pairs and images
    { N: 3, Cin: 16, H: 1, W: 4, Cout: 18, kw: 5, s: 5, stride: 1, pad: 2 }, // one-row images: no bottom rows, a window taller than the plane
    // row pairs on rows of W off a multiple of 4 ('cpu-avx512': PADDED, rows as whole quads of slots, at most 1/8 of them padding)
    { N: 2, Cin: 16, H: 14, W: 14, Cout: 20, kw: 5, s: 5, stride: 1, pad: 2 }, // two padding slots a row; pairs span images
    { N: 3, Cin: 18, H: 15, W: 15, Cout: 16, kw: 3, s: 3, stride: 1, pad: 1 }, // odd H (the last pair's bottom row past the plane), one padding slot a row
    { N: 1, Cin: 17, H: 8, W: 22, Cout: 24, kw: 9, s: 5, stride: 1, pad: 2, v: 3.2 }, // masked; 24 slots a row: runs start mid-row (halos); the last quad's halo partly padding
    { N: 2, Cin: 20, H: 6, W: 30, Cout: 17, kw: 9, s: 3, stride: 1, pad: 1, v: 2.2 }, // masked, window inside k_max; 1/16 padding
    { N: 1, Cin: 16, H: 8, W: 33, Cout: 16, kw: 5, s: 5, stride: 1, pad: 2 }, // 36 slots a row, three of them padding: the right halo's second value a padding slot
    // the weight gradient in four blocks of 8 output channels at S = 5 ('cpu-avx512', ≥ 32 output channels)
    { N: 2, Cin: 9, H: 6, W: 7, Cout: 52, kw: 9, s: 5, stride: 1, pad: 2, v: 3.0 }, // masked, odd W (no g pairs); the second lane group's third block partial (4 channels), its fourth empty
    { N: 3, Cin: 12, H: 4, W: 8, Cout: 32, kw: 5, s: 5, stride: 1, pad: 2 }, // exactly four blocks
  ];
  for (const rules of ['cpu', 'cpu-avx512'] as const) {
    blockCases.forEach((c, i) => itSubgroups(`${rules} rules: ${caseName(c)}`, () => underAutoRules(engine, rules, () => checkConv(c, 340 + i, 'subgroups'))));
  }
  // the channels past a pass's last whole row of blocks in a dispatch of fewer blocks from p.cfirst
  // (channelRows): quad rows (and row pairs under 'cpu-avx512'), padded row pairs, the run layout
  // with two and four blocks, the forward's output and the input gradient's input channels
  const remainderCases: Case[] = [
    { N: 2, Cin: 5, H: 6, W: 8, Cout: 19, kw: 3, s: 3, stride: 1, pad: 1 }, // forward: 16 + 3 (one block)
    { N: 2, Cin: 19, H: 5, W: 8, Cout: 6, kw: 9, s: 3, stride: 1, pad: 1, v: 2.3 }, // input gradient: 16 + 3; masked, window inside k_max; odd H
    { N: 1, Cin: 17, H: 6, W: 14, Cout: 21, kw: 5, s: 5, stride: 1, pad: 2 }, // padded row pairs ('cpu-avx512', 1/8 of the slots padding): 16 + 5; input gradient 16 + 1
    { N: 2, Cin: 6, H: 7, W: 7, Cout: 43, kw: 5, s: 5, stride: 1, pad: 2 }, // run layout: 32 + 11 in two blocks ('cpu-avx512'), 32 + 11 as a third row of two ('cpu')
    { N: 3, Cin: 35, H: 5, W: 5, Cout: 4, kw: 3, s: 3, stride: 1, pad: 1 }, // run layout, input gradient: 32 + 3 (one block)
  ];
  for (const rules of ['cpu', 'cpu-avx512'] as const) {
    remainderCases.forEach((c, i) => itSubgroups(`${rules} rules, the last channels in fewer blocks: ${caseName(c)}`, () => underAutoRules(engine, rules, () => checkConv(c, 380 + i, 'subgroups'))));
  }
  itSubgroups("the last channels in fewer blocks, the size from the soft size (each candidate's dispatches)", () =>
    underAutoRules(engine, 'cpu-avx512', () => checkSoftSizeConv(engine, { N: 2, Cin: 5, H: 8, W: 8, Cout: 19 }, 3.4, 1, 1, 'subgroups')));
  it('channelRows: whole rows of blocks, then the rest in the fewest blocks that hold it', () => {
    expect(channelRows(19, 2, [1, 2])).toEqual([{ cfirst: 0, blocks: 2, rows: 1 }, { cfirst: 16, blocks: 1, rows: 1 }]);
    expect(channelRows(75, 4, [1, 2, 4])).toEqual([{ cfirst: 0, blocks: 4, rows: 2 }, { cfirst: 64, blocks: 2, rows: 1 }]);
    expect(channelRows(38, 2, [1, 2])).toEqual([{ cfirst: 0, blocks: 2, rows: 2 }, { cfirst: 32, blocks: 1, rows: 1 }]);
    // no whole row: the rest alone; nothing left, or a rest that needs as many blocks: one dispatch
    expect(channelRows(5, 2, [1, 2])).toEqual([{ cfirst: 0, blocks: 1, rows: 1 }]);
    expect(channelRows(64, 4, [1, 2, 4])).toEqual([{ cfirst: 0, blocks: 4, rows: 2 }]);
    expect(channelRows(30, 2, [1, 2])).toEqual([{ cfirst: 0, blocks: 2, rows: 2 }]);
    expect(channelRows(57, 4, [1, 2, 4])).toEqual([{ cfirst: 0, blocks: 4, rows: 2 }]);
    expect(channelRows(17, 1, [1])).toEqual([{ cfirst: 0, blocks: 1, rows: 3 }]);
  });
  // conv2d_bwd_weight_sg with two blocks of 4 input channels per lane (QUADS = 2: 'cpu-avx512', at
  // most two blocks of 8 output channels, few idle lanes); forced here on shapes the rule would
  // leave at one, to reach an odd count of channel blocks and a partial last block
  const quadPairCases: Case[] = [
    { N: 2, Cin: 16, H: 6, W: 7, Cout: 16, kw: 7, s: 7, stride: 1, pad: 3 }, // the rule's choice; odd W (no g pairs); rows skipped
    { N: 3, Cin: 9, H: 5, W: 8, Cout: 20, kw: 9, s: 3, stride: 1, pad: 1, v: 2.4 }, // 3 channel blocks: the last lane group's second block absent; masked, window inside k_max; a partial second block of outputs
    { N: 1, Cin: 22, H: 4, W: 6, Cout: 9, kw: 5, s: 5, stride: 1, pad: 2 }, // batch 1; one block of outputs (BLOCKS 1); the last channel block partial (2 of 4)
    { N: 2, Cin: 8, H: 3, W: 4, Cout: 17, kw: 1, s: 1, stride: 1, pad: 0 }, // 1 × 1; a third output block of one channel
  ];
  quadPairCases.forEach((c, i) =>
    itSubgroups(`weight gradient, two channel blocks per lane: ${caseName(c)}`, () =>
      underForcedWeightQuads(engine, async () => {
        expect(bwdWeightQuads(c.Cin, c.Cout, c.s, engine.subgroupSize!, 'rows', 'cpu-avx512')).toBe(2);
        await checkConv(c, 390 + i, 'subgroups', 'rows');
      })));
  itSubgroups("weight gradient, two channel blocks per lane, the size from the soft size (several candidates' dispatches)", () =>
    underForcedWeightQuads(engine, () => checkSoftSizeConv(engine, { N: 2, Cin: 12, H: 7, W: 7, Cout: 16 }, 4.6, 1, 1, 'subgroups')));
  it("bwdWeightBlocks: four blocks of outputs per lane at S = 5 under 'cpu-avx512' only where the last four hold more than 16 channels", () => {
    const blocks = (Cout: number, S = 5, rules: 'cpu' | 'cpu-avx512' = 'cpu-avx512') => bwdWeightBlocks('rows', Cout, S, rules);
    expect([32, 64, 52, 56, 128].map((c) => blocks(c))).toEqual([4, 4, 4, 4, 4]);
    expect([36, 38, 44, 48, 75, 80].map((c) => blocks(c))).toEqual([2, 2, 2, 2, 2, 2]);
    expect([blocks(64, 3), blocks(64, 7), blocks(64, 5, 'cpu'), blocks(12), bwdWeightBlocks('slide', 64, 5, 'cpu-avx512')]).toEqual([2, 2, 2, 1, 1]);
  });
  it("bwdWeightQuads: two channel blocks per lane under 'cpu-avx512' where their whole subgroups are at most 0.54 of one block's", () => {
    const quads = (Cin: number, Cout: number, S: number, rules: 'cpu' | 'cpu-avx512' | 'gpu' = 'cpu-avx512') => bwdWeightQuads(Cin, Cout, S, 8, 'rows', rules);
    // fmnist-6's 7×7 layers and the bench's k = 7, 9 rows: no idle lanes either way
    expect([quads(64, 64, 3), quads(64, 64, 7), quads(32, 64, 9), quads(64, 128, 7)]).toEqual([2, 2, 2, 2]);
    // 28×28 16→16 at S = 5, 7, 9 (104 lanes against 56 at S = 5); at S = 3 40 against 24
    expect([quads(16, 16, 3), quads(16, 16, 5), quads(16, 16, 7), quads(16, 16, 9)]).toEqual([1, 2, 2, 2]);
    // 32 channels at S = 3: 72 lanes against 40
    expect(quads(32, 32, 3)).toBe(1);
    // four blocks of outputs (S = 5, ≥ 32 outputs, more than 16 in the last four), the other kernels and the other rules: one
    expect([quads(32, 32, 5), quads(64, 64, 7, 'cpu'), quads(64, 64, 7, 'gpu')]).toEqual([1, 1, 1]);
    expect([bwdWeightQuads(64, 64, 7, 8, 'slide', 'cpu-avx512'), bwdWeightQuads(4, 64, 7, 8, 'taps', 'cpu-avx512')]).toEqual([1, 1]);
  });
  // the 1 × 1 kernels sum SUM_STEP input channels per accumulator update: 4 under 'cpu-avx512',
  // 2 under 'cpu', 1 under 'gpu' (sumStep), the rest one by one; the forward loads its weights as
  // vec4s under 'cpu-avx512' when Cin is a multiple of 4 (forward1x1Constants)
  const sumStepCases: Case[] = [
    { N: 2, Cin: 7, H: 4, W: 6, Cout: 22, kw: 1, s: 1, stride: 1, pad: 0 }, // forward: 4 + 3 or 2·3 + 1 channels; input gradient: 4·5 + 2 or 2·11
    { N: 3, Cin: 13, H: 2, W: 2, Cout: 9, kw: 1, s: 1, stride: 1, pad: 0 }, // 4·3 + 1; runs across images
    { N: 1, Cin: 16, H: 8, W: 4, Cout: 17, kw: 1, s: 1, stride: 1, pad: 0 }, // whole steps only; a partial second block
    { N: 2, Cin: 6, H: 4, W: 4, Cout: 5, kw: 9, s: 1, stride: 1, pad: 0, v: 1.2 }, // masked: the packed window (stride 4)
    // the forward's weights as vec4s under 'cpu-avx512' (W_VEC4: Cin a multiple of 4)
    { N: 3, Cin: 8, H: 4, W: 4, Cout: 20, kw: 1, s: 1, stride: 1, pad: 0 }, // 2 steps; a second row of 16 channels, its upper block partial
    { N: 2, Cin: 4, H: 2, W: 6, Cout: 9, kw: 1, s: 1, stride: 1, pad: 0 }, // one step; runs across images
  ];
  for (const rules of ['cpu', 'cpu-avx512', 'gpu'] as const) {
    sumStepCases.forEach((c, i) => itSubgroups(`${rules} rules, 1 × 1 channel steps: ${caseName(c)}`, () => underAutoRules(engine, rules, () => checkConv(c, 370 + i, 'subgroups'))));
  }
  // conv2d_bwd_weight_sg splits the images into chunks when its taps give few invocations
  itSubgroups('weight gradient over chunks of images (split, uneven, single, masked) equals the plain kernel and the float64 reference', async () => {
    const sg = engine.subgroupSize!;
    const cases: (Case & { split: (plan: { chunks: number; perChunk: number }) => boolean; soft?: true })[] = [
      // ~1300 invocations: a few chunks, the last one shorter
      { N: 5, Cin: 32, H: 12, W: 12, Cout: 16, kw: 9, s: 9, stride: 1, pad: 4, split: (k) => k.chunks > 1 && 5 % k.perChunk !== 0 },
      // too little work per float of the copies to split
      { N: 4, Cin: 3, H: 6, W: 5, Cout: 2, kw: 5, s: 3, stride: 1, pad: 1, v: 2.6, split: (k) => k.chunks === 1 },
      { N: 2, Cin: 64, H: 3, W: 3, Cout: 64, kw: 9, s: 9, stride: 1, pad: 4, split: (k) => k.chunks === 1 }, // enough invocations
      { N: 4, Cin: 3, H: 27, W: 27, Cout: 2, kw: 5, s: 3, stride: 1, pad: 1, v: 2.6, split: (k) => k.chunks === 4 }, // masked, window inside k_max
      // the same on conv2d_bwd_weight_sg (8 channels), and with the size from the soft size (chunks
      // for the largest candidate, k_max): the copies summed at the window's taps, 0 elsewhere
      { N: 16, Cin: 8, H: 14, W: 14, Cout: 8, kw: 9, s: 5, stride: 1, pad: 2, v: 3.1, split: (k) => k.chunks > 1 && 16 % k.perChunk !== 0 },
      { N: 16, Cin: 8, H: 14, W: 14, Cout: 8, kw: 9, s: 5, stride: 1, pad: 2, v: 4.6, soft: true, split: (k) => k.chunks > 1 },
    ];
    for (const [i, c] of cases.entries()) {
      const plan = bwdWeightChunks(c, c.soft ? c.kw : c.s, sg, undefined, engine.convAutoRules);
      expect(c.split(plan), `${caseName(c)}: ${JSON.stringify(plan)}`).toBe(true);
      const rng = new Rng(400 + i);
      const xs = randomArray(rng, c.N * c.Cin * c.H * c.W);
      const ws = randomArray(rng, c.Cout * c.Cin * c.kw * c.kw);
      const gs = randomArray(rng, c.N * c.Cout * c.H * c.W);
      const grads: Float32Array[] = [];
      for (const variant of ['subgroups', 'plain'] as const) {
        const x = Tensor.from(engine, xs, [c.N, c.Cin, c.H, c.W]);
        const w = parameter(engine, Float32Array.from(ws), [c.Cout, c.Cin, c.kw, c.kw]);
        const v = c.v === undefined ? undefined : Tensor.from(engine, [c.v], [1]);
        const g = Tensor.from(engine, gs, [c.N, c.Cout, c.H, c.W]);
        engine.tidy(() => backward(sum(mul(conv2d(x, w, c.soft ? { size: 'fromSoftSize', softSize: v, variant } : { size: c.s, padding: c.pad, softSize: v, variant }), g))));
        grads.push(await w.grad!.toFloat32());
        for (const t of [x, w, w.grad!, v, g]) t?.dispose();
      }
      expectClose(grads[0]!, grads[1]!, { rtol: 1e-4, atol: 1e-4 }, `${caseName(c)}: subgroups vs plain`);
      expectClose(grads[0]!, refConvGrad(c, gs, xs, ws, c.v).dw, { rtol: 1e-4, atol: 2e-4 }, `${caseName(c)}: vs float64`);
    }
    // the masked split cases through checkOp too: reference vs central differences, GPU directional
    // derivative (the second summed at the window's taps by conv2d_sum_window_chunks)
    await checkConv(cases[3]!, 430, 'subgroups');
    await checkConv(cases[4]!, 431, 'subgroups');
  });
  // conv2d_bwd_weight_slide_sg: whole kernel rows per subgroup, inputs loaded once per S pixels
  // ('auto' takes it where few lanes idle: S = 7 on 8-lane subgroups); forced here for every size
  // that fits a subgroup. Inputs of more than 6 channels (fewer take conv2d_bwd_weight_taps_sg).
  const slideCases: Case[] = [
    { N: 1, Cin: 7, H: 5, W: 6, Cout: 3, kw: 3, s: 3, stride: 1, pad: 1 }, // batch 1, channels past a block of 4, plane not a multiple of S
    { N: 2, Cin: 9, H: 7, W: 7, Cout: 17, kw: 5, s: 5, stride: 1, pad: 2 }, // output channels past a block of 8
    { N: 2, Cin: 16, H: 9, W: 11, Cout: 8, kw: 7, s: 7, stride: 1, pad: 3 }, // several subgroups per block, idle lanes
    { N: 3, Cin: 8, H: 4, W: 13, Cout: 5, kw: 7, s: 7, stride: 1, pad: 3 }, // window taller than the plane: rows skipped
    { N: 2, Cin: 12, H: 6, W: 5, Cout: 4, kw: 9, s: 5, stride: 1, pad: 2, v: 3.4 }, // masked, window inside k_max
    { N: 2, Cin: 8, H: 3, W: 7, Cout: 6, kw: 1, s: 1, stride: 1, pad: 0 }, // 1 × 1: a block of one pixel
  ];
  slideCases.forEach((c, i) => itSubgroups(`weight gradient, sliding inputs: ${caseName(c)}`, () => checkConv(c, 450 + i, 'subgroups', 'slide')));
  // the other two kernels forced where 'auto' would not take them (the tuning of 'fastest' times
  // them all): conv2d_bwd_weight_taps_sg on many channels, conv2d_bwd_weight_sg on few
  const forcedCases: [Case, WeightGradient][] = [
    [{ N: 2, Cin: 9, H: 7, W: 8, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1 }, 'taps'], // channels past 8, window inside the grid
    [{ N: 1, Cin: 17, H: 6, W: 5, Cout: 9, kw: 7, s: 7, stride: 1, pad: 3 }, 'taps'],
    [{ N: 2, Cin: 12, H: 6, W: 5, Cout: 4, kw: 9, s: 5, stride: 1, pad: 2, v: 3.4 }, 'taps'], // masked
    [{ N: 2, Cin: 1, H: 7, W: 7, Cout: 6, kw: 5, s: 5, stride: 1, pad: 2 }, 'rows'], // one channel of a block of 4
    [{ N: 3, Cin: 3, H: 5, W: 9, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, 'rows'],
    [{ N: 2, Cin: 5, H: 6, W: 6, Cout: 4, kw: 9, s: 7, stride: 1, pad: 3, v: 6.1 }, 'rows'], // masked
  ];
  forcedCases.forEach(([c, kernel], i) => itSubgroups(`weight gradient forced to '${kernel}': ${caseName(c)}`, () => checkConv(c, 470 + i, 'subgroups', kernel)));
  it("weightGradient names the subgroup weight-gradient kernel: 'auto' by the rules, the others forced", () => {
    // 'auto': taps up to 6 channels, else rows (at every size and subgroup size)
    expect([3, 7, 9].map((S) => subgroupWeightKernel('auto', 4, S, 8))).toEqual(['taps', 'taps', 'taps']);
    expect([3, 7, 9].map((S) => subgroupWeightKernel('auto', 16, S, 8))).toEqual(['rows', 'rows', 'rows']);
    expect([3, 7, 9].map((S) => subgroupWeightKernel('auto', 16, S, 32))).toEqual(['rows', 'rows', 'rows']);
    expect([3, 7, 9].map((S) => subgroupWeightKernel('slide', 16, S, 8))).toEqual(['slide', 'slide', 'rows']); // 9 taps do not fit 8 lanes
    expect(subgroupWeightKernel('slide', 4, 3, 8)).toBe('taps');
    expect([3, 9].map((S) => subgroupWeightKernel('rows', 2, S, 8))).toEqual(['rows', 'rows']);
    expect([3, 9].map((S) => subgroupWeightKernel('taps', 64, S, 8))).toEqual(['taps', 'taps']);
  });
  itSubgroups('each weightGradient dispatches its kernel', async (ctx) => {
    if (!engine.canTime) ctx.skip();
    const rng = new Rng(7);
    const x = Tensor.from(engine, randomArray(rng, 2 * 16 * 6 * 6), [2, 16, 6, 6]);
    const w = Tensor.from(engine, randomArray(rng, 8 * 16 * 49), [8, 16, 7, 7]);
    const g = Tensor.from(engine, randomArray(rng, 2 * 8 * 36), [2, 8, 6, 6]);
    const entries = async (weightGradient: WeightGradient) => {
      engine.beginProfile();
      conv2dKernels(x, w, { variant: 'subgroups', weightGradient }).backwardWeight(g).dispose();
      return (await engine.endProfile()).map((r) => r.entry).filter((e) => e.startsWith('conv2d_bwd_weight'));
    };
    const sg = engine.subgroupSize!;
    const name = { taps: 'conv2d_bwd_weight_taps_sg', rows: 'conv2d_bwd_weight_sg', slide: 'conv2d_bwd_weight_slide_sg' };
    for (const option of ['auto', 'slide', 'rows', 'taps'] as const) expect(await entries(option), option).toEqual([name[subgroupWeightKernel(option, 16, 7, sg)]]);
    expect(await entries('taps')).toEqual(['conv2d_bwd_weight_taps_sg']);
    expect(await entries('rows')).toEqual(['conv2d_bwd_weight_sg']);
    for (const t of [x, w, g]) t.dispose();
  });
  itSubgroups("'auto' picks the subgroup kernels for stride 1 / 'same' and the plain ones otherwise, with equal results", async () => {
    const rng = new Rng(5);
    const x = Tensor.from(engine, randomArray(rng, 2 * 3 * 8 * 8), [2, 3, 8, 8]);
    const w = Tensor.from(engine, randomArray(rng, 4 * 3 * 9), [4, 3, 3, 3]);
    // the subgroup forward is two dispatches (weight packing, convolution), the plain one one
    const dispatches = (f: () => Tensor): [Tensor, number] => {
      const before = engine.dispatchCount;
      const t = f();
      return [t, engine.dispatchCount - before];
    };
    // the engine's first convolution also fills its placeholder soft size (one dispatch, once)
    conv2d(x, w, { variant: 'plain' }).dispose();
    // the CPU adapter's rules for 'auto' (a GPU's run this convolution on the tiled kernels: conv2d_auto_rules.test.ts)
    const [a, na] = withAutoRules(engine, 'cpu', () => dispatches(() => conv2d(x, w, { variant: 'auto' })));
    const [p, np] = dispatches(() => conv2d(x, w, { variant: 'plain' }));
    expect([na, np]).toEqual([2, 1]);
    expectClose(await a.toFloat32(), await p.toFloat32(), { rtol: 1e-5, atol: 1e-5 }, 'auto vs plain');
    expect(() => conv2d(x, w, { variant: 'subgroups', stride: 2 })).toThrow(/conv2d: the subgroup kernels cannot run this convolution: stride is not 1/);
    expect(() => conv2d(x, w, { variant: 'subgroups', padding: 0 })).toThrow(/padding is not 'same'/);
    for (const t of [x, w, a, p]) t.dispose();
  });
});

// conv2d.wgsl's tiled kernels: 64 × 64 tiles of the product (channels × pixels of the batch, or
// channels × taps for the weight gradient; 32 × 128 up to 32 rows), 16 along the sum per stage;
// the input gradient by the forward's kernel at stride 1.
describe('conv2d tiled kernels vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, kw: 1, s: 1, stride: 1, pad: 0 }, // one pixel, K = 1
    { N: 1, Cin: 3, H: 5, W: 7, Cout: 70, kw: 3, s: 3, stride: 1, pad: 1 }, // batch 1, two channel tiles (the last of 6), K = 27
    { N: 3, Cin: 5, H: 9, W: 11, Cout: 6, kw: 5, s: 5, stride: 1, pad: 2 }, // 297 pixels: tiles cross images, K = 125
    { N: 2, Cin: 4, H: 11, W: 9, Cout: 5, kw: 3, s: 3, stride: 2, pad: 1 }, // stride 2: plain input gradient
    { N: 2, Cin: 2, H: 8, W: 7, Cout: 3, kw: 9, s: 9, stride: 1, pad: 4 }, // k_max 9, window past the plane
    { N: 2, Cin: 3, H: 7, W: 6, Cout: 4, kw: 5, s: 5, stride: 1, pad: 0 }, // explicit padding: input gradient pads 4
    { N: 1, Cin: 2, H: 5, W: 5, Cout: 3, kw: 1, s: 1, stride: 1, pad: 1 }, // pad > s − 1: plain input gradient
    { N: 2, Cin: 17, H: 6, W: 5, Cout: 9, kw: 9, s: 3, stride: 1, pad: 1, v: 2.4 }, // masked, window inside k_max, K = 153
    { N: 2, Cin: 3, H: 9, W: 8, Cout: 4, kw: 7, s: 7, stride: 2, pad: 3, v: 3.6 }, // masked, stride 2
    { N: 2, Cin: 3, H: 33, W: 33, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.1 }, // weight gradient in 8 chunks of 273 pixels
  ];
  cases.forEach((c, i) => it(caseName(c), () => checkConv(c, 600 + i, 'tiled')));
  for (const [v, kMin, stride] of [[2.3, 1, 1], [6.1, 3, 1], [4.2, 1, 2]] as const) {
    it(`size 'fromSoftSize' v=${v} kMin=${kMin} stride ${stride} → s=${nearestOdd(v, kMin, 9)}`, () =>
      checkSoftSizeConv(engine, { N: 2, Cin: 3, H: 9, W: 8, Cout: 2 }, v, kMin, stride, 'tiled'));
  }
  // the 8 × 8 block (tile '8x8'): 64 × 256 tiles of the product up to 64 rows, 128 × 128 past
  // that, 8 along the sum per stage; the 4 × 4 cases above run the default block
  const tile8Cases: Case[] = [
    { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, kw: 1, s: 1, stride: 1, pad: 0 }, // one pixel, K = 1
    { N: 1, Cin: 3, H: 5, W: 7, Cout: 70, kw: 3, s: 3, stride: 1, pad: 1 }, // batch 1, 70 rows: one 128-row tile, K = 27 (not a multiple of 8)
    { N: 3, Cin: 5, H: 9, W: 11, Cout: 6, kw: 5, s: 5, stride: 1, pad: 2 }, // 297 pixels: two 256-column tiles across images, K = 125
    { N: 2, Cin: 4, H: 11, W: 9, Cout: 5, kw: 3, s: 3, stride: 2, pad: 1 }, // stride 2: plain input gradient
    { N: 2, Cin: 130, H: 3, W: 5, Cout: 3, kw: 3, s: 3, stride: 1, pad: 1 }, // input gradient of 130 rows: two 128-row tiles; K = 1170 columns of dw
    { N: 1, Cin: 2, H: 5, W: 4, Cout: 129, kw: 9, s: 9, stride: 1, pad: 4 }, // 129 rows: a second tile of one row; k_max 9, window past the plane
    { N: 2, Cin: 17, H: 6, W: 5, Cout: 9, kw: 9, s: 3, stride: 1, pad: 1, v: 2.4 }, // masked, window inside k_max, K = 153
    { N: 2, Cin: 3, H: 33, W: 33, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.1 }, // weight gradient in 8 chunks of 273 pixels
  ];
  tile8Cases.forEach((c, i) => it(`tile 8x8: ${caseName(c)}`, () => checkConv(c, 620 + i, 'tiled', 'auto', '8x8')));
  it("tile 8x8: size 'fromSoftSize' v=4.2 kMin=1 stride 2 → s=5", () => checkSoftSizeConv(engine, { N: 2, Cin: 3, H: 9, W: 8, Cout: 2 }, 4.2, 1, 2, 'tiled', '8x8'));
  it("tiledTile: each block's tiles hold 256 invocations' blocks within 16 KiB of workgroup memory; a bad tile is refused", () => {
    for (const tile of ['4x4', '8x8'] as const) {
      for (const rows of [1, 32, 33, 64, 65, 200]) {
        const t = tiledTile(rows, tile);
        expect((t.TM / t.RM) * (t.TN / t.CN), `${tile} ${rows}`).toBe(256);
        expect(t.TK * (t.TM + t.TN) * 4, `${tile} ${rows}`).toBeLessThanOrEqual(16384);
        expect(256 % t.TN, `${tile} ${rows}: the forward stages TK rows of B in steps of 256 / TN`).toBe(0);
        expect(t.TM >= Math.min(rows, 16 * t.RM)).toBe(true);
      }
    }
    expect([tiledTile(64, '8x8').TM, tiledTile(65, '8x8').TM, tiledTile(32).TM, tiledTile(33).TM]).toEqual([64, 128, 32, 64]);
    for (const rows of [1, 64, 200]) for (const tile of ['4x4', '8x8'] as const) expect(tiledConfigProblem(tiledTile(rows, tile))).toBeNull();
    const x = Tensor.empty(engine, [1, 2, 4, 4]);
    const w = Tensor.empty(engine, [3, 2, 3, 3]);
    expect(() => conv2d(x, w, { variant: 'tiled', tile: '16x16' as '8x8' })).toThrow(/conv2d: tile must be '4x4' or '8x8', got 16x16/);
    for (const t of [x, w]) t.dispose();
  });
  it('runs the forward as three dispatches (tap table, packing, product) and rejects an unknown variant', async () => {
    const x = Tensor.from(engine, randomArray(new Rng(3), 2 * 3 * 8 * 8), [2, 3, 8, 8]);
    const w = Tensor.from(engine, randomArray(new Rng(4), 4 * 3 * 9), [4, 3, 3, 3]);
    const before = engine.dispatchCount;
    const y = conv2d(x, w, { variant: 'tiled' });
    expect(engine.dispatchCount - before).toBe(3);
    expect(() => conv2d(x, w, { variant: 'fast' as ConvVariant })).toThrow(/conv2d: variant must be 'auto', 'plain', 'subgroups', 'tiled' or 'fastest', got fast/);
    // the grid's 65535 workgroups of at least 64 pixels
    const big = Tensor.empty(engine, [1, 1, 2100, 2100]);
    const w1 = Tensor.from(engine, [1], [1, 1, 1, 1]);
    expect(() => conv2d(big, w1, { variant: 'tiled' })).toThrow(/conv2d: the tiled kernels take at most 4194240 pixels per channel over the batch, got 4410000/);
    for (const t of [x, w, y, big, w1]) t.dispose();
  });
  it("the engine's convVariant is the default of calls that name none", async () => {
    const x = Tensor.from(engine, randomArray(new Rng(5), 2 * 3 * 6 * 6), [2, 3, 6, 6]);
    const w = Tensor.from(engine, randomArray(new Rng(6), 4 * 3 * 9), [4, 3, 3, 3]);
    const ys: Float32Array[] = [];
    for (const variant of ['plain', 'tiled'] as const) {
      engine.convVariant = variant;
      try {
        const before = engine.dispatchCount;
        const y = conv2d(x, w);
        expect(engine.dispatchCount - before, variant).toBe(variant === 'plain' ? 1 : 3);
        ys.push(await y.toFloat32());
        y.dispose();
      } finally {
        engine.convVariant = 'auto';
      }
    }
    expectClose(ys[1]!, ys[0]!, { rtol: 1e-5, atol: 1e-5 }, 'tiled vs plain');
    await expect(Engine.create({ convVariant: 'fast' as 'auto' })).rejects.toThrow(/Engine.create: convVariant must be 'auto', 'plain', 'subgroups', 'tiled' or 'fastest', got fast/);
    for (const t of [x, w]) t.dispose();
  });
});

describe('masked variable-size conv2d vs float64 reference', () => {
  const cases: Case[] = [];
  for (const kw of [5, 9]) {
    for (let s = 1; s <= kw; s += 2) {
      const stride = s % 4 === 1 ? 1 : 2;
      cases.push({ N: s % 3 === 0 ? 1 : 2, Cin: s === 1 ? 1 : 3, H: 7 + (s % 3), W: 9, Cout: s === 3 ? 1 : 5, kw, s, stride, pad: (s - 1) / 2, v: 1 + s * 0.4 });
    }
  }
  cases.push({ N: 2, Cin: 2, H: 8, W: 7, Cout: 3, kw: 9, s: 5, stride: 1, pad: 0, v: 3.3 }); // explicit padding
  cases.forEach((c, i) => it(caseName(c), () => checkConv(c, 200 + i)));
  cases.filter(subgroupCase).forEach((c, i) => itSubgroups(`subgroups: ${caseName(c)}`, () => checkConv(c, 250 + i, 'subgroups')));
});

describe('fused mask equals the unfused path (mask kernel → multiply → plain conv)', () => {
  for (const [kw, s, stride, Cin, Cout] of [
    [9, 3, 1, 3, 4],
    [9, 7, 2, 3, 4],
    [5, 5, 1, 3, 4],
    // 2304 channel pairs: the soft size's gradient in blocks of pairs (conv2d_bwd_size: two on a
    // CPU adapter, nine of 256 under the GPU rules, also run below)
    [5, 3, 1, 48, 48],
  ] as const) {
    it(`k_max=${kw} s=${s} stride=${stride} ${Cin}→${Cout}`, async () => {
      const rng = new Rng(kw * 10 + s + Cin);
      const [N, H, W] = [2, 9, 8];
      const xData = randomArray(rng, N * Cin * H * W);
      const wData = randomArray(rng, Cout * Cin * kw * kw);
      const g = Tensor.from(engine, randomArray(rng, N * Cout * Math.ceil(H / stride) * Math.ceil(W / stride)), [N * Cout * Math.ceil(H / stride) * Math.ceil(W / stride)]);
      const run = async (fused: boolean) => {
        const x = parameter(engine, xData, [N, Cin, H, W]);
        const w = parameter(engine, wData, [Cout, Cin, kw, kw]);
        const v = parameter(engine, [2.7], [1]);
        const y = engine.tidy(() => {
          const y = fused
            ? conv2d(x, w, { size: s, stride, softSize: v })
            : conv2d(x, mul(w, gaussianMask(v, kw)), { size: s, stride });
          backward(sum(mul(reshape(y, [y.size]), g)));
          return y;
        });
        const out = { y: await y.toFloat32(), dx: await x.grad!.toFloat32(), dw: await w.grad!.toFloat32(), dv: await v.grad!.toFloat32() };
        for (const t of [y, x.grad!, w.grad!, v.grad!, x, w, v]) t.dispose();
        return out;
      };
      const fused = await run(true);
      const unfused = await run(false);
      expectClose(fused.y, unfused.y, { rtol: 1e-5, atol: 1e-5 }, 'y');
      expectClose(fused.dx, unfused.dx, { rtol: 1e-5, atol: 1e-5 }, 'dx');
      expectClose(fused.dw, unfused.dw, { rtol: 1e-5, atol: 1e-5 }, 'dŵ');
      expectClose(fused.dv, unfused.dv, { rtol: 1e-4, atol: 1e-4 }, 'dv');
      if (Cin * Cout > 2048) {
        const gpuRules = await underAutoRules(engine, 'gpu', () => run(true));
        expectClose(gpuRules.dv, unfused.dv, { rtol: 1e-4, atol: 1e-4 }, "dv under the 'gpu' rules");
      }
    });
  }
});

describe('gaussianMask', () => {
  for (const [k, v] of [
    [1, 0.7],
    [5, 1.3],
    [9, 4.2],
  ] as const) {
    it(`k=${k} v=${v}`, async () => {
      await checkOp(engine, {
        name: `mask k=${k}`,
        inputs: [{ shape: [1], data: Float64Array.of(v) }],
        gpu: (vt) => gaussianMask(vt, k),
        ref: (vv) => refMask(k, vv[0]),
        refGrad: (g, vv) => {
          const c = (k - 1) / 2;
          let d = 0;
          refMask(k, vv[0]).forEach((m, idx) => {
            const r2 = (Math.floor(idx / k) - c) ** 2 + ((idx % k) - c) ** 2;
            d += (g[idx]! * m * 2 * r2) / vv[0]! ** 3;
          });
          return [Float64Array.of(d)];
        },
        fwdTol: { rtol: 1e-5, atol: 1e-6 },
        dirEps: 1e-2,
      });
    });
  }
});

/** Nearest odd integer to v (ties to the larger), clamped: written independently of hardSize. */
describe("size 'fromSoftSize': the hard size is derived from v on the GPU", () => {
  const softCases = [[0.6, 1, 1], [2.3, 1, 2], [3.4, 3, 1], [4.2, 1, 1], [6.1, 1, 2], [8.7, 1, 1], [1.2, 3, 1]] as const;
  // 'auto' runs the subgroup kernels (window read on the GPU) where the device has them
  const runs = (['plain', 'auto'] as const).flatMap((variant) => softCases.map((c) => [variant, ...c] as const));
  for (const [variant, v, kMin, stride] of runs) {
    const s = nearestOdd(v, kMin, 9);
    it(`${variant}: v=${v} kMin=${kMin} → s=${s} (stride ${stride}): values and gradients vs float64 reference`, () =>
      checkSoftSizeConv(engine, { N: 2, Cin: 3, H: 9, W: 8, Cout: 2 }, v, kMin, stride, variant));
  }
  it('hardSize agrees with the nearest odd size', () => {
    for (let v = 0.05; v < 10; v += 0.1) expect(hardSize(v, 3, 9)).toBe(nearestOdd(v, 3, 9));
    expect([2, 4, 6, 8].map((v) => hardSize(v, 1, 9))).toEqual([3, 5, 7, 9]); // ties go to the larger size
  });
});

describe('conv2d bad input', () => {
  it('names the op and the problem', () => {
    const x = Tensor.from(engine, new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
    const w = Tensor.from(engine, new Float32Array(4 * 3 * 5 * 5), [4, 3, 5, 5]);
    const w2 = Tensor.from(engine, new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
    expect(() => conv2d(x, w, { size: 4 })).toThrow(/conv2d: kernel size s must be an odd integer ≥ 1, got 4/);
    expect(() => conv2d(x, w, { size: 7 })).toThrow(/conv2d: kernel size s = 7 exceeds the weight grid 5/);
    expect(() => conv2d(x, w, { size: -1 })).toThrow(/odd integer ≥ 1, got -1/);
    expect(() => conv2d(x, w, { weightGradient: 'fast' as 'slide' })).toThrow(/conv2d: weightGradient must be 'auto', 'slide', 'rows' or 'taps', got fast/);
    expect(() => conv2d(x, w2)).toThrow(ShapeError);
    expect(() => conv2d(x, w2)).toThrow(/conv2d: input has 3 channels but weight \[4, 2, 3, 3\] expects 2/);
    const small = Tensor.from(engine, new Float32Array(3 * 3 * 3), [1, 3, 3, 3]);
    expect(() => conv2d(small, w, { padding: 0 })).toThrow(/conv2d: input 3×3 with padding 0 is smaller than the 5×5 kernel/);
    expect(() => gaussianMask(Tensor.from(engine, [1], [1]), 4)).toThrow(/gaussianMask: k must be an odd integer/);
    expect(() => conv2d(x, w, { softSize: 0 })).toThrow(/conv2d: soft size v must be finite and > 0, got 0/);
    expect(() => conv2d(x, w, { softSize: -2 })).toThrow(/conv2d: soft size v must be finite and > 0/);
    expect(() => conv2d(x, w, { size: 'fromSoftSize' })).toThrow(/conv2d: size 'fromSoftSize' needs a softSize/);
    expect(() => conv2d(x, w, { size: 'fromSoftSize', softSize: 3, padding: 0 })).toThrow(/needs 'same' padding/);
    expect(() => conv2d(x, w, { size: 'fromSoftSize', softSize: 3, kMin: 4 })).toThrow(/conv2d: kMin must be an odd integer/);
  });
});

describe('conv2d bias', () => {
  it('adds a per-channel bias whose gradient sums over N, H, W', async () => {
    const c: ConvShape = { N: 2, Cin: 2, H: 5, W: 6, Cout: 3, kw: 3, s: 3, stride: 1, pad: 1 };
    const rng = new Rng(77);
    const plane = 5 * 6;
    await checkOp(engine, {
      name: 'conv2d + bias',
      inputs: [
        { shape: [2, 2, 5, 6], data: randomArray(rng, 2 * 2 * plane) },
        { shape: [3, 2, 3, 3], data: randomArray(rng, 3 * 2 * 9) },
        { shape: [3], data: randomArray(rng, 3) },
      ],
      gpu: (x, w, b) => conv2d(x, w, { bias: b }),
      ref: (x, w, b) => refConv(c, x, w).map((v, i) => v + b[Math.floor(i / plane) % 3]!),
      refGrad: (g, x, w) => {
        const r = refConvGrad(c, g, x, w);
        const db = new Float64Array(3);
        g.forEach((v, i) => (db[Math.floor(i / plane) % 3]! += v));
        return [r.dx, r.dw, db];
      },
      fwdTol: { rtol: 1e-4, atol: 1e-4 },
      gradTol: { rtol: 1e-4, atol: 2e-4 },
    });
  });
});
