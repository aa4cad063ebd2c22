/** BatchNorm2d (shaders/batch_norm.wgsl): batch statistics in training, running statistics in eval. */
import type { Engine } from '../gpu/engine.js';
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { parameter } from '../nn.js';
import { grid1d } from './grid.js';
import { expectFloat32 } from './operands.js';

export const BnParams = uniformLayout('BnParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['HW', 'u32'],
  ['eps', 'f32'],
  ['momentum', 'f32'],
  ['training', 'u32'],
  ['update_running', 'u32'],
  ['images', 'u32'],
  ['split', 'u32'],
  ['parts', 'u32'],
] as const);

const WG = 64;
/** Elements per workgroup (about) in the element-wise entries: whole images of one channel (batch_norm.wgsl explains why). */
const ELEMENTS_PER_WORKGROUP = 4096;
const kernel = (entry: string, bindings: number[], constants: Record<string, number> = {}) =>
  defineKernel({ file: 'batch_norm.wgsl', entry, params: BnParams, bindings, constants: { WG, ...constants } });
const K = {
  // the per-channel reductions: partial sums per invocation, then a pass that combines them (batch_norm.wgsl says why)
  statsPartial: kernel('batch_norm_stats_partial', [1, 12]),
  statsFinish: kernel('batch_norm_stats_finish', [4, 5, 12]),
  bwdParamsFinish: kernel('batch_norm_bwd_params_finish', [4, 8, 12, 13]),
  evalStats: kernel('batch_norm_eval_stats', [4, 5]),
  fwd: kernel('batch_norm_fwd', [1, 2, 3, 4, 6]),
  bwdParamsPartial: kernel('batch_norm_bwd_params_partial', [1, 2, 3, 4, 7, 12]),
  bwdInput: kernel('batch_norm_bwd_input', [1, 2, 3, 4, 6, 7, 8, 13]),
  // the same on vec4s when H·W is a multiple of 4 (a vec4 access costs less than 4 f32 ones on CPU adapters)
  fwd4: kernel('batch_norm_fwd4', [2, 3, 4, 9, 10]),
  bwdInput4: kernel('batch_norm_bwd_input4', [2, 3, 4, 8, 9, 10, 11, 13]),
  stats4Partial: kernel('batch_norm_stats4_partial', [9, 12]),
  bwdParams4Partial: kernel('batch_norm_bwd_params4_partial', [2, 3, 4, 9, 11, 12]),
};

/**
 * How a channel's reductions (the batch statistics, the parameter gradients' sums) spread over
 * workgroups: blocks of `split` images, `splits` of them per channel, and whether each workgroup
 * sums its invocations' partials in workgroup memory (`tree`) or leaves its WG partials to the
 * finish pass (batch_norm.wgsl says why the two differ).
 */
export interface BnReduction {
  split: number;
  splits: number;
  tree: boolean;
}

/** Reduction workgroups a GPU should have at least (4 per multiprocessor of a large one), and the fewest elements worth one. */
export const BN_GPU_WORKGROUPS = 512;
export const BN_MIN_ELEMENTS_PER_WORKGROUP = 1024;

/**
 * The reductions' layout. On a CPU adapter a workgroup per channel and no tree: lavapipe runs a
 * couple of workgroups at a time, and a barrier costs it a coroutine. Elsewhere enough blocks of
 * images that C·splits reaches BN_GPU_WORKGROUPS (a workgroup per channel left most of an H200
 * idle: 16–64 workgroups, each invocation looping over the whole batch), none under
 * BN_MIN_ELEMENTS_PER_WORKGROUP elements, each summed in workgroup memory.
 */
export function bnReduction(isCpu: boolean, N: number, C: number, HW: number): BnReduction {
  if (bnReductionOverride.plan) return checkedReduction(bnReductionOverride.plan(N, C, HW), N);
  if (isCpu) return { split: N, splits: 1, tree: false };
  const wanted = Math.max(1, Math.min(N, Math.ceil(BN_GPU_WORKGROUPS / C), Math.floor((N * HW) / BN_MIN_ELEMENTS_PER_WORKGROUP)));
  return blocksOf(N, Math.ceil(N / wanted), true);
}

const blocksOf = (N: number, split: number, tree: boolean): BnReduction => ({ split, splits: Math.ceil(N / split), tree });

function checkedReduction(plan: { split: number; tree: boolean }, N: number): BnReduction {
  if (!Number.isInteger(plan.split) || plan.split < 1) throw new RangeError(`batchNorm2d: a reduction block needs a whole number of images ≥ 1, got ${plan.split}`);
  return blocksOf(N, Math.min(plan.split, N), plan.tree);
}

/** Tests only: forces the reductions' layout (images per block — at most N — and the tree) for every batchNorm2d call while set. */
export const bnReductionOverride: { plan: ((N: number, C: number, HW: number) => { split: number; tree: boolean }) | null } = { plan: null };

/**
 * How far apart one invocation's values lie in every batch-norm pass (LANES in batch_norm.wgsl):
 * 0 on a GPU (a workgroup's invocations read WG consecutive units at each step, coalesced); on a
 * CPU adapter its subgroup width, so that each group of that many lanes streams through a
 * chunk of its own — lavapipe runs a workgroup's subgroups one after another, and a subgroup
 * reading 8 vec4s every 1 KB took 1.5–2× the time (fmnist-6's 28×28 and 14×14 layers).
 */
export function bnWalkLanes(isCpu: boolean, subgroupSize: number | null): number {
  const lanes = bnWalkLanesOverride.lanes ?? (isCpu ? (subgroupSize ?? 0) : 0);
  // the chunks' groups must split the workgroup evenly, or the last group's stride skips values
  return lanes > 0 && WG % lanes === 0 ? lanes : 0;
}

/** Tests only: forces bnWalkLanes's answer (0: the GPU's walk) for every batchNorm2d call while set. */
export const bnWalkLanesOverride: { lanes: number | null } = { lanes: null };

/** Learned affine (γ, β) and running statistics of one BatchNorm2d layer. */
export interface BatchNormState {
  gamma: Tensor; // [C], trained
  beta: Tensor; // [C], trained
  /** [2C]: running mean, then running unbiased variance (not trained; updated in training mode). */
  running: Tensor;
  eps: number;
  momentum: number;
}

/** PyTorch's defaults: γ = 1, β = 0, running mean 0, running var 1, eps 1e-5, momentum 0.1. */
export function batchNormState(engine: Engine, channels: number, opts: { eps?: number; momentum?: number } = {}): BatchNormState {
  const running = new Float32Array(2 * channels);
  running.fill(1, channels);
  return {
    gamma: parameter(engine, new Float32Array(channels).fill(1), [channels]),
    beta: parameter(engine, new Float32Array(channels), [channels]),
    running: engine.keep(Tensor.from(engine, running, [2 * channels])),
    eps: opts.eps ?? 1e-5,
    momentum: opts.momentum ?? 0.1,
  };
}

/**
 * y = γ·(x − μ)/√(σ² + eps) + β per channel of x [N, C, H, W]. Training mode normalises with the
 * batch's statistics (biased variance) and updates the running ones; eval mode uses the running
 * statistics. Gradients reach x, γ and β. `relu: true` gives max(y, 0) with the ReLU fused into
 * the same passes (forward and backward), which spares the two passes over the activations that
 * a separate `relu` costs.
 */
export function batchNorm2d(x: Tensor, bn: BatchNormState, training: boolean, opts: { relu?: boolean } = {}): Tensor {
  const op = opts.relu ? 'batchNorm2dRelu' : 'batchNorm2d';
  expectFloat32(op, x);
  if (x.rank !== 4) throw new ShapeError(op, `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (bn.gamma.size !== C || bn.beta.size !== C || bn.running.size !== 2 * C) {
    throw new ShapeError(op, `input has ${C} channels but the layer was built for ${bn.gamma.size}`);
  }
  if (training && N * H * W < 2) throw new ShapeError(op, `training needs more than one value per channel, got ${fmtShape(x.shape)}`);
  if (C > 65535) throw new ShapeError(op, `C = ${C} channels exceeds the 65535 workgroups a dimension of one dispatch may have`);
  const engine = x.engine;
  const walk = { LANES: bnWalkLanes(engine.adapterInfo.isCpu, engine.subgroupSize) };
  const constants = { RELU: opts.relu ? 1 : 0, ...walk };
  const images = Math.max(1, Math.min(N, Math.floor(ELEMENTS_PER_WORKGROUP / (H * W))));
  const reduction = bnReduction(engine.adapterInfo.isCpu, N, C, H * W);
  const parts = reduction.tree ? reduction.splits : reduction.splits * WG;
  const params = { N, C, HW: H * W, eps: bn.eps, momentum: bn.momentum, training: training ? 1 : 0, update_running: training ? 1 : 0, images, split: reduction.split, parts };
  // the reductions' grid: a workgroup per (channel, block of images)
  const blocks: [number, number] = [C, reduction.splits];
  const treeConstants = { TREE: reduction.tree ? 1 : 0, ...walk };
  const stats = Tensor.empty(engine, [2 * C]);
  const vec4 = (H * W) % 4 === 0;
  if (training) {
    const partials = Tensor.empty(engine, [C * parts * 4]);
    if (vec4) engine.dispatch(K.stats4Partial, params, [x.buffer, partials.buffer], blocks, treeConstants);
    else engine.dispatch(K.statsPartial, params, [x.buffer, partials.buffer], blocks, treeConstants);
    engine.dispatch(K.statsFinish, params, [stats.buffer, bn.running.buffer, partials.buffer], grid1d(C, WG));
    partials.dispose();
  } else engine.dispatch(K.evalStats, params, [stats.buffer, bn.running.buffer], grid1d(C, WG));
  const y = Tensor.empty(engine, x.shape);
  // the element-wise entries: a workgroup per (block of `images` images, channel)
  const planes: [number, number] = [Math.ceil(N / images), C];
  if (vec4) engine.dispatch(K.fwd4, params, [bn.gamma.buffer, bn.beta.buffer, stats.buffer, x.buffer, y.buffer], planes, constants);
  else engine.dispatch(K.fwd, params, [x.buffer, bn.gamma.buffer, bn.beta.buffer, stats.buffer, y.buffer], planes, constants);
  const out = record(op, [x, bn.gamma, bn.beta], y, [x, bn.gamma, stats, bn.beta], (g, [sx, sgamma, sstats, sbeta], needs) => {
    // dγ and dβ, written by the finish pass and read by the input gradient's
    const dgamma = Tensor.empty(engine, [C]);
    const dbeta = Tensor.empty(engine, [C]);
    const [xb, gb, bb, sb] = [sx!.buffer, sgamma!.buffer, sbeta!.buffer, sstats!.buffer];
    const partials = Tensor.empty(engine, [C * parts * 4]);
    if (vec4) engine.dispatch(K.bwdParams4Partial, params, [gb, bb, sb, xb, g.buffer, partials.buffer], blocks, { ...constants, ...treeConstants });
    else engine.dispatch(K.bwdParamsPartial, params, [xb, gb, bb, sb, g.buffer, partials.buffer], blocks, { ...constants, ...treeConstants });
    engine.dispatch(K.bwdParamsFinish, params, [sb, dbeta.buffer, partials.buffer, dgamma.buffer], grid1d(C, WG));
    partials.dispose();
    let dx: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(engine, x.shape);
      if (vec4) engine.dispatch(K.bwdInput4, params, [gb, bb, sb, dbeta.buffer, xb, dx.buffer, g.buffer, dgamma.buffer], planes, constants);
      else engine.dispatch(K.bwdInput, params, [xb, gb, bb, sb, dx.buffer, g.buffer, dbeta.buffer, dgamma.buffer], planes, constants);
    }
    if (!needs[1]) dgamma.dispose();
    if (!needs[2]) dbeta.dispose();
    return [dx, needs[1] ? dgamma : null, needs[2] ? dbeta : null];
  });
  stats.dispose();
  return out;
}
