/**
 * The transforms of the Winograd convolutions F(4 × 4, 3 × 3) and F(4 × 4, 5 × 5)
 * (shaders/conv2d_winograd.wgsl): a 3 × 3 or 5 × 5 'same' convolution at stride 1 as 36 or 64
 * matrix products over 4 × 4 tiles of outputs — 36 multiply-adds per tile and channel pair instead
 * of 144, 64 instead of 400. conv2d.ts runs the products (conv2d_winograd_product_sg,
 * conv2d_bwd_weight_sg) between these transforms.
 */
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { grid1d } from './grid.js';

export const WinogradParams = uniformLayout('WinogradParams', [
  ['N', 'u32'],
  ['C', 'u32'],
  ['H', 'u32'],
  ['W', 'u32'],
  ['TW', 'u32'],
  ['P', 'u32'],
  ['L', 'u32'],
  ['K', 'u32'],
  ['flip', 'u32'],
] as const);

/** The window sizes with a Winograd algorithm here. */
export type WinogradSize = 3 | 5;

const WG = 64;
const kernel = (entry: string, bindings: number[]) => defineKernel({ file: 'conv2d_winograd.wgsl', entry, params: WinogradParams, bindings, constants: { WG } });
/** Each window size's kernels: conv2d_winograd_* (3 × 3), conv2d_winograd5_* (5 × 5). */
const kernels = (prefix: string) => ({
  weights: kernel(`${prefix}_weights`, [1, 2]),
  input: kernel(`${prefix}_input`, [1, 3, 4]),
  inputInterleaved: kernel(`${prefix}_input_interleaved`, [1, 3, 2]),
  output: kernel(`${prefix}_output`, [3, 2]),
  outputRows: kernel(`${prefix}_output_rows`, [3, 4]),
  upstream: kernel(`${prefix}_upstream`, [1, 3, 4]),
  weightGrad: kernel(`${prefix}_weight_grad`, [1, 2]),
});
const K: Record<WinogradSize, ReturnType<typeof kernels>> = { 3: kernels('conv2d_winograd'), 5: kernels('conv2d_winograd5') };

/** The tile transforms' ROWS case: an invocation's 4 tiles are neighbours on one tile row of whole vec4s (W a multiple of 16). */
const rows = (W: number) => W % 16 === 0;
/** The tile transforms' PLANE case: planes of 2 × 2 tiles, an invocation's quad its whole plane, whose rows it reads once. */
const wholePlane = (H: number, W: number) => H >= 5 && H <= 8 && W >= 5 && W <= 8;

/** Positions of the transformed tile (6 × 6 or 8 × 8): one matrix product each. */
export const winogradPositions = (S: WinogradSize) => (S === 3 ? 36 : 64);

/** A run of the product's subgroups (4 tiles per lane, at most a workgroup): L is a multiple of it. */
const RUN = 4 * WG;

/** Workgroups along x of the products' grid (conv2d_winograd_product_sg): 4 of the L tiles a lane, RUN a workgroup. */
export const winogradProductWorkgroups = (positions: number, L: number) => (positions * L) / RUN;

/**
 * The tiles of N planes H × W: TW per row, P per plane (padded to a multiple of 4: the product
 * reads 4 per lane), L per channel over the batch (N·P padded to a multiple of RUN, so that a
 * subgroup of the product never spans two of its matrices).
 */
export function winogradTiles(N: number, H: number, W: number): { TW: number; P: number; L: number } {
  const TW = Math.ceil(W / 4);
  const P = Math.ceil((Math.ceil(H / 4) * TW) / 4) * 4;
  return { TW, P, L: Math.ceil((N * P) / RUN) * RUN };
}

/**
 * U [positions, R, K]: the transformed weights of the product with R output and K input channels,
 * from the packed S × S window (conv2d_pack_weights_sg: [Cout, Cin, S, 4·⌈S/4⌉]). flip: the input
 * gradient's (R = Cin, K = Cout, each window rotated by 180°).
 */
export function winogradWeights(S: WinogradSize, packed: Tensor, R: number, Kc: number, flip: boolean): Tensor {
  const e = packed.engine;
  const u = Tensor.empty(e, [winogradPositions(S) * R * Kc]);
  e.dispatch(K[S].weights, pairParams(R, Kc, flip), [packed.buffer, u.buffer], grid1d(R * Kc, WG));
  return u;
}

/** V [positions, C, L]: the transformed input tiles of x [N, C, H, W] (0 past N·P). */
export function winogradInput(S: WinogradSize, x: Tensor): Tensor {
  return tileTransform(K[S].input, S, x, x.shape[1]!);
}

/**
 * V4 [positions, ⌈C/4⌉, L, 4]: V with its channels interleaved by 4 (conv2d_pack_input_sg's layout
 * of `positions` images of L tiles, what conv2d_bwd_weight_sg reads), 0 past N·P and past C.
 */
export function winogradInputInterleaved(S: WinogradSize, x: Tensor): Tensor {
  return tileTransform(K[S].inputInterleaved, S, x, Math.ceil(x.shape[1]! / 4) * 4);
}

/** D [positions, C, L]: the transformed 4 × 4 tiles of the upstream gradient gy [N, C, H, W] (0 past N·P). */
export function winogradUpstream(S: WinogradSize, gy: Tensor): Tensor {
  return tileTransform(K[S].upstream, S, gy, gy.shape[1]!);
}

/** The tile transforms' uniforms for planes of `shape` [N, C, H, W]. */
function tileParams(shape: readonly number[]) {
  const [N, C, H, W] = shape as [number, number, number, number];
  return { N, C, H, W, ...winogradTiles(N, H, W), K: 0, flip: 0 };
}

/**
 * A transform of x's tiles into `slots` channel rows of L tiles per position (C, or C padded to 4
 * when interleaved): one invocation per quad of tiles of the batch and channel slot, then one per
 * quad that pads a channel slot's row to L.
 */
function tileTransform(def: ReturnType<typeof kernels>['input'], S: WinogradSize, x: Tensor, slots: number): Tensor {
  const params = tileParams(x.shape);
  const { L } = params;
  const v = Tensor.empty(x.engine, [winogradPositions(S) * slots * L]);
  // every slot's row of L tiles, a quad an invocation: the batch's N·P tiles, then the padding
  // (the interleaved kernels' padding slots write zeros)
  const invocations = (slots * L) / 4;
  x.engine.dispatch(def, params, [x.buffer, x.buffer, v.buffer], grid1d(invocations, WG), { ROWS: rows(params.W) ? 1 : 0, PLANE: wholePlane(params.H, params.W) ? 1 : 0 });
  return v;
}

/** The weight transforms' uniforms for R × K channel pairs. */
const pairParams = (R: number, Kc: number, flip: boolean) => ({ N: 0, C: R, H: 0, W: 0, TW: 0, P: 0, L: 0, K: Kc, flip: flip ? 1 : 0 });

/** dw [R, K, S, S] from the sums dU [positions, R, K] of the products of D and V. */
export function winogradWeightGrad(S: WinogradSize, du: Tensor, R: number, Kc: number): Tensor {
  const e = du.engine;
  const dw = Tensor.empty(e, [R, Kc, S, S]);
  e.dispatch(K[S].weightGrad, pairParams(R, Kc, false), [du.buffer, dw.buffer], grid1d(R * Kc, WG));
  return dw;
}

/** Writes y [N, C, H, W] from the products M [positions, C, L]. */
export function winogradOutput(S: WinogradSize, m: Tensor, y: Tensor): void {
  const params = tileParams(y.shape);
  const { N, C, P, W } = params;
  y.engine.dispatch(rows(W) ? K[S].outputRows : K[S].output, params, [m.buffer, y.buffer], grid1d((N * C * P) / 4, WG));
}
