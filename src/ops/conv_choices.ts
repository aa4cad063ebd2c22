/**
 * What conv2d's variant 'fastest' knows per engine: the kernel family tuneConvs chose for each
 * convolution it has timed, and the convolutions met since that are still to be timed. conv2d
 * reads and fills it (ops/conv2d.ts), tuneConvs times what is pending (ops/conv_tuning.ts).
 */
import type { Engine } from '../gpu/engine.js';
import type { ConvVariantName } from '../gpu/conv_variant.js';
import { Tensor } from '../tensor.js';
import type { TiledTile } from './conv2d_tiled.js';
import type { SubgroupWeightKernel, WeightGradient } from './conv2d_subgroup_rules.js';

/** The families 'fastest' chooses among ('auto' is the subgroup kernels where they apply, else plain). */
export type ConvFamily = Exclude<ConvVariantName, 'fastest' | 'subgroups'>;

/** A convolution's three passes: forward, input gradient, weight gradient. */
export const CONV_PASSES = ['forward', 'input', 'weight'] as const;
export type ConvPass = (typeof CONV_PASSES)[number];

/**
 * The family each pass of a convolution runs on — chosen pass by pass, as cuDNN chooses its
 * forward, backward-data and backward-filter algorithms apart — and, where the weight gradient
 * runs 'auto''s subgroup kernels, which of them when not the one its rules pick (weightKernel:
 * Conv2dOptions.weightGradient), and where a pass runs the tiled kernels with another block than
 * the default '4x4', that block (tiles: Conv2dOptions.tile), and where a pass on 'auto' runs a
 * 3 × 3 or 5 × 5 window with or without the Winograd kernels against WINOGRAD_RULE, which
 * (winograd: Conv2dOptions.winograd for that pass).
 */
export type ConvChoice = Record<ConvPass, ConvFamily> & {
  weightKernel?: SubgroupWeightKernel;
  tiles?: Partial<Record<ConvPass, TiledTile>>;
  winograd?: Partial<Record<ConvPass, boolean>>;
};

/** Every pass on `family`. */
export const allPasses = (family: ConvFamily): ConvChoice => ({ forward: family, input: family, weight: family });

/** Whether two choices run every pass on the same kernels. */
export const sameChoice = (a: ConvChoice, b: ConvChoice): boolean =>
  CONV_PASSES.every((pass) => a[pass] === b[pass] && tileOf(a, pass) === tileOf(b, pass) && a.winograd?.[pass] === b.winograd?.[pass]) && a.weightKernel === b.weightKernel;

/** A copy of a choice that shares nothing with it (its tiles included). */
export const copyChoice = (c: ConvChoice): ConvChoice => ({ ...c, ...(c.tiles ? { tiles: { ...c.tiles } } : {}), ...(c.winograd ? { winograd: { ...c.winograd } } : {}) });

/** The tiled block a choice runs `pass` with (the default '4x4' unless it names another). */
export const tileOf = (c: ConvChoice, pass: ConvPass): TiledTile => c.tiles?.[pass] ?? '4x4';

/** Whether every pass runs one family with its default kernels: a choice that one family name says. */
export const isPlainChoice = (c: ConvChoice): boolean =>
  c.input === c.forward && c.weight === c.forward && !c.weightKernel && CONV_PASSES.every((pass) => tileOf(c, pass) === '4x4' && c.winograd?.[pass] === undefined);

/**
 * `family` where every pass runs it, else "forward F, input gradient G, weight gradient H" (H
 * "auto (taps)" with a weightKernel, "tiled (8x8)" for a pass with another tile than '4x4', "auto
 * (Winograd)" or "auto (direct)" for a pass whose Winograd setting overrides the rule; "tiled
 * (8x8)" alone where every pass runs that).
 */
export function describeChoice(c: ConvChoice): string {
  if (isPlainChoice(c)) return c.forward;
  const winograd = (pass: ConvPass) => (c.winograd?.[pass] === undefined ? '' : c.winograd[pass] ? ' (Winograd)' : ' (direct)');
  const family = (pass: ConvPass) => `${c[pass]}${tileOf(c, pass) === '4x4' ? '' : ` (${tileOf(c, pass)})`}${winograd(pass)}`;
  if (!c.weightKernel && CONV_PASSES.every((pass) => family(pass) === family('forward'))) return family('forward');
  return `forward ${family('forward')}, input gradient ${family('input')}, weight gradient ${family('weight')}${c.weightKernel ? ` (${c.weightKernel})` : ''}`;
}

/** A convolution met under 'fastest' before it was timed: enough to run it again on random data. */
export interface PendingConv {
  /** The key the choice is stored under (convKey). */
  key: string;
  xShape: readonly number[];
  wShape: readonly number[];
  size: number | 'fromSoftSize';
  kMin: number;
  stride: 1 | 2;
  padding: number;
  /** Conv2dOptions.weightGradient. */
  weightKernel: WeightGradient;
  /** Conv2dOptions.tile, where the call named one (then the only tile timed). */
  tile: TiledTile | undefined;
  /** Conv2dOptions.winograd: under 'auto' (the default) the Winograd kernels are raced against the direct ones where they can run. */
  winograd: boolean | 'auto';
  /**
   * The soft size: a number, or a copy of the call's soft-size tensor taken on the GPU when the
   * call was met (so a size computed on the GPU is timed at its value then; no readback). Null
   * when unmasked. tuneConvs disposes the copy.
   */
  softSize: Tensor | number | null;
  /** The gradients the call's backward computes (from its inputs' requiresGrad): timed with the forward. */
  gradients: { input: boolean; weight: boolean };
}

interface Choices {
  chosen: Map<string, ConvChoice>;
  pending: Map<string, PendingConv>;
  /** Called after tuneConvs has chosen for new convolutions (onConvsTuned). */
  listeners: Set<() => void>;
  /** Counts changes to `chosen`: a captured step that ran convolutions under 'fastest' is stale once it moves. */
  version: number;
}

const perEngine = new WeakMap<Engine, Choices>();

export function convChoices(engine: Engine): Choices {
  let c = perEngine.get(engine);
  if (!c) {
    c = { chosen: new Map(), pending: new Map(), listeners: new Set(), version: 0 };
    perEngine.set(engine, c);
  }
  return c;
}

/** The families chosen for `key`'s passes, or null when not timed yet. */
export function chosenKernels(engine: Engine, key: string): ConvChoice | null {
  return convChoices(engine).chosen.get(key) ?? null;
}

/** Records a convolution to time (once per key); `softSize` a tensor is copied on the GPU. */
export function addPending(engine: Engine, conv: PendingConv): void {
  const { pending } = convChoices(engine);
  if (pending.has(conv.key)) return;
  let softSize = conv.softSize;
  if (softSize instanceof Tensor) {
    const copy = engine.keep(Tensor.empty(engine, [1], 'float32', 'soft size for tuning'));
    engine.copy(softSize.buffer, copy.buffer, 4);
    softSize = copy;
  }
  pending.set(conv.key, { ...conv, softSize });
}

/** A number that changes whenever the kernels chosen for this engine's convolutions change. */
export function convChoicesVersion(engine: Engine): number {
  return convChoices(engine).version;
}

/** Whether convolutions met under 'fastest' wait for tuneConvs. */
export function hasPendingConvs(engine: Engine): boolean {
  return pendingConvCount(engine) > 0;
}

/** How many convolutions met under 'fastest' wait for tuneConvs. */
export function pendingConvCount(engine: Engine): number {
  return convChoices(engine).pending.size;
}

/**
 * Calls `listener` each time tuneConvs has chosen kernels for new convolutions of this engine (a
 * run saves its tuning file then); returns the function that stops it.
 */
export function onConvsTuned(engine: Engine, listener: () => void): () => void {
  const { listeners } = convChoices(engine);
  listeners.add(listener);
  return () => listeners.delete(listener);
}
