/** concat, stack and slice along any axis (shaders/copy.wgsl); each is the other's gradient. */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record, type BlockGrad } from '../autograd/tape.js';
import { sizeOf, Tensor } from '../tensor.js';
import { fillInPlace } from './elementwise.js';
import { grid1d } from './grid.js';
import { reshape } from './shape.js';

export const CopyParams = uniformLayout('CopyParams', [
  ['rows', 'u32'],
  ['cols', 'u32'],
  ['src_off', 'u32'],
  ['src_stride', 'u32'],
  ['dst_off', 'u32'],
  ['dst_stride', 'u32'],
] as const);

const WG = 64;
const copyRows = defineKernel({ file: 'copy.wgsl', entry: 'copy_rows', params: CopyParams, bindings: [1, 2], constants: { WG } });
const addRows = defineKernel({ file: 'copy.wgsl', entry: 'add_rows', params: CopyParams, bindings: [1, 2], constants: { WG } });

interface Block {
  rows: number;
  cols: number;
  src_off: number;
  src_stride: number;
  dst_off: number;
  dst_stride: number;
}

function copyBlock(src: Tensor, dst: Tensor, b: Block, add = false): void {
  if (b.rows * b.cols === 0) return;
  src.engine.dispatch(add ? addRows : copyRows, b, [src.buffer, dst.buffer], grid1d(b.rows * b.cols, WG));
}

function checkAxis(op: string, rank: number, axis: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Joins tensors along `axis`; all other dims must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const op = 'concat';
  if (xs.length === 0) throw new ShapeError(op, 'needs at least one tensor');
  const first = xs[0]!;
  const a = checkAxis(op, first.rank, axis);
  for (const x of xs) {
    const same = x.rank === first.rank && x.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!same) throw new ShapeError(op, `shapes ${fmtShape(first.shape)} and ${fmtShape(x.shape)} differ outside axis ${a}`);
  }
  const rows = sizeOf(first.shape.slice(0, a));
  const inner = sizeOf(first.shape.slice(a + 1));
  const widths = xs.map((x) => x.shape[a]! * inner);
  const total = widths.reduce((s, w) => s + w, 0);
  const shape = first.shape.slice();
  shape[a] = total / inner;
  const out = Tensor.empty(first.engine, shape);
  const offsets = widths.map((_, i) => widths.slice(0, i).reduce((s, w) => s + w, 0));
  xs.forEach((x, i) => copyBlock(x, out, { rows, cols: widths[i]!, src_off: 0, src_stride: widths[i]!, dst_off: offsets[i]!, dst_stride: total }));
  return record(op, xs, out, [], (g, _saved, needs) =>
    xs.map((x, i) => {
      if (!needs[i]) return null;
      const gx = Tensor.empty(x.engine, x.shape);
      copyBlock(g, gx, { rows, cols: widths[i]!, src_off: offsets[i]!, src_stride: total, dst_off: 0, dst_stride: widths[i]! });
      return gx;
    }),
  );
}

/** Stacks equal-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('stack', 'needs at least one tensor');
  const a = checkAxis('stack', xs[0]!.rank + 1, axis);
  return concat(xs.map((x) => reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])), a);
}

/** x[..., start : start + length, ...] along `axis`. */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  const op = 'slice';
  const a = checkAxis(op, x.rank, axis);
  const dim = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > dim) {
    throw new RangeError(`${op}: [${start}, ${start + length}) is outside axis ${a} of ${fmtShape(x.shape)}`);
  }
  const rows = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const shape = x.shape.slice();
  shape[a] = length;
  const block = { rows, cols: length * inner, src_off: start * inner, src_stride: dim * inner, dst_off: 0, dst_stride: length * inner };
  const out = Tensor.empty(x.engine, shape);
  copyBlock(x, out, block);
  // the gradient: g into the slice's block of x's shape, zero elsewhere
  const back = { ...block, src_off: 0, src_stride: block.dst_stride, dst_off: block.src_off, dst_stride: block.src_stride };
  return record(op, [x], out, [], (g): BlockGrad[] => [
    {
      block: true,
      addTo(into) {
        if (into) {
          copyBlock(g, into, back, true);
          return into;
        }
        const gx = Tensor.empty(x.engine, x.shape);
        fillInPlace(gx, 0);
        copyBlock(g, gx, back);
        return gx;
      },
    },
  ]);
}

/** Splits along `axis` into pieces of length 1, dropping that axis: the inverse of stack. */
export function unstack(x: Tensor, axis = 0): Tensor[] {
  const a = checkAxis('unstack', x.rank, axis);
  const shape = x.shape.filter((_, i) => i !== a);
  return Array.from({ length: x.shape[a]! }, (_, i) => reshape(slice(x, a, i, 1), shape));
}

/** Copies all of src into dst starting at element `offset` (no tape record; for GPU-side logs). */
export function copyInto(src: Tensor, dst: Tensor, offset: number): void {
  if (offset < 0 || offset + src.size > dst.size) {
    throw new RangeError(`copyInto: ${src.size} values at offset ${offset} do not fit in ${fmtShape(dst.shape)}`);
  }
  copyBlock(src, dst, { rows: 1, cols: src.size, src_off: 0, src_stride: src.size, dst_off: offset, dst_stride: src.size });
}
