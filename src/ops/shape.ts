/** Shape ops that are views: no kernel, no copy; the gradient is the same view taken back. */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { record } from '../autograd/tape.js';
import { sizeOf, type Tensor } from '../tensor.js';

/** Reshape; one dim may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new ShapeError('reshape', `at most one -1 in ${fmtShape(shape)}`);
  const resolved = inferred === 1 ? shape.map((d) => (d === -1 ? x.size / Math.max(1, sizeOf(known)) : d)) : [...shape];
  if (!resolved.every((d) => Number.isInteger(d) && d >= 0) || sizeOf(resolved) !== x.size) {
    throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} values) to ${fmtShape(shape)}`);
  }
  const y = x.view(resolved);
  return record('reshape', [x], y, [], (g) => [g.view(x.shape)]);
}

/** [N, ...] → [N, prod(...)]. */
export function flatten(x: Tensor): Tensor {
  if (x.rank < 1) throw new ShapeError('flatten', 'cannot flatten a scalar');
  return reshape(x, [x.shape[0]!, -1]);
}
