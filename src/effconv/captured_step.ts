/**
 * A training step run once as JavaScript and then replayed (Engine.capture): what Search and
 * FinalTraining share. The step function encodes the forward, backward and optimiser dispatches
 * and returns the tensor the trainer logs; per-step data (the batch, its labels, the optimiser's
 * hyperparameters) are written into buffers before each run, so a replay computes exactly what
 * running the step's code again would. The capture is taken again when the convolution kernels
 * it recorded may have changed: under 'fastest' until every convolution is timed, and after the
 * engine's variant or its chosen kernels change. The first run is never captured: it also does
 * one-time work (an optimiser creating its zero-filled moments) that a replay would repeat.
 */
import type { Capture } from '../gpu/capture.js';
import type { ConvVariantName } from '../gpu/conv_variant.js';
import type { Engine } from '../gpu/engine.js';
import { convChoicesVersion, hasPendingConvs } from '../ops/conv_choices.js';
import { ShapeError } from '../gpu/errors.js';
import { checkLabels } from '../ops/softmax_xent.js';
import type { Tensor } from '../tensor.js';

export class CapturedStep {
  /** The capture, with the kernel choice it was taken under (when that moves, it is taken again). */
  private captured: { capture: Capture; variant: ConvVariantName; choices: number } | null = null;
  /** The step's output as the captured run (or the last uncaptured one) left it; replays refill it. */
  private out: Tensor | null = null;
  /** Runs so far: the first is never captured, as it also does one-time work (an optimiser's zero-filled moments). */
  private runs = 0;

  /** `replay`: false runs the step's code every time (no capture). */
  constructor(
    private readonly engine: Engine,
    private readonly replay: boolean,
  ) {}

  /** Runs the step — by replaying its capture where one is valid — and returns its output (valid until the next run). */
  run(step: () => Tensor): Tensor {
    const engine = this.engine;
    const c = this.captured;
    if (c && (c.variant !== engine.convVariant || c.choices !== convChoicesVersion(engine))) this.reset();
    if (this.captured) {
      this.captured.capture.replay();
      return this.out!;
    }
    this.out?.dispose();
    this.out = null;
    if (!this.replay || this.runs++ === 0) return (this.out = engine.keep(engine.tidy(step)));
    let out: Tensor | null = null;
    const capture = engine.capture(() => {
      out = engine.keep(engine.tidy(step));
    });
    this.out = out!;
    if (hasPendingConvs(engine)) capture.dispose(); // its convolutions run on kernels 'fastest' has yet to choose
    else this.captured = { capture, variant: engine.convVariant, choices: convChoicesVersion(engine) };
    return this.out;
  }

  /** Whether the next run replays. */
  get replaying(): boolean {
    return this.captured !== null;
  }

  /** Drops the capture (its buffers go back to the pool); the next run captures again. */
  reset(): void {
    this.captured?.capture.dispose();
    this.captured = null;
  }
}

/** Checks a step's labels (one per image of the batch, each a class) and writes them into the step's label tensor. */
export function writeStepLabels(where: string, labels: Tensor, y: ArrayLike<number>, classes: number): void {
  if (y.length !== labels.size) throw new ShapeError(where, `${y.length} labels for a batch of ${labels.size}`);
  checkLabels(where, y, classes);
  labels.write(y);
}
