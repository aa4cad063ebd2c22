/**
 * What conv2d's variant 'auto' runs under each of the engine's rule sets (EngineOptions.convAutoRules),
 * as measured: where the Winograd kernels take a pass (WINOGRAD_RULE, WINOGRAD_AVX512_RULE,
 * WINOGRAD_GPU_RULE) and, under the GPU rules, which family and tiled block each pass runs
 * (gpuAutoChoice, GPU_TILE_RULE). Functions of shapes and of the engine's rules and limits only
 * (no dispatch), which conv2d.ts plans with.
 */
import type { Engine } from '../gpu/engine.js';
import { allPasses, type ConvChoice } from './conv_choices.js';
import { TILED_MAX_PIXELS, type TiledTile } from './conv2d_tiled.js';
import { winogradPositions, winogradProductWorkgroups, winogradTiles, type WinogradSize } from './conv2d_winograd.js';
import type { WeightGradient } from './conv2d_subgroup_rules.js';

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
  /**
   * Planes whose height or width is not a multiple of 4, so that the edge tiles are partly
   * padding (14×14: 16 tiles for 196 pixels; 7×7: 4 for 49), which the transforms and the product
   * pay for as whole tiles: these channel bounds instead of minChannels and minPairs, where given.
   */
  readonly partialTiles?: { readonly minChannels: number; readonly minPairs: number };
}

/** A convolution's three passes, as the Winograd rules name them. */
export type WinogradPass = 'forward' | 'input' | 'weight';

/** Both AVX-512 weight-gradient rules' channel bounds on planes of partial tiles (stops 42, 43). */
const AVX512_WEIGHT_PARTIAL_TILES = { minChannels: 32, minPairs: 2048 } as const;

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
 * The weight gradients measured again once the direct weight-gradient kernels had changed
 * (stop 42, 7 pairs, `node dist/bench/winograd_pairs.js`; Winograd / direct): on planes of
 * partial tiles (H or W not a multiple of 4) they lose below 64 channels a side — 5 × 5: 14×14
 * 16→32 1.70, 32→32 1.21, 32→64 0.98, 7×7 32→64 1.00; 3 × 3: 14×14 32→32 1.34, 7×7 32→64 1.14 —
 * and win from there (5 × 5: 14×14 64→64 0.80, 7×7 64→64 0.78; 3 × 3: 14×14 64→64 0.91, 7×7
 * 64→64 0.80, 64→128 0.75), hence partialTiles; on whole tiles they win as before (5 × 5: 32×32
 * 0.45–0.66, 16×16 0.47–0.77, 28×28 32→32 0.95, 8×8 at N = 128 0.46–0.58; 3 × 3: 32×32 32→64
 * 0.65, 16×16 0.56–0.77), 3 × 3 now from planes of 4 tiles (8×8 64→128 and 128→128 at N = 128:
 * 0.66, 0.52; at N = 32, 128 tiles, 1.01–1.16) — and at 1024 pairs not at 3 × 3 (32×32 32→32
 * 0.79–0.82, 16×16 0.86, but 28×28 1.10).
 * The weight gradients on partial tiles measured again once the tile transforms took the
 * batch's quads image-fastest (stop 43, 7 pairs, N = 128): 5 × 5 7×7 32→64 0.70–0.71, 32→32 0.78,
 * 16→32 1.24, 14×14 32→64 0.84, 32→32 1.03, 64→64 0.72; 3 × 3 7×7 32→64 0.82–0.85, 32→32 0.94,
 * 16→32 1.34, 14×14 32→64 0.94, 32→32 1.09, 64→64 0.78: from 32 channels a side and 2048 pairs.
 */
export const WINOGRAD_AVX512_RULE: Readonly<Record<WinogradSize, Readonly<Record<WinogradPass, WinogradRule | null>>>> = {
  3: {
    forward: null,
    input: null,
    weight: { minChannels: 32, minPairs: 2048, minTiles: 512, minPlaneTiles: 4, partialTiles: AVX512_WEIGHT_PARTIAL_TILES },
  },
  5: {
    forward: { minChannels: 64, minPairs: 4096, minTiles: 512, minPlaneTiles: 4 },
    input: { minChannels: 64, minPairs: 4096, minTiles: 512, minPlaneTiles: 4 },
    weight: { ...WINOGRAD_RULE[5], partialTiles: AVX512_WEIGHT_PARTIAL_TILES },
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
export function winogradObstacle(engine: Engine, s: number, N: number, H: number, W: number, channels: number): string | null {
  if (s !== 3 && s !== 5) return s === 0 ? 'the window size comes from the soft size' : `the window is ${s} × ${s}, not 3 × 3 or 5 × 5`;
  const positions = winogradPositions(s);
  const { L } = winogradTiles(N, H, W);
  if (winogradProductWorkgroups(positions, L) > 65535) return `its ${positions * L} transformed tiles per channel exceed one dispatch`;
  const bytes = positions * L * Math.ceil(channels / 4) * 4 * 4; // the weight gradient's input tiles pad the channels to 4
  if (bytes > engine.maxTensorBytes) return `its transformed tiles (${bytes} bytes) exceed the device's largest binding`;
  return null;
}

/**
 * Whether the engine's Winograd rule (WINOGRAD_RULE; WINOGRAD_AVX512_RULE or WINOGRAD_GPU_RULE
 * under those rules) takes `pass` of window s (0: from the soft size) whose product maps
 * inChannels to outChannels.
 */
export function winogradByRule(engine: Engine, s: number, N: number, H: number, W: number, pass: WinogradPass, inChannels: number, outChannels: number): boolean {
  if (winogradObstacle(engine, s, N, H, W, Math.max(inChannels, outChannels))) return false;
  const tiles = Math.ceil(H / 4) * Math.ceil(W / 4);
  const r = winogradRule(engine, s as WinogradSize, pass);
  if (r === null) return false;
  const channels = (H % 4 !== 0 || W % 4 !== 0) && r.partialTiles ? r.partialTiles : r;
  return Math.min(inChannels, outChannels) >= channels.minChannels && inChannels * outChannels >= channels.minPairs && N * tiles >= r.minTiles && tiles >= r.minPlaneTiles;
}

/** Taps of a window of size s on a k_max = kw grid, or k_max²'s where s = 0 (the size found on the GPU). */
export const windowTaps = (s: number, kw: number) => (s || kw) ** 2;

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
 * `subgroups`: whether the subgroup kernels can run the convolution (conv2d.ts, subgroupObstacle).
 */
export function gpuAutoChoice(
  engine: Engine,
  c: { N: number; Cin: number; H: number; W: number; Cout: number; s: number; kw: number; subgroups: boolean; tiledPixels: number; winograd: boolean | 'auto'; weightGradient: WeightGradient; tile: TiledTile | undefined },
): ConvChoice {
  if (c.tiledPixels > TILED_MAX_PIXELS || (c.subgroups && (c.winograd === true || c.weightGradient !== 'auto'))) return allPasses('auto');
  const winograd = (pass: WinogradPass, inChannels: number, outChannels: number) => c.subgroups && c.winograd === 'auto' && winogradByRule(engine, c.s, c.N, c.H, c.W, pass, inChannels, outChannels);
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
