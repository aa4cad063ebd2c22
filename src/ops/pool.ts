/** 2×2 max/average pooling and global average pooling (shaders/pool.wgsl). */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { grid1d } from './grid.js';
import { expectFloat32 } from './operands.js';

export const PoolParams = uniformLayout('PoolParams', [
  ['planes', 'u32'],
  ['H', 'u32'],
  ['W', 'u32'],
  ['Ho', 'u32'],
  ['Wo', 'u32'],
] as const);

const WG = 64;
const kernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'pool.wgsl', entry, params: PoolParams, bindings, constants: { WG } });
const K = {
  max_pool2_fwd: kernel('max_pool2_fwd', [1, 2]),
  max_pool2_bwd: kernel('max_pool2_bwd', [1, 2, 3]),
  // W a multiple of 4: two windows per step, rows as vec4s
  max_pool2_fwd4: kernel('max_pool2_fwd4', [2, 4]),
  max_pool2_bwd4: kernel('max_pool2_bwd4', [3, 4, 5]),
  avg_pool2_fwd: kernel('avg_pool2_fwd', [1, 2]),
  avg_pool2_bwd: kernel('avg_pool2_bwd', [2, 3]),
  global_avg_fwd: kernel('global_avg_fwd', [1, 2]),
  global_avg_bwd: kernel('global_avg_bwd', [2, 3]),
};

function dims(op: string, x: Tensor, minSide: number) {
  expectFloat32(op, x);
  if (x.rank !== 4) throw new ShapeError(op, `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  if (H < minSide || W < minSide) throw new ShapeError(op, `input ${fmtShape(x.shape)} is smaller than the ${minSide}×${minSide} window`);
  return { N, C, H, W, planes: N * C };
}

function pool2(op: 'maxPool2x2' | 'avgPool2x2', x: Tensor): Tensor {
  const d = dims(op, x, 2);
  const params = { planes: d.planes, H: d.H, W: d.W, Ho: Math.floor(d.H / 2), Wo: Math.floor(d.W / 2) };
  const isMax = op === 'maxPool2x2';
  const y = Tensor.empty(x.engine, [d.N, d.C, params.Ho, params.Wo]);
  const quads = isMax && d.W % 4 === 0;
  const windowRows = d.planes * params.Ho; // the max-pool entries: one invocation per row of windows
  if (quads) x.engine.dispatch(K.max_pool2_fwd4, params, [y.buffer, x.buffer], grid1d(windowRows, WG));
  else if (isMax) x.engine.dispatch(K.max_pool2_fwd, params, [x.buffer, y.buffer], grid1d(windowRows, WG));
  else x.engine.dispatch(K.avg_pool2_fwd, params, [x.buffer, y.buffer], grid1d(y.size, WG));
  return record(op, [x], y, isMax ? [x] : [], (g, [sx]) => {
    const dx = Tensor.empty(x.engine, x.shape);
    if (quads) x.engine.dispatch(K.max_pool2_bwd4, params, [g.buffer, sx!.buffer, dx.buffer], grid1d(windowRows, WG));
    else if (isMax) x.engine.dispatch(K.max_pool2_bwd, params, [sx!.buffer, dx.buffer, g.buffer], grid1d(windowRows, WG));
    else x.engine.dispatch(K.avg_pool2_bwd, params, [dx.buffer, g.buffer], grid1d(dx.size, WG));
    return [dx];
  });
}

/** 2×2 max pooling, stride 2 (odd trailing rows/columns are dropped). */
export const maxPool2x2 = (x: Tensor): Tensor => pool2('maxPool2x2', x);
/** 2×2 average pooling, stride 2. */
export const avgPool2x2 = (x: Tensor): Tensor => pool2('avgPool2x2', x);

/** Mean over H × W: [N, C, H, W] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  const d = dims('globalAvgPool', x, 1);
  const params = { planes: d.planes, H: d.H, W: d.W, Ho: 1, Wo: 1 };
  const y = Tensor.empty(x.engine, [d.N, d.C]);
  x.engine.dispatch(K.global_avg_fwd, params, [x.buffer, y.buffer], grid1d(d.planes, WG));
  return record('globalAvgPool', [x], y, [], (g) => {
    const dx = Tensor.empty(x.engine, x.shape);
    x.engine.dispatch(K.global_avg_bwd, params, [dx.buffer, g.buffer], grid1d(d.planes, WG)); // one invocation per plane
    return [dx];
  });
}
