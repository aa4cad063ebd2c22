/**
 * The configurations of conv2d.wgsl's workgroup-tiled kernels (variant 'tiled'): which ones the
 * kernels can run (tiledConfigProblem), the one each product gets (tiledTile), and the candidates
 * bench/tiled_sweep.ts times on a GPU to choose it (TILED_CANDIDATES, through tiledSweep).
 */

/**
 * The tiled kernels' block of products per invocation (conv2d.wgsl): '4x4' (the default) or '8x8'
 * — twice the products per value read from workgroup memory, for four times the accumulators.
 */
export const TILED_TILES = ['4x4', '8x8'] as const;
export type TiledTile = (typeof TILED_TILES)[number];

/**
 * The tiled kernels' pipeline constants (conv2d.wgsl's override constants): the workgroup's
 * invocations (TILED_WG), the invocation's block (RM × CN), the workgroup's tile (TM × TN:
 * TILED_WG blocks), the stage depth TK, PREFETCH (1: the forward issues the next stage's
 * loads before this stage's products; the weight gradient does not read it) and WSTEP (1: the
 * weight gradient steps its pixels with carries, no divisions at each stage; the forward does
 * not read it).
 */
export type TiledConfig = {
  TILED_WG: number;
  RM: number;
  CN: number;
  TM: number;
  TN: number;
  TK: number;
  PREFETCH: 0 | 1;
  WSTEP: 0 | 1;
};

/** conv2d.wgsl's registers for one invocation's share of a forward's stage (Staged: a, b). */
const STAGED_VEC4S = 8;
const STAGED_FLOATS = 16;

/**
 * Why conv2d.wgsl's tiled kernels cannot run with `c`, or null: the conditions their staging
 * relies on (each invocation stages whole rows of one column of B; the weight gradient's pixels
 * split the workgroup evenly), the registers it stages into, and 16 KiB of workgroup memory.
 */
export function tiledConfigProblem(c: TiledConfig): string | null {
  const { TILED_WG: wg, RM, CN, TM, TN, TK } = c;
  if (![64, 128, 256].includes(wg)) return `TILED_WG ${wg} is not 64, 128 or 256`;
  if (![4, 8].includes(RM) || ![4, 8].includes(CN)) return `the block ${RM} × ${CN} is not 4 or 8 each way`;
  if (TM % RM || TN % CN || (TM / RM) * (TN / CN) !== wg) return `a ${TM} × ${TN} tile of ${RM} × ${CN} blocks is not ${wg} invocations`;
  if (TN < 64) return `TN ${TN} < 64 (TILED_MAX_PIXELS assumes 64 columns a workgroup at least)`;
  if (TK * (TM + TN) * 4 > 16384) return `the slices take ${TK * (TM + TN) * 4} bytes of workgroup memory, over 16384`;
  if (wg % TN || TK % (wg / TN)) return `the forward stages TK = ${TK} rows of B in steps of TILED_WG / TN = ${wg / TN}`;
  if (Math.ceil((TK * TM) / 4 / wg) > STAGED_VEC4S || (TK * TN) / wg > STAGED_FLOATS) return 'the forward stages more values per invocation than its registers hold';
  const E = wg / TK;
  if (wg % TK || TM % E || TN % E) return `the weight gradient's ${E} invocations per pixel do not split ${TM} rows and ${TN} columns`;
  return null;
}

/**
 * The tiled kernels' configuration for a product of `rows` rows (channels) and the block `tile`.
 * The smaller tile where it holds the rows, so a layer of few channels leaves less of a tile
 * idle: '4x4' 32 × 128 or 64 × 64 (TK 16), '8x8' 64 × 256 or 128 × 128 (TK 8: TK·(TM + TN)
 * floats stay within WebGPU's default 16 KiB of workgroup memory); 256 invocations each.
 */
export function tiledTile(rows: number, tile: TiledTile = '4x4'): TiledConfig {
  return tiledSweep.config ? tiledSweep.config(rows, tile) : defaultTile(rows, tile);
}

function defaultTile(rows: number, tile: TiledTile): TiledConfig {
  const block = tile === '8x8' ? 8 : 4;
  const TM = rows <= 8 * block ? 8 * block : 16 * block;
  return { TILED_WG: 256, RM: block, CN: block, TM, TN: (256 * block * block) / TM, TK: tile === '8x8' ? 8 : 16, PREFETCH: 0, WSTEP: 0 };
}

/** Workgroups the tiled forward should reach: where its tiles are fewer, its sum is split. */
export const TILED_FORWARD_WORKGROUPS = 512;
/** Fewest stages (of TK steps) a split of the tiled forward's sum runs. */
export const TILED_SPLIT_MIN_STAGES = 4;
/** Most splits of the tiled forward's sum (each a copy of the output, added after). */
export const TILED_MAX_SPLITS = 16;
/** Most floats the splits' copies of the output may take together. */
const TILED_SPLIT_FLOATS = 1 << 22;

/**
 * How the tiled forward splits its sum of `steps` steps (Cin·s², or Cin·k_max² where the size is
 * found on the GPU) over `tiles` workgroups of an output of `outFloats` floats: `splits` runs of
 * `perSplit` steps (a multiple of TK), each a workgroup per tile writing its own copy of the
 * output — so that a small product (few pixels or channels) still fills a GPU.
 */
export function tiledSplits(tiles: number, steps: number, TK: number, outFloats: number): { splits: number; perSplit: number } {
  const stages = Math.ceil(steps / TK);
  const wanted = tiledSweep.splits ?? Math.min(Math.ceil(TILED_FORWARD_WORKGROUPS / tiles), Math.floor(stages / TILED_SPLIT_MIN_STAGES), TILED_MAX_SPLITS, Math.floor(TILED_SPLIT_FLOATS / outFloats));
  const perSplit = Math.ceil(stages / Math.max(1, wanted)) * TK;
  return { splits: Math.ceil((stages * TK) / perSplit), perSplit };
}

/**
 * For bench/tiled_sweep.ts and tests only: `config` replaces tiledTile, `weightMinPixels`
 * TILED_WEIGHT_MIN_PIXELS, `splits` tiledSplits's count. Null / undefined: the defaults.
 */
export const tiledSweep: { config: ((rows: number, tile: TiledTile) => TiledConfig) | null; weightMinPixels?: number; splits?: number } = { config: null };

/** A candidate configuration for a product of `rows` rows (bench/tiled_sweep.ts, and tests). */
export type TiledCandidate = (rows: number) => TiledConfig;

const cfg = (TILED_WG: number, R: number, TM: number, TK: number, PREFETCH: 0 | 1, CN = R): TiledConfig => ({ TILED_WG, RM: R, CN, TM, TN: (TILED_WG * R * CN) / TM, TK, PREFETCH, WSTEP: 0 });

/**
 * The configurations bench/tiled_sweep.ts races (named block, then -wgN invocations where not
 * 256, -tkN steps a stage where not the block's default, -pf prefetching, -wstep the weight
 * gradient's pixels stepped without divisions): the two blocks' defaults with and without
 * prefetching or stepping, deeper stages, smaller workgroups (more of them for a small product),
 * and an 8 × 4 block (8 rows: A's values are the ones a warp's invocations share).
 */
export const TILED_CANDIDATES: Record<string, TiledCandidate> = {
  '4x4': (rows) => defaultTile(rows, '4x4'),
  '4x4-pf': (rows) => ({ ...defaultTile(rows, '4x4'), PREFETCH: 1 }),
  '4x4-tk32-pf': (rows) => (rows <= 32 ? cfg(256, 4, 32, 16, 1) : cfg(256, 4, 64, 32, 1)),
  '4x4-wg128-pf': () => cfg(128, 4, 32, 16, 1),
  '8x8': (rows) => defaultTile(rows, '8x8'),
  '8x8-pf': (rows) => ({ ...defaultTile(rows, '8x8'), PREFETCH: 1 }),
  '4x4-wstep': (rows) => ({ ...defaultTile(rows, '4x4'), WSTEP: 1 }),
  '8x8-wstep': (rows) => ({ ...defaultTile(rows, '8x8'), WSTEP: 1 }),
  '8x8-wg64': () => cfg(64, 8, 64, 16, 0),
  '8x8-wg64-pf': () => cfg(64, 8, 64, 16, 1),
  '8x8-wg128-pf': () => cfg(128, 8, 64, 16, 1),
  '8x4-wg128-pf': () => cfg(128, 8, 64, 16, 1, 4),
};

/**
 * Pixels per channel over the batch (output or input, whichever is larger) the tiled kernels'
 * grid takes: x runs over blocks of TN (≥ 64) of them, at most 65535 workgroups.
 */
export const TILED_MAX_PIXELS = 65535 * 64;
