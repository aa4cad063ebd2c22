/**
 * The classifier a backbone spec describes: per conv layer conv → BatchNorm2d → ReLU → optional
 * 2×2 pool, then global average pooling and a linear head. Convolution weights come from outside
 * (the kernel predictor during the search, plain parameters in final training), so one forward
 * serves both stages.
 */
import type { Engine } from '../gpu/engine.js';
import { batchNorm2d, batchNormState, type BatchNormState } from '../ops/batch_norm.js';
import { linear } from '../ops/matmul.js';
import { avgPool2x2, globalAvgPool, maxPool2x2 } from '../ops/pool.js';
import { conv2d } from '../ops/conv2d.js';
import { linearParams, parameter, type LinearParams } from '../nn.js';
import type { Rng } from '../random.js';
import type { Tensor } from '../tensor.js';
import { channelPairs, type BackboneSpec } from './spec.js';

/** Applies conv layer l to x (the caller decides weights, size and mask). */
export type ConvFn = (x: Tensor, layer: number, stride: 1 | 2) => Tensor;

export class Classifier {
  readonly bn: BatchNormState[];
  readonly head: LinearParams;

  constructor(readonly engine: Engine, readonly spec: BackboneSpec, rng: Rng) {
    this.bn = spec.layers.map((l) => batchNormState(engine, l.out));
    this.head = linearParams(engine, rng, spec.layers[spec.layers.length - 1]!.out, spec.classes);
  }

  /** Logits [N, classes] for x [N, C, H, W]. */
  forward(x: Tensor, conv: ConvFn, training: boolean): Tensor {
    let h = x;
    this.spec.layers.forEach((layer, l) => {
      h = batchNorm2d(conv(h, l, layer.stride ?? 1), this.bn[l]!, training, { relu: true }); // BN then ReLU, in the same passes
      if (layer.pool === 'max') h = maxPool2x2(h);
      else if (layer.pool === 'avg') h = avgPool2x2(h);
    });
    return linear(globalAvgPool(h), this.head.weight, this.head.bias);
  }

  /** Trained parameters other than the convolution weights (batch norm γ, β; head). */
  parameters(): Tensor[] {
    return [...this.bn.flatMap((b) => [b.gamma, b.beta]), this.head.weight, this.head.bias];
  }

  /** Running statistics (state, not trained; saved in checkpoints). */
  buffers(): Tensor[] {
    return this.bn.map((b) => b.running);
  }
}

/** Plain s_l × s_l convolution weights for final training (Kaiming-uniform init for ReLU). */
export class PlainConvs {
  readonly weights: Tensor[];

  constructor(engine: Engine, spec: BackboneSpec, readonly sizes: readonly number[], rng: Rng) {
    this.weights = channelPairs(spec).map(({ cin, cout }, l) => {
      const s = sizes[l]!;
      const bound = Math.sqrt(6 / (cin * s * s));
      const data = Float32Array.from({ length: cout * cin * s * s }, () => rng.uniform(-bound, bound));
      return parameter(engine, data, [cout, cin, s, s]);
    });
  }

  readonly conv: ConvFn = (x, l, stride) => conv2d(x, this.weights[l]!, { stride });
}
