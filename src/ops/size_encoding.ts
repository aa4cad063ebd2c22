/** One-hot hard sizes from soft sizes, on the GPU (shaders/size_encoding.wgsl). */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { checkOddSize } from './gaussian_mask.js';
import { grid1d } from './grid.js';
import { expectFloat32 } from './operands.js';

export const SizeParams = uniformLayout('SizeParams', [
  ['L', 'u32'],
  ['kmin', 'u32'],
  ['kmax', 'u32'],
] as const);

const WG = 64;
const oneHot = defineKernel({ file: 'size_encoding.wgsl', entry: 'size_one_hot', params: SizeParams, bindings: [1, 2], constants: { WG } });

/**
 * [L] soft sizes → [L, n] one-hot of hardSize(v_l, kMin, kMax) over the n admissible odd sizes.
 * Not differentiable (not recorded on the tape).
 */
export function sizeOneHot(v: Tensor, kMin: number, kMax: number): Tensor {
  const op = 'sizeOneHot';
  expectFloat32(op, v);
  if (v.rank !== 1) throw new ShapeError(op, `soft sizes must be [L], got ${fmtShape(v.shape)}`);
  checkOddSize(op, 'kMin', kMin);
  checkOddSize(op, 'kMax', kMax);
  if (kMin > kMax) throw new RangeError(`${op}: kMin ${kMin} > kMax ${kMax}`);
  const n = (kMax - kMin) / 2 + 1;
  const out = Tensor.empty(v.engine, [v.size, n]);
  v.engine.dispatch(oneHot, { L: v.size, kmin: kMin, kmax: kMax }, [v.buffer, out.buffer], grid1d(out.size, WG));
  return out;
}
