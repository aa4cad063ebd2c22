/**
 * The kernel predictor f_kp. Per layer l, a fixed input z'_l and the one-hot of its current hard
 * size s_l go through a GRU (one step per layer, weights shared across layers); a head turns the
 * hidden state into R spatial basis kernels on the k_max grid, and a per-layer mixing matrix gives
 *   ŵ_l[o, c, :, :] = Σ_r M_l[o·Cin + c, r] · B_l[r, :, :]          (ŵ_l = M_l · B_l)
 * Why factorised: plain linear heads from the hidden state to every weight of fmnist-6 at k_max = 9
 * hold ~41 M parameters (400× the classifier) and made a search step ~16× a training step in a
 * reference implementation. Here the heads hold R·k_max²·hidden + Σ Cin·Cout·R parameters
 * (≈ 100 k for fmnist-6 at R = 8) and cost one small matmul per layer; the masked convolution then
 * reads only the s × s window of ŵ. No bias is predicted: batch norm follows every convolution,
 * which cancels a per-channel bias.
 */
import type { Engine } from '../gpu/engine.js';
import { gruCellParamList, gruCellParams, gruLayer, type GruCellParams } from '../ops/gru.js';
import { concat, slice } from '../ops/concat.js';
import { linear, matmul } from '../ops/matmul.js';
import { reshape } from '../ops/shape.js';
import { linearParams, parameter, type LinearParams } from '../nn.js';
import type { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { channelPairs, type BackboneSpec } from './spec.js';
import type { SizeRange } from './budget.js';

export interface KernelPredictorOptions {
  /** Dimension of the fixed per-layer inputs z' (default 16). */
  inputDim?: number;
  /** GRU hidden size (default 64). */
  hidden?: number;
  /** Rank R: spatial basis kernels per layer (default 8). */
  rank?: number;
}

export class KernelPredictor {
  readonly z: Tensor; // [L, d']
  readonly cell: GruCellParams;
  readonly basisHead: LinearParams; // hidden → R·k²
  readonly mix: Tensor[]; // per layer [Cout·Cin, R]
  readonly rank: number;
  private readonly pairs: { cin: number; cout: number }[];

  constructor(readonly engine: Engine, readonly spec: BackboneSpec, readonly range: SizeRange, rng: Rng, o: KernelPredictorOptions = {}) {
    const d = o.inputDim ?? 16;
    const H = o.hidden ?? 64;
    const R = (this.rank = o.rank ?? 8);
    const k2 = range.kMax * range.kMax;
    const nSizes = (range.kMax - range.kMin) / 2 + 1;
    const L = spec.layers.length;
    this.pairs = channelPairs(spec);
    this.z = engine.keep(Tensor.from(engine, Float32Array.from({ length: L * d }, () => rng.normal()), [L, d]));
    this.cell = gruCellParams(engine, rng, d + nSizes, H);
    this.basisHead = linearParams(engine, rng, H, R * k2);
    // Basis entries are O(1/√3); this bound gives ŵ roughly He-initialised variance for a 3×3 window.
    this.mix = this.pairs.map(({ cin, cout }) => {
      const bound = Math.sqrt(6 / (cin * 9)) * Math.sqrt(9 / R);
      return parameter(engine, Float32Array.from({ length: cout * cin * R }, () => rng.uniform(-bound, bound)), [cout * cin, R]);
    });
  }

  /** ŵ_l [Cout, Cin, k_max, k_max] for every layer, from the one-hot sizes [L, n] (on the tape). */
  forward(sizeOneHot: Tensor): Tensor[] {
    const k = this.range.kMax;
    const inputs = concat([this.z, sizeOneHot], 1);
    const [L, width] = inputs.shape as [number, number];
    // the layers as a sequence of L steps of batch 1
    const hidden = reshape(gruLayer(reshape(inputs, [L, 1, width]), this.cell), [L, this.cell.wHh.shape[1]!]);
    const basis = linear(hidden, this.basisHead.weight, this.basisHead.bias); // [L, R·k²]
    return this.pairs.map(({ cin, cout }, l) => {
      const bl = reshape(slice(basis, 0, l, 1), [this.rank, k * k]);
      return reshape(matmul(this.mix[l]!, bl), [cout, cin, k, k]);
    });
  }

  parameters(): Tensor[] {
    return [...gruCellParamList(this.cell), this.basisHead.weight, this.basisHead.bias, ...this.mix];
  }

  /** Number of trained parameters. */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }
}
