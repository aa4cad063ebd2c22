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
import { addPending, allPasses, chosenKernels, type ConvChoice, type ConvPass } from './conv_choices.js';
import { Tensor } from '../tensor.js';
import { add, fillInPlace, ones } from './elementwise.js';
import { checkOddSize } from './gaussian_mask.js';
import { grid1d } from './grid.js';
import { sum, sumRows, sumRowsInto } from './reduce.js';
import { reshape } from './shape.js';
import { expectFloat32 } from './operands.js';
import { TILED_TILES, tiledSplits, tiledSweep, tiledTile, type TiledTile } from './conv2d_tiled.js';
import { winogradInput, winogradInputInterleaved, winogradOutput, winogradPositions, winogradTiles, winogradUpstream, winogradWeightGrad, winogradWeights, type WinogradSize } from './conv2d_winograd.js';

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
] as const);

/** Column stride of the register block (conv2d.wgsl): up to 8 neighbouring invocations per strip. */
const columnStride = (width: number) => Math.min(8, Math.max(1, Math.ceil(width / 4)));
/** Invocations along a row of `width` columns: strips of 4·cs columns, cs invocations each. */
const rowInvocations = (width: number, cs: number) => Math.ceil(width / (4 * cs)) * cs;

const WG = 64;
/** Invocations a subgroup weight gradient should reach, splitting the images into chunks if need be. */
const BWD_WEIGHT_INVOCATIONS = 4096;
/** The most floats the chunks' copies of dw may take (16 MiB). */
const BWD_WEIGHT_PARTIAL_FLOATS = 1 << 22;
/**
 * Multiply-adds of the gradient per float of the chunks' copies it takes to be worth splitting:
 * each copy of the k_max × k_max grid is filled and summed, which a small window inside a large
 * k_max on a small plane does not repay (the masked s = 1, 3 rows of the bench ran 10× slower).
 */
const BWD_WEIGHT_COPY_COST = 256;
const kernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'conv2d.wgsl', entry, params: ConvParams, bindings, constants: { WG } });
const subgroupKernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'conv2d_subgroups.wgsl', entry, params: ConvParams, bindings, constants: { WG }, feature: 'subgroups' });
const K = {
  fwd: kernel('conv2d_fwd', [1, 2, 3, 5]),
  bwdInput: kernel('conv2d_bwd_input', [2, 3, 4, 5]),
  bwdWeight: kernel('conv2d_bwd_weight', [1, 3, 4, 5]),
  bwdSize: kernel('conv2d_bwd_size', [2, 3, 4, 5]),
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

export const WEIGHT_GRADIENTS = ['auto', 'slide', 'rows', 'taps'] as const;
/** Conv2dOptions.weightGradient. */
export type WeightGradient = (typeof WEIGHT_GRADIENTS)[number];
/** The subgroup weight-gradient kernels: conv2d_bwd_weight_taps_sg, conv2d_bwd_weight_sg, conv2d_bwd_weight_slide_sg. */
export const SUBGROUP_WEIGHT_KERNELS = ['taps', 'rows', 'slide'] as const;
export type SubgroupWeightKernel = (typeof SUBGROUP_WEIGHT_KERNELS)[number];

/**
 * Which subgroup weight-gradient kernel `option` runs for a window of S taps a row, Cin input
 * channels, sg lanes. 'auto' no longer slides: it took conv2d_bwd_weight_slide_sg where whole
 * kernel rows left at most 1/8 of a subgroup's lanes idle (S = 7 on 8 lanes: 0.83–0.96× the time
 * of conv2d_bwd_weight_sg then), but since conv2d_bwd_weight_sg shares each input load across two
 * blocks of output channels (bwdWeightBlocks) it takes 0.77–1.02× the sliding kernel's time at
 * S = 7 (7×7 to 32×32 planes, paired runs), and the sliding kernel with two blocks measured slower.
 */
export function subgroupWeightKernel(option: WeightGradient, Cin: number, S: number, sg: number): SubgroupWeightKernel {
  if (option === 'taps' || (option !== 'rows' && bwdWeightByTaps(Cin))) return 'taps';
  return option === 'slide' && S <= sg ? 'slide' : 'rows';
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
  grids: { fwd: [number, number]; bwdInput: [number, number]; fwdSubgroups: [number, number]; bwdInputSubgroups: [number, number]; bwdWeight: [number, number]; fwd1x1: [number, number]; bwdInput1x1: [number, number] };
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

/**
 * Pixels per channel over the batch (output or input, whichever is larger) the tiled kernels'
 * grid takes: x runs over blocks of TN (≥ 64) of them, at most 65535 workgroups.
 */
const TILED_MAX_PIXELS = 65535 * 64;

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
  if (variant === 'auto' && choice === null && !opts[AUTO_FAMILY] && x.engine.convAutoRules === 'gpu') {
    choice = gpuAutoChoice(x.engine, { N, Cin, H, W, Cout, s: auto ? 0 : s, kw, stride, samePad, tiledPixels, winograd, weightGradient, tile: opts.tile });
    variant = choice.forward;
    tile = choice.tiles?.forward ?? tile;
  }
  const obstacle = variant === 'plain' ? 'plain requested' : subgroupObstacle(x.engine, kw, stride, samePad, N * H * W);
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
  const base = { N, Cin, H, W, Cout, Ho, Wo, s: auto ? 0 : s, kw, off: (kw - s) / 2, stride, pad, masked: v ? 1 : 0, kmin: kMin, nchunk: 0 };
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
      // the subgroup kernels: 4 pixels per invocation, runs over the whole batch's pixels; y over
      // blocks of 8 channels (16 in the 1 × 1 kernels)
      fwdSubgroups: [Math.ceil(N * H * W / 4 / WG), Math.ceil(Cout / 8)],
      bwdInputSubgroups: [Math.ceil(N * H * W / 4 / WG), Math.ceil(Cin / 8)],
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
 * Blocks of 8 channels per lane (BLOCKS) and output rows per lane (ROWS) in the quad-rows kernels
 * for a pass that writes `channels` channels. Blocks share each input load and shifted view: two
 * at S = 3 (0.86–0.97× the forward's time, 0.84–0.91× the input gradient's on 32×32, 28×28,
 * 16×16, 8×8 and 4×4 planes; its loop 1855 instructions against 2 × 1110), one elsewhere: at
 * S = 5 0.92–1.07× in two rounds (within the noise), at S = 7 1.06–1.18× (paired runs), and with
 * 8 channels half the lanes' sums are wasted.
 * Under the 'cpu-avx512' rules two blocks at S = 7 and 9 (on the AVX-512 host 0.84–0.92× the
 * forward's and 0.85–0.91× the input gradient's time, 32×32 32→64 and 28×28 16→16 at N = 128;
 * bench/HISTORY.md stop 37), and at S = 3 and 5 row pairs of two blocks, which load each kernel
 * row's weights once for both rows and each input row once for two kernel rows. Against the
 * layout before (four blocks at S = 3 from 32 channels, two otherwise; paired, new / old time,
 * forward and input gradient; HISTORY stop 38): S = 3 32×32 32→64 0.88, 0.92; 16×16 64→128 0.94,
 * 0.94; 16×16 64→64 0.81, 0.93; 32×32 32→32 0.79, 0.91; 28×28 16→16 (N = 128) 0.78, 0.82;
 * 8×8 64→64 0.92, 0.93; S = 5 32×32 32→64 0.90, 0.87; 28×28 16→16 0.82, 0.81. At S = 7 and 9
 * the pairs lost (a prototype: 1.48 and 1.05).
 */
const quadLayout = (S: number, channels: number, rules: ConvAutoRules): { rows: 1 | 2; blocks: number } => {
  if (channels < 16) return { rows: 1, blocks: 1 };
  if (rules === 'cpu-avx512') return { rows: S === 3 || S === 5 ? 2 : 1, blocks: 2 };
  return { rows: 1, blocks: S === 3 ? 2 : 1 };
};
/**
 * The same for the run-layout kernels (conv2d_fwd_sg, conv2d_bwd_input_sg: rows not a multiple of
 * 4 pixels, e.g. 14×14 and 7×7), whose 4 or 5 single-value loads per kernel row cost more per lane
 * than a quad's vec4: two blocks at S ≤ 5 — forward 0.78–0.85× the time at S = 3, 0.72–1.03 at
 * S = 5, 0.79 at S = 1; input gradient 0.80–0.83, 0.74–1.06, 0.77–0.85 (14×14, 7×7, 5×5 planes;
 * the loop at S = 5 3193 instructions against 2 × 2125) — and one at S = 7 (1.05–1.10×, paired
 * runs); under the 'cpu-avx512' rules two at every S (the AVX-512 host: 0.78–0.88× at S = 7 and 9
 * on 14×14 32→32 and 7×7 64→64 at N = 128, both passes), and four at S ≤ 5 for passes writing 32
 * channels or more (0.83–0.93× two blocks' time at S = 3 on 14×14 32→32, 7×7 32→64 and 64→64,
 * 0.87–0.94 at S = 5; a pass writing 16 channels 1.47).
 */
const runBlocks = (S: number, channels: number, rules: ConvAutoRules) => {
  if (channels < 16) return 1;
  if (rules === 'cpu-avx512') return S <= 5 && channels >= 32 ? 4 : 2;
  return S <= 5 ? 2 : 1;
};
/**
 * The s × s subgroup kernels' launch for a pass writing `channels` channels: `grid` (a row per 8
 * channels) with a row per BLOCKS blocks instead, and the pipeline constants — S, BLOCKS and, in
 * the quad rows, whether runs of 4·SG pixels can start inside a row (HALO).
 */
function rowKernelLaunch(p: ConvPlan, S: number, channels: number, grid: [number, number]): { grid: [number, number]; constants: Record<string, number> } {
  const rules = p.x.engine.convAutoRules;
  if (!quadRows(p, S)) {
    const blocks = runBlocks(S, channels, rules);
    return { grid: [grid[0], Math.ceil(channels / (8 * blocks))], constants: { S, BLOCKS: blocks } };
  }
  const { rows, blocks } = quadLayout(S, channels, rules);
  const { N, H, W } = p.params;
  const run = 4 * p.x.engine.subgroupSize!;
  // row pairs: a lane per quad of a pair of rows (no more workgroups than a lane per quad, which
  // subgroupObstacle bounds)
  const lanes = rows === 2 ? Math.ceil((N * Math.ceil(H / 2) * (W / 4)) / WG) : grid[0];
  return { grid: [lanes, Math.ceil(channels / (8 * blocks))], constants: { S, HALO: run % W === 0 ? 0 : 1, BLOCKS: blocks, ROWS: rows } };
}

/**
 * Conv2dOptions.winograd 'auto': where the Winograd kernels run a fixed 3 × 3 or 5 × 5 window — a
 * pass of K input and R output channels over N planes of T = ⌈H/4⌉·⌈W/4⌉ tiles with K, R ≥
 * minChannels, K·R ≥ minPairs, N·T ≥ minTiles and T ≥ minPlaneTiles. Their transforms cost per
 * channel (and the weights' per channel pair) what the product saves per channel pair and tile,
 * so they pay only with enough of both: paired against the direct subgroup kernels on lavapipe
 * (new / old time: forward, input gradient, weight gradient; bench/HISTORY.md, stop 33) —
 * 3 × 3: 16×16 64→128 0.64–0.73, 0.56–0.83, 0.46–0.52; 16×16 64→64 0.72, 0.81; 16×16 32→64 0.80,
 * 0.92; 7×7 64→64 (N = 128) 0.86–0.96, 0.85–0.89, 0.78; 32×32 32→64 0.91–1.08, 0.94–1.01,
 * 0.54–0.63; but 32×32 and 14×14 32→32 1.10–1.31 (K·R = 1024), 8×8 64→128 at N = 32 (128 tiles)
 * 1.09 and 1.34, 4×4 planes (one tile in a padded quad) 3×. 5 × 5 (400 multiply-adds to save per
 * tile, not 144): 16×16 64→128 0.51, 0.55, 0.30; 32×32 32→64 0.89, 0.78, 0.41; 7×7 64→64 0.67,
 * 0.65, 0.61; 14×14 32→32 0.92, 0.84, 0.99 (so K·R = 1024 pays here); 28×28 16→16 1.3–1.6.
 */
export const WINOGRAD_RULE = {
  3: { minChannels: 32, minPairs: 2048, minTiles: 512, minPlaneTiles: 4 },
  5: { minChannels: 32, minPairs: 1024, minTiles: 512, minPlaneTiles: 4 },
} as const;

/**
 * WINOGRAD_RULE under the GPU rules of 'auto' (EngineOptions.convAutoRules), against the tiled
 * kernels there. 3 × 3 measured on an NVIDIA H200 (`effconv kernels`, fmnist-6 and cifar-8 at
 * batch 128, runs 50–52 of bench/HISTORY.md; Winograd / tiled time, forward and input gradient):
 * 28×28 16→16 0.76–1.0, 0.74–1.0; 14×14 16→32 0.92–1.0, 0.56–0.63; 14×14 32→32 0.64–0.82,
 * 0.68–0.82; 32×32 32→32 0.52–0.63, 0.50–0.60; but 1 and 3 input channels 1.4–2.7 (forward).
 * Planes of at most 8 × 8 (4 tiles or fewer) left to the tiled kernels since they split their
 * sums (run 59: 7×7 64→64 1.12 at 3 × 3, 1.09 at 5 × 5; before, 4×4 planes had read 0.46–0.74).
 * 5 × 5: measured on the bench's 32×32 32→64 only (0.52 of tiled), so lavapipe's rule is kept.
 */
export const WINOGRAD_GPU_RULE = {
  3: { minChannels: 16, minPairs: 256, minTiles: 128, minPlaneTiles: 9 },
  5: WINOGRAD_RULE[5],
} as const;

/** Where a pass may run on the Winograd kernels: its product's channels (both at least minChannels, their product at least minPairs) and tiles (N·T over the batch, T per plane). */
export interface WinogradRule {
  readonly minChannels: number;
  readonly minPairs: number;
  readonly minTiles: number;
  readonly minPlaneTiles: number;
}

/** A convolution's three passes, as the Winograd rules name them. */
export type WinogradPass = 'forward' | 'input' | 'weight';

/**
 * WINOGRAD_RULE on a CPU adapter whose host has AVX-512 (EngineOptions.convAutoRules
 * 'cpu-avx512'), one rule per pass (null: never). Measured on lavapipe on an Intel Xeon (family 6
 * model 167, 2 threads), where the Winograd kernels compare worse against the direct subgroup
 * kernels than on the AVX2 host (a Zen 3) WINOGRAD_RULE was measured on — not for the AVX-512
 * registers: with AVX2 code on this host (GALLIUM_OVERRIDE_CPU_CAPS=avx, stop 39) its wider
 * direct layouts still win, so the Zen 3 core is what differs. Paired (Winograd / direct time,
 * 5–7 pairs, twice on different hours; bench/HISTORY.md, stop 37) — 3 × 3: forward 16×16 64→128
 * 0.85, 64→64 1.01, 32×32 32→64 1.14–1.19, 32→32 1.43, 7×7 64→64 (N = 128) 1.13–1.15, 32→64 1.11–1.31, 14×14 32→32 1.64–1.67;
 * input gradient 0.98–2.21 on every shape; weight gradient 16×16 0.51–0.63, 32×32 0.62–0.76, but
 * 7×7 32→64 1.13 and 14×14 32→32 1.27. 5 × 5: forward 16×16 0.63–0.72, 32×32 32→64 0.83–0.89,
 * 7×7 64→64 0.88–0.94, 32→64 0.95–1.06, 14×14 32→32 1.30–1.40; input gradient 16×16 64→64 0.72,
 * 64→128 0.92–0.94, 7×7 64→64 0.85–0.86, but 32 channels a side 0.99–1.30; weight gradient
 * 0.37–0.98 from 32 channels a side (14×14 16→32 1.47).
 * Measured again once the direct quad-rows kernels took row pairs at S = 3 and 5 (stop 38, 5–9
 * pairs, `node dist/bench/winograd_pairs.js`): the 3 × 3 forward loses on every shape (16×16
 * 64→128 1.06–1.21, 64→64 1.13, the rest 1.31–1.90), so never; the 5 × 5 forward wins from 64
 * channels a side on 16×16 planes (64→128 0.81, 64→64 0.89–0.95), ties on 7×7 (64→64
 * 0.97–1.10) and loses at 32→64 (32×32 1.13, 7×7 1.03) and on 8×8 and 14×14 planes (1.39–1.51):
 * from 64 channels a side on planes of 9 tiles; the 5 × 5 input gradient wins
 * by little where it wins (0.92–0.97: 16×16 64→64, 7×7 64→64) and loses by much elsewhere (16×16
 * 64→128 1.19, 8×8 1.48–1.71, 32×32 1.26–1.37), so never. The weight gradients' direct kernels
 * did not change and their rules stand (3 × 3 0.52–0.73, 5 × 5 0.36–0.67 where taken).
 * Measured again once the products summed four input channels per update (stop 39, 5–9 pairs):
 * the 3 × 3 forward and input gradient still lose (16×16 64→128 1.00 and 1.05, the rest
 * 1.10–2.21); the 5 × 5 forward and input gradient now win from 64 channels a side on 16×16
 * planes (64→128 0.68–0.70 and 0.68, 64→64 0.78 and 0.77) and on 7×7 planes at N = 128 (64→64
 * 0.85–0.94 and 0.82), and lose on 8×8 planes at N = 32 (128 tiles: 1.07–1.32 and 1.11–1.40) and
 * at 32 channels a side (1.11–1.39 and 1.15–1.38): both from 64 channels a side and 512 tiles,
 * on planes of 4 tiles or more.
 */
export const WINOGRAD_AVX512_RULE: Readonly<Record<WinogradSize, Readonly<Record<WinogradPass, WinogradRule | null>>>> = {
  3: {
    forward: null,
    input: null,
    weight: { minChannels: 32, minPairs: 2048, minTiles: 512, minPlaneTiles: 9 },
  },
  5: {
    forward: { minChannels: 64, minPairs: 4096, minTiles: 512, minPlaneTiles: 4 },
    input: { minChannels: 64, minPairs: 4096, minTiles: 512, minPlaneTiles: 4 },
    weight: WINOGRAD_RULE[5],
  },
};

/** The rule 'auto' follows for a pass of window s under the engine's rules. */
function winogradRule(engine: Engine, s: WinogradSize, pass: WinogradPass): WinogradRule | null {
  if (engine.convAutoRules === 'cpu-avx512') return WINOGRAD_AVX512_RULE[s][pass];
  return (engine.convAutoRules === 'gpu' ? WINOGRAD_GPU_RULE : WINOGRAD_RULE)[s];
}

/**
 * Under the GPU rules of 'auto', a tiled pass of more than 64 rows (its output channels) and a
 * sum of at least minSteps steps (input channels × s²; the weight gradient: its columns, the
 * same count) runs the 8 × 8 block, whose 128 × 128 tiles it fills: run 59 on an H200, 16×16
 * 64→128 k = 7 (3136 steps), forward 0.76 and weight gradient 0.63 of the 4 × 4 block's time; at
 * 576 steps even (k = 3, 1.01); at 64 rows 1.13–1.31 (forward) and 1.06–1.84 (weight gradient).
 */
export const GPU_TILE_RULE = { minRows: 65, minSteps: 1024 } as const;

/** Why the Winograd kernels cannot run a convolution of fixed size s (0: from the soft size), or null. */
function winogradObstacle(engine: Engine, s: number, N: number, H: number, W: number, channels: number): string | null {
  if (s !== 3 && s !== 5) return s === 0 ? 'the window size comes from the soft size' : `the window is ${s} × ${s}, not 3 × 3 or 5 × 5`;
  const positions = winogradPositions(s);
  const { L } = winogradTiles(N, H, W);
  if (Math.ceil((positions * L) / 4 / WG) > 65535) return `its ${positions * L} transformed tiles per channel exceed one dispatch`;
  const bytes = positions * L * Math.ceil(channels / 4) * 4 * 4; // the weight gradient's input tiles pad the channels to 4
  if (bytes > engine.maxTensorBytes) return `its transformed tiles (${bytes} bytes) exceed the device's largest binding`;
  return null;
}

/** Whether `pass` of `p` (its product's input and output channels) runs on the Winograd kernels. */
function useWinograd(p: ConvPlan, pass: WinogradPass, inChannels: number, outChannels: number): boolean {
  if (!p.subgroups || p.winograd === false) return false;
  const { s, N, H, W } = p.params;
  if (p.winograd === true) return winogradObstacle(p.x.engine, s, N, H, W, Math.max(inChannels, outChannels)) === null;
  return winogradByRule(p.x.engine, s, N, H, W, pass, inChannels, outChannels);
}

/**
 * Whether the engine's Winograd rule (WINOGRAD_RULE; WINOGRAD_AVX512_RULE or WINOGRAD_GPU_RULE
 * under those rules) takes `pass` of window s (0: from the soft size) whose product maps
 * inChannels to outChannels.
 */
function winogradByRule(engine: Engine, s: number, N: number, H: number, W: number, pass: WinogradPass, inChannels: number, outChannels: number): boolean {
  if (winogradObstacle(engine, s, N, H, W, Math.max(inChannels, outChannels))) return false;
  const tiles = Math.ceil(H / 4) * Math.ceil(W / 4);
  const r = winogradRule(engine, s as WinogradSize, pass);
  return r !== null && Math.min(inChannels, outChannels) >= r.minChannels && inChannels * outChannels >= r.minPairs && N * tiles >= r.minTiles && tiles >= r.minPlaneTiles;
}

/** Taps of a window of size s on a k_max = kw grid, or k_max²'s where s = 0 (the size found on the GPU). */
const windowTaps = (s: number, kw: number) => (s || kw) ** 2;

/**
 * 'auto' under the GPU rules (EngineOptions.convAutoRules), measured on an NVIDIA H200 (bench
 * runs 50–52, bench/HISTORY.md): every pass on the tiled kernels — the subgroup direct kernels,
 * laid out for a CPU adapter's long loops per lane, ran 4–36× slower there, their weight gradient
 * up to 71× — except a forward or input gradient WINOGRAD_GPU_RULE takes, on the subgroup
 * Winograd kernels (up to 2.2× faster than tiled). The weight gradient stays tiled (the Winograd
 * one, a subgroup product per position, ran 3.7–17× slower on planes of 14×14 and more, about
 * even on smaller ones). The subgroup family everywhere where the call asked for its own settings
 * (winograd: true, a weightGradient kernel) or the batch is too large for the tiled kernels' grid.
 * The tiled passes on the 8 × 8 block where GPU_TILE_RULE says, unless the call named a tile.
 */
function gpuAutoChoice(
  engine: Engine,
  c: { N: number; Cin: number; H: number; W: number; Cout: number; s: number; kw: number; stride: 1 | 2; samePad: boolean; tiledPixels: number; winograd: boolean | 'auto'; weightGradient: WeightGradient; tile: TiledTile | undefined },
): ConvChoice {
  const subgroups = subgroupObstacle(engine, c.kw, c.stride, c.samePad, c.N * c.H * c.W) === null;
  if (c.tiledPixels > TILED_MAX_PIXELS || (subgroups && (c.winograd === true || c.weightGradient !== 'auto'))) return allPasses('auto');
  const winograd = (pass: WinogradPass, inChannels: number, outChannels: number) => subgroups && c.winograd === 'auto' && winogradByRule(engine, c.s, c.N, c.H, c.W, pass, inChannels, outChannels);
  const choice: ConvChoice = { forward: winograd('forward', c.Cin, c.Cout) ? 'auto' : 'tiled', input: winograd('input', c.Cout, c.Cin) ? 'auto' : 'tiled', weight: 'tiled' };
  if (c.tile !== undefined) return choice; // the call's block for every tiled pass
  // the 8 × 8 block by GPU_TILE_RULE
  const wide = (rows: number, inChannels: number) => rows >= GPU_TILE_RULE.minRows && inChannels * windowTaps(c.s, c.kw) >= GPU_TILE_RULE.minSteps;
  const tiles: NonNullable<ConvChoice['tiles']> = {};
  if (choice.forward === 'tiled' && wide(c.Cout, c.Cin)) tiles.forward = '8x8';
  if (choice.input === 'tiled' && wide(c.Cin, c.Cout)) tiles.input = '8x8';
  if (wide(c.Cout, c.Cin)) tiles.weight = '8x8';
  return Object.keys(tiles).length ? { ...choice, tiles } : choice;
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
  e.dispatch(K.bwdWeightSubgroups, params, [interleaved.buffer, du.buffer, d.buffer, p.vt.buffer, d.buffer], grid, { S: 1, BLOCKS: bwdWeightBlocks('rows', Cout, 1, e.convAutoRules), G_PAIRS: 1, PIXELS: bwdWeightPixels(e.convAutoRules) });
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
  e.dispatch(K.winogradProductSubgroups, params, [v.buffer, u.buffer, u.buffer, m.buffer, p.vt.buffer], [Math.ceil((positions * L) / 4 / WG), Math.ceil(R / 16)], forward1x1Constants(e.convAutoRules, Kc));
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

/**
 * conv2d_fwd_1x1_sg's and conv2d_winograd_product_sg's constants for unpacked weights (W_STRIDE 1)
 * over `channels` input channels: the weights as vec4s (W_VEC4) where a lane's 4 input channels
 * per step are 4 aligned floats — SUM_STEP 4 ('cpu-avx512') and channels a multiple of 4.
 */
function forward1x1Constants(rules: ConvAutoRules, channels: number): Record<string, number> {
  const step = sumStep(rules);
  return { S: 1, W_STRIDE: 1, SUM_STEP: step, W_VEC4: Number(step === 4 && channels % 4 === 0) };
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
      const { grid, constants } = rowKernelLaunch(p, S, p.params.Cout, p.grids.fwdSubgroups);
      if (quadRows(p, S)) e.dispatch(K.fwdQuadsSubgroups, p.params, [x.buffer, x.buffer, packed.buffer, y.buffer, p.vt.buffer], grid, constants);
      else e.dispatch(K.fwdSubgroups, p.params, [x.buffer, packed.buffer, y.buffer, p.vt.buffer], grid, constants);
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
      const { grid, constants } = rowKernelLaunch(p, S, p.params.Cin, p.grids.bwdInputSubgroups);
      if (quadRows(p, S)) e.dispatch(K.bwdInputQuadsSubgroups, p.inputParams, [g.buffer, g.buffer, packed.buffer, dx.buffer, vt.buffer], grid, constants);
      else e.dispatch(K.bwdInputSubgroups, p.inputParams, [g.buffer, packed.buffer, dx.buffer, vt.buffer], grid, constants);
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
  // the weight-gradient kernels write the window's taps only; the rest of the k_max grid is 0
  if (p.params.s !== p.params.kw) fillInPlace(sums, 0);
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
      engine.dispatch(K.bwdWeightSubgroups, params, [...buffers, g.buffer], grid, { S, BLOCKS: bwdWeightBlocks(kernel, Cout, S, engine.convAutoRules), G_PAIRS: W % 2 === 0 ? 1 : 0, PIXELS: bwdWeightPixels(engine.convAutoRules) });
    }
  }
  if (!taps) input.dispose();
  if (chunks === 1) return sums;
  const dw = sumRows(sums, chunks, p.w.shape);
  sums.dispose();
  return dw;
}

/**
 * Inputs of up to 6 channels take conv2d_bwd_weight_taps_sg (a lane's vec4 over 4 taps of a
 * kernel row instead of 4 channels): 0.37–0.49× the time of conv2d_bwd_weight_sg at 1 channel,
 * 0.40–0.65 at 2, 0.73–0.93 at 3, 0.80–0.83 at 4 and 6; at 8 channels 0.82–1.19, at 12 and more
 * 1.0–1.2 (paired runs, S = 3…9).
 */
const bwdWeightByTaps = (Cin: number) => Cin <= 6;

/**
 * The weight-gradient kernel's invocations per block of 8·BLOCKS output channels, in whole subgroups:
 * ⌈Cin/4⌉·S² tasks (conv2d_bwd_weight_sg), Cin·S·⌈S/4⌉ (conv2d_bwd_weight_taps_sg), or S·⌈Cin/4⌉
 * kernel rows of S lanes, ⌊sg/S⌋ rows per subgroup (conv2d_bwd_weight_slide_sg).
 */
const bwdWeightLanes = (Cin: number, S: number, sg: number, kernel: SubgroupWeightKernel) => {
  if (kernel === 'taps') return Math.ceil((Cin * S * Math.ceil(S / 4)) / sg) * sg;
  // conv2d_bwd_weight_slide_sg: whole kernel rows (groups of S lanes) per subgroup, the rest idle
  if (kernel === 'slide') return Math.ceil((S * Math.ceil(Cin / 4)) / Math.floor(sg / S)) * sg;
  return Math.ceil((Math.ceil(Cin / 4) * S * S) / sg) * sg;
};

/**
 * Blocks of 8 output channels per lane in conv2d_bwd_weight_sg (BLOCKS): two where there are 16
 * output channels or more, sharing each input load, mask and shuffle (g is loaded per block) —
 * 0.69–0.92× the time at S = 3 and 5 (with the chunks its halved invocations then take),
 * 0.77–0.88 at S = 9, 0.85–0.96 at S = 1 (32×32, 16×16, 14×14, 7×7 planes; its loop 2133
 * instructions against 2 × 1504; four blocks 0.89–1.03× two). The sliding and by-taps kernels
 * keep one: the sliding kernel with two took 1.18–1.64× the time (paired runs).
 * Under the 'cpu-avx512' rules four at S = 5 from 32 output channels, with 4 pixels per update
 * (bwdWeightPixels): 0.81–0.85× two blocks' time on 32×32 32→64, 14×14 32→32, 7×7 64→64 and
 * 16×16 64→128 — but at S = 7 1.08–1.13 and at S = 3 0.87–1.23 (paired; bench/HISTORY.md stop 39).
 */
const bwdWeightBlocks = (kernel: SubgroupWeightKernel, Cout: number, S: number, rules: ConvAutoRules) => {
  if (kernel !== 'rows' || Cout < 16) return 1;
  // four blocks run with 4 pixels per update only (the shader's BLOCKS and PIXELS)
  return bwdWeightPixels(rules) === 4 && S === 5 && Cout >= 32 ? 4 : 2;
};

/**
 * Pixels per loop iteration of conv2d_bwd_weight_sg (PIXELS), their terms summed before each
 * accumulator update: 4 under the 'cpu-avx512' rules (on that host 0.89–0.95× the time of 2 at
 * S = 1, 3, 5, 7, 9 on the bench's and fmnist-6's planes, paired; bench/HISTORY.md stop 39), else
 * 2 (on the Zen 3 host 2 took 0.60–0.78× the time of 4, its longer loop most likely outgrowing
 * the decoded-op cache; not measured on a GPU).
 */
const bwdWeightPixels = (rules: ConvAutoRules) => (rules === 'cpu-avx512' ? 4 : 2);

/** The weight-gradient kernel's invocations: its lanes per block of 8·BLOCKS output channels times the blocks. */
const bwdWeightInvocations = (Cin: number, Cout: number, S: number, sg: number, kernel: SubgroupWeightKernel, rules: ConvAutoRules) =>
  Math.ceil(Cout / (8 * bwdWeightBlocks(kernel, Cout, S, rules))) * bwdWeightLanes(Cin, S, sg, kernel);

/**
 * How conv2d_bwd_weight_sg splits the N images: into `chunks` of `perChunk` (the last may be
 * shorter) when the taps alone give fewer than BWD_WEIGHT_INVOCATIONS invocations, within
 * BWD_WEIGHT_PARTIAL_FLOATS for the chunks' copies of dw, and only as far as the gradient's
 * multiply-adds repay filling and adding those copies (BWD_WEIGHT_COPY_COST). Exported for tests.
 */
export function bwdWeightChunks(
  c: { N: number; Cin: number; Cout: number; kw: number; H: number; W: number },
  S: number,
  sg: number,
  kernel: SubgroupWeightKernel = bwdWeightByTaps(c.Cin) ? 'taps' : 'rows',
  rules: ConvAutoRules,
): { chunks: number; perChunk: number } {
  const invocations = bwdWeightInvocations(c.Cin, c.Cout, S, sg, kernel, rules);
  const weights = c.Cout * c.Cin * c.kw * c.kw;
  // filling and adding the copies costs about BWD_WEIGHT_COPY_COST multiply-adds per float of them
  const byCost = Math.floor((c.N * c.H * c.W * c.Cin * c.Cout * S * S) / (BWD_WEIGHT_COPY_COST * weights));
  const wanted = Math.min(c.N, Math.floor(BWD_WEIGHT_INVOCATIONS / invocations), Math.floor(BWD_WEIGHT_PARTIAL_FLOATS / weights), byCost);
  const perChunk = Math.ceil(c.N / Math.max(1, wanted));
  return { chunks: Math.ceil(c.N / perChunk), perChunk };
}

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
      const terms = Tensor.empty(engine, [kw * kw]);
      engine.dispatch(K.bwdSize, plan.params, [sw!.buffer, terms.buffer, dw!.buffer, sv!.buffer], [kw * kw]); // a workgroup per tap
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
