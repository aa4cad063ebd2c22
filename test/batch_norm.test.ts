import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d, batchNormState, noGrad, Tensor, type Engine } from '../src/index.js';
import { BN_GPU_WORKGROUPS, BN_MIN_ELEMENTS_PER_WORKGROUP, bnReduction, bnReductionOverride, bnWalkLanes, bnWalkLanesOverride } from '../src/ops/batch_norm.js';
import { Rng } from '../src/random.js';
import { checkOp, expectClose } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterEach(() => {
  bnReductionOverride.plan = null;
  bnWalkLanesOverride.lanes = null;
});

const EPS = 1e-5;

/** Per-channel mean and biased variance of x [N, C, HW], float64. */
function channelStats(x: Float64Array, N: number, C: number, HW: number) {
  const M = N * HW;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i]!;
    mean[c] = s / M;
    let q = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) q += (x[(n * C + c) * HW + i]! - mean[c]!) ** 2;
    variance[c] = q / M;
  }
  return { mean, variance };
}

function refBn(x: Float64Array, gamma: Float64Array, beta: Float64Array, mean: Float64Array, variance: Float64Array, N: number, C: number, HW: number) {
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < HW; i++) {
        const k = (n * C + c) * HW + i;
        y[k] = ((x[k]! - mean[c]!) / Math.sqrt(variance[c]! + EPS)) * gamma[c]! + beta[c]!;
      }
  return y;
}

/** Backward of training-mode BN, derived independently: through μ and σ² explicitly. */
function refBnTrainGrad(g: Float64Array, x: Float64Array, gamma: Float64Array, N: number, C: number, HW: number) {
  const { mean, variance } = channelStats(x, N, C, HW);
  const M = N * HW;
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const sd = Math.sqrt(variance[c]! + EPS);
    const idx: number[] = [];
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) idx.push((n * C + c) * HW + i);
    let dvar = 0;
    let dmean = 0;
    for (const k of idx) {
      const dxhat = g[k]! * gamma[c]!;
      dgamma[c]! += g[k]! * (x[k]! - mean[c]!) / sd;
      dbeta[c]! += g[k]!;
      dvar += dxhat * (x[k]! - mean[c]!) * -0.5 * sd ** -3;
      dmean += -dxhat / sd;
    }
    for (const k of idx) dx[k] = (g[k]! * gamma[c]!) / sd + (dvar * 2 * (x[k]! - mean[c]!)) / M + dmean / M;
  }
  return [dx, dgamma, dbeta];
}

/** Backward of eval-mode BN (constant running statistics: running mean at c, variance at C + c). */
function refBnEvalGrad(g: Float64Array, x: Float64Array, gamma: Float64Array, running: Float64Array, C: number, HW: number) {
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let k = 0; k < x.length; k++) {
    const c = Math.floor(k / HW) % C;
    const sd = Math.sqrt(running[C + c]! + EPS);
    dx[k] = (g[k]! * gamma[c]!) / sd;
    dgamma[c]! += (g[k]! * (x[k]! - running[c]!)) / sd;
    dbeta[c]! += g[k]!;
  }
  return [dx, dgamma, dbeta];
}

function withState(C: number, gamma: Tensor, beta: Tensor, running: Float64Array) {
  const st = batchNormState(engine, C);
  st.gamma = gamma;
  st.beta = beta;
  st.running.write(running);
  return st;
}

/** Training-mode batchNorm2d on x uniform in `range` against the float64 reference: output and gradients of x, γ, β. */
async function checkTraining(
  name: string,
  [N, C, H, W]: readonly [number, number, number, number],
  rng: Rng,
  range: [number, number],
  tolerances: { fwdTol: { rtol: number; atol: number }; gradTol: { rtol: number; atol: number }; fdEps: number; dirEps?: number; relu?: boolean },
) {
  const HW = H * W;
  const running = new Float64Array(2 * C).fill(1, C);
  const { relu = false, ...tol } = tolerances;
  const bn = (x: Float64Array, gamma: Float64Array, beta: Float64Array) => {
    const { mean, variance } = channelStats(x, N, C, HW);
    return refBn(x, gamma, beta, mean, variance, N, C, HW);
  };
  await checkOp(engine, {
    name: `${name} ${N}×${C}×${H}×${W}${relu ? ' relu' : ''}`,
    inputs: [
      { shape: [N, C, H, W], data: randomArray(rng, N * C * HW, range[0], range[1]) },
      { shape: [C], data: randomArray(rng, C, 0.5, 1.5) },
      { shape: [C], data: randomArray(rng, C) },
    ],
    gpu: (x, gamma, beta) => batchNorm2d(x!, withState(C, gamma!, beta!, running), true, { relu }),
    ref: (x, gamma, beta) => (relu ? bn(x!, gamma!, beta!).map((v) => Math.max(v, 0)) : bn(x!, gamma!, beta!)),
    refGrad: (g, x, gamma, beta) => {
      // behind the ReLU, the gradient reaches BN's output only where that output is > 0
      const y = relu ? bn(x!, gamma!, beta!) : null;
      return refBnTrainGrad(y ? g.map((v, k) => (y[k]! > 0 ? v : 0)) : g, x!, gamma!, N, C, HW);
    },
    ...tol,
  });
}

describe('batchNorm2d', () => {
  // batch 1 and > 1, C = 1 and non-multiples of 4, odd spatial sizes, M not a multiple of 64,
  // planes longer than a workgroup's 64 lanes (37 × 29 = 1073) or vec4s (20 × 52 = 1040 floats);
  // H·W a multiple of 4 takes the vec4 kernels ([2, 3, 4, 5], [1, 2, 20, 52], [7, 3, 24, 25]);
  // images split over several workgroups (about 4096 elements each), the last one short:
  // [7, 3, 24, 25] (6 + 1 images), [9, 2, 23, 21] (8 + 1)
  for (const [N, C, H, W] of [[1, 1, 3, 3], [2, 3, 5, 7], [4, 6, 1, 1], [3, 5, 9, 11], [2, 2, 37, 29], [2, 3, 4, 5], [1, 2, 20, 52], [7, 3, 24, 25], [9, 2, 23, 21]] as const) {
    it(`training ${N}×${C}×${H}×${W}: forward (batch statistics) and gradients of x, γ, β`, async () => {
      await checkTraining(`batchNorm2d train`, [N, C, H, W], new Rng(N * 1000 + C * 100 + H * 10 + W), [-2, 3], {
        fwdTol: { rtol: 1e-4, atol: 1e-4 },
        gradTol: { rtol: 1e-3, atol: 1e-4 },
        fdEps: 1e-5,
      });
    });
  }

  // the ReLU fused into the passes (relu: true) against BN then ReLU in float64: H·W = 35 (f32
  // kernels) and 24 (vec4 kernels), training and eval
  for (const [N, C, H, W, training] of [[2, 3, 5, 7, true], [3, 2, 4, 6, true], [2, 3, 4, 4, false]] as const) {
    it(`${training ? 'training' : 'eval'} ${N}×${C}×${H}×${W} with the fused ReLU: max(BN(x), 0) and its gradients of x, γ, β`, async () => {
      const rng = new Rng(N * 1000 + C * 100 + H * 10 + W + 7);
      const HW = H * W;
      const running = Float64Array.from({ length: 2 * C }, (_, i) => (i < C ? 0.2 * i - 0.1 : 0.7 + 0.3 * i));
      const pre = (x: Float64Array, gamma: Float64Array, beta: Float64Array) => {
        const { mean, variance } = training ? channelStats(x, N, C, HW) : { mean: running.subarray(0, C), variance: running.subarray(C) };
        return refBn(x, gamma, beta, mean, variance, N, C, HW);
      };
      await checkOp(engine, {
        name: `batchNorm2d relu ${N}×${C}×${H}×${W}`,
        inputs: [
          { shape: [N, C, H, W], data: randomArray(rng, N * C * HW, -2, 3) },
          { shape: [C], data: randomArray(rng, C, 0.5, 1.5) },
          { shape: [C], data: randomArray(rng, C, -0.5, 0.5) },
        ],
        gpu: (x, gamma, beta) => batchNorm2d(x!, withState(C, gamma!, beta!, running), training, { relu: true }),
        ref: (x, gamma, beta) => pre(x!, gamma!, beta!).map((v) => Math.max(v, 0)),
        refGrad: (g, x, gamma, beta) => {
          const y = pre(x!, gamma!, beta!);
          const gm = g.map((v, k) => (y[k]! > 0 ? v : 0));
          return training ? refBnTrainGrad(gm, x!, gamma!, N, C, HW) : refBnEvalGrad(gm, x!, gamma!, running, C, HW);
        },
        fwdTol: { rtol: 1e-4, atol: 1e-4 },
        gradTol: { rtol: 1e-3, atol: 1e-4 },
        fdEps: 1e-5,
      });
    });
  }

  // values far from 0 (1000 ± 2): one-pass sums of squares would lose the variance to rounding;
  // the reductions' shifted partials keep it (f32 kernels: H·W = 35; vec4: 24; a plane longer
  // than the 64 partials: 20 × 52)
  for (const [N, C, H, W] of [[3, 2, 5, 7], [2, 3, 4, 6], [2, 2, 20, 52]] as const) {
    it(`training ${N}×${C}×${H}×${W} on values near 1000: statistics and gradients keep their precision`, async () => {
      await checkTraining(`batchNorm2d far from 0`, [N, C, H, W], new Rng(N * 100 + H * W), [998, 1002], {
        fwdTol: { rtol: 1e-3, atol: 1e-3 },
        gradTol: { rtol: 1e-2, atol: 1e-3 },
        fdEps: 1e-2,
      });
    });
  }

  it('training updates the running mean and unbiased variance with momentum 0.1', async () => {
    const rng = new Rng(21);
    const [N, C, HW] = [3, 4, 10];
    const x = randomArray(rng, N * C * HW, -1, 4);
    const st = batchNormState(engine, C);
    const xt = Tensor.from(engine, x, [N, C, 2, 5]);
    noGrad(engine, () => engine.tidy(() => batchNorm2d(xt, st, true)));
    const { mean, variance } = channelStats(x, N, C, HW);
    const M = N * HW;
    const expected = [...Array.from(mean, (m) => 0.1 * m), ...Array.from(variance, (v) => 0.9 + (0.1 * v * M) / (M - 1))];
    expectClose(await st.running.toArray(), expected, { rtol: 1e-5, atol: 1e-6 }, 'running stats');
  });

  // H·W = 15 (f32 kernels) and 16 (vec4 kernels)
  for (const [N, C, H, W] of [[2, 3, 3, 5], [2, 3, 4, 4]] as const) {
    it(`eval ${N}×${C}×${H}×${W}: normalises with the running statistics, gradients of x, γ, β`, async () => {
      const rng = new Rng(22);
      const HW = H * W;
      const running = Float64Array.from([0.3, -0.2, 1.1, 0.5, 2.0, 0.8]);
      const st0 = batchNormState(engine, C);
      await checkOp(engine, {
        name: 'batchNorm2d eval',
        inputs: [
          { shape: [N, C, H, W], data: randomArray(rng, N * C * HW, -2, 2) },
          { shape: [C], data: randomArray(rng, C, 0.5, 1.5) },
          { shape: [C], data: randomArray(rng, C) },
        ],
        gpu: (x, gamma, beta) => batchNorm2d(x!, { ...st0, gamma: gamma!, beta: beta!, running: withState(C, gamma!, beta!, running).running }, false),
        ref: (x, gamma, beta) => refBn(x!, gamma!, beta!, running.subarray(0, C), running.subarray(C), N, C, HW),
        refGrad: (g, x, gamma) => refBnEvalGrad(g, x!, gamma!, running, C, HW),
      });
    });
  }

  it('rejects a channel mismatch and a single value per channel in training, naming the op', () => {
    const st = batchNormState(engine, 3);
    expect(() => batchNorm2d(Tensor.from(engine, new Float32Array(8), [1, 2, 2, 2]), st, true)).toThrow(/batchNorm2d.*2 channels.*3/);
    expect(() => batchNorm2d(Tensor.from(engine, new Float32Array(3), [1, 3, 1, 1]), st, true)).toThrow(/batchNorm2d: training needs more than one value/);
    expect(() => batchNorm2d(Tensor.from(engine, new Float32Array(3), [3, 1]), st, true)).toThrow(/batchNorm2d.*\[N, C, H, W\]/);
  });

  // The reductions' layouts besides the CPU adapter's (one block per channel, no tree), forced
  // here on lavapipe with a GPU's walk (LANES 0): blocks of images (the last one short: 7 images
  // in blocks of 2 or 3), each
  // workgroup's partials combined in workgroup memory (tree) or left to the finish pass; f32 and
  // vec4 kernels, values near 0 and near 1000 (the statistics' combination must keep the variance;
  // there the GPU's directional derivative steps 0.1: float32 rounds x near 1000 to ~6e-5, too
  // coarse for the default step of 0.01).
  for (const [split, tree] of [[1, true], [2, false], [3, true], [99, true]] as const) {
    for (const [N, C, H, W, far] of [[7, 3, 5, 7, false], [7, 2, 4, 6, false], [5, 2, 9, 9, true], [3, 2, 20, 52, true]] as const) {
      it(`training ${N}×${C}×${H}×${W}${far ? ' near 1000' : ''}, reductions in blocks of ${split} image${split > 1 ? 's' : ''}${tree ? ' summed in workgroup memory' : ''}: forward and gradients`, async () => {
        bnReductionOverride.plan = () => ({ split, tree });
        bnWalkLanesOverride.lanes = 0; // as on a GPU, where the blocks are used
        await checkTraining(`batchNorm2d blocks of ${split}`, [N, C, H, W], new Rng(split * 31 + N * 7 + H * W), far ? [998, 1002] : [-2, 3],
          far ? { fwdTol: { rtol: 1e-3, atol: 1e-3 }, gradTol: { rtol: 1e-2, atol: 1e-3 }, fdEps: 1e-2, dirEps: 0.1 } : { fwdTol: { rtol: 1e-4, atol: 1e-4 }, gradTol: { rtol: 1e-3, atol: 1e-4 }, fdEps: 1e-5 });
      });
    }
  }

  it('blocks of images summed in workgroup memory update the running statistics as one block does', async () => {
    bnReductionOverride.plan = () => ({ split: 2, tree: true });
    const rng = new Rng(23);
    const [N, C, HW] = [5, 3, 12];
    const x = randomArray(rng, N * C * HW, -1, 4);
    const st = batchNormState(engine, C);
    noGrad(engine, () => engine.tidy(() => batchNorm2d(Tensor.from(engine, x, [N, C, 3, 4]), st, true)));
    const { mean, variance } = channelStats(x, N, C, HW);
    const M = N * HW;
    const expected = [...Array.from(mean, (m) => 0.1 * m), ...Array.from(variance, (v) => 0.9 + (0.1 * v * M) / (M - 1))];
    expectClose(await st.running.toArray(), expected, { rtol: 1e-5, atol: 1e-6 }, 'running stats');
  });

  it('lays the reductions out per adapter: one block a channel on a CPU, enough blocks on a GPU', () => {
    expect(bnReduction(true, 128, 16, 784)).toEqual({ split: 128, splits: 1, tree: false });
    // fmnist-6's first layer at batch 128 on a GPU: 16 channels want 32 blocks of 4 images
    const first = bnReduction(false, 128, 16, 784);
    expect(first).toEqual({ split: 4, splits: 32, tree: true });
    expect(16 * first.splits).toBeGreaterThanOrEqual(BN_GPU_WORKGROUPS);
    // many channels: one block each already fills the device
    expect(bnReduction(false, 128, 1024, 49)).toEqual({ split: 128, splits: 1, tree: true });
    // few elements: no block under BN_MIN_ELEMENTS_PER_WORKGROUP (8 × 7 × 7 = 392 → one block)
    expect(bnReduction(false, 8, 4, 49)).toEqual({ split: 8, splits: 1, tree: true });
    const small = bnReduction(false, 64, 8, 49);
    expect(small.splits).toBe(3);
    expect(Math.min(small.split, 64 - (small.splits - 1) * small.split) * 49).toBeGreaterThan(BN_MIN_ELEMENTS_PER_WORKGROUP / 2);
    // batch 1: a single block whatever the channels
    expect(bnReduction(false, 1, 2, 100)).toEqual({ split: 1, splits: 1, tree: true });
  });

  // every pass's walk forced to each layout: 0 (a GPU's: the workgroup's 64 invocations side by
  // side), 4 and 16 lanes a chunk (CPU adapters: this one's 8 runs in every other case), 64 (one
  // chunk); units per workgroup from 9 (most chunks empty) to 1040, chunks ending mid-image, f32 and
  // vec4 kernels, the fused ReLU (on small planes and with a directional step of 1e-3: a
  // difference quotient across one of its kinks is wrong), reductions in blocks of images; values
  // near 1000 for the statistics' shifts (each invocation shifts by its chunk's first value)
  for (const lanes of [0, 4, 16, 64]) {
    for (const [N, C, H, W, far, relu, split] of [[1, 1, 3, 3, false, false, 0], [3, 2, 5, 7, true, false, 0], [2, 3, 5, 7, false, true, 0], [3, 2, 4, 6, false, true, 0], [7, 3, 24, 25, false, false, 0], [2, 2, 20, 52, true, false, 0], [5, 2, 9, 9, false, false, 2]] as const) {
      it(`training ${N}×${C}×${H}×${W}${far ? ' near 1000' : ''}${relu ? ' with the fused ReLU' : ''}${split ? `, blocks of ${split} images` : ''}, walks of ${lanes} lanes a chunk: forward and gradients`, async () => {
        bnWalkLanesOverride.lanes = lanes;
        if (split) bnReductionOverride.plan = () => ({ split, tree: false });
        await checkTraining(`batchNorm2d walk ${lanes}`, [N, C, H, W], new Rng(lanes * 17 + N * 7 + H * W), far ? [998, 1002] : [-2, 3],
          far ? { fwdTol: { rtol: 1e-3, atol: 1e-3 }, gradTol: { rtol: 1e-2, atol: 1e-3 }, fdEps: 1e-2, dirEps: 0.1, relu } : { fwdTol: { rtol: 1e-4, atol: 1e-4 }, gradTol: { rtol: 1e-3, atol: 1e-4 }, fdEps: 1e-5, dirEps: relu ? 1e-3 : undefined, relu });
      });
    }
  }

  it('walks a chunk per subgroup on a CPU adapter and the workgroup side by side on a GPU', () => {
    expect(bnWalkLanes(true, 8)).toBe(8);
    expect(bnWalkLanes(true, 16)).toBe(16);
    expect(bnWalkLanes(false, 32)).toBe(0);
    // no fixed subgroup width, or one that does not divide the 64-invocation workgroup
    expect(bnWalkLanes(true, null)).toBe(0);
    expect(bnWalkLanes(true, 128)).toBe(0);
    bnWalkLanesOverride.lanes = 48;
    expect(bnWalkLanes(false, null)).toBe(0);
  });

  it('refuses a forced block that is not a whole number of images ≥ 1', () => {
    bnReductionOverride.plan = () => ({ split: 0, tree: true });
    expect(() => bnReduction(false, 4, 2, 9)).toThrow(/whole number of images ≥ 1, got 0/);
    bnReductionOverride.plan = () => ({ split: 1.5, tree: false });
    expect(() => bnReduction(true, 4, 2, 9)).toThrow(/got 1.5/);
  });
});
