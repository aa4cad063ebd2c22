/** EffConv's budget loss in one dispatch each way (shaders/budget_loss.wgsl). */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { grid1d } from './grid.js';
import { expectFloat32 } from './operands.js';

export const BudgetParams = uniformLayout('BudgetParams', [
  ['L', 'u32'],
  ['kind', 'u32'],
  ['rest', 'f32'],
  ['budget', 'f32'],
] as const);

const WG = 64;
const K = {
  fwd: defineKernel({ file: 'budget_loss.wgsl', entry: 'budget_loss_fwd', params: BudgetParams, bindings: [1, 2, 3, 4], constants: { WG } }),
  bwd: defineKernel({ file: 'budget_loss.wgsl', entry: 'budget_loss_bwd', params: BudgetParams, bindings: [1, 2, 4, 5, 6], constants: { WG } }),
};

/**
 * L_param from soft sizes v [L] and per-layer Cin·Cout cc [L]: with P(v) = rest + Σ cc·v²,
 * symmetric (log(P / target))² or asymmetric max(log(P / target), 0). Returns the loss [1] (on
 * the tape, differentiable in v) and P(v) [1] (not on the tape).
 */
export function budgetLossOp(v: Tensor, cc: Tensor, rest: number, target: number, kind: 'symmetric' | 'asymmetric'): { loss: Tensor; params: Tensor } {
  const op = 'budgetLoss';
  expectFloat32(op, v, cc);
  if (v.rank !== 1 || cc.rank !== 1 || cc.size !== v.size) throw new ShapeError(op, `soft sizes ${fmtShape(v.shape)} and channel products ${fmtShape(cc.shape)} must both be [L]`);
  if (!(target > 0) || !Number.isFinite(target)) throw new RangeError(`${op}: target must be a positive number, got ${target}`);
  if (!(rest >= 0) || !Number.isFinite(rest)) throw new RangeError(`${op}: rest must be a non-negative number, got ${rest}`);
  const engine = v.engine;
  const u = { L: v.size, kind: kind === 'symmetric' ? 0 : 1, rest, budget: target };
  const loss = Tensor.empty(engine, [1]);
  const params = Tensor.empty(engine, [1]);
  engine.dispatch(K.fwd, u, [v.buffer, cc.buffer, loss.buffer, params.buffer], [1]);
  const out = record(op, [v], loss, [v, cc, params], (g, [sv, scc, sp]) => {
    const dv = Tensor.empty(engine, v.shape);
    engine.dispatch(K.bwd, u, [sv!.buffer, scc!.buffer, sp!.buffer, g.buffer, dv.buffer], grid1d(v.size, WG));
    return [dv];
  });
  return { loss: out, params };
}
