/**
 * An optimiser's per-step hyperparameters (learning rate, bias corrections, …) in one small uniform
 * buffer, written once a step and bound by every update dispatch of that step. Kept apart from the
 * dispatches' own uniforms (sizes only) so that a captured step (Engine.capture) replays with each
 * step's values: the replay re-runs the dispatches, and the buffer they read was rewritten before it.
 */
import { UNIFORM_USAGE, type Engine } from '../gpu/engine.js';
import { packUniforms, type UniformLayout, type UniformValues } from '../gpu/uniforms.js';

export class HyperBuffer<F extends string> {
  /** Made at the first write: an optimiser of no parameters has no engine. */
  private buffer: GPUBuffer | null = null;
  private engine: Engine | null = null;
  /** engine.submitCount when a dispatch last bound the buffer: while unchanged, that dispatch is not submitted yet. */
  private usedAt = -1;
  private readonly words: DataView;

  /** `values`: the step's values, read at each write (so a schedule that moves options.lr is seen). */
  constructor(
    private readonly layout: UniformLayout<F>,
    private readonly values: () => UniformValues<F>,
  ) {
    this.words = new DataView(new ArrayBuffer(layout.byteSize));
  }

  /** Whether a dispatch that reads the buffer may still wait, unsubmitted, in the engine's command buffer. */
  hasPendingUse(): boolean {
    return this.buffer !== null && this.usedAt === this.engine!.submitCount;
  }

  /**
   * Writes this step's values. `flushFirst`: submit pending work first (it may read the old
   * values); pass hasPendingUse() where the caller knows every use, true where a replay may have
   * left uses the optimiser cannot see.
   */
  write(engine: Engine, flushFirst: boolean): void {
    this.engine = engine;
    this.buffer ??= engine.createStorage(this.layout.byteSize, `${this.layout.struct} (optimiser hyperparameters)`, UNIFORM_USAGE);
    packUniforms(this.layout, this.values(), this.words);
    engine.write(this.buffer, this.words, 0, flushFirst);
  }

  /** The buffer, for the update dispatches about to be encoded. */
  get(who: string): GPUBuffer {
    if (!this.buffer) throw new Error(`${who}: encodeStep() before prepareStep()`);
    return this.buffer;
  }

  /** Call after encoding the dispatches that bind the buffer (see hasPendingUse). */
  markUsed(): void {
    this.usedAt = this.engine!.submitCount;
  }

  release(): void {
    if (this.buffer) this.engine!.releaseStorage(this.buffer);
    this.buffer = null;
  }
}
