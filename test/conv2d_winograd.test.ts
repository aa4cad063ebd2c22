// The Winograd convolutions F(4 × 4, 3 × 3) and F(4 × 4, 5 × 5) (conv2d_winograd.wgsl and
// conv2d_subgroups.wgsl's conv2d_winograd_product_sg): forward, input and weight gradients vs the
// float64 reference (and finite differences, through checkOp), on planes that end mid-tile, quads of tiles that wrap tile rows
// or pad the plane, the ROWS layout (rows of a multiple of 16 pixels), a 3 × 3 window inside a
// larger grid, the Gaussian mask, and channel counts across the product's blocks of 16.
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dKernels, Engine, parameter, Tensor, WINOGRAD_RULE } from '../src/index.js';
import { fillInPlace } from '../src/ops/elementwise.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { checkConv, convCaseName, type ConvCase } from './helpers/conv_check.js';
import { refConvGrad } from './helpers/conv_reference.js';
import { itSubgroups as itSubgroupsOn, testEngine, underAutoRules, underForcedWeightQuads, withAutoRules } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { bwdWeightQuads } from '../src/ops/conv2d_subgroup_rules.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** A test of the subgroup kernels (skipped on a device without them). */
const itSubgroups = (name: string, fn: () => Promise<void>) => itSubgroupsOn(() => engine, name, fn);

const same3 = { kw: 3, s: 3, stride: 1, pad: 1 } as const;
const same5 = { kw: 5, s: 5, stride: 1, pad: 2 } as const;

describe('conv2d winograd: true vs float64 reference', () => {
  const cases: ConvCase[] = [
    { N: 1, Cin: 1, H: 4, W: 4, Cout: 1, ...same3 }, // one tile; its quad's other three pad the plane
    { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, ...same3 }, // one pixel
    { N: 2, Cin: 3, H: 5, W: 7, Cout: 5, ...same3 }, // odd sizes: tiles end mid-plane
    { N: 3, Cin: 17, H: 1, W: 1, Cout: 5, ...same3 }, // 1 × 1 planes
    { N: 1, Cin: 20, H: 2, W: 11, Cout: 33, ...same3 }, // a quad of tiles wraps a tile row; 3 blocks of 16 channels
    { N: 2, Cin: 32, H: 13, W: 9, Cout: 40, ...same3 }, // many channels, partial tiles both ways
    { N: 5, Cin: 3, H: 6, W: 6, Cout: 4, ...same3 }, // many images of 4 tiles (PLANE: a quad is its whole plane)
    { N: 3, Cin: 6, H: 7, W: 7, Cout: 9, ...same3 }, // PLANE, fmnist-6's 7 × 7
    { N: 2, Cin: 3, H: 8, W: 5, Cout: 4, ...same3 }, // PLANE, the plane's last row and column in different tiles' halves
    { N: 2, Cin: 5, H: 16, W: 16, Cout: 7, ...same3 }, // ROWS: 4 neighbouring tiles, vec4 rows
    { N: 1, Cin: 2, H: 17, W: 32, Cout: 3, ...same3 }, // ROWS with a last tile row of one image row
    { N: 2, Cin: 4, H: 3, W: 48, Cout: 6, ...same3 }, // ROWS, 3 quads a tile row
    { N: 2, Cin: 8, H: 8, W: 8, Cout: 8, kw: 9, s: 3, stride: 1, pad: 1 }, // 3 × 3 inside a 9 × 9 grid
    { N: 2, Cin: 4, H: 9, W: 12, Cout: 6, kw: 5, s: 3, stride: 1, pad: 1, v: 2.5 }, // masked
  ];
  cases.forEach((c, i) => itSubgroups(convCaseName(c), () => checkConv(engine, c, 900 + i, 'subgroups', 'auto', undefined, true)));
});

describe('conv2d winograd: true, 5 × 5, vs float64 reference', () => {
  const cases: ConvCase[] = [
    { N: 1, Cin: 1, H: 4, W: 4, Cout: 1, ...same5 }, // one tile, its 8 × 8 inputs mostly padding
    { N: 2, Cin: 3, H: 5, W: 7, Cout: 5, ...same5 }, // odd sizes: tiles end mid-plane (PLANE: a quad is its whole plane)
    { N: 3, Cin: 6, H: 7, W: 7, Cout: 9, ...same5 }, // PLANE, fmnist-6's 7 × 7
    { N: 2, Cin: 3, H: 8, W: 6, Cout: 4, ...same5 }, // PLANE
    { N: 3, Cin: 17, H: 1, W: 1, Cout: 5, ...same5 }, // 1 × 1 planes
    { N: 1, Cin: 20, H: 2, W: 11, Cout: 33, ...same5 }, // a quad wraps a tile row; 3 blocks of 16 channels
    { N: 2, Cin: 24, H: 13, W: 9, Cout: 18, ...same5 },
    { N: 2, Cin: 5, H: 16, W: 16, Cout: 7, ...same5 }, // ROWS: two values of halo either side
    { N: 1, Cin: 2, H: 18, W: 32, Cout: 3, ...same5 }, // ROWS with a last tile row of two image rows
    { N: 2, Cin: 4, H: 8, W: 8, Cout: 6, kw: 9, s: 5, stride: 1, pad: 2 }, // 5 × 5 inside a 9 × 9 grid
    { N: 2, Cin: 4, H: 9, W: 12, Cout: 6, kw: 7, s: 5, stride: 1, pad: 2, v: 3.5 }, // masked
  ];
  cases.forEach((c, i) => itSubgroups(convCaseName(c), () => checkConv(engine, c, 940 + i, 'subgroups', 'auto', undefined, true)));
});

describe('conv2d winograd: the products under each rule set (SUM_STEP input channels per update)', () => {
  // 4 under 'cpu-avx512', 2 under 'cpu', 1 under 'gpu': 11 = 4·2 + 3 = 2·5 + 1 input channels
  // forward, 10 = 4·2 + 2 the input gradient's; then 12 and 20 (multiples of 4: the weights as
  // vec4s under 'cpu-avx512', W_VEC4), 20 outputs a second row of 16 with a partial upper block
  const cases: ConvCase[] = [
    { N: 2, Cin: 11, H: 9, W: 8, Cout: 10, ...same3 },
    { N: 1, Cin: 12, H: 7, W: 9, Cout: 20, ...same3 },
  ];
  for (const rules of ['cpu', 'cpu-avx512', 'gpu'] as const) {
    cases.forEach((c, i) => itSubgroups(`${rules} rules: ${convCaseName(c)}`, () => underAutoRules(engine, rules, () => checkConv(engine, c, 980 + i, 'subgroups', 'auto', undefined, true))));
  }
});

describe('conv2d winograd: the weight gradient with two blocks of 4 input channels per lane (QUADS = 2)', () => {
  // the products' sums over the tiles (conv2d_bwd_weight_sg at S = 1): under 'cpu-avx512' the rule
  // takes two blocks from 48 input channels (6 lanes' tasks in 8, against 12 in 16)
  itSubgroups("the rule's choice: N=1 48→16 8×8 s=3", () =>
    underAutoRules(engine, 'cpu-avx512', async () => {
      expect(bwdWeightQuads(48, 16, 1, 8, 'rows', 'cpu-avx512')).toBe(2);
      await checkConv(engine, { N: 1, Cin: 48, H: 8, W: 8, Cout: 16, ...same3 }, 990, 'subgroups', 'auto', undefined, true);
    }));
  // forced on 3 blocks of input channels (the second lane group's second block absent)
  itSubgroups('forced: N=2 9→10 7×9 s=5', () =>
    underForcedWeightQuads(engine, () => checkConv(engine, { N: 2, Cin: 9, H: 7, W: 9, Cout: 10, ...same5 }, 991, 'subgroups', 'auto', undefined, true)));
});

describe('conv2d winograd: the weight gradient sums only the batch\'s tiles', () => {
  // N·P = 20 tiles per channel, padded to L = 256: the product sums over all L, so the transforms
  // must zero the padding even in a buffer the pool hands back dirty
  itSubgroups('recycled buffers full of NaN do not reach dw', async () => {
    const c: ConvCase = { N: 5, Cin: 3, H: 6, W: 6, Cout: 4, ...same3 };
    const dirty = [c.Cin, c.Cout].flatMap((channels) => [1, 2, 3].map(() => Tensor.empty(engine, [36 * channels * 256])));
    for (const t of dirty) {
      fillInPlace(t, NaN);
      t.dispose();
    }
    await engine.sync(); // the disposed buffers return to the pool once their work is submitted
    const rng = new Rng(990);
    const xs = randomArray(rng, c.N * c.Cin * c.H * c.W);
    const ws = randomArray(rng, c.Cout * c.Cin * 9);
    const gs = randomArray(rng, c.N * c.Cout * c.H * c.W);
    const x = parameter(engine, Float32Array.from(xs), [c.N, c.Cin, c.H, c.W]);
    const w = parameter(engine, Float32Array.from(ws), [c.Cout, c.Cin, 3, 3]);
    const g = Tensor.from(engine, Float32Array.from(gs), [c.N, c.Cout, c.H, c.W]);
    const k = conv2dKernels(x, w, { winograd: true });
    expect(k.winograd.weight).toBe(true);
    const dw = await engine.tidy(() => k.backwardWeight(g)).toArray();
    expectClose(dw, refConvGrad(c, gs, xs, ws).dw, { rtol: 1e-4, atol: 2e-4 }, 'dw');
    for (const t of [x, w, g]) t.dispose();
  });
});

describe('conv2d winograd: which passes run it', () => {
  // under the CPU adapter's rules for 'auto', every pass on the subgroup kernels (a GPU's keep the
  // weight gradient on the tiled kernels: conv2d_auto_rules.test.ts)
  const plan = (N: number, Cin: number, HW: number, Cout: number, opts: Parameters<typeof conv2dKernels>[2] = {}, kw = 3) => {
    const x = parameter(engine, new Float32Array(N * Cin * HW * HW), [N, Cin, HW, HW]);
    const w = parameter(engine, new Float32Array(Cout * Cin * kw * kw), [Cout, Cin, kw, kw]);
    try {
      return withAutoRules(engine, 'cpu', () => conv2dKernels(x, w, opts).winograd);
    } finally {
      x.dispose();
      w.dispose();
    }
  };

  itSubgroups("'auto' follows WINOGRAD_RULE: channels, channel pairs, tiles over the batch and per plane", () => {
    expect(WINOGRAD_RULE).toEqual({ 3: { minChannels: 32, minPairs: 2048, minTiles: 512, minPlaneTiles: 4 }, 5: { minChannels: 32, minPairs: 1024, minTiles: 512, minPlaneTiles: 4 } });
    expect(plan(32, 64, 16, 128)).toEqual({ forward: true, input: true, weight: true });
    expect(plan(32, 32, 32, 64)).toEqual({ forward: true, input: true, weight: true }); // K·R = 2048
    expect(plan(32, 32, 32, 32)).toEqual({ forward: false, input: false, weight: false }); // K·R = 1024
    expect(plan(32, 16, 16, 128)).toEqual({ forward: false, input: false, weight: false }); // 16 input channels: the input gradient writes 16
    expect(plan(32, 64, 8, 128)).toEqual({ forward: false, input: false, weight: false }); // 32 · 4 = 128 tiles
    expect(plan(128, 64, 8, 128)).toEqual({ forward: true, input: true, weight: true }); // 512 tiles
    expect(plan(256, 64, 4, 64)).toEqual({ forward: false, input: false, weight: false }); // one tile a plane
    expect(plan(32, 64, 16, 128, { size: 7 }, 7)).toEqual({ forward: false, input: false, weight: false });
    // 5 × 5: channel pairs from 1024
    expect(plan(32, 64, 16, 128, {}, 5)).toEqual({ forward: true, input: true, weight: true });
    expect(plan(128, 32, 14, 32, {}, 5)).toEqual({ forward: true, input: true, weight: true });
    expect(plan(128, 16, 28, 16, {}, 5)).toEqual({ forward: false, input: false, weight: false });
    expect(plan(32, 64, 16, 128, { size: 5 }, 9)).toEqual({ forward: true, input: true, weight: false }); // 5 × 5 inside a 9 × 9 grid
    expect(plan(32, 64, 16, 128, { winograd: false })).toEqual({ forward: false, input: false, weight: false });
    expect(plan(1, 1, 4, 1, { winograd: true })).toEqual({ forward: true, input: true, weight: true });
    expect(plan(32, 64, 16, 128, { size: 'fromSoftSize', softSize: 2.6 }, 9)).toEqual({ forward: false, input: false, weight: false });
    // the weight gradient: only on an unmasked 3 × 3 grid, and under 'auto' with weightGradient 'auto'
    expect(plan(32, 64, 16, 128, { size: 3 }, 5)).toEqual({ forward: true, input: true, weight: false });
    expect(plan(32, 64, 16, 128, { size: 5 }, 7)).toEqual({ forward: true, input: true, weight: false });
    expect(plan(32, 64, 16, 128, { softSize: 2.5 })).toEqual({ forward: true, input: true, weight: false });
    expect(plan(32, 64, 16, 128, { weightGradient: 'rows' })).toEqual({ forward: true, input: true, weight: false });
    expect(plan(1, 1, 4, 1, { weightGradient: 'rows', winograd: true })).toEqual({ forward: true, input: true, weight: true });
  });

  it('winograd: true where it cannot run, or a bad value, is a RangeError that says why', () => {
    expect(() => plan(1, 2, 8, 3, { size: 7, winograd: true }, 7)).toThrow(/winograd: true cannot run this convolution: the window is 7 × 7, not 3 × 3 or 5 × 5/);
    expect(() => plan(1, 2, 8, 3, { variant: 'plain', winograd: true })).toThrow(/winograd: true cannot run this convolution: it runs on the plain kernels/);
    expect(() => plan(1, 2, 8, 3, { stride: 2, winograd: true })).toThrow(/winograd: true cannot run this convolution/);
    expect(() => plan(1, 2, 8, 3, { size: 'fromSoftSize', softSize: 2.6, winograd: true }, 9)).toThrow(/the window size comes from the soft size|plain kernels/);
    expect(() => plan(1, 2, 8, 3, { winograd: 'yes' as unknown as boolean })).toThrow(/winograd must be true, false or 'auto', got yes/);
  });
});
