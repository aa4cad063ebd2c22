import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { grid1d } from '../ops/grid.js';
import type { Tensor } from '../tensor.js';
import { Optimizer } from './optimizer.js';

export const SgdParams = uniformLayout('SgdParams', [
  ['n', 'u32'],
  ['lr', 'f32'],
  ['momentum', 'f32'],
  ['dampening', 'f32'],
  ['weight_decay', 'f32'],
  ['nesterov', 'u32'],
] as const);

const WG = 256;
const sgdStep = defineKernel({ file: 'optim.wgsl', entry: 'sgd_step', params: SgdParams, bindings: [1, 2, 3], constants: { WG } });

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** SGD with momentum and weight decay (PyTorch semantics), as one WGSL update per parameter. */
export class SGD extends Optimizer {
  constructor(
    params: readonly Tensor[],
    readonly options: SgdOptions,
  ) {
    super(params);
    if (!(options.lr > 0)) throw new RangeError(`SGD: lr must be > 0, got ${options.lr}`);
    const { momentum = 0, dampening = 0, weightDecay = 0 } = options;
    // momentum ≥ 1 makes the velocity grow without bound
    if (!(momentum >= 0 && momentum < 1)) throw new RangeError(`SGD: momentum must be in [0, 1), got ${momentum}`);
    if (!(dampening >= 0 && dampening <= 1)) throw new RangeError(`SGD: dampening must be in [0, 1], got ${dampening}`);
    if (!(weightDecay >= 0)) throw new RangeError(`SGD: weightDecay must be ≥ 0, got ${weightDecay}`);
    if (options.nesterov && !(momentum > 0 && dampening === 0)) throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0 (as in PyTorch)');
  }

  encodeStep(): void {
    const o = this.options;
    for (const p of this.params) {
      if (!p.grad) continue;
      const [buf] = this.stateOf(p, 1);
      p.engine.dispatch(
        sgdStep,
        {
          n: p.size,
          lr: o.lr,
          momentum: o.momentum ?? 0,
          dampening: o.dampening ?? 0,
          weight_decay: o.weightDecay ?? 0,
          nesterov: o.nesterov ? 1 : 0,
        },
        [p.buffer, p.grad.buffer, buf!.buffer],
        grid1d(p.size, WG),
      );
    }
  }
}
