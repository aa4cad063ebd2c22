/** Fused softmax cross-entropy with integer labels (shaders/softmax_xent.wgsl). */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { mean } from './reduce.js';

export const XentParams = uniformLayout('XentParams', [
  ['rows', 'u32'],
  ['classes', 'u32'],
] as const);

const WG = 64;
const fwd = defineKernel({ file: 'softmax_xent.wgsl', entry: 'softmax_xent_fwd', params: XentParams, bindings: [1, 2, 3], constants: { WG } });
const bwd = defineKernel({ file: 'softmax_xent.wgsl', entry: 'softmax_xent_bwd', params: XentParams, bindings: [1, 2, 3, 4], constants: { WG } });

/** Checks labels on the CPU: integers in [0, classes). */
export function checkLabels(where: string, labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new RangeError(`${where}: label ${v} at index ${i} is outside [0, ${classes})`);
    }
  }
}

/** Checks labels on the CPU (range, integrality) and uploads them as an int32 tensor. */
export function labelTensor(like: Tensor, labels: ArrayLike<number>, classes: number): Tensor {
  checkLabels('softmaxCrossEntropy', labels, classes);
  return Tensor.from(like.engine, labels, [labels.length], 'int32');
}

/**
 * Per-row loss [N] for logits [N, K] and labels [N] (an int32 tensor, or CPU values which are
 * range-checked). On the GPU a label out of range gives NaN for its row.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor | ArrayLike<number>): Tensor {
  const op = 'softmaxCrossEntropy';
  if (logits.rank !== 2) throw new ShapeError(op, `logits must be [N, K], got ${fmtShape(logits.shape)}`);
  const [rows, classes] = logits.shape as [number, number];
  const lab = labels instanceof Tensor ? labels : labelTensor(logits, labels, classes);
  if (lab.dtype !== 'int32') throw new TypeError(`${op}: labels must be int32, got ${lab.dtype}`);
  if (lab.rank !== 1 || lab.shape[0] !== rows) {
    throw new ShapeError(op, `labels ${fmtShape(lab.shape)} do not match logits ${fmtShape(logits.shape)} (expected [${rows}])`);
  }
  if (classes < 1) throw new ShapeError(op, 'logits have no classes');
  const loss = Tensor.empty(logits.engine, [rows]);
  const groups = Math.ceil(rows / WG);
  logits.engine.dispatch(fwd, { rows, classes }, [logits.buffer, lab.buffer, loss.buffer], [groups]);
  return record(op, [logits], loss, [logits, lab], (g, [x, l]) => {
    const dx = Tensor.empty(logits.engine, logits.shape);
    logits.engine.dispatch(bwd, { rows, classes }, [x!.buffer, l!.buffer, dx.buffer, g.buffer], [groups]);
    return [dx];
  });
}

/** Mean softmax cross-entropy over the batch. */
export function crossEntropy(logits: Tensor, labels: Tensor | ArrayLike<number>): Tensor {
  return mean(softmaxCrossEntropy(logits, labels));
}
