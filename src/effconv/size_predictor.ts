/**
 * The size predictor f_sp: a fixed input z (L vectors of dimension d from N(0, 1), drawn once) →
 * bidirectional GRU over the layer index → per-layer linear head → a_l →
 * v_l = k_min + (k_max − k_min)·σ(a_l) ∈ (k_min, k_max). v > 0 by construction, which is why the
 * masked convolution does not check it on the GPU.
 */
import type { Engine } from '../gpu/engine.js';
import { biGruLayer, gruCellParamList, gruCellParams, type GruCellParams } from '../ops/gru.js';
import { add, mul, scale, sigmoid } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { parameter } from '../nn.js';
import type { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import type { SizeRange } from './budget.js';

export interface SizePredictorOptions {
  /** Dimension d of the fixed inputs (default 16). */
  inputDim?: number;
  /** GRU hidden size per direction (default 32). */
  hidden?: number;
  /** Soft size every layer starts at (default the middle of the range). */
  initialSize?: number;
}

export class SizePredictor {
  readonly z: Tensor;
  readonly forwardCell: GruCellParams;
  readonly backwardCell: GruCellParams;
  readonly headW: Tensor; // [L, 2H]
  readonly headB: Tensor; // [L]

  constructor(readonly engine: Engine, readonly layers: number, readonly range: SizeRange, rng: Rng, o: SizePredictorOptions = {}) {
    const d = o.inputDim ?? 16;
    const H = o.hidden ?? 32;
    this.z = engine.keep(Tensor.from(engine, Float32Array.from({ length: layers * d }, () => rng.normal()), [layers, d]));
    this.forwardCell = gruCellParams(engine, rng, d, H);
    this.backwardCell = gruCellParams(engine, rng, d, H);
    // Small head weights: every layer starts near the initial size, and learns its own way.
    this.headW = parameter(engine, Float32Array.from({ length: layers * 2 * H }, () => rng.uniform(-0.01, 0.01)), [layers, 2 * H]);
    const v0 = Math.min(range.kMax - 1e-3, Math.max(range.kMin + 1e-3, o.initialSize ?? (range.kMin + range.kMax) / 2));
    const frac = (v0 - range.kMin) / (range.kMax - range.kMin);
    this.headB = parameter(engine, new Float32Array(layers).fill(Math.log(frac / (1 - frac))), [layers]);
  }

  /** Soft sizes v [L] (on the tape). */
  forward(): Tensor {
    const [L, d] = this.z.shape as [number, number];
    // the layers as a sequence of L steps of batch 1
    const outs = reshape(biGruLayer(reshape(this.z, [L, 1, d]), this.forwardCell, this.backwardCell), [L, 2 * this.forwardCell.wHh.shape[1]!]);
    const a = add(sum(mul(outs, this.headW), 1), this.headB);
    return scale(sigmoid(a), this.range.kMax - this.range.kMin, this.range.kMin);
  }

  parameters(): Tensor[] {
    return [...gruCellParamList(this.forwardCell), ...gruCellParamList(this.backwardCell), this.headW, this.headB];
  }
}
