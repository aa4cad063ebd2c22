/** Matrix products (shaders/matmul.wgsl) and `linear`. */
import { sumStep } from '../gpu/conv_variant.js';
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { add } from './elementwise.js';
import { expectFloat32 } from './operands.js';

export const MatmulParams = uniformLayout('MatmulParams', [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['a_row', 'u32'],
  ['a_k', 'u32'],
  ['a_batch', 'u32'],
  ['b_k', 'u32'],
  ['b_col', 'u32'],
  ['b_batch', 'u32'],
] as const);

/** Each invocation computes a 4×4 block; a workgroup of WG_X × WG_Y invocations. */
const TILE = { WG_X: 8, WG_Y: 8 };
const matmulKernel = defineKernel({
  file: 'matmul.wgsl',
  entry: 'matmul',
  params: MatmulParams,
  bindings: [1, 2, 3],
  constants: TILE,
});

/** The subgroup kernels (matmul_subgroups.wgsl): blocks of 16 rows of C per workgroup row. */
const SG_WG = 64;
const subgroupKernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'matmul_subgroups.wgsl', entry, params: MatmulParams, bindings, constants: { WG: SG_WG }, feature: 'subgroups' });
const rowsSubgroups = subgroupKernel('matmul_rows_sg', [1, 4, 5, 6]);
const colsSubgroups = subgroupKernel('matmul_cols_sg', [4, 5, 3]);
const anySubgroups = subgroupKernel('matmul_any_sg', [1, 2, 3]);

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /**
   * Which kernel: 'auto' (default) takes a subgroup kernel (matmul_subgroups.wgsl) where the device
   * has one fixed subgroup size of at least 8 — matmul_rows_sg for op(B) with contiguous rows and N a
   * multiple of 4, matmul_cols_sg for op(B) with contiguous columns, op(A) with contiguous rows
   * and K a multiple of 4, matmul_any_sg for any other layout where that size is at most 64 (0.54–0.66× matmul.wgsl's time on
   * the kernel predictor's products, N = 81, on lavapipe) — and matmul.wgsl otherwise; 'plain'
   * always matmul.wgsl. The same sums either way; gradients use 'auto'.
   */
  variant?: 'auto' | 'plain';
}

/**
 * op(A) · op(B). A is [M, K] (or [K, M] with transposeA), B is [K, N] (or [N, K] with transposeB);
 * a leading batch dim on A (and optionally B) gives a batched product.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const ta = !!opts.transposeA;
  const tb = !!opts.transposeB;
  const op = 'matmul';
  expectFloat32(op, a, b);
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) {
    throw new ShapeError(op, `expected 2-D or 3-D tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const batch = a.rank === 3 ? a.shape[0]! : 1;
  const bBatch = b.rank === 3 ? b.shape[0]! : 1;
  if (b.rank === 3 && (a.rank !== 3 || bBatch !== batch)) {
    throw new ShapeError(op, `batch dims differ: ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = ta ? ac : ar;
  const Ka = ta ? ar : ac;
  const Kb = tb ? bc : br;
  const N = tb ? br : bc;
  if (Ka !== Kb) {
    throw new ShapeError(
      op,
      `inner dims differ: ${fmtShape(a.shape)}${ta ? 'ᵀ' : ''} · ${fmtShape(b.shape)}${tb ? 'ᵀ' : ''} (${Ka} vs ${Kb})`,
    );
  }
  const outShape = a.rank === 3 ? [batch, M, N] : [M, N];
  const out = Tensor.empty(a.engine, outShape);
  if (Ka === 0) throw new ShapeError(op, 'inner dimension is 0');
  const params = {
    M,
    N,
    K: Ka,
    a_row: ta ? 1 : ac,
    a_k: ta ? ac : 1,
    a_batch: a.rank === 3 ? ar * ac : 0,
    b_k: tb ? 1 : bc,
    b_col: tb ? bc : 1,
    b_batch: b.rank === 3 ? br * bc : 0,
  };
  const subgroups = opts.variant !== 'plain' && (a.engine.subgroupSize ?? 0) >= 8;
  const blocks = Math.ceil(M / 16);
  if (subgroups && !tb && N % 4 === 0) {
    const step = sumStep(a.engine.convAutoRules);
    // A's 4 steps of k as one vec4 (A_VEC4) where its rows are contiguous (!ta) and start on whole
    // vec4s: row stride K and batch stride M·K both multiples of 4 when K is
    const aVec4 = step === 4 && !ta && Ka % 4 === 0;
    a.engine.dispatch(rowsSubgroups, params, [a.buffer, a.buffer, b.buffer, out.buffer], [Math.ceil(N / (4 * SG_WG)), blocks, batch], { K_STEP: step, A_VEC4: Number(aVec4) });
  } else if (subgroups && tb && !ta && Ka % 4 === 0) {
    a.engine.dispatch(colsSubgroups, params, [a.buffer, b.buffer, out.buffer], [Math.ceil(N / SG_WG), blocks, batch]);
  } else if (subgroups && a.engine.subgroupSize! <= SG_WG) {
    // each subgroup its own block of 16 rows, 4·SG columns wide
    const sg = a.engine.subgroupSize!;
    a.engine.dispatch(anySubgroups, params, [a.buffer, b.buffer, out.buffer], [Math.ceil(N / (4 * sg)), Math.ceil(blocks / (SG_WG / sg)), batch]);
  } else {
    a.engine.dispatch(matmulKernel, params, [a.buffer, b.buffer, out.buffer], [Math.ceil(N / (4 * TILE.WG_X)), Math.ceil(M / (4 * TILE.WG_Y)), batch]);
  }
  return record(op, [a, b], out, [a, b], (g, [sa, sb], needs) => {
    const A = sa!;
    const B = sb!;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) ga = ta ? matmul(B, g, { transposeA: tb, transposeB: true }) : matmul(g, B, { transposeB: !tb });
    if (needs[1]) {
      // With a weight shared over the batch, its gradient sums over the batch: fold it into rows.
      const g2 = b.rank === 2 && a.rank === 3 ? g.view([batch * M, N]) : g;
      const A2 = b.rank === 2 && a.rank === 3 && !ta ? A.view([batch * M, Ka]) : A;
      if (b.rank === 2 && a.rank === 3 && ta) {
        throw new ShapeError(op, 'gradient of a shared B with a batched, transposed A is not supported');
      }
      gb = tb ? matmul(g2, A2, { transposeA: true, transposeB: ta }) : matmul(A2, g2, { transposeA: !ta });
    }
    return [ga, gb];
  });
}

/** y = x · Wᵀ + b with x [N, in], W [out, in], b [out] (PyTorch's layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (x.rank !== 2 || weight.rank !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new ShapeError('linear', `input ${fmtShape(x.shape)} does not fit weight ${fmtShape(weight.shape)} (expected [N, ${weight.shape[1]}])`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError('linear', `bias ${fmtShape(bias.shape)} does not fit weight ${fmtShape(weight.shape)}`);
  }
  const y = matmul(x, weight, { transposeB: true });
  return bias ? add(y, bias) : y;
}
