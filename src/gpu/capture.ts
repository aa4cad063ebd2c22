/**
 * A captured step (Engine.capture): the commands one run of a step function encoded — each
 * dispatch's pipeline, bind group and grid, each buffer copy — which `replay()` encodes again
 * without running the step's JavaScript (its ops, tape, plans, pool and cache lookups). On a GPU a
 * small model's step is bound by that CPU time; a replay costs little more than Dawn's own calls.
 *
 * What a replay can and cannot see: the buffers and uniform values of the captured run. Data that
 * changes from step to step must reach the kernels through buffers written before each replay
 * (a batch, its labels, an optimiser's hyperparameters); a step function that writes CPU data or
 * reads back while captured throws. The buffers the step released (its intermediates, gradients,
 * uniforms) are pinned: held back from the pool until `dispose()`, so nothing else can take them.
 */

/** One recorded command. */
export type CapturedCommand =
  | { readonly kind: 'dispatch'; readonly pipeline: GPUComputePipeline; readonly bindGroup: GPUBindGroup; readonly groups: readonly [number, number, number]; readonly entry: string }
  | { readonly kind: 'copy'; readonly src: GPUBuffer; readonly dst: GPUBuffer; readonly bytes: number; readonly srcOffset: number; readonly dstOffset: number };

/** What a capture needs from its engine: re-encoding, and the pool's view of the buffers it binds. */
export interface CaptureHost {
  encode(command: CapturedCommand): void;
  /** Whether the buffer is held by a live tensor (or other owner) of this engine. */
  isLive(buffer: GPUBuffer): boolean;
  pin(buffer: GPUBuffer): void;
  unpin(buffer: GPUBuffer): void;
  /** Throws when the engine cannot encode a replay now (destroyed, or capturing). */
  beforeReplay(): void;
}

/** Commands and buffers gathered while a step function runs under Engine.capture. */
export class CaptureRecorder {
  readonly commands: CapturedCommand[] = [];
  readonly buffers = new Set<GPUBuffer>();
  /** What the step did that a replay could not repeat (the first refusal), else null. */
  refusal: string | null = null;

  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, groups: readonly [number, number, number], entry: string, buffers: readonly GPUBuffer[]): void {
    this.commands.push({ kind: 'dispatch', pipeline, bindGroup, groups, entry });
    for (const b of buffers) this.buffers.add(b);
  }

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset: number, dstOffset: number): void {
    this.commands.push({ kind: 'copy', src, dst, bytes, srcOffset, dstOffset });
    this.buffers.add(src);
    this.buffers.add(dst);
  }
}

export class Capture {
  /** Buffers of live tensors the commands use (checked before each replay), and those pinned for it. */
  private readonly owned: GPUBuffer[] = [];
  private readonly pinned: GPUBuffer[] = [];
  private disposed = false;
  /** Times replay() has run. */
  replays = 0;

  constructor(
    private readonly host: CaptureHost,
    private readonly commands: readonly CapturedCommand[],
    buffers: ReadonlySet<GPUBuffer>,
  ) {
    for (const b of buffers) {
      if (host.isLive(b)) this.owned.push(b);
      else {
        host.pin(b);
        this.pinned.push(b);
      }
    }
  }

  /** Dispatches the captured step encodes on each replay. */
  get dispatches(): number {
    return this.commands.reduce((n, c) => n + (c.kind === 'dispatch' ? 1 : 0), 0);
  }

  /** Buffers held back from the pool for this capture. */
  get pinnedBuffers(): number {
    return this.pinned.length;
  }

  /** Encodes the captured commands again (into the engine's current command buffer). */
  replay(): void {
    if (this.disposed) throw new Error('capture: replay() after dispose()');
    this.host.beforeReplay();
    for (const b of this.owned) {
      // a tensor the step reads or writes (a weight, the batch) was disposed since: its buffer may now be another tensor's
      if (!this.host.isLive(b)) throw new Error(`capture: buffer "${b.label}" of the captured step was released since (a tensor it uses was disposed); capture the step again`);
    }
    for (const c of this.commands) this.host.encode(c);
    this.replays++;
  }

  /** Gives the pinned buffers back to the pool; the capture cannot replay after this. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.pinned) this.host.unpin(b);
  }
}
