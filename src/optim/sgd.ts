import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { zeros } from '../ops/elementwise.js';
import { grid1d } from '../ops/grid.js';
import type { Tensor } from '../tensor.js';
import { HyperBuffer } from './hyper_buffer.js';
import { Optimizer } from './optimizer.js';

/** The step's hyperparameters: one uniform buffer per optimiser, written once a step (SgdHyper in optim.wgsl). */
export const SgdHyper = uniformLayout('SgdHyper', [
  ['lr', 'f32'],
  ['momentum', 'f32'],
  ['dampening', 'f32'],
  ['weight_decay', 'f32'],
  ['nesterov', 'u32'],
] as const);

export const SgdParams = uniformLayout('SgdParams', [
  ['n', 'u32'],
  ['first', 'u32'],
] as const);

const WG = 256;
const HYPER_BINDING = 21;
const sgdStep = defineKernel({ file: 'optim.wgsl', entry: 'sgd_step', params: SgdParams, bindings: [1, 2, 3, HYPER_BINDING], constants: { WG } });

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * SGD with momentum and weight decay (PyTorch semantics: a parameter's momentum buffer starts at
 * its first gradient), as one WGSL update per parameter. Like Adam, its hyperparameters go to the
 * GPU in one small buffer per step, so a captured step replays with each step's `options.lr`:
 * call `prepareStep()` before each replay of a step that captured `encodeStep()`. Made with
 * momentum 0 it keeps no momentum buffers at all (plain SGD needs none), so its momentum cannot
 * be raised later; one made with momentum > 0 may have it changed between steps, as lr.
 */
export class SGD extends Optimizer {
  /** Momentum > 0 at construction: the parameters get momentum buffers. */
  private readonly keepsMomentum: boolean;
  /** Bound in place of a momentum buffer when there is none (the kernel never touches it then). */
  private placeholder: Tensor | null = null;

  protected readonly hyper = new HyperBuffer(SgdHyper, () => {
    const o = this.options; // lr may be set to 0 by a schedule: no update
    if (!this.keepsMomentum && (o.momentum ?? 0) !== 0) {
      throw new Error(`SGD: momentum was 0 when this optimizer was made, so it keeps no momentum buffers; make a new SGD with momentum ${o.momentum}`);
    }
    return { lr: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0, weight_decay: o.weightDecay ?? 0, nesterov: o.nesterov ? 1 : 0 };
  });

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
    this.keepsMomentum = momentum > 0;
  }

  /** The GPU half of a step: one update dispatch per parameter with a gradient. */
  encodeStep(): void {
    const ready = this.params.filter((p) => p.grad);
    if (ready.length === 0) return;
    const hyper = this.hyper.get('SGD');
    for (const p of ready) {
      const first = this.state.has(p.id) ? 0 : 1; // its momentum buffer is made now: PyTorch starts it at this gradient
      const buf = this.keepsMomentum ? this.stateOf(p, 1)[0]! : this.placeholderOn(p.engine);
      p.engine.dispatch(sgdStep, { n: p.size, first }, [p.buffer, p.grad!.buffer, buf.buffer, hyper], grid1d(p.size, WG));
    }
    this.hyper.markUsed();
  }

  private placeholderOn(engine: Tensor['engine']): Tensor {
    this.placeholder ??= engine.keep(zeros(engine, [1]));
    return this.placeholder;
  }

  override dispose(): void {
    this.placeholder?.dispose();
    this.placeholder = null;
    super.dispose();
  }
}
