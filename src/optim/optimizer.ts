/** What SGD and Adam share: the parameter list, per-parameter state tensors, the step count and the per-step hyperparameter buffer, zeroGrad. */
import { fmtShape } from '../gpu/errors.js';
import { zeros } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';
import type { HyperBuffer } from './hyper_buffer.js';

export abstract class Optimizer {
  protected readonly state = new Map<number, Tensor[]>();
  /** Steps taken (step() or prepareStep() calls); settable, for resuming from a checkpoint. */
  stepCount = 0;
  /** The hyperparameters the update kernels read, written once a step (see HyperBuffer). */
  protected abstract readonly hyper: HyperBuffer<string>;

  constructor(readonly params: readonly Tensor[]) {
    const seen = new Set<number>();
    for (const [i, p] of params.entries()) {
      if (!p.requiresGrad) throw new Error(`optimizer: parameter ${i} ${fmtShape(p.shape)} does not have requiresGrad`);
      // listed twice, it would be updated twice per step
      if (seen.has(p.id)) throw new Error(`optimizer: parameter ${i} ${fmtShape(p.shape)} is listed twice`);
      seen.add(p.id);
    }
  }

  /** Applies one update to every parameter that has a gradient; nothing is read back. */
  step(): void {
    // flushes first only if this optimiser's last dispatches are still unsubmitted (two steps in one command buffer)
    this.advance(this.hyper.hasPendingUse());
    this.encodeStep();
  }

  /**
   * The CPU half of a step: counts it and writes its hyperparameters (options.lr as it is now,
   * Adam's bias corrections). Submits pending work first, as a replayed step's dispatches may
   * still be waiting in it. Call at a step's start, before its work is encoded; once a step's
   * encodeStep() is captured (Engine.capture), call this (not step()) before each replay, as
   * step() cannot see whether a replay left dispatches that read the buffer unsubmitted.
   */
  prepareStep(): void {
    this.advance(true);
  }

  private advance(flushFirst: boolean): void {
    this.stepCount++;
    try {
      if (this.params.length > 0) this.hyper.write(this.params[0]!.engine, flushFirst);
    } catch (e) {
      this.stepCount--; // a refused step is not counted
      throw e;
    }
  }

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
    this.hyper.release();
  }
}
