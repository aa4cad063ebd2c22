// The subgroup kernels (conv2d_subgroups.wgsl, matmul_subgroups.wgsl) at a second subgroup size.
// The rest of the suite runs them at lavapipe's usual 8 lanes; GPUs have 32 or 64, and lane
// arithmetic (halos, shuffles across a subgroup's end, groups of whole kernel rows, blocks of 8
// channels among more lanes) is where a kernel written for one size goes wrong at another. llvmpipe
// runs 16 lanes when asked (LP_NATIVE_VECTOR_WIDTH=512, read when the driver starts: this file
// runs in a process of its own and sets it before its engine exists). Skipped where the adapter
// does not end up with 16-lane subgroups (a GPU, or another driver).
process.env.LP_NATIVE_VECTOR_WIDTH ??= '512';

import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/index.js';
import { checkMatmul } from './helpers/matmul_check.js';
import { checkConv, checkSoftSizeConv, convCaseName, type ConvCase } from './helpers/conv_check.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create();
});

function it16(name: string, fn: () => Promise<void>): void {
  it(name, async (ctx) => {
    if (engine.subgroupSize !== 16) ctx.skip();
    await fn();
  });
}

describe('subgroup kernels with 16-lane subgroups vs float64 reference', () => {
  const cases: ConvCase[] = [
    { N: 2, Cin: 9, H: 5, W: 3, Cout: 17, kw: 3, s: 3, stride: 1, pad: 1 }, // run layout: plane < one run of 64 pixels
    { N: 1, Cin: 4, H: 13, W: 11, Cout: 8, kw: 5, s: 5, stride: 1, pad: 2 }, // rows wrap inside runs
    { N: 1, Cin: 3, H: 10, W: 10, Cout: 5, kw: 9, s: 9, stride: 1, pad: 4 }, // shift 8
    { N: 4, Cin: 2, H: 3, W: 5, Cout: 3, kw: 9, s: 9, stride: 1, pad: 4 }, // several planes per run
    { N: 2, Cin: 3, H: 5, W: 8, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // quad rows, plane < one run
    { N: 1, Cin: 2, H: 6, W: 12, Cout: 4, kw: 9, s: 9, stride: 1, pad: 4 }, // quad rows, shifts ±4
    { N: 2, Cin: 3, H: 3, W: 40, Cout: 9, kw: 3, s: 3, stride: 1, pad: 1 }, // quad rows, halos mid-row
    { N: 2, Cin: 5, H: 3, W: 36, Cout: 8, kw: 5, s: 5, stride: 1, pad: 2 }, // a row longer than a run
    { N: 2, Cin: 18, H: 4, W: 3, Cout: 37, kw: 1, s: 1, stride: 1, pad: 0 }, // 1 × 1, blocks of 16 channels
    { N: 2, Cin: 6, H: 6, W: 8, Cout: 11, kw: 7, s: 7, stride: 1, pad: 3 }, // weight gradient by taps
    { N: 2, Cin: 12, H: 6, W: 5, Cout: 4, kw: 9, s: 5, stride: 1, pad: 2, v: 3.4 }, // masked
    { N: 2, Cin: 9, H: 7, W: 7, Cout: 17, kw: 3, s: 3, stride: 1, pad: 1 }, // two blocks of 8 channels, the second partial
    { N: 2, Cin: 16, H: 9, W: 11, Cout: 8, kw: 7, s: 7, stride: 1, pad: 3 },
    { N: 1, Cin: 8, H: 7, W: 7, Cout: 9, kw: 9, s: 9, stride: 1, pad: 4, v: 4.4 }, // S = 9 > 16 / 2: lanes by tap
  ];
  cases.forEach((c, i) => it16(convCaseName(c), () => checkConv(engine, c, 700 + i, 'subgroups')));
  // the sliding weight gradient (weightGradient 'slide'): whole kernel rows per subgroup, 15 of 16
  // lanes busy at S = 5, 5 kernel rows per subgroup at S = 3, 2 at S = 7
  const slideCases = cases.filter((c) => c.Cin > 6 && c.s >= 3 && c.s <= 7);
  slideCases.forEach((c, i) => it16(`weight gradient, sliding inputs: ${convCaseName(c)}`, () => checkConv(engine, c, 750 + i, 'subgroups', 'slide')));

  // the Winograd product (conv2d_winograd_product_sg): runs of 64 tiles within one position's matrix
  const winogradCases: ConvCase[] = [
    { N: 3, Cin: 18, H: 7, W: 9, Cout: 20, kw: 3, s: 3, stride: 1, pad: 1 },
    { N: 2, Cin: 5, H: 16, W: 32, Cout: 17, kw: 3, s: 3, stride: 1, pad: 1 },
    { N: 2, Cin: 6, H: 9, W: 16, Cout: 18, kw: 5, s: 5, stride: 1, pad: 2 },
  ];
  winogradCases.forEach((c, i) => it16(`winograd: ${convCaseName(c)}`, () => checkConv(engine, c, 780 + i, 'subgroups', 'auto', undefined, true)));

  // every candidate pipeline of k_max = 9 does the work once (9 channels: the weight gradient's
  // rows kernel at every size)
  for (const v of [1.2, 3.1, 5.0, 6.9, 8.6]) {
    it16(`soft size v=${v}: values and gradients vs float64 reference`, () => checkSoftSizeConv(engine, { N: 2, Cin: 9, H: 7, W: 10, Cout: 9 }, v, 1, 1, 'subgroups'));
  }

  // matmul_subgroups.wgsl: rows in blocks of 16 shared by the lanes, columns as vec4s; matmul_any_sg
  // (N = 81, and B transposed with K = 9): 4 blocks of 16 rows a workgroup at 16 lanes, the
  // second subgroup of columns 17 wide
  const sizes: [number, number, number, boolean][] = [
    [67, 260, 9, false],
    [33, 36, 17, false],
    [1, 8, 4, false],
    [67, 70, 68, true],
    [33, 31, 20, true],
    [300, 81, 9, false],
    [67, 35, 9, true],
  ];
  for (const [M, N, K, tb] of sizes) {
    // the gradients are matmuls with other transposes: more subgroup kernels at 16 lanes
    it16(`matmul M=${M} N=${N} K=${K} tb=${tb}`, () => checkMatmul(engine, M, N, K, false, tb));
  }
});
