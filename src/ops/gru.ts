/**
 * GRU cell (PyTorch's GRUCell equations) and a (bi)directional GRU over a short sequence, on the
 * tape. The affine maps run through `linear` (matmul.wgsl); the gates are one fused kernel
 * (shaders/gru.wgsl), so the weight and bias gradients come from matmul's and add's rules.
 */
import type { Engine } from '../gpu/engine.js';
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import { parameter, uniformInit } from '../nn.js';
import type { Rng } from '../random.js';
import { concat } from './concat.js';
import { zeros } from './elementwise.js';
import { grid1d } from './grid.js';
import { linear } from './matmul.js';

export const GruParams = uniformLayout('GruParams', [
  ['B', 'u32'],
  ['H', 'u32'],
] as const);

const WG = 64;
const K = {
  fwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_gates_fwd', params: GruParams, bindings: [1, 2, 3, 4], constants: { WG } }),
  bwd: defineKernel({ file: 'gru.wgsl', entry: 'gru_gates_bwd', params: GruParams, bindings: [1, 2, 3, 4, 5, 6, 7], constants: { WG } }),
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
  if (h.rank !== 2) throw new ShapeError(op, `hidden state must be [B, H], got ${fmtShape(h.shape)}`);
  const [B, H] = h.shape as [number, number];
  for (const [name, t] of [['gi', gi], ['gh', gh]] as const) {
    if (t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== 3 * H) {
      throw new ShapeError(op, `${name} must be [${B}, ${3 * H}] for hidden state ${fmtShape(h.shape)}, got ${fmtShape(t.shape)}`);
    }
  }
  const engine = h.engine;
  const out = Tensor.empty(engine, [B, H]);
  engine.dispatch(K.fwd, { B, H }, [gi.buffer, gh.buffer, h.buffer, out.buffer], grid1d(B * H, WG));
  return record(op, [gi, gh, h], out, [gi, gh, h], (g, [sgi, sgh, sh]) => {
    const dgi = Tensor.empty(engine, gi.shape);
    const dgh = Tensor.empty(engine, gh.shape);
    const dh = Tensor.empty(engine, h.shape);
    engine.dispatch(K.bwd, { B, H }, [sgi!.buffer, sgh!.buffer, sh!.buffer, dh.buffer, g.buffer, dgi.buffer, dgh.buffer], grid1d(B * H, WG));
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

/** Runs a GRU over xs (each [B, I]) from h0 (default zeros); returns the hidden state after each step. */
export function gruSequence(xs: readonly Tensor[], p: GruCellParams, h0?: Tensor, reverse = false): Tensor[] {
  if (xs.length === 0) throw new ShapeError('gruSequence', 'empty sequence');
  const B = xs[0]!.shape[0]!;
  let h = h0 ?? zeros(xs[0]!.engine, [B, p.wHh.shape[1]!]);
  const order = reverse ? [...xs.keys()].reverse() : [...xs.keys()];
  const outs: Tensor[] = new Array(xs.length);
  for (const t of order) {
    h = gruCell(xs[t]!, h, p);
    outs[t] = h;
  }
  return outs;
}

/**
 * Bidirectional GRU: output t is [h_fwd(t) ‖ h_bwd(t)] of shape [B, 2H], where the backward cell
 * reads the sequence from its end (as PyTorch's bidirectional GRU).
 */
export function biGru(xs: readonly Tensor[], forward: GruCellParams, backwardCell: GruCellParams): Tensor[] {
  const f = gruSequence(xs, forward);
  const b = gruSequence(xs, backwardCell, undefined, true);
  return f.map((hf, t) => concat([hf, b[t]!], 1));
}
