/** The EffConv Gaussian mask as a stand-alone op (shaders/gaussian_mask.wgsl): the unfused path. */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { sum } from './reduce.js';
import { expectFloat32 } from './operands.js';

export const MaskParams = uniformLayout('MaskParams', [['k', 'u32']] as const);

const WG = 64;
const fwd = defineKernel({ file: 'gaussian_mask.wgsl', entry: 'gaussian_mask_fwd', params: MaskParams, bindings: [1, 3], constants: { WG } });
const bwd = defineKernel({ file: 'gaussian_mask.wgsl', entry: 'gaussian_mask_bwd', params: MaskParams, bindings: [1, 2, 3], constants: { WG } });

/** Checks a kernel grid size k_max: odd and ≥ 1. */
export function checkOddSize(op: string, name: string, k: number): void {
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) throw new RangeError(`${op}: ${name} must be an odd integer ≥ 1, got ${k}`);
}

/**
 * m[i, j] = exp(−((i − c)² + (j − c)²) / v²) on the k × k grid, c = (k − 1)/2, for the soft size
 * v (a one-element tensor; differentiable). v must be > 0: a non-positive v gives a degenerate
 * mask (the GPU value is not checked, to avoid a readback).
 */
export function gaussianMask(v: Tensor, k: number): Tensor {
  const op = 'gaussianMask';
  checkOddSize(op, 'k', k);
  expectFloat32(op, v);
  if (v.size !== 1) throw new ShapeError(op, `soft size v must have one element, got ${fmtShape(v.shape)}`);
  const out = Tensor.empty(v.engine, [k, k]);
  const groups = Math.ceil((k * k) / WG);
  v.engine.dispatch(fwd, { k }, [v.buffer, out.buffer], [groups]);
  return record(op, [v], out, [v], (g, [sv]) => {
    const terms = Tensor.empty(v.engine, [k * k]);
    v.engine.dispatch(bwd, { k }, [sv!.buffer, g.buffer, terms.buffer], [groups]);
    return [sum(terms).view(v.shape)];
  });
}
