/** What SGD and Adam share: the parameter list, per-parameter state tensors, zeroGrad. */
import { fmtShape } from '../gpu/errors.js';
import { zeros } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';

export abstract class Optimizer {
  protected readonly state = new Map<number, Tensor[]>();

  constructor(readonly params: readonly Tensor[]) {
    const seen = new Set<number>();
    for (const [i, p] of params.entries()) {
      if (!p.requiresGrad) throw new Error(`optimizer: parameter ${fmtShape(p.shape)} does not have requiresGrad`);
      // listed twice, it would be updated twice per step
      if (seen.has(p.id)) throw new Error(`optimizer: parameter ${i} ${fmtShape(p.shape)} is listed twice`);
      seen.add(p.id);
    }
  }

  /** Applies one update to every parameter that has a gradient; nothing is read back. */
  step(): void {
    this.prepareStep();
    this.encodeStep();
  }

  /**
   * The CPU half of a step, for a step whose dispatches a capture replays (Engine.capture): called
   * before each replay, outside the capture. Nothing by default: an optimiser whose
   * hyperparameters are uniforms (SGD) replays with those of the captured step.
   */
  prepareStep(): void {}

  /** The GPU half of a step: the update dispatches (what a captured step records). */
  abstract encodeStep(): void;

  /** Releases the gradients (their buffers return to the pool for the next step). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Lazily created, zero-initialised state tensors for a parameter, kept out of scopes. */
  protected stateOf(p: Tensor, count: number): Tensor[] {
    let s = this.state.get(p.id);
    if (!s) {
      s = Array.from({ length: count }, () => p.engine.keep(zeros(p.engine, p.shape)));
      this.state.set(p.id, s);
    }
    return s;
  }

  dispose(): void {
    for (const s of this.state.values()) for (const t of s) t.dispose();
    this.state.clear();
  }
}
