/**
 * The subgroup convolution kernels' measured launch choices (shaders/conv2d_subgroups.wgsl), per
 * rule set (EngineOptions.convAutoRules): blocks of channels and rows per lane in the quad-rows
 * and run-layout kernels, the 1 × 1 kernels' constants, and the weight gradient's kernel, blocks,
 * pixels per update and chunks of images. Each choice names the paired runs it was kept on
 * (bench/HISTORY.md). Plain functions of shapes and rules: conv2d.ts launches with them.
 */
import { sumStep, type ConvAutoRules } from '../gpu/conv_variant.js';

/** Invocations a subgroup weight gradient should reach, splitting the images into chunks if need be. */
const BWD_WEIGHT_INVOCATIONS = 4096;
/** The most floats the chunks' copies of dw may take (16 MiB). */
export const BWD_WEIGHT_PARTIAL_FLOATS = 1 << 22;
/**
 * Multiply-adds of the gradient per float of the chunks' copies it takes to be worth splitting:
 * each copy of the k_max × k_max grid is filled and summed, which a small window inside a large
 * k_max on a small plane does not repay (the masked s = 1, 3 rows of the bench ran 10× slower).
 */
const BWD_WEIGHT_COPY_COST = 256;

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
export const quadLayout = (S: number, channels: number, rules: ConvAutoRules): { rows: 1 | 2; blocks: number } => {
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
export const runBlocks = (S: number, channels: number, rules: ConvAutoRules) => {
  if (channels < 16) return 1;
  if (rules === 'cpu-avx512') return S <= 5 && channels >= 32 ? 4 : 2;
  return S <= 5 ? 2 : 1;
};

/**
 * A pass's channels as workgroup rows of blocks of 8 (the row kernels' BLOCKS): rows of `blocks`
 * blocks from channel 0, then the channels past the last whole row in one row of the fewest
 * blocks in `allowed` that hold them, from `cfirst` (a dispatch of its own: the shaders' p.cfirst;
 * where that is `blocks` again, one more row of the first dispatch) — so 19 channels at two blocks
 * a lane cost a row of 16 and a row of 8, not two rows of 16 with 13 of the second's idle.
 * Forward and input gradient only: the weight gradient's per-pixel work (inputs, masks) does not
 * shrink with its blocks, and a second dispatch of it took 1.01–1.12× the time of one.
 */
export function channelRows(channels: number, blocks: number, allowed: readonly number[]): { cfirst: number; blocks: number; rows: number }[] {
  const perRow = 8 * blocks;
  const rows = Math.floor(channels / perRow);
  const left = channels - rows * perRow;
  const fit = Math.min(...allowed.filter((b) => b <= blocks && 8 * b >= left), blocks);
  if (left === 0 || fit === blocks) return [{ cfirst: 0, blocks, rows: Math.ceil(channels / perRow) }];
  return [...(rows > 0 ? [{ cfirst: 0, blocks, rows }] : []), { cfirst: rows * perRow, blocks: fit, rows: 1 }];
}

/**
 * conv2d_fwd_1x1_sg's and conv2d_winograd_product_sg's constants for unpacked weights (W_STRIDE 1)
 * over `channels` input channels: the weights as vec4s (W_VEC4) where a lane's 4 input channels
 * per step are 4 aligned floats — SUM_STEP 4 ('cpu-avx512') and channels a multiple of 4.
 */
export function forward1x1Constants(rules: ConvAutoRules, channels: number): Record<string, number> {
  const step = sumStep(rules);
  return { S: 1, W_STRIDE: 1, SUM_STEP: step, W_VEC4: Number(step === 4 && channels % 4 === 0) };
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
 * ⌈⌈Cin/4⌉/QUADS⌉·S² tasks (conv2d_bwd_weight_sg), Cin·S·⌈S/4⌉ (conv2d_bwd_weight_taps_sg), or S·⌈Cin/4⌉
 * kernel rows of S lanes, ⌊sg/S⌋ rows per subgroup (conv2d_bwd_weight_slide_sg).
 */
const bwdWeightLanes = (Cin: number, S: number, sg: number, kernel: SubgroupWeightKernel, quads: number) => {
  if (kernel === 'taps') return Math.ceil((Cin * S * Math.ceil(S / 4)) / sg) * sg;
  // conv2d_bwd_weight_slide_sg: whole kernel rows (groups of S lanes) per subgroup, the rest idle
  if (kernel === 'slide') return Math.ceil((S * Math.ceil(Cin / 4)) / Math.floor(sg / S)) * sg;
  return Math.ceil((Math.ceil(Math.ceil(Cin / 4) / quads) * S * S) / sg) * sg;
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
 * 16×16 64→128 — but at S = 7 1.08–1.13 and at S = 3 0.87–1.23 (paired; bench/HISTORY.md stop 39);
 * and only where the last lane's four blocks hold more than 16 channels (or 32): with 38, 44 or 75
 * output channels (6, 12, 11 in the last) two blocks took 0.78–0.84× four's time (paired trees,
 * 14×14 38→38 and 32→44, 7×7 38→75; stop 44), the second half of four blocks being padding.
 */
export const bwdWeightBlocks = (kernel: SubgroupWeightKernel, Cout: number, S: number, rules: ConvAutoRules) => {
  if (kernel !== 'rows' || Cout < 16) return 1;
  // four blocks run with 4 pixels per update only (the shader's BLOCKS and PIXELS)
  const lastFour = Cout % 32 === 0 ? 32 : Cout % 32;
  return bwdWeightPixels(rules) === 4 && S === 5 && Cout >= 32 && lastFour > 16 ? 4 : 2;
};

/**
 * Pixels per loop iteration of conv2d_bwd_weight_sg (PIXELS), their terms summed before each
 * accumulator update: 4 under the 'cpu-avx512' rules (on that host 0.89–0.95× the time of 2 at
 * S = 1, 3, 5, 7, 9 on the bench's and fmnist-6's planes, paired; bench/HISTORY.md stop 39), else
 * 2 (on the Zen 3 host 2 took 0.60–0.78× the time of 4, its longer loop most likely outgrowing
 * the decoded-op cache; not measured on a GPU).
 */
export const bwdWeightPixels = (rules: ConvAutoRules) => (rules === 'cpu-avx512' ? 4 : 2);

/**
 * Blocks of 4 input channels per lane of conv2d_bwd_weight_sg (QUADS): two under the
 * 'cpu-avx512' rules where a lane holds at most two blocks of 8 output channels (four already make
 * 32 vec4 accumulators) and the idle lanes stay few. Two quads share each pixel's mask, g loads and
 * broadcasts: a lane of two cost 1.74–1.81× a lane of one on the AVX-512 host, so they pay where
 * their lanes, in whole subgroups, are at most QUAD_PAIR_LANES of one quad's — paired, the whole
 * weight gradient 0.81–0.86× the time on the bench's 32×32 32→64 k = 7, 9 and 16×16 64→128 k = 7,
 * 0.84–0.92 on fmnist-6's 7×7 layers at S = 3, 7, 9, 0.88–0.95 on 28×28 16→16 at S = 5…9 and
 * 0.92 on 14×14 at S = 7 — while at S = 3 on 14×14 and 28×28 (0.56–0.60 of the lanes) 1.00–1.10.
 * bwdWeightQuadsOverride forces a count where it may run (tests).
 */
export const bwdWeightQuads = (Cin: number, Cout: number, S: number, sg: number, kernel: SubgroupWeightKernel, rules: ConvAutoRules) => {
  // the shader's limits: QUADS = 2 with BLOCKS ≤ 2 and PIXELS = 4
  if (kernel !== 'rows' || bwdWeightBlocks(kernel, Cout, S, rules) > 2 || bwdWeightPixels(rules) !== 4) return 1;
  if (bwdWeightQuadsOverride.quads !== null) return bwdWeightQuadsOverride.quads;
  if (rules !== 'cpu-avx512') return 1;
  return bwdWeightLanes(Cin, S, sg, kernel, 2) <= QUAD_PAIR_LANES * bwdWeightLanes(Cin, S, sg, kernel, 1) ? 2 : 1;
};
const QUAD_PAIR_LANES = 0.54;
export const bwdWeightQuadsOverride: { quads: 1 | 2 | null } = { quads: null };

/**
 * conv2d_bwd_weight_sg's pipeline constants at window S under `rules`: BLOCKS, PIXELS and QUADS
 * by the rules above, G_PAIRS where the rows' width is even (a pixel pair's upstream gradients in
 * one vec2 load).
 */
export const bwdWeightConstants = (Cin: number, Cout: number, S: number, sg: number, rules: ConvAutoRules, gPairs: boolean) => ({
  S,
  BLOCKS: bwdWeightBlocks('rows', Cout, S, rules),
  G_PAIRS: Number(gPairs),
  PIXELS: bwdWeightPixels(rules),
  QUADS: bwdWeightQuads(Cin, Cout, S, sg, 'rows', rules),
});

/** The weight-gradient kernel's invocations: its lanes per block of 8·BLOCKS output channels times the blocks. */
export const bwdWeightInvocations = (Cin: number, Cout: number, S: number, sg: number, kernel: SubgroupWeightKernel, rules: ConvAutoRules) =>
  Math.ceil(Cout / (8 * bwdWeightBlocks(kernel, Cout, S, rules))) * bwdWeightLanes(Cin, S, sg, kernel, bwdWeightQuads(Cin, Cout, S, sg, kernel, rules));

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
