import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { grid1d } from '../ops/grid.js';
import type { Tensor } from '../tensor.js';
import { Optimizer } from './optimizer.js';

export const AdamParams = uniformLayout('AdamParams', [
  ['n', 'u32'],
  ['lr', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['weight_decay', 'f32'],
  ['decoupled', 'u32'],
  ['bias1', 'f32'],
  ['bias2', 'f32'],
] as const);

const WG = 256;
const adamStep = defineKernel({ file: 'optim.wgsl', entry: 'adam_step', params: AdamParams, bindings: [1, 2, 3, 4], constants: { WG } });

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW: weight decay applied to the weights directly, not through the gradient. */
  decoupled?: boolean;
}

/** Adam / AdamW; the step count lives on the CPU, so bias corrections need no readback. */
export class Adam extends Optimizer {
  private t = 0;
  readonly options: Required<AdamOptions>;

  constructor(params: readonly Tensor[], options: AdamOptions = {}) {
    super(params);
    this.options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, ...options };
    const o = this.options;
    if (!(o.lr > 0)) throw new RangeError(`Adam: lr must be > 0, got ${o.lr}`);
    if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) throw new RangeError('Adam: betas must be in [0, 1)');
  }

  get stepCount(): number {
    return this.t;
  }
  /** Restores the step count (resuming from a checkpoint). */
  set stepCount(t: number) {
    this.t = t;
  }

  /** First and second moments of every parameter, in parameter order (for checkpoints). */
  stateTensors(): Tensor[] {
    return this.params.flatMap((p) => this.stateOf(p, 2));
  }

  step(): void {
    this.t++;
    const o = this.options;
    for (const p of this.params) {
      if (!p.grad) continue;
      const [m, v] = this.stateOf(p, 2);
      p.engine.dispatch(
        adamStep,
        {
          n: p.size,
          lr: o.lr,
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          weight_decay: o.weightDecay,
          decoupled: o.decoupled ? 1 : 0,
          bias1: 1 - o.beta1 ** this.t,
          bias2: 1 - o.beta2 ** this.t,
        },
        [p.buffer, p.grad.buffer, m!.buffer, v!.buffer],
        grid1d(p.size, WG),
      );
    }
  }
}
