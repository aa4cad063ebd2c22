import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { grid1d } from '../ops/grid.js';
import type { Tensor } from '../tensor.js';
import { HyperBuffer } from './hyper_buffer.js';
import { Optimizer } from './optimizer.js';

/** The step's hyperparameters and bias corrections: one uniform buffer per optimiser, written once a step (AdamHyper in optim.wgsl). */
export const AdamHyper = uniformLayout('AdamHyper', [
  ['lr', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['weight_decay', 'f32'],
  ['decoupled', 'u32'],
  ['bias1', 'f32'],
  ['bias2', 'f32'],
] as const);

export const AdamParams = uniformLayout('AdamParams', [['n', 'u32']] as const);
export const Adam4Params = uniformLayout('Adam4Params', [['end0', 'u32'], ['end1', 'u32'], ['end2', 'u32'], ['end3', 'u32']] as const);

const WG = 256;
const HYPER_BINDING = 21;
const adamStep = defineKernel({ file: 'optim.wgsl', entry: 'adam_step', params: AdamParams, bindings: [1, 2, 3, 4, HYPER_BINDING], constants: { WG } });
const adamStep4 = defineKernel({
  file: 'optim.wgsl',
  entry: 'adam_step4',
  params: Adam4Params,
  bindings: [...Array.from({ length: 16 }, (_, i) => 5 + i), HYPER_BINDING],
  constants: { WG },
});

/** Storage buffers adam_step4 binds (4 parameters × w, grad, m, v). */
const STEP4_BUFFERS = 16;

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW: weight decay applied to the weights directly, not through the gradient. */
  decoupled?: boolean;
  /**
   * Parameters updated per dispatch: 4 (default: adam_step4, for whole groups of 4 where the
   * device allows 16 storage buffers per shader stage) or 1 (adam_step). The same update either way.
   */
  tensorsPerDispatch?: 1 | 4;
}

/**
 * Adam / AdamW; the step count lives on the CPU, so bias corrections need no readback. Its
 * hyperparameters go to the GPU in one small buffer per step, not in the dispatches' uniforms, so
 * that a captured step (Engine.capture) replays with each step's learning rate and bias
 * corrections: call `prepareStep()` before each replay of a step that captured `encodeStep()`.
 */
export class Adam extends Optimizer {
  readonly options: Required<AdamOptions>;
  protected readonly hyper = new HyperBuffer(AdamHyper, () => {
    const o = this.options; // lr may reach 0 at the end of a schedule: no update, as before
    return {
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weight_decay: o.weightDecay,
      decoupled: o.decoupled ? 1 : 0,
      bias1: 1 - o.beta1 ** this.stepCount,
      bias2: 1 - o.beta2 ** this.stepCount,
    };
  });

  constructor(params: readonly Tensor[], options: AdamOptions = {}) {
    super(params);
    this.options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, tensorsPerDispatch: 4, ...options };
    const o = this.options;
    if (!(o.lr > 0)) throw new RangeError(`Adam: lr must be > 0, got ${o.lr}`);
    if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1)) throw new RangeError('Adam: betas must be in [0, 1)');
    if (!(o.eps >= 0)) throw new RangeError(`Adam: eps must be ≥ 0, got ${o.eps}`);
    if (!(o.weightDecay >= 0)) throw new RangeError(`Adam: weightDecay must be ≥ 0, got ${o.weightDecay}`);
    if (o.tensorsPerDispatch !== 1 && o.tensorsPerDispatch !== 4) throw new RangeError(`Adam: tensorsPerDispatch must be 1 or 4, got ${o.tensorsPerDispatch}`);
  }

  /** First and second moments of every parameter, in parameter order (for checkpoints). */
  stateTensors(): Tensor[] {
    return this.params.flatMap((p) => this.stateOf(p, 2));
  }

  /** The GPU half of a step: the update dispatches, reading the hyperparameters prepareStep wrote. */
  encodeStep(): void {
    const ready = this.params.filter((p) => p.grad);
    if (ready.length === 0) return;
    const hyper = this.hyper.get('Adam');
    const engine = ready[0]!.engine;
    // whole groups of 4 in adam_step4 (no slot left empty: WebGPU forbids binding one buffer to
    // two writable slots, so empty ones would need spare buffers each), the rest one by one
    const step4 = this.options.tensorsPerDispatch === 4 && engine.limits.maxStorageBuffersPerShaderStage >= STEP4_BUFFERS;
    const grouped = step4 ? ready.length - (ready.length % 4) : 0;
    for (let k = 0; k < grouped; k += 4) this.step4(ready.slice(k, k + 4), hyper);
    for (const p of ready.slice(grouped)) {
      const [m, v] = this.stateOf(p, 2);
      engine.dispatch(adamStep, { n: p.size }, [p.buffer, p.grad!.buffer, m!.buffer, v!.buffer, hyper], grid1d(p.size, WG));
    }
    this.hyper.markUsed();
  }

  /** Four parameters in one adam_step4 dispatch. */
  private step4(group: readonly Tensor[], hyper: GPUBuffer): void {
    const ends: number[] = [];
    const buffers: GPUBuffer[] = [];
    let end = 0;
    for (const p of group) {
      const [m, v] = this.stateOf(p, 2);
      end += p.size;
      ends.push(end);
      buffers.push(p.buffer, p.grad!.buffer, m!.buffer, v!.buffer);
    }
    buffers.push(hyper);
    group[0]!.engine.dispatch(adamStep4, { end0: ends[0]!, end1: ends[1]!, end2: ends[2]!, end3: ends[3]! }, buffers, grid1d(end, WG));
  }
}
