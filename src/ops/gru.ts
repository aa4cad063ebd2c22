/**
 * GRU cell (PyTorch's GRUCell equations) and a (bi)directional GRU over a sequence, on the tape.
 * A cell's affine maps run through `linear` (matmul.wgsl) and its gates are one fused kernel
 * (shaders/gru.wgsl). A sequence takes its input maps for all steps in one `linear` and runs the
 * recurrence — h · W_hhᵀ + b_hh and the gates, step after step — in one dispatch
 * (`gruRecurrence`), whose backward is one dispatch through time plus a matmul and a row sum for
 * W_hh's and b_hh's gradients: a handful of dispatches instead of ~15 per step.
 */
import type { Engine } from '../gpu/engine.js';
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { parameter, uniformInit } from '../nn.js';
import type { Rng } from '../random.js';
import { concat, stack, unstack } from './concat.js';
import { zeros } from './elementwise.js';
import { grid1d, gridGroups } from './grid.js';
import { linear, matmul } from './matmul.js';
import { sumRows } from './reduce.js';
import { reshape } from './shape.js';
import { expectFloat32 } from './operands.js';

export const GruParams = uniformLayout('GruParams', [
  ['B', 'u32'],
  ['H', 'u32'],
  ['T', 'u32'],
  ['reverse', 'u32'],
] as const);

/** The largest hidden size gruRecurrence takes (its h lives in workgroup memory: MAX_H in gru.wgsl). */
export const GRU_RECURRENCE_MAX_HIDDEN = 512;

const WG = 64;
const K = {
  fwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_gates_fwd', params: GruParams, bindings: [1, 2, 3, 4], constants: { WG } }),
  bwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_gates_bwd', params: GruParams, bindings: [1, 2, 3, 4, 5, 6, 7], constants: { WG } }),
  recurrenceFwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_recurrence_fwd', params: GruParams, bindings: [1, 8, 9, 3, 4, 10, 11], constants: { WG } }),
  recurrenceBwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_recurrence_bwd', params: GruParams, bindings: [1, 10, 11, 8, 5, 6, 7, 4], constants: { WG } }),
};

/** Weights of one GRU cell in PyTorch's layout (gate blocks r | z | n). */
export interface GruCellParams {
  wIh: Tensor; // [3H, I]
  wHh: Tensor; // [3H, H]
  bIh: Tensor; // [3H]
  bHh: Tensor; // [3H]
}

/** PyTorch's default init: every weight and bias U(−1/√H, 1/√H). */
export function gruCellParams(engine: Engine, rng: Rng, inputSize: number, hiddenSize: number): GruCellParams {
  const H3 = 3 * hiddenSize;
  const init = (n: number) => uniformInit(rng, n, hiddenSize);
  return {
    wIh: parameter(engine, init(H3 * inputSize), [H3, inputSize]),
    wHh: parameter(engine, init(H3 * hiddenSize), [H3, hiddenSize]),
    bIh: parameter(engine, init(H3), [H3]),
    bHh: parameter(engine, init(H3), [H3]),
  };
}

export const gruCellParamList = (p: GruCellParams): Tensor[] => [p.wIh, p.wHh, p.bIh, p.bHh];

/** h' from the pre-activations gi = x·W_ihᵀ + b_ih, gh = h·W_hhᵀ + b_hh (both [B, 3H]) and h [B, H]. */
export function gruGates(gi: Tensor, gh: Tensor, h: Tensor): Tensor {
  const op = 'gruGates';
  expectFloat32(op, gi, gh, h);
  if (h.rank !== 2) throw new ShapeError(op, `hidden state must be [B, H], got ${fmtShape(h.shape)}`);
  const [B, H] = h.shape as [number, number];
  for (const [name, t] of [['gi', gi], ['gh', gh]] as const) {
    if (t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== 3 * H) {
      throw new ShapeError(op, `${name} must be [${B}, ${3 * H}] for hidden state ${fmtShape(h.shape)}, got ${fmtShape(t.shape)}`);
    }
  }
  const engine = h.engine;
  const out = Tensor.empty(engine, [B, H]);
  engine.dispatch(K.fwd, { B, H, T: 1, reverse: 0 }, [gi.buffer, gh.buffer, h.buffer, out.buffer], grid1d(B * H, WG));
  return record(op, [gi, gh, h], out, [gi, gh, h], (g, [sgi, sgh, sh]) => {
    const dgi = Tensor.empty(engine, gi.shape);
    const dgh = Tensor.empty(engine, gh.shape);
    const dh = Tensor.empty(engine, h.shape);
    engine.dispatch(K.bwd, { B, H, T: 1, reverse: 0 }, [sgi!.buffer, sgh!.buffer, sh!.buffer, dh.buffer, g.buffer, dgi.buffer, dgh.buffer], grid1d(B * H, WG));
    return [dgi, dgh, dh];
  });
}

/** One GRU step: x [B, I], h [B, H] → h' [B, H]. */
export function gruCell(x: Tensor, h: Tensor, p: GruCellParams): Tensor {
  const op = 'gruCell';
  const [H3, I] = p.wIh.shape as [number, number];
  if (x.rank !== 2 || x.shape[1] !== I) throw new ShapeError(op, `input must be [B, ${I}], got ${fmtShape(x.shape)}`);
  if (h.rank !== 2 || h.shape[0] !== x.shape[0] || 3 * h.shape[1]! !== H3) {
    throw new ShapeError(op, `hidden state must be [${x.shape[0]}, ${H3 / 3}], got ${fmtShape(h.shape)}`);
  }
  return gruGates(linear(x, p.wIh, p.bIh), linear(h, p.wHh, p.bHh), h);
}

/**
 * The recurrent half of a GRU over T steps: from the input maps gi [T, B, 3H] (x·W_ihᵀ + b_ih of
 * every step) and h0 [B, H], the hidden state after each step [T, B, H], walking the steps from
 * the last with `reverse`. One dispatch forward, one back through time (plus a matmul and a row
 * sum for W_hh's and b_hh's gradients). H ≤ GRU_RECURRENCE_MAX_HIDDEN.
 */
export function gruRecurrence(gi: Tensor, wHh: Tensor, bHh: Tensor, h0: Tensor, reverse = false): Tensor {
  const op = 'gruRecurrence';
  expectFloat32(op, gi, wHh, bHh, h0);
  if (h0.rank !== 2) throw new ShapeError(op, `initial hidden state must be [B, H], got ${fmtShape(h0.shape)}`);
  const [B, H] = h0.shape as [number, number];
  if (gi.rank !== 3 || gi.shape[1] !== B || gi.shape[2] !== 3 * H || gi.shape[0] === 0) {
    throw new ShapeError(op, `input maps must be [T, ${B}, ${3 * H}] for hidden state ${fmtShape(h0.shape)}, got ${fmtShape(gi.shape)}`);
  }
  if (wHh.rank !== 2 || wHh.shape[0] !== 3 * H || wHh.shape[1] !== H) throw new ShapeError(op, `W_hh must be [${3 * H}, ${H}], got ${fmtShape(wHh.shape)}`);
  if (bHh.rank !== 1 || bHh.shape[0] !== 3 * H) throw new ShapeError(op, `b_hh must be [${3 * H}], got ${fmtShape(bHh.shape)}`);
  if (H > GRU_RECURRENCE_MAX_HIDDEN) throw new ShapeError(op, `hidden size ${H} exceeds ${GRU_RECURRENCE_MAX_HIDDEN} (use gruCell step by step)`);
  const T = gi.shape[0]!;
  const engine = h0.engine;
  const params = { B, H, T, reverse: reverse ? 1 : 0 };
  const out = Tensor.empty(engine, [T, B, H]);
  const ghSaved = Tensor.empty(engine, [T, B, 3 * H]);
  const hPrev = Tensor.empty(engine, [T, B, H]);
  engine.dispatch(K.recurrenceFwd, params, [gi.buffer, wHh.buffer, bHh.buffer, h0.buffer, out.buffer, ghSaved.buffer, hPrev.buffer], gridGroups(B));
  return record(op, [gi, wHh, bHh, h0], out, [gi, wHh, ghSaved, hPrev], (g, [sgi, sw, sgh, shp], needs) => {
    const dgi = Tensor.empty(engine, gi.shape);
    const dgh = Tensor.empty(engine, [T * B, 3 * H]);
    const dh0 = Tensor.empty(engine, h0.shape);
    engine.dispatch(K.recurrenceBwd, params, [sgi!.buffer, sgh!.buffer, shp!.buffer, sw!.buffer, g.buffer, dgi.buffer, dgh.buffer, dh0.buffer], gridGroups(B));
    // W_hh's gradient: Σ over steps and rows of dghᵀ · h_prev; b_hh's: Σ of dgh
    const dw = needs[1] ? matmul(dgh, shp!.view([T * B, H]), { transposeA: true }) : null;
    const db = needs[2] ? sumRows(dgh, T * B, [3 * H]) : null;
    return [dgi, dw, db, dh0];
  });
}

/**
 * Batch rows × hidden units up to which gruLayer takes gruRecurrence. Its one workgroup per batch
 * row loads all of W_hh for that row alone at every step, while the cells' matmuls share those
 * loads across rows: on lavapipe (T = 16, forward + backward, paired with cell by cell) it was
 * 5.1× / 3.9× / 1.35× faster than cell by cell at H = 64 and B = 2 / 4 / 8, 0.83× at B = 16;
 * at H = 256, 2.2× at B = 2, 1.08× at B = 4, 0.53× at B = 8.
 */
const RECURRENCE_MAX_ROW_UNITS = 512;

/** Whether a GRU over B rows of H hidden units runs cell by cell rather than as one gruRecurrence. */
const runsCellByCell = (B: number, H: number) => B * H > RECURRENCE_MAX_ROW_UNITS;

/**
 * A GRU layer over xs [T, B, I] from h0 (default zeros): the hidden state after each step,
 * [T, B, H] (steps walked from the last with `reverse`, as the backward half of PyTorch's
 * bidirectional GRU). Small batches (B·H ≤ 512, e.g. the predictors' one sequence) run the
 * recurrence in one dispatch; larger ones cell by cell, where the matmuls are faster.
 */
export function gruLayer(xs: Tensor, p: GruCellParams, h0?: Tensor, reverse = false): Tensor {
  const op = 'gruLayer';
  const [H3, I] = p.wIh.shape as [number, number];
  if (xs.rank !== 3 || xs.shape[2] !== I || xs.shape[0] === 0) throw new ShapeError(op, `input must be [T, B, ${I}], got ${fmtShape(xs.shape)}`);
  const [T, B] = xs.shape as [number, number];
  const H = H3 / 3;
  if (h0 && (h0.rank !== 2 || h0.shape[0] !== B || h0.shape[1] !== H)) throw new ShapeError(op, `initial hidden state must be [${B}, ${H}], got ${fmtShape(h0.shape)}`);
  const start = h0 ?? zeros(xs.engine, [B, H]);
  if (runsCellByCell(B, H)) return stack(gruSteps(unstack(xs), p, start, reverse));
  const gi = reshape(linear(reshape(xs, [T * B, I]), p.wIh, p.bIh), [T, B, H3]);
  return gruRecurrence(gi, p.wHh, p.bHh, start, reverse);
}

/** Bidirectional GRU layer: xs [T, B, I] → [T, B, 2H], step t being [h_fwd(t) ‖ h_bwd(t)]. */
export function biGruLayer(xs: Tensor, forward: GruCellParams, backwardCell: GruCellParams): Tensor {
  return concat([gruLayer(xs, forward), gruLayer(xs, backwardCell, undefined, true)], 2);
}

/** gruCell step after step (gruLayer's path for larger batches). */
function gruSteps(xs: readonly Tensor[], p: GruCellParams, h0: Tensor, reverse: boolean): Tensor[] {
  let h = h0;
  const order = reverse ? [...xs.keys()].reverse() : [...xs.keys()];
  const outs: Tensor[] = new Array(xs.length);
  for (const t of order) {
    h = gruCell(xs[t]!, h, p);
    outs[t] = h;
  }
  return outs;
}

/** Runs a GRU over xs (each [B, I]) from h0 (default zeros); returns the hidden state after each step. */
export function gruSequence(xs: readonly Tensor[], p: GruCellParams, h0?: Tensor, reverse = false): Tensor[] {
  if (xs.length === 0) throw new ShapeError('gruSequence', 'empty sequence');
  // a batch that gruLayer would run cell by cell: step the list itself rather than stack it for
  // gruLayer to unstack again
  const [B, H] = [xs[0]!.shape[0]!, p.wHh.shape[1]!];
  if (runsCellByCell(B, H)) return gruSteps(xs, p, h0 ?? zeros(xs[0]!.engine, [B, H]), reverse);
  return unstack(gruLayer(stack(xs), p, h0, reverse));
}

/**
 * Bidirectional GRU: output t is [h_fwd(t) ‖ h_bwd(t)] of shape [B, 2H], where the backward cell
 * reads the sequence from its end (as PyTorch's bidirectional GRU).
 */
export function biGru(xs: readonly Tensor[], forward: GruCellParams, backwardCell: GruCellParams): Tensor[] {
  if (xs.length === 0) throw new ShapeError('biGru', 'empty sequence');
  if (runsCellByCell(xs[0]!.shape[0]!, forward.wHh.shape[1]!)) {  // as in gruSequence
    const fw = gruSequence(xs, forward);
    const bw = gruSequence(xs, backwardCell, undefined, true);
    return fw.map((h, t) => concat([h, bw[t]!], 1));
  }
  return unstack(biGruLayer(stack(xs), forward, backwardCell));
}
