// conv2d's 'auto' under the engine's measured rules (EngineOptions.convAutoRules): 'cpu' (the
// subgroup kernels) and 'gpu' (the tiled kernels, the subgroup Winograd kernels where
// WINOGRAD_GPU_RULE takes a forward or input gradient): which kernels each pass runs, and — the
// passes on different families — the sums against the float64 reference. Checked here on the
// test adapter by switching its rules; the kernels themselves have their own tests.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_FAMILY, conv2d, conv2dKernels, Engine, parameter, Tensor, backward, sum, mul, reshape, WINOGRAD_AVX512_RULE, WINOGRAD_GPU_RULE, WINOGRAD_RULE, GPU_TILE_RULE, type ConvAutoRules, type Conv2dOptions } from '../src/index.js';
import { defaultConvAutoRules } from '../src/gpu/engine.js';
import { hostCpu } from '../src/host_cpu.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { checkConv } from './helpers/conv_check.js';
import { resetConvChoices } from './helpers/conv_choices.js';
import { refConv, refConvGrad, type ConvShape } from './helpers/conv_reference.js';
import { itSubgroups as itSubgroupsOn, testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
let defaultRules: ConvAutoRules;
beforeAll(async () => {
  engine = await testEngine();
  defaultRules = engine.convAutoRules;
});
afterEach(() => {
  engine.convAutoRules = defaultRules;
  resetConvChoices(engine);
});

const itSubgroups = (name: string, fn: () => Promise<void>) => itSubgroupsOn(() => engine, name, fn);

/** The family, Winograd setting and tiled block of each pass of a convolution of x [N, Cin, H, W] by w [Cout, Cin, k, k]. */
function plannedPasses(shape: [number, number, number, number], Cout: number, k: number, opts: Conv2dOptions = {}) {
  const x = Tensor.empty(engine, shape);
  const w = Tensor.empty(engine, [Cout, shape[1], k, k]);
  try {
    const kernels = conv2dKernels(x, w, opts);
    return { passes: kernels.passes, winograd: kernels.winograd, tiles: kernels.tiles };
  } finally {
    x.dispose();
    w.dispose();
  }
}

/** The family and Winograd setting of each pass (plannedPasses). */
function passesOf(shape: [number, number, number, number], Cout: number, k: number, opts: Conv2dOptions = {}) {
  const { passes, winograd } = plannedPasses(shape, Cout, k, opts);
  return { passes, winograd };
}

type Tolerance = [name: string, tol: { rtol: number; atol: number }];

/** A 3 × 3 convolution `c` under the engine's current rules: its output and both gradients (of Σ y·g, g random) against the float64 reference. */
async function checkPasses(c: ConvShape, seed: number, tol: { forward: Tolerance; input: Tolerance; weight: Tolerance }): Promise<void> {
  const rng = new Rng(seed);
  const xs = Float64Array.from(Float32Array.from(randomArray(rng, c.N * c.Cin * c.H * c.W)));
  const ws = Float64Array.from(Float32Array.from(randomArray(rng, c.Cout * c.Cin * 9)));
  const expected = refConv(c, xs, ws);
  const g = Float64Array.from(Float32Array.from(randomArray(rng, expected.length)));
  const ref = refConvGrad(c, g, xs, ws);
  const x = parameter(engine, xs, [c.N, c.Cin, c.H, c.W]);
  const w = parameter(engine, ws, [c.Cout, c.Cin, 3, 3]);
  const upstream = Tensor.from(engine, g, [expected.length]);
  const y = engine.tidy(() => {
    const out = conv2d(x, w, { size: 3 });
    backward(sum(mul(reshape(out, [out.size]), upstream)));
    return out;
  });
  expectClose(await y.toFloat32(), expected, tol.forward[1], tol.forward[0]);
  expectClose(await x.grad!.toFloat32(), ref.dx, tol.input[1], tol.input[0]);
  expectClose(await w.grad!.toFloat32(), ref.dw, tol.weight[1], tol.weight[0]);
  for (const t of [x, w, upstream, y]) t.dispose();
}

describe("conv2d 'auto': the engine's rules", () => {
  it("default: on a CPU adapter 'cpu-avx512' where the host CPU has AVX-512, else 'cpu'; 'gpu' on a GPU; Engine.create rejects another value", async () => {
    const cpuRules = hostCpu().avx512 === true ? 'cpu-avx512' : 'cpu';
    expect(engine.convAutoRules).toBe(engine.adapterInfo.isCpu ? cpuRules : 'gpu');
    expect(await defaultConvAutoRules(true)).toBe(cpuRules);
    expect(await defaultConvAutoRules(false)).toBe('gpu');
    await expect(Engine.create({ convAutoRules: 'fast' as never })).rejects.toThrow(/convAutoRules must be 'cpu', 'cpu-avx512' or 'gpu', got fast/);
  });

  itSubgroups("'cpu-avx512': each pass on the Winograd kernels where its own rule (WINOGRAD_AVX512_RULE) takes it", async () => {
    engine.convAutoRules = 'cpu-avx512';
    const subgroups = { forward: 'subgroups', input: 'subgroups', weight: 'subgroups' };
    const winogradOf = (shape: [number, number, number, number], Cout: number, k: number) => {
      const { passes, winograd } = passesOf(shape, Cout, k);
      expect(passes).toEqual(subgroups);
      return winograd;
    };
    expect(WINOGRAD_AVX512_RULE[3].forward).toBeNull();
    expect(WINOGRAD_AVX512_RULE[3].input).toBeNull();
    expect(WINOGRAD_AVX512_RULE[5].input).toEqual(WINOGRAD_AVX512_RULE[5].forward);
    const { partialTiles, ...wholeTiles5 } = WINOGRAD_AVX512_RULE[5].weight!;
    expect(wholeTiles5).toEqual(WINOGRAD_RULE[5]);
    expect(partialTiles).toEqual({ minChannels: 32, minPairs: 2048 });
    expect(WINOGRAD_AVX512_RULE[3].weight!.partialTiles).toEqual(partialTiles);
    // 3 × 3: only the weight gradient, from 2048 pairs on planes of 4 tiles (of partial tiles: 32 channels a side, 2048 pairs)
    expect(winogradOf([8, 32, 32, 32], 64, 3)).toEqual({ forward: false, input: false, weight: true });
    expect(winogradOf([32, 64, 16, 16], 128, 3)).toEqual({ forward: false, input: false, weight: true });
    expect(winogradOf([128, 64, 8, 8], 128, 3)).toEqual({ forward: false, input: false, weight: true }); // 4 tiles a plane, 512 in all
    expect(winogradOf([32, 64, 8, 8], 128, 3)).toEqual({ forward: false, input: false, weight: false }); // 128 tiles
    expect(winogradOf([128, 64, 7, 7], 64, 3)).toEqual({ forward: false, input: false, weight: true }); // partial tiles, 64 channels a side
    expect(winogradOf([128, 32, 7, 7], 64, 3)).toEqual({ forward: false, input: false, weight: true }); // partial tiles, 32 → 64: 2048 pairs
    expect(winogradOf([128, 16, 7, 7], 32, 3)).toEqual({ forward: false, input: false, weight: false }); // partial tiles, 16 input channels
    expect(winogradOf([8, 32, 32, 32], 32, 3)).toEqual({ forward: false, input: false, weight: false }); // 1024 pairs
    // 5 × 5: the forward and input gradient from 64 channels a side, 4096 pairs and 512 tiles, the weight gradient as WINOGRAD_RULE[5] on whole tiles
    expect(winogradOf([8, 32, 32, 32], 64, 5)).toEqual({ forward: false, input: false, weight: true }); // 32 input channels
    expect(winogradOf([8, 32, 32, 32], 32, 5)).toEqual({ forward: false, input: false, weight: true }); // 1024 pairs on whole tiles
    expect(winogradOf([128, 64, 7, 7], 64, 5)).toEqual({ forward: true, input: true, weight: true }); // 4 tiles a plane, 512 in all
    expect(winogradOf([32, 64, 8, 8], 128, 5)).toEqual({ forward: false, input: false, weight: false }); // 128 tiles
    expect(winogradOf([32, 64, 16, 16], 128, 5)).toEqual({ forward: true, input: true, weight: true });
    expect(winogradOf([128, 64, 14, 14], 64, 5)).toEqual({ forward: true, input: true, weight: true });
    expect(winogradOf([128, 32, 14, 14], 32, 5)).toEqual({ forward: false, input: false, weight: false }); // partial tiles, 1024 pairs
    expect(winogradOf([128, 32, 7, 7], 64, 5)).toEqual({ forward: false, input: false, weight: true }); // partial tiles, 2048 pairs; the forward's 32 input channels
    expect(winogradOf([128, 16, 14, 14], 32, 5)).toEqual({ forward: false, input: false, weight: false }); // 16 input channels
    // the same shapes under 'cpu': one rule for the three passes
    engine.convAutoRules = 'cpu';
    expect(winogradOf([8, 32, 32, 32], 64, 3)).toEqual({ forward: true, input: true, weight: true });
    expect(winogradOf([128, 32, 14, 14], 32, 5)).toEqual({ forward: true, input: true, weight: true });
  });

  itSubgroups("'cpu-avx512': a convolution with its forward direct and its weight gradient on the Winograd kernels vs the float64 reference", async () => {
    engine.convAutoRules = 'cpu-avx512';
    // 32 → 64 at 3 × 3, 512 tiles: forward and input gradient direct, the weight gradient Winograd
    const c: ConvShape = { N: 8, Cin: 32, H: 32, W: 32, Cout: 64, kw: 3, s: 3, stride: 1, pad: 1 };
    expect(passesOf([c.N, c.Cin, c.H, c.W], c.Cout, 3).winograd).toEqual({ forward: false, input: false, weight: true });
    await checkPasses(c, 1305, {
      forward: ['forward (direct)', { rtol: 1e-5, atol: 1e-4 }],
      input: ['input gradient (direct)', { rtol: 1e-5, atol: 2e-4 }],
      // Winograd's rounding over 8192 products a sum
      weight: ['weight gradient (Winograd)', { rtol: 1e-4, atol: 4e-3 }],
    });
  });

  itSubgroups("'cpu': every pass on the subgroup kernels; 'gpu': tiled, with Winograd for a forward and input gradient WINOGRAD_RULE takes", async () => {
    const winogradShape: [number, number, number, number] = [8, 32, 32, 32]; // 512 tiles, 32 → 64 channels: the 3 × 3 rule's least
    engine.convAutoRules = 'cpu';
    expect(passesOf(winogradShape, 64, 3)).toEqual({ passes: { forward: 'subgroups', input: 'subgroups', weight: 'subgroups' }, winograd: { forward: true, input: true, weight: true } });
    expect(passesOf(winogradShape, 64, 7).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'subgroups' });

    engine.convAutoRules = 'gpu';
    const winograd = { passes: { forward: 'subgroups', input: 'subgroups', weight: 'tiled' }, winograd: { forward: true, input: true, weight: false } };
    const direct = { passes: { forward: 'tiled', input: 'tiled', weight: 'tiled' }, winograd: { forward: false, input: false, weight: false } };
    expect(passesOf(winogradShape, 64, 3)).toEqual(winograd);
    expect(passesOf(winogradShape, 64, 7)).toEqual(direct); // no Winograd kernels for 7 × 7
    expect(passesOf(winogradShape, 64, 3, { stride: 2, padding: 1 })).toEqual(direct); // stride 2: no subgroup kernels
    const v = Tensor.from(engine, [2.5], [1]);
    expect(passesOf(winogradShape, 64, 5, { size: 'fromSoftSize', softSize: v })).toEqual(direct); // the size from the soft size
    v.dispose();
    // 3 × 3 by WINOGRAD_GPU_RULE: from 16 channels each side and 128 tiles over the batch, 9 a plane
    expect(WINOGRAD_GPU_RULE[3]).toEqual({ minChannels: 16, minPairs: 256, minTiles: 128, minPlaneTiles: 9 });
    expect(passesOf([8, 16, 32, 32], 16, 3)).toEqual(winograd); // under lavapipe's rule (32 channels)
    expect(passesOf([16, 16, 12, 12], 16, 3)).toEqual(winograd); // 9 tiles a plane, 144 in all
    expect(passesOf([14, 16, 12, 12], 16, 3)).toEqual(direct); // 126 tiles
    expect(passesOf([256, 16, 8, 8], 16, 3)).toEqual(direct); // 4 tiles a plane
    expect(passesOf([8, 8, 32, 32], 64, 3)).toEqual(direct); // 8 input channels
    expect(passesOf(winogradShape, 8, 3)).toEqual(direct); // the input gradient's product (8 → 32) misses it as the forward's does
    // 5 × 5 by lavapipe's rule: 32 → 32 at 16 tiles a plane, not 16 → 16
    expect(passesOf([128, 32, 14, 14], 32, 5)).toEqual(winograd);
    expect(passesOf([128, 16, 14, 14], 16, 5)).toEqual(direct);

    // settings of the subgroup kernels asked for: the subgroup family runs every pass
    expect(passesOf(winogradShape, 64, 3, { winograd: true }).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'subgroups' });
    expect(passesOf(winogradShape, 64, 7, { weightGradient: 'slide' }).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'subgroups' });
    // 'auto' as the family ('fastest''s timing) and the named families ignore the rules
    expect(passesOf(winogradShape, 64, 7, { variant: 'auto', [AUTO_FAMILY]: true }).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'subgroups' });
    expect(passesOf(winogradShape, 64, 7, { variant: 'subgroups' }).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'subgroups' });
    // 'fastest' before its timing runs 'auto' under the rules
    expect(passesOf(winogradShape, 64, 3, { variant: 'fastest' }).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'tiled' });
  });

  it("'gpu': the 8 × 8 block for a tiled pass of over 64 rows and 1024 steps (GPU_TILE_RULE), unless the call names a tile", () => {
    engine.convAutoRules = 'gpu';
    expect(GPU_TILE_RULE).toEqual({ minRows: 65, minSteps: 1024 });
    const tilesOf = (shape: [number, number, number, number], Cout: number, k: number, opts: Conv2dOptions = {}) => plannedPasses(shape, Cout, k, opts).tiles;
    // 64 → 128 at 7 × 7: forward and weight gradient 128 rows, 3136 steps; input gradient 64 rows
    expect(tilesOf([2, 64, 16, 16], 128, 7)).toEqual({ forward: '8x8', input: '4x4', weight: '8x8' });
    expect(tilesOf([2, 128, 16, 16], 128, 7)).toEqual({ forward: '8x8', input: '8x8', weight: '8x8' });
    expect(tilesOf([2, 64, 16, 16], 64, 7)).toEqual({ forward: '4x4', input: '4x4', weight: '4x4' }); // 64 rows
    expect(tilesOf([2, 20, 16, 16], 128, 7)).toEqual({ forward: '4x4', input: '4x4', weight: '4x4' }); // 980 steps
    expect(tilesOf([2, 64, 16, 16], 128, 7, { tile: '4x4' })).toEqual({ forward: '4x4', input: '4x4', weight: '4x4' });
    // the size found on the GPU: steps by k_max (16 · 81)
    const v = Tensor.from(engine, [2.5], [1]);
    expect(tilesOf([2, 16, 8, 8], 128, 9, { size: 'fromSoftSize', softSize: v })).toEqual({ forward: '8x8', input: '4x4', weight: '8x8' });
    v.dispose();
  });

  it("'gpu': passes on both blocks (GPU_TILE_RULE) vs the float64 reference and finite differences", async () => {
    engine.convAutoRules = 'gpu';
    // forward and weight gradient on 8 × 8 (70 rows, 24 · 49 = 1176 steps), the input gradient on 4 × 4
    await checkConv(engine, { N: 1, Cin: 24, H: 5, W: 6, Cout: 70, kw: 7, s: 7, stride: 1, pad: 3 }, 1304, 'auto');
  });

  it("'gpu': a convolution on the tiled kernels (stride 1 and 2, masked) vs the float64 reference and finite differences", async () => {
    engine.convAutoRules = 'gpu';
    await checkConv(engine, { N: 2, Cin: 3, H: 7, W: 9, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1, v: 2.6 }, 1301, 'auto');
    await checkConv(engine, { N: 1, Cin: 4, H: 9, W: 8, Cout: 6, kw: 3, s: 3, stride: 2, pad: 1 }, 1302, 'auto');
  });

  itSubgroups("'gpu': the forward and input gradient on the Winograd kernels, the weight gradient tiled, vs the float64 reference", async () => {
    engine.convAutoRules = 'gpu';
    const c: ConvShape = { N: 8, Cin: 32, H: 32, W: 32, Cout: 64, kw: 3, s: 3, stride: 1, pad: 1 };
    expect(passesOf([c.N, c.Cin, c.H, c.W], c.Cout, 3).passes).toEqual({ forward: 'subgroups', input: 'subgroups', weight: 'tiled' });
    // Winograd's float32 rounding (a few times the direct sums'), over 288 products a sum
    await checkPasses(c, 1303, {
      forward: ['forward (Winograd)', { rtol: 1e-4, atol: 2e-4 }],
      input: ['input gradient (Winograd)', { rtol: 1e-4, atol: 4e-4 }],
      weight: ['weight gradient (tiled, 8192 products a sum)', { rtol: 1e-4, atol: 4e-3 }],
    });
  });
});
