/**
 * Variable-size 2-D convolution with the optional fused Gaussian mask (shaders/conv2d.wgsl, and
 * shaders/conv2d_subgroups.wgsl for stride 1 / 'same' on devices with subgroups, with the
 * Winograd transforms of shaders/conv2d_winograd.wgsl for fixed 3 × 3 and 5 × 5 windows where
 * WINOGRAD_RULE says; conv2d.wgsl's workgroup-tiled kernels on request, variant 'tiled').
 * Serves both stages of EffConv: the search (predicted ŵ on the k_max grid, runtime size s, soft
 * size v) and final training (plain s × s weights).
 */
import type { Engine } from '../gpu/engine.js';
import { checkConvVariant, sumStep, type ConvAutoRules, type ConvVariantName } from '../gpu/conv_variant.js';
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout, type UniformValues } from '../gpu/uniforms.js';
import { isGradEnabled, record } from '../autograd/tape.js';
import { addPending, chosenKernels, type ConvChoice, type ConvPass } from './conv_choices.js';
import { Tensor } from '../tensor.js';
import { add, fillInPlace, ones } from './elementwise.js';
import { checkOddSize } from './gaussian_mask.js';
import { grid1d } from './grid.js';
import { sum, sumRows, sumRowsInto } from './reduce.js';
import { reshape } from './shape.js';
import { expectFloat32 } from './operands.js';
import { TILED_MAX_PIXELS, TILED_TILES, tiledSplits, tiledSweep, tiledTile, type TiledTile } from './conv2d_tiled.js';
import { gpuAutoChoice, windowTaps, winogradByRule, winogradObstacle, type WinogradPass } from './conv2d_auto_rules.js';
import { BWD_WEIGHT_PARTIAL_FLOATS, bwdWeightChunks, bwdWeightConstants, bwdWeightInvocations, channelRows, forward1x1Constants, quadLayout, runBlocks, subgroupWeightKernel, WEIGHT_GRADIENTS, type WeightGradient } from './conv2d_subgroup_rules.js';
import { winogradInput, winogradInputInterleaved, winogradOutput, winogradPositions, winogradProductWorkgroups, winogradTiles, winogradUpstream, winogradWeightGrad, winogradWeights, type WinogradSize } from './conv2d_winograd.js';

export const ConvParams = uniformLayout('ConvParams', [
  ['N', 'u32'],
  ['Cin', 'u32'],
  ['H', 'u32'],
  ['W', 'u32'],
  ['Cout', 'u32'],
  ['Ho', 'u32'],
  ['Wo', 'u32'],
  ['s', 'u32'],
  ['kw', 'u32'],
  ['off', 'u32'],
  ['stride', 'u32'],
  ['pad', 'i32'],
  ['masked', 'u32'],
  ['kmin', 'u32'],
  ['cs', 'u32'],
  ['nchunk', 'u32'],
  ['cfirst', 'u32'],
] as const);

/** Column stride of the register block (conv2d.wgsl): up to 8 neighbouring invocations per strip. */
const columnStride = (width: number) => Math.min(8, Math.max(1, Math.ceil(width / 4)));
/** Invocations along a row of `width` columns: strips of 4·cs columns, cs invocations each. */
const rowInvocations = (width: number, cs: number) => Math.ceil(width / (4 * cs)) * cs;

const WG = 64;
const kernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'conv2d.wgsl', entry, params: ConvParams, bindings, constants: { WG } });
const subgroupKernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'conv2d_subgroups.wgsl', entry, params: ConvParams, bindings, constants: { WG }, feature: 'subgroups' });
const K = {
  fwd: kernel('conv2d_fwd', [1, 2, 3, 5]),
  bwdInput: kernel('conv2d_bwd_input', [2, 3, 4, 5]),
  bwdWeight: kernel('conv2d_bwd_weight', [1, 3, 4, 5]),
  bwdSize: kernel('conv2d_bwd_size', [2, 3, 4, 5]),
  sumWindowChunks: kernel('conv2d_sum_window_chunks', [3, 4, 5]),
  tapsTiled: kernel('conv2d_taps_tiled', [5, 8]),
  packTiled: kernel('conv2d_pack_tiled', [2, 3, 5]),
  fwdTiled: defineKernel({ file: 'conv2d.wgsl', entry: 'conv2d_fwd_tiled', params: ConvParams, bindings: [1, 6, 7, 3, 5] }),
  bwdWeightTiled: defineKernel({ file: 'conv2d.wgsl', entry: 'conv2d_bwd_weight_tiled', params: ConvParams, bindings: [1, 7, 4, 3, 5] }),
  packSubgroups: subgroupKernel('conv2d_pack_weights_sg', [2, 3, 5]),
  fwdSubgroups: subgroupKernel('conv2d_fwd_sg', [1, 6, 3, 5]),
  bwdInputSubgroups: subgroupKernel('conv2d_bwd_input_sg', [1, 6, 3, 5]),
  fwd1x1Subgroups: subgroupKernel('conv2d_fwd_1x1_sg', [9, 2, 11, 8, 5]),
  fwdQuadsSubgroups: subgroupKernel('conv2d_fwd_quads_sg', [1, 9, 6, 8, 5]),
  bwdInputQuadsSubgroups: subgroupKernel('conv2d_bwd_input_quads_sg', [1, 9, 6, 8, 5]),
  bwdInput1x1Subgroups: subgroupKernel('conv2d_bwd_input_1x1_sg', [2, 8, 9, 5]),
  winogradProductSubgroups: subgroupKernel('conv2d_winograd_product_sg', [9, 2, 11, 8, 5]),
  packInputSubgroups: subgroupKernel('conv2d_pack_input_sg', [1, 8]),
  bwdWeightSubgroups: subgroupKernel('conv2d_bwd_weight_sg', [7, 3, 4, 5, 10]),
  bwdWeightTapsSubgroups: subgroupKernel('conv2d_bwd_weight_taps_sg', [1, 3, 4, 5, 9, 10]),
  bwdWeightSlideSubgroups: subgroupKernel('conv2d_bwd_weight_slide_sg', [7, 3, 4, 5]),
};

/**
 * Which kernels run the convolution and its gradients: 'subgroups' (conv2d_subgroups.wgsl:
 * stride 1, 'same' padding, a device with one fixed subgroup size of 8…64, k_max − 1 ≤ that
 * size and k_max ≤ 9), 'plain' (conv2d.wgsl: any case), 'tiled' (conv2d.wgsl's workgroup-tiled
 * matrix-product kernels: any case, the input gradient too at stride 1 and on the plain kernel
 * otherwise — the GPU layout, several times slower than the others on CPU adapters), 'auto'
 * (default: the engine's measured rules, EngineOptions.convAutoRules — on a CPU adapter the
 * subgroup kernels where they apply, else plain; on a GPU the tiled kernels (their 8 × 8 block
 * where GPU_TILE_RULE takes a pass), with the subgroup Winograd kernels where WINOGRAD_GPU_RULE
 * takes a forward or input gradient: gpuAutoChoice), or
 * 'fastest': the family tuneConvs
 * (ops/conv_tuning.ts) measured fastest for this convolution's shapes on this device — 'auto'
 * until it has run. All compute the same sums; the size gradient always uses conv2d.wgsl's
 * conv2d_bwd_size.
 */
export type ConvVariant = ConvVariantName;

export { TILED_TILES, tiledConfigProblem, tiledTile, type TiledConfig, type TiledTile } from './conv2d_tiled.js';

/** Why the subgroup kernels cannot run this convolution, or null when they can. */
function subgroupObstacle(engine: Engine, kw: number, stride: number, same: boolean, pixels: number): string | null {
  const sg = engine.subgroupSize;
  if (sg === null) return "the device has no 'subgroups' feature with one fixed subgroup size";
  if (sg < 8 || sg > WG) return `the subgroup size ${sg} is outside 8…${WG}`;
  if (kw - 1 > sg) return `k_max ${kw} exceeds subgroup size + 1 (${sg + 1})`;
  if (kw > 9) return `k_max ${kw} exceeds 9, the largest window of the subgroup kernels`;
  if (stride !== 1) return 'stride is not 1';
  if (!same) return "padding is not 'same'";
  // the run-layout kernels cover the whole batch's pixels along one grid dimension
  if (Math.ceil(pixels / 4 / WG) > 65535) return `the batch's ${pixels} pixels per channel exceed one dispatch's 65535 workgroups of ${4 * WG}`;
  return null;
}

/**
 * The EffConv hard size of a soft size v: the nearest odd integer (ties upward), clamped to
 * [kMin, kMax]. conv2d.wgsl computes the same on the GPU for `size: 'fromSoftSize'`.
 */
export function hardSize(v: number, kMin: number, kMax: number): number {
  const s = 2 * Math.max(0, Math.floor((v - 1) / 2 + 0.5)) + 1;
  return Math.min(kMax, Math.max(kMin, s));
}

/**
 * Set on the options of a call whose variant 'auto' names the family 'auto' itself — the subgroup
 * kernels where they apply, else plain — whatever the engine's rules (convAutoRules): what
 * 'fastest' times and replays under that name (ops/conv_tuning.ts, passPlan).
 */
export const AUTO_FAMILY: unique symbol = Symbol('conv2d: auto as the family');

export interface Conv2dOptions {
  /** See AUTO_FAMILY (for 'fastest''s tuning; not needed elsewhere). */
  [AUTO_FAMILY]?: true;
  /**
   * Odd kernel size s ≤ the stored grid kw; default kw. The centred s × s window of w is used.
   * 'fromSoftSize': s = hardSize(v, kMin, kw) computed on the GPU from `softSize` (no readback;
   * padding must be 'same').
   */
  size?: number | 'fromSoftSize';
  /** Smallest admissible size for `size: 'fromSoftSize'` (odd, default 1). */
  kMin?: number;
  stride?: 1 | 2;
  /** 'same' = (s − 1)/2 (default), or an explicit non-negative padding. */
  padding?: 'same' | number;
  /** Bias [Cout]. */
  bias?: Tensor;
  /**
   * Soft size v: applies the Gaussian mask on the fly. A one-element tensor (differentiable; its
   * value is not checked on the GPU — the size predictor keeps it in (k_min, k_max) by
   * construction) or a number (checked: finite and > 0).
   */
  softSize?: Tensor | number;
  /** Kernel variant (default: the engine's convVariant, itself 'auto' by default); see ConvVariant. */
  variant?: ConvVariant;
  /**
   * The subgroup weight-gradient kernel (default 'auto': conv2d_bwd_weight_taps_sg for inputs of
   * up to 6 channels, else conv2d_bwd_weight_sg). 'slide' takes the sliding kernel
   * conv2d_bwd_weight_slide_sg for every window of at most subgroup-size taps a row (inputs of
   * more than 6 channels); 'rows' always conv2d_bwd_weight_sg, 'taps' always
   * conv2d_bwd_weight_taps_sg. For kernel studies, tests and the tuning of 'fastest'; the sums
   * are the same.
   */
  weightGradient?: WeightGradient;
  /**
   * The tiled kernels' block of products per invocation (TiledTile, default '4x4'; see tiledTile;
   * unset under the GPU rules of 'auto', the block GPU_TILE_RULE picks per pass). Read by the
   * tiled family only; under 'fastest' a given tile is the only one timed there, else tuneConvs
   * times both where the tiled kernels come near the fastest. The sums are the same.
   */
  tile?: TiledTile;
  /**
   * The Winograd algorithms F(4 × 4, 3 × 3) and F(4 × 4, 5 × 5) (shaders/conv2d_winograd.wgsl: a
   * quarter and a sixth of the multiply-adds, a few times the float32 rounding of the direct
   * sums): 'auto' (default) where they measured faster — a fixed 3 × 3 or 5 × 5 window on the
   * subgroup kernels with enough channels and tiles (WINOGRAD_RULE) —, true for every fixed 3 × 3
   * or 5 × 5 window on the subgroup kernels (a RangeError elsewhere), false never. The weight
   * gradient follows it where the stored grid is the window and unmasked (and under 'auto' only
   * with weightGradient 'auto'); elsewhere it is direct.
   */
  winograd?: boolean | 'auto';
}

// The shader always binds a v buffer; unmasked convolutions get this placeholder.
const placeholders = new WeakMap<Engine, Tensor>();
function placeholderV(engine: Engine): Tensor {
  let t = placeholders.get(engine);
  if (!t || t.disposed) {
    t = engine.keep(ones(engine, [1]));
    placeholders.set(engine, t);
  }
  return t;
}

type ConvUniforms = UniformValues<(typeof ConvParams.fields)[number][0]>;

/** Checked shapes, uniforms and grids of one convolution (shared by the op and the raw kernels). */
interface ConvPlan {
  x: Tensor;
  w: Tensor;
  /** The soft size tensor, or the placeholder when unmasked. */
  vt: Tensor;
  masked: boolean;
  outShape: number[];
  params: ConvUniforms;
  inputParams: ConvUniforms;
  /** Forward and input gradient on conv2d_subgroups.wgsl. */
  subgroups: boolean;
  /** Forward, weight gradient (and, where tiledInput, input gradient) on conv2d.wgsl's tiled kernels. */
  tiled: boolean;
  /** The input gradient on the tiled kernels: variant 'tiled' at stride 1 (and pad ≤ s − 1). */
  tiledInput: boolean;
  /** Conv2dOptions.weightGradient. */
  weightGradient: WeightGradient;
  /** Conv2dOptions.tile: the tiled kernels' block. */
  tile: TiledTile;
  /** Conv2dOptions.winograd. */
  winograd: boolean | 'auto';
  /** The family that runs the forward: the subgroup, plain or tiled kernels. */
  kernels: 'subgroups' | 'plain' | 'tiled';
  /** Under 'fastest': the family of each pass (the forward's is this plan's), else null. */
  choice: ConvChoice | null;
  /** The options it was planned from (passPlan plans the gradients' families from them). */
  options: Conv2dOptions;
  grids: { fwd: [number, number]; bwdInput: [number, number]; bwdWeight: [number, number]; fwd1x1: [number, number]; bwdInput1x1: [number, number] };
}

/**
 * Variant 'fastest': the families tuneConvs chose for this convolution's passes (keyed by its
 * shapes, options and the gradients its inputs need), or — not timed yet — null (it runs 'auto'),
 * recording the call for tuneConvs (ops/conv_tuning.ts).
 */
function fastestChoice(
  x: Tensor,
  w: Tensor,
  v: Tensor | undefined,
  softSize: Conv2dOptions['softSize'],
  c: { auto: boolean; s: number; kMin: number; stride: 1 | 2; pad: number; weightGradient: WeightGradient; tile: TiledTile | undefined; winograd: boolean | 'auto' },
): ConvChoice | null {
  const engine = x.engine;
  const grad = isGradEnabled(engine);
  const gradients = { input: grad && x.requiresGrad, weight: grad && (w.requiresGrad || !!v?.requiresGrad) };
  const key =
    `${fmtShape(x.shape)} * ${fmtShape(w.shape)} size ${c.auto ? 'v' : c.s} k_min ${c.kMin} stride ${c.stride} pad ${c.pad}${v ? ' masked' : ''}` +
    `${c.weightGradient === 'auto' ? '' : ` ${c.weightGradient}`}${c.tile === undefined ? '' : ` tile ${c.tile}`}${c.winograd === 'auto' ? '' : ` winograd ${c.winograd}`}` +
    `${gradients.input ? ' dx' : ''}${gradients.weight ? ' dw' : ''}`;
  const chosen = chosenKernels(engine, key);
  if (chosen) return chosen;
  addPending(engine, {
    key,
    xShape: x.shape,
    wShape: w.shape,
    size: c.auto ? 'fromSoftSize' : c.s,
    kMin: c.kMin,
    stride: c.stride,
    padding: c.pad,
    weightKernel: c.weightGradient,
    tile: c.tile,
    winograd: c.winograd,
    softSize: typeof softSize === 'number' ? softSize : (v ?? null),
    gradients,
  });
  return null;
}

function planConv(op: string, x: Tensor, w: Tensor, opts: Conv2dOptions): ConvPlan {
  expectFloat32(op, x, w, typeof opts.softSize === 'number' ? null : opts.softSize);
  if (x.rank !== 4) throw new ShapeError(op, `input must be [N, Cin, H, W], got ${fmtShape(x.shape)}`);
  if (w.rank !== 4 || w.shape[2] !== w.shape[3]) {
    throw new ShapeError(op, `weight must be [Cout, Cin, k, k], got ${fmtShape(w.shape)}`);
  }
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [Cout, wCin, kw] = w.shape as [number, number, number];
  if (wCin !== Cin) throw new ShapeError(op, `input has ${Cin} channels but weight ${fmtShape(w.shape)} expects ${wCin}`);
  checkOddSize(op, 'stored kernel size', kw);
  const auto = opts.size === 'fromSoftSize';
  const kMin = opts.kMin ?? 1;
  checkOddSize(op, 'kMin', kMin);
  if (kMin > kw) throw new RangeError(`${op}: kMin = ${kMin} exceeds the weight grid ${kw} (k_max)`);
  if (auto && opts.softSize === undefined) throw new RangeError(`${op}: size 'fromSoftSize' needs a softSize`);
  if (auto && opts.padding !== undefined && opts.padding !== 'same') throw new RangeError(`${op}: size 'fromSoftSize' needs 'same' padding`);
  const s = auto ? kw : ((opts.size as number | undefined) ?? kw); // auto: shapes are those of any size under 'same'
  checkOddSize(op, 'kernel size s', s);
  if (s > kw) throw new RangeError(`${op}: kernel size s = ${s} exceeds the weight grid ${kw} (k_max)`);
  const stride = opts.stride ?? 1;
  if (stride !== 1 && stride !== 2) throw new RangeError(`${op}: stride must be 1 or 2, got ${stride}`);
  const pad = opts.padding === undefined || opts.padding === 'same' ? (s - 1) / 2 : opts.padding;
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`${op}: padding must be 'same' or an integer ≥ 0, got ${pad}`);
  const Ho = Math.floor((H + 2 * pad - s) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - s) / stride) + 1;
  if (H + 2 * pad < s || W + 2 * pad < s || Ho < 1 || Wo < 1) {
    throw new ShapeError(op, `input ${H}×${W} with padding ${pad} is smaller than the ${s}×${s} kernel`);
  }
  if (typeof opts.softSize === 'number' && !(Number.isFinite(opts.softSize) && opts.softSize > 0)) {
    throw new RangeError(`${op}: soft size v must be finite and > 0, got ${opts.softSize}`);
  }
  const v = typeof opts.softSize === 'number' ? Tensor.from(x.engine, [opts.softSize], [1]) : opts.softSize;
  if (v && v.size !== 1) throw new ShapeError(op, `soft size must have one element, got ${fmtShape(v.shape)}`);
  if (opts.bias && (opts.bias.rank !== 1 || opts.bias.shape[0] !== Cout)) {
    throw new ShapeError(op, `bias ${fmtShape(opts.bias.shape)} does not match ${Cout} output channels`);
  }
  // grids: x over a plane's (row, column block)s, y over (n, block of 8 channels); see conv2d.wgsl
  if (N * Math.ceil(Math.max(Cout, Cin) / 8) > 65535) {
    throw new ShapeError(op, `batch ${N} × ${Math.max(Cout, Cin)} channels exceeds one dispatch's 65535 workgroup rows`);
  }
  const weightGradient = opts.weightGradient ?? 'auto';
  if (!(WEIGHT_GRADIENTS as readonly unknown[]).includes(weightGradient)) throw new RangeError(`${op}: weightGradient must be 'auto', 'slide', 'rows' or 'taps', got ${String(weightGradient)}`);
  if (opts.tile !== undefined && !(TILED_TILES as readonly unknown[]).includes(opts.tile)) throw new RangeError(`${op}: tile must be '4x4' or '8x8', got ${String(opts.tile)}`);
  let winograd = opts.winograd ?? 'auto';
  if (winograd !== 'auto' && winograd !== true && winograd !== false) throw new RangeError(`${op}: winograd must be true, false or 'auto', got ${String(winograd)}`);
  let tile: TiledTile = opts.tile ?? '4x4';
  let variant: ConvVariantName = checkConvVariant(op, 'variant', opts.variant ?? x.engine.convVariant);
  let choice: ConvChoice | null = null;
  if (variant === 'fastest') {
    choice = fastestChoice(x, w, v, opts.softSize, { auto, s, kMin, stride, pad, weightGradient, tile: opts.tile, winograd });
    variant = choice?.forward ?? 'auto';
    tile = choice?.tiles?.forward ?? tile;
    winograd = choice?.winograd?.forward ?? winograd;
  }
  const samePad = pad === (s - 1) / 2;
  const tiledPixels = N * Math.max(Ho * Wo, H * W);
  const subgroupProblem = subgroupObstacle(x.engine, kw, stride, samePad, N * H * W);
  if (variant === 'auto' && choice === null && !opts[AUTO_FAMILY] && x.engine.convAutoRules === 'gpu') {
    choice = gpuAutoChoice(x.engine, { N, Cin, H, W, Cout, s: auto ? 0 : s, kw, subgroups: subgroupProblem === null, tiledPixels, winograd, weightGradient, tile: opts.tile });
    variant = choice.forward;
    tile = choice.tiles?.forward ?? tile;
  }
  const obstacle = variant === 'plain' ? 'plain requested' : subgroupProblem;
  if (variant === 'subgroups' && obstacle) throw new RangeError(`${op}: the subgroup kernels cannot run this convolution: ${obstacle}`);
  const tiled = variant === 'tiled';
  if (tiled && tiledPixels > TILED_MAX_PIXELS) {
    throw new ShapeError(op, `the tiled kernels take at most ${TILED_MAX_PIXELS} pixels per channel over the batch, got ${tiledPixels}`);
  }
  const subgroups = obstacle === null && !tiled;
  if (winograd === true) {
    const why = !subgroups ? `it runs on the ${tiled ? 'tiled' : 'plain'} kernels${obstacle && obstacle !== 'plain requested' ? ` (${obstacle})` : ''}, not the subgroup ones` : winogradObstacle(x.engine, auto ? 0 : s, N, H, W, Math.max(Cin, Cout));
    if (why) throw new RangeError(`${op}: winograd: true cannot run this convolution: ${why}`);
  }
  const base = { N, Cin, H, W, Cout, Ho, Wo, s: auto ? 0 : s, kw, off: (kw - s) / 2, stride, pad, masked: v ? 1 : 0, kmin: kMin, nchunk: 0, cfirst: 0 };
  const params = { ...base, cs: columnStride(Wo) }; // forward and weight gradient: output columns
  const inputParams = { ...base, cs: columnStride(W) }; // input gradient: input columns
  return {
    x,
    w,
    vt: v ?? placeholderV(x.engine),
    masked: !!v,
    outShape: [N, Cout, Ho, Wo],
    params,
    inputParams,
    subgroups,
    tiled,
    // the input gradient as the stride-1 convolution of g with w transposed and flipped (padding s − 1 − pad)
    tiledInput: tiled && stride === 1 && pad <= s - 1,
    weightGradient,
    tile,
    winograd,
    kernels: tiled ? 'tiled' : subgroups ? 'subgroups' : 'plain',
    choice,
    options: opts,
    grids: {
      fwd: [Math.ceil((Ho * rowInvocations(Wo, params.cs)) / WG), N * Math.ceil(Cout / 8)],
      bwdInput: [Math.ceil((H * rowInvocations(W, inputParams.cs)) / WG), N * Math.ceil(Cin / 8)],
      // the 1 × 1 subgroup kernels: 4 pixels per invocation, runs over the whole batch's pixels; y
      // over blocks of 16 channels (the s × s ones: rowKernelLaunches)
      fwd1x1: [Math.ceil(N * H * W / 4 / WG), Math.ceil(Cout / 16)],
      bwdInput1x1: [Math.ceil(N * H * W / 4 / WG), Math.ceil(Cin / 16)],
      bwdWeight: grid1d(Math.ceil(Cout / 8) * Math.ceil(Cin / 4) * kw * kw, WG),
    },
  };
}

/**
 * The plan of a gradient pass: `p` itself, or — where 'fastest' chose another family for that
 * pass — the same convolution planned on it (its soft size the forward's tensor).
 */
function passPlan(p: ConvPlan, pass: Exclude<ConvPass, 'forward'>): ConvPlan {
  const family = p.choice?.[pass];
  const weightKernel = pass === 'weight' ? p.choice?.weightKernel : undefined;
  const tile = p.choice?.tiles?.[pass] ?? p.options.tile ?? '4x4';
  // the pass's own Winograd setting: the choice's, else the call's (the forward's may be the choice's)
  const winograd = p.choice?.winograd?.[pass] ?? p.options.winograd ?? 'auto';
  if (!family || (family === p.choice!.forward && !weightKernel && tile === p.tile && winograd === p.winograd)) return p;
  return planConv('conv2d', p.x, p.w, { ...p.options, softSize: p.masked ? p.vt : undefined, variant: family, [AUTO_FAMILY]: true, tile, winograd, ...(weightKernel ? { weightGradient: weightKernel } : {}) });
}

/** The input gradient on `p`'s family for it; `packed` is the forward's packing, reused where that is the same plan. */
function backwardInputPass(p: ConvPlan, w: Tensor, g: Tensor, vt: Tensor, packed: Tensor | null): Tensor {
  const q = passPlan(p, 'input');
  if (q === p) return runBackwardInput(p, w, g, vt, packed);
  return withPacking(q, w, vt, (own) => runBackwardInput(q, w, g, vt, own));
}

/**
 * The subgroup kernels are specialised on the window size (pipeline constant S). When the size
 * comes from the soft size on the GPU, one dispatch per admissible odd size: every one but the
 * matching returns at once, so the step still reads nothing back.
 */
function sizeVariants(p: ConvPlan): number[] {
  if (p.params.s !== 0) return [p.params.s];
  const sizes: number[] = [];
  for (let s = p.params.kmin; s <= p.params.kw; s += 2) sizes.push(s);
  return sizes;
}

/** Floats of the packed window of size S: kernel rows padded to whole vec4s. */
const packedFloats = (p: ConvPlan, S: number) => p.params.Cout * p.params.Cin * S * 4 * Math.ceil(S / 4);

/**
 * The window the subgroup kernels read (conv2d_pack_weights_sg): w masked by vt, kernel rows
 * padded to whole vec4s, for the size in use — which the shader derives from the soft size on the
 * GPU when the size is not fixed, so one packing (sized for the largest candidate) serves
 * whichever candidate pipeline does the work. Null where the kernels read w as it is (plain
 * kernels, the 1 × 1 quads). conv2d packs once per step; its input gradient reuses the packing.
 */
function packWeights(p: ConvPlan, w: Tensor, vt: Tensor): Tensor | null {
  if (!p.subgroups || plain1x1(p)) return null;
  const sizes = sizeVariants(p);
  const largest = sizes[sizes.length - 1]!;
  const packed = Tensor.empty(w.engine, [packedFloats(p, largest)]);
  // one invocation per packed kernel row
  w.engine.dispatch(K.packSubgroups, p.params, [w.buffer, packed.buffer, vt.buffer], grid1d(p.params.Cout * p.params.Cin * largest, WG));
  return packed;
}

/** The 1 × 1 subgroup kernels (pixels as vec4 quads) serve S = 1 on planes of a multiple of 4. */
const quads = (p: ConvPlan, S: number) => S === 1 && (p.params.H * p.params.W) % 4 === 0;
/** The quad-rows kernels (a vec4 load per kernel row and lane) serve S > 1 on rows of a multiple of 4 pixels. */
const quadRows = (p: ConvPlan, S: number) => S > 1 && p.params.W % 4 === 0;
/**
 * The quad-rows kernels' row pairs on rows of W off a multiple of 4 (PADDED: each row as 4·⌈W/4⌉
 * slots, the padding slots read as 0 and not stored), in place of the run layout — whose lanes
 * hold 4 pixels where a row pair's hold 8 and share each weight load between them — where
 * quadLayout takes row pairs (`rows` 2) for the pass and the pairs' slots are at
 * most 1/8 padding (a row pair past an odd H counts too), within one dispatch's 65535 workgroups.
 * Paired against the run layout on lavapipe (AVX-512 host; new / old time, forward and input
 * gradient, 7 reps): 14×14 (1/8 padding) 16→32 and 32→32 at N = 128, S = 5 0.84, 0.83 and 0.90,
 * 0.89; S = 3 0.94, 0.80 and 0.94, 0.93; 15×15 (0.12) and 30×30 (0.06) 32→32 at N = 32 0.91–0.98
 * and 0.84–0.92; but 10×10 (0.17) 1.05–1.20, 7×7 (0.23) 32→64 and 64→64 at N = 128 1.01–1.08,
 * 6×6 (0.25) 1.01–1.02.
 */
function paddedRowPairs(p: ConvPlan, S: number, rows: 1 | 2): boolean {
  const { N, H, W } = p.params;
  if (S === 1 || W % 4 === 0 || rows !== 2) return false;
  const slots = 2 * Math.ceil(H / 2) * 4 * Math.ceil(W / 4);
  return 8 * H * W >= 7 * slots && Math.ceil((N * Math.ceil(H / 2) * Math.ceil(W / 4)) / WG) <= 65535;
}
/**
 * The s × s subgroup kernels' launches for a pass writing `channels` channels: which kernels (the
 * quad rows, or the run layout), and per dispatch (channelRows: whole rows of BLOCKS blocks of 8
 * channels, then the rest in fewer blocks) `grid` with a row per BLOCKS blocks, the first channel
 * `cfirst` and the pipeline constants — S, BLOCKS and, in the quad rows, whether runs of 4·SG
 * pixels can start inside a row (HALO) and whether the rows are padded to whole quads (PADDED).
 */
function rowKernelLaunches(p: ConvPlan, S: number, channels: number): { quads: boolean; grid: [number, number]; cfirst: number; constants: Record<string, number> }[] {
  const rules = p.x.engine.convAutoRules;
  const { N, H, W } = p.params;
  // the run layout's workgroups: a lane per 4 pixels of the batch (runs over the whole batch's pixels)
  const runLanes = Math.ceil((N * H * W) / 4 / WG);
  const { rows, blocks } = quadLayout(S, channels, rules);
  const padded = paddedRowPairs(p, S, rows);
  if (!quadRows(p, S) && !padded) {
    return channelRows(channels, runBlocks(S, channels, rules), [1, 2, 4]).map((r) => ({ quads: false, grid: [runLanes, r.rows], cfirst: r.cfirst, constants: { S, BLOCKS: r.blocks } }));
  }
  const run = 4 * p.x.engine.subgroupSize!;
  const slots = 4 * Math.ceil(W / 4); // a row's slots (W where 4 divides it)
  // row pairs: a lane per quad of a pair of rows (no more workgroups than a lane per quad, which
  // subgroupObstacle bounds, or paddedRowPairs)
  const lanes = rows === 2 ? Math.ceil((N * Math.ceil(H / 2) * (slots / 4)) / WG) : runLanes;
  return channelRows(channels, blocks, [1, 2]).map((r) => ({ quads: true, grid: [lanes, r.rows], cfirst: r.cfirst, constants: { S, HALO: run % slots === 0 ? 0 : 1, BLOCKS: r.blocks, ROWS: rows, PADDED: Number(padded) } }));
}

/** Whether `pass` of `p` (its product's input and output channels) runs on the Winograd kernels. */
function useWinograd(p: ConvPlan, pass: WinogradPass, inChannels: number, outChannels: number): boolean {
  if (!p.subgroups || p.winograd === false) return false;
  const { s, N, H, W } = p.params;
  if (p.winograd === true) return winogradObstacle(p.x.engine, s, N, H, W, Math.max(inChannels, outChannels)) === null;
  return winogradByRule(p.x.engine, s, N, H, W, pass, inChannels, outChannels);
}

/**
 * Whether the weight gradient of `p` runs on the Winograd kernels: as the forward's rule, for an
 * unmasked grid of the window's size (the transforms write the whole S × S window, with no mask)
 * and, under 'auto', the default weight-gradient kernel choice.
 */
function useWinogradWeight(p: ConvPlan): boolean {
  if (p.masked || p.params.kw !== p.params.s || (p.winograd === 'auto' && p.weightGradient !== 'auto')) return false;
  return useWinograd(p, 'weight', p.params.Cin, p.params.Cout);
}

/**
 * The uniforms of the Winograd products as a 1 × 1 convolution: `positions` images (one per
 * weight matrix) of the batch's L tiles, Cin → Cout channels.
 */
function productParams(p: ConvPlan, positions: number, L: number, Cin: number, Cout: number): ConvUniforms {
  return { ...p.params, N: positions, Cin, Cout, H: 1, W: L, Ho: 1, Wo: L, s: 1, kw: 1, off: 0, pad: 0, masked: 0, kmin: 1, nchunk: 0 };
}

/**
 * The weight gradient on the Winograd kernels: V of x (channels interleaved by 4) and D of g
 * (conv2d_winograd_upstream), their products summed over the batch's tiles per position by
 * conv2d_bwd_weight_sg at S = 1 (36 or 64 images of L tiles, one chunk each: its copies of dw are
 * dU [positions, Cout, Cin]), then dw = Gᵀ dU G.
 */
function runWinogradWeight(p: ConvPlan, x: Tensor, g: Tensor): Tensor {
  const e = x.engine;
  const { N, Cin, Cout, H, W } = p.params;
  const S = p.params.s as WinogradSize;
  const positions = winogradPositions(S);
  const { L } = winogradTiles(N, H, W);
  // one chunk per position: its copy of dw is that position's dU
  const params = { ...productParams(p, positions, L, Cin, Cout), nchunk: 1 };
  // conv2d_bwd_weight_sg reads 4 input channels as one vec4: V written interleaved
  const interleaved = winogradInputInterleaved(S, x);
  const d = winogradUpstream(S, g);
  const du = Tensor.empty(e, [positions * Cout * Cin]);
  const grid: [number, number] = [Math.ceil(bwdWeightInvocations(Cin, Cout, 1, e.subgroupSize!, 'rows', e.convAutoRules) / WG), positions];
  e.dispatch(K.bwdWeightSubgroups, params, [interleaved.buffer, du.buffer, d.buffer, p.vt.buffer, d.buffer], grid, bwdWeightConstants(Cin, Cout, 1, e.subgroupSize!, e.convAutoRules, true));
  interleaved.dispose();
  d.dispose();
  const dw = winogradWeightGrad(S, du, Cout, Cin);
  du.dispose();
  return dw;
}

/**
 * A pass on the Winograd kernels: out [N, R, H, W] from input [N, K, H, W] and the packed S × S
 * window — transformed weights (flipped for the input gradient) and tiles, the 36 or 64 products
 * (conv2d_winograd_product_sg), the output transform.
 */
function runWinograd(p: ConvPlan, input: Tensor, packed: Tensor, out: Tensor, flip: boolean): void {
  const e = input.engine;
  const N = p.params.N;
  const R = out.shape[1]!;
  const Kc = input.shape[1]!;
  const S = p.params.s as WinogradSize;
  const positions = winogradPositions(S);
  const u = winogradWeights(S, packed, R, Kc, flip);
  const v = winogradInput(S, input);
  const { L } = winogradTiles(N, p.params.H, p.params.W);
  const m = Tensor.empty(e, [positions * R * L]);
  const params = productParams(p, positions, L, Kc, R);
  e.dispatch(K.winogradProductSubgroups, params, [v.buffer, u.buffer, u.buffer, m.buffer, p.vt.buffer], [winogradProductWorkgroups(positions, L), Math.ceil(R / 16)], forward1x1Constants(e.convAutoRules, Kc));
  u.dispose();
  v.dispose();
  winogradOutput(S, m, out);
  m.dispose();
}

/**
 * A 1 × 1 grid on planes of a multiple of 4 pixels: the 1 × 1 kernels read w as it is (W_STRIDE
 * 1), with no packing dispatch (the Gaussian mask of a 1 × 1 grid is 1: its one tap is the centre).
 */
const plain1x1 = (p: ConvPlan) => p.params.kw === 1 && quads(p, 1);

/**
 * The tiled kernels' product (conv2d.wgsl): packs w for it (transposed and flipped for the input
 * gradient, whose uniforms describe the convolution of g), then one dispatch writes `out` — or,
 * where tiledSplits splits the sum, its copies, added into `out` after.
 */
function runTiled(params: ConvUniforms, flip: boolean, input: Tensor, w: Tensor, vt: Tensor, out: Tensor, tile: TiledTile): void {
  const e = w.engine;
  const { N, Cin, Cout, Ho, Wo, kw, s } = params;
  // K for the largest window (the packing is sized for it) by the rows padded to whole vec4s
  const floats = Cin * kw * kw * 4 * Math.ceil(Cout / 4);
  const packed = Tensor.empty(e, [floats]);
  const taps = tapTable(params, vt);
  e.dispatch(K.packTiled, params, [w.buffer, packed.buffer, vt.buffer], grid1d(floats, WG), { FLIP: flip ? 1 : 0 });
  const constants = tiledTile(Cout, tile);
  const grid = [Math.ceil((N * Ho * Wo) / constants.TN), Math.ceil(Cout / constants.TM)] as const;
  const { splits, perSplit } = tiledSplits(grid[0] * grid[1], Cin * windowTaps(s, kw), constants.TK, out.size);
  const copies = splits > 1 ? Tensor.empty(e, [splits * out.size]) : out;
  e.dispatch(K.fwdTiled, { ...params, nchunk: perSplit }, [input.buffer, packed.buffer, taps.buffer, copies.buffer, vt.buffer], [...grid, splits], constants);
  if (splits > 1) {
    sumRowsInto(copies, splits, out);
    copies.dispose();
  }
  packed.dispose();
  taps.dispose();
}

/** The tiled kernels' table of the window's taps (conv2d_taps_tiled): one vec4<i32> per k < Cin·s². */
function tapTable(params: ConvUniforms, vt: Tensor): Tensor {
  const depth = params.Cin * params.kw * params.kw; // sized for the largest window
  const taps = Tensor.empty(vt.engine, [depth * 4]);
  vt.engine.dispatch(K.tapsTiled, params, [vt.buffer, taps.buffer], grid1d(depth, WG));
  return taps;
}

/** Workgroups (tiles × chunks of pixels) the tiled weight gradient should reach, to fill a GPU. */
const TILED_WEIGHT_WORKGROUPS = 512;
/**
 * Fewest output pixels per chunk of the tiled weight gradient (a chunk costs a copy of dw): 256
 * (bench/HISTORY.md run 56, an H200: against 1024, 0.39–0.84× the time on products of 1–13 tiles,
 * the same on larger ones; 64 no better).
 */
const TILED_WEIGHT_MIN_PIXELS = 256;

/**
 * The tiled weight gradient (conv2d_bwd_weight_tiled): the batch's output pixels split into
 * chunks until the tiles × chunks reach TILED_WEIGHT_WORKGROUPS (at least TILED_WEIGHT_MIN_PIXELS
 * pixels a chunk, within BWD_WEIGHT_PARTIAL_FLOATS for the chunks' copies of dw), the copies added after.
 */
function runTiledWeight(p: ConvPlan, x: Tensor, g: Tensor, vt: Tensor): Tensor {
  const e = x.engine;
  const { N, Cin, Cout, Ho, Wo, kw, s } = p.params;
  const pixels = N * Ho * Wo;
  const constants = tiledTile(Cout, p.tile);
  const { TM, TN } = constants;
  // columns: the window's taps (where the size is found on the GPU, tiles past them return at once)
  const columnTiles = Math.ceil((Cin * windowTaps(s, kw)) / TN);
  const tiles = columnTiles * Math.ceil(Cout / TM);
  const wanted = Math.min(Math.ceil(TILED_WEIGHT_WORKGROUPS / tiles), Math.floor(pixels / (tiledSweep.weightMinPixels ?? TILED_WEIGHT_MIN_PIXELS)), Math.floor(BWD_WEIGHT_PARTIAL_FLOATS / p.w.size));
  const perChunk = Math.ceil(pixels / Math.max(1, wanted));
  const chunks = Math.ceil(pixels / perChunk);
  const sums = Tensor.empty(e, chunks > 1 ? [chunks * p.w.size] : p.w.shape);
  // the kernel writes the window's taps only; the rest of the k_max grid is 0
  if (p.params.s !== kw) fillInPlace(sums, 0);
  const taps = tapTable(p.params, vt);
  const params = { ...p.params, nchunk: perChunk };
  e.dispatch(K.bwdWeightTiled, params, [x.buffer, taps.buffer, g.buffer, sums.buffer, vt.buffer], [columnTiles, Math.ceil(Cout / TM), chunks], constants);
  taps.dispose();
  if (chunks === 1) return sums;
  const dw = sumRows(sums, chunks, p.w.shape);
  sums.dispose();
  return dw;
}

/**
 * The uniforms of the input gradient as a convolution of g [N, Cout, Ho, Wo] into dx [N, Cin,
 * H, W] (stride 1): channels and planes swapped, padding s − 1 − pad (the same under 'same').
 */
function flippedParams(p: ConvPlan): ConvUniforms {
  const q = p.params;
  return { ...q, Cin: q.Cout, Cout: q.Cin, H: q.Ho, W: q.Wo, Ho: q.H, Wo: q.W, pad: q.s === 0 ? q.pad : q.s - 1 - q.pad };
}

/** The forward; `packed` is packWeights(p, w, p.vt). */
function runForward(p: ConvPlan, x: Tensor, w: Tensor, packed: Tensor | null): Tensor {
  const y = Tensor.empty(x.engine, p.outShape);
  if (p.tiled) runTiled(p.params, false, x, w, p.vt, y, p.tile);
  else if (!p.subgroups) x.engine.dispatch(K.fwd, p.params, [x.buffer, w.buffer, y.buffer, p.vt.buffer], p.grids.fwd);
  else if (!packed) x.engine.dispatch(K.fwd1x1Subgroups, p.params, [x.buffer, w.buffer, w.buffer, y.buffer, p.vt.buffer], p.grids.fwd1x1, forward1x1Constants(x.engine.convAutoRules, p.params.Cin));
  else if (useWinograd(p, 'forward', p.params.Cin, p.params.Cout)) runWinograd(p, x, packed, y, false);
  else {
    const e = x.engine;
    for (const S of sizeVariants(p)) {
      if (quads(p, S)) {
        e.dispatch(K.fwd1x1Subgroups, p.params, [x.buffer, packed.buffer, packed.buffer, y.buffer, p.vt.buffer], p.grids.fwd1x1, { S, SUM_STEP: sumStep(e.convAutoRules) });
        continue;
      }
      for (const { quads: quadKernels, grid, cfirst, constants } of rowKernelLaunches(p, S, p.params.Cout)) {
        const params = { ...p.params, cfirst };
        if (quadKernels) e.dispatch(K.fwdQuadsSubgroups, params, [x.buffer, x.buffer, packed.buffer, y.buffer, p.vt.buffer], grid, constants);
        else e.dispatch(K.fwdSubgroups, params, [x.buffer, packed.buffer, y.buffer, p.vt.buffer], grid, constants);
      }
    }
  }
  return y;
}

/** The input gradient; `packed` is packWeights(p, w, vt). */
function runBackwardInput(p: ConvPlan, w: Tensor, g: Tensor, vt: Tensor, packed: Tensor | null): Tensor {
  const dx = Tensor.empty(w.engine, p.x.shape);
  if (p.tiledInput) runTiled(flippedParams(p), true, g, w, vt, dx, p.tile);
  else if (!p.subgroups) w.engine.dispatch(K.bwdInput, p.inputParams, [w.buffer, dx.buffer, g.buffer, vt.buffer], p.grids.bwdInput);
  else if (!packed) w.engine.dispatch(K.bwdInput1x1Subgroups, p.inputParams, [w.buffer, dx.buffer, g.buffer, vt.buffer], p.grids.bwdInput1x1, { S: 1, W_STRIDE: 1, SUM_STEP: sumStep(w.engine.convAutoRules) });
  else if (useWinograd(p, 'input', p.params.Cout, p.params.Cin)) runWinograd(p, g, packed, dx, true);
  else {
    const e = w.engine;
    // the subgroup input-gradient kernels read the convolved input (here g) where the forward reads x
    for (const S of sizeVariants(p)) {
      if (quads(p, S)) {
        e.dispatch(K.bwdInput1x1Subgroups, p.inputParams, [packed.buffer, dx.buffer, g.buffer, vt.buffer], p.grids.bwdInput1x1, { S, SUM_STEP: sumStep(e.convAutoRules) });
        continue;
      }
      for (const { quads: quadKernels, grid, cfirst, constants } of rowKernelLaunches(p, S, p.params.Cin)) {
        const params = { ...p.inputParams, cfirst };
        if (quadKernels) e.dispatch(K.bwdInputQuadsSubgroups, params, [g.buffer, g.buffer, packed.buffer, dx.buffer, vt.buffer], grid, constants);
        else e.dispatch(K.bwdInputSubgroups, params, [g.buffer, packed.buffer, dx.buffer, vt.buffer], grid, constants);
      }
    }
  }
  return dx;
}

function runBackwardWeight(p: ConvPlan, x: Tensor, g: Tensor, vt: Tensor): Tensor {
  const engine = x.engine;
  if (p.tiled) return runTiledWeight(p, x, g, vt);
  if (!p.subgroups) {
    const dw = Tensor.empty(engine, p.w.shape);
    engine.dispatch(K.bwdWeight, p.params, [x.buffer, dw.buffer, g.buffer, vt.buffer], p.grids.bwdWeight);
    return dw;
  }
  if (useWinogradWeight(p)) return runWinogradWeight(p, x, g);
  const { N, Cin, H, W, Cout } = p.params;
  const sg = engine.subgroupSize!;
  const sizes = sizeVariants(p);
  const largest = sizes[sizes.length - 1]!;
  const kernelFor = (S: number) => subgroupWeightKernel(p.weightGradient, Cin, S, sg);
  const taps = kernelFor(largest) === 'taps'; // the same at every size
  // what the kernel reads: x itself (conv2d_bwd_weight_taps_sg) or x with 4 channels interleaved (conv2d_bwd_weight_sg)
  const input = taps ? x : Tensor.empty(engine, [N * Math.ceil(Cin / 4) * H * W * 4]);
  if (!taps) engine.dispatch(K.packInputSubgroups, p.params, [x.buffer, input.buffer], [Math.ceil((N * H * W) / 4 / WG), Math.ceil(Cin / 4)]);
  const { chunks, perChunk } = bwdWeightChunks(p.params, largest, sg, kernelFor(largest), engine.convAutoRules);
  // each chunk of images sums into its own copy of dw; the copies are added after
  const sums = Tensor.empty(engine, chunks > 1 ? [chunks * p.w.size] : p.w.shape);
  // the weight-gradient kernels write the window's taps only; the rest of the k_max grid is 0:
  // written after them where there is one copy (zerosOutsideWindow), by the sum of the copies where there are more
  const windowed = p.params.s !== p.params.kw;
  const params = { ...p.params, nchunk: chunks > 1 ? perChunk : 0 };
  for (const S of sizes) {
    const kernel = kernelFor(S);
    const grid: [number, number] = [Math.ceil(bwdWeightInvocations(Cin, Cout, S, sg, kernel, engine.convAutoRules) / WG), chunks];
    const buffers = [input.buffer, sums.buffer, g.buffer, vt.buffer];
    if (kernel === 'taps') {
      // g again as quads or pairs of pixels (in_quads, g2: g_run)
      engine.dispatch(K.bwdWeightTapsSubgroups, params, [...buffers, g.buffer, g.buffer], grid, { S, PX: W % 4 === 0 ? 4 : W % 2 === 0 ? 2 : 1 });
    } else if (kernel === 'slide') {
      engine.dispatch(K.bwdWeightSlideSubgroups, params, buffers, grid, { S });
    } else {
      // g again as pairs of pixels (g2: G_PAIRS, rows of an even width: a pixel pair's upstream
      // gradients in one vec2 load: 0.91–0.99× the time at S = 3, 5, 0.86–0.90 at S = 9, 0.94–0.99
      // at S = 1, paired runs; its loop 1994 instructions against 2116)
      engine.dispatch(K.bwdWeightSubgroups, params, [...buffers, g.buffer], grid, bwdWeightConstants(Cin, Cout, S, sg, engine.convAutoRules, W % 2 === 0));
    }
  }
  if (!taps) input.dispose();
  if (chunks === 1) {
    if (windowed) zerosOutsideWindow(p, sums, vt);
    return sums;
  }
  const dw = windowed ? sumWindowChunks(p, sums, chunks, vt) : sumRows(sums, chunks, p.w.shape);
  sums.dispose();
  return dw;
}

/**
 * dw from the weight gradient's `chunks` copies of a window inside the k_max grid
 * (conv2d_sum_window_chunks): their sum at the window's taps, 0 elsewhere, so the copies are not
 * filled with zeros first. Before, every copy was filled and all their taps summed: a search
 * step's fills and sums took 5.4–5.9 ms, now 3.8–3.9 (profiles, stop 41).
 */
function sumWindowChunks(p: ConvPlan, sums: Tensor, chunks: number, vt: Tensor): Tensor {
  const dw = Tensor.empty(sums.engine, p.w.shape);
  sums.engine.dispatch(K.sumWindowChunks, { ...p.params, nchunk: chunks }, [dw.buffer, sums.buffer, vt.buffer], grid1d(p.params.Cout * p.params.Cin, WG));
  return dw;
}

/**
 * The zeros of dw outside the window, which the weight-gradient kernels wrote one copy of
 * (conv2d_sum_window_chunks with no copies to sum: vt bound in place of them, unread). A fill of
 * the whole k_max grid before the kernels wrote the window's taps twice — every tap at s = k_max
 * (cifar-8's 256 → 256 layer at s = 5 in a search step: 7.1 ms of fill, 4.5 of these zeros).
 */
function zerosOutsideWindow(p: ConvPlan, dw: Tensor, vt: Tensor): void {
  dw.engine.dispatch(K.sumWindowChunks, { ...p.params, nchunk: 0 }, [dw.buffer, vt.buffer, vt.buffer], grid1d(p.params.Cout * p.params.Cin, WG));
}

/**
 * Channel pairs per workgroup of the soft size's gradient (conv2d_bwd_size): on a CPU adapter 32
 * per lane, so a small layer is one block (fmnist-6's largest, 64 → 64, two) and cifar-8's
 * 256 → 256 is 32 blocks per grid row — few workgroups, each of which pays its barriers on
 * lavapipe; under the GPU rules 4 per lane, so that fmnist-6's layers still fill a few hundred
 * workgroups as the workgroup per tap did (not timed on a GPU yet).
 */
const sizeGradientPairs = (rules: ConvAutoRules) => (rules === 'gpu' ? 4 : 32) * WG;

/**
 * y = conv2d(x, w) with x [N, Cin, H, W] and w [Cout, Cin, kw, kw]; output [N, Cout, Ho, Wo].
 * Gradients reach x, w (zero outside the window), bias and the soft size v.
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const plan = planConv(op, x, w, opts);
  const engine = x.engine;
  const v = plan.masked ? plan.vt : undefined;
  const kw = w.shape[2]!;
  const packed = packWeights(plan, w, plan.vt);
  const y = runForward(plan, x, w, packed);
  const inputs = v ? [x, w, v] : [x, w];
  const out = record(op, inputs, y, packed ? [x, w, plan.vt, packed] : [x, w, plan.vt], (g, [sx, sw, sv, sp], needs) => {
    const dx = needs[0] ? backwardInputPass(plan, sw!, g, sv!, sp ?? null) : null;
    const dw = needs[1] || needs[2] ? runBackwardWeight(passPlan(plan, 'weight'), sx!, g, sv!) : null;
    let dv: Tensor | null = null;
    if (v && needs[2]) {
      // a workgroup per grid row and block of channel pairs, a term each
      const pairs = plan.params.Cout * plan.params.Cin;
      const perBlock = sizeGradientPairs(engine.convAutoRules);
      const blocks = Math.ceil(pairs / perBlock);
      const terms = Tensor.empty(engine, [blocks * kw]);
      engine.dispatch(K.bwdSize, { ...plan.params, nchunk: perBlock }, [sw!.buffer, terms.buffer, dw!.buffer, sv!.buffer], [kw, blocks]);
      dv = sum(terms).view(v.shape);
    }
    return v ? [dx, needs[1] ? dw : null, dv] : [dx, dw];
  });
  packed?.dispose(); // the tape holds its own handle for the input gradient
  return opts.bias ? add(out, reshape(opts.bias, [plan.outShape[1]!, 1, 1])) : out;
}

function withPacking(p: ConvPlan, w: Tensor, vt: Tensor, pass: (packed: Tensor | null) => Tensor): Tensor {
  const packed = packWeights(p, w, vt);
  const out = pass(packed);
  packed?.dispose();
  return out;
}

/**
 * The three convolution kernels without the tape (for benchmarks and kernel studies): the same
 * checks and dispatches as conv2d; each call returns a new tensor.
 */
export function conv2dKernels(x: Tensor, w: Tensor, opts: Conv2dOptions = {}) {
  const plan = planConv('conv2d', x, w, opts);
  const inputPlan = passPlan(plan, 'input');
  const weightPlan = passPlan(plan, 'weight');
  return {
    outShape: plan.outShape,
    /** The family that runs the forward (what 'auto' and 'fastest' resolved to). */
    kernels: plan.kernels,
    /** The family of each pass (they differ only where 'fastest' chose so). */
    passes: { forward: plan.kernels, input: inputPlan.kernels, weight: weightPlan.kernels },
    /** The tiled kernels' block (Conv2dOptions.tile) of each pass that runs them (the input gradient only at stride 1). */
    tiles: {
      ...(plan.tiled ? { forward: plan.tile } : {}),
      ...(inputPlan.tiledInput ? { input: inputPlan.tile } : {}),
      ...(weightPlan.tiled ? { weight: weightPlan.tile } : {}),
    } as Partial<Record<ConvPass, TiledTile>>,
    /** Whether each pass runs on the Winograd kernels (Conv2dOptions.winograd). */
    winograd: { forward: useWinograd(plan, 'forward', plan.params.Cin, plan.params.Cout), input: useWinograd(inputPlan, 'input', plan.params.Cout, plan.params.Cin), weight: useWinogradWeight(weightPlan) },
    /** The subgroup weight-gradient kernel of each window size the weight gradient may run (none off the subgroup kernels). */
    weightKernels: weightPlan.subgroups ? sizeVariants(weightPlan).map((S) => subgroupWeightKernel(weightPlan.weightGradient, weightPlan.params.Cin, S, x.engine.subgroupSize!)) : [],
    // each pass packs the weights itself, as a step's first use of them would
    forward: (): Tensor => withPacking(plan, w, plan.vt, (packed) => runForward(plan, x, w, packed)),
    backwardInput: (g: Tensor): Tensor => withPacking(inputPlan, w, plan.vt, (packed) => runBackwardInput(inputPlan, w, g, plan.vt, packed)),
    backwardWeight: (g: Tensor): Tensor => runBackwardWeight(weightPlan, x, g, plan.vt),
  };
}
