/**
 * The loop both stages share: batches in, one encoded step each, a readback of the GPU step log
 * every `logEvery` steps (losses checked for NaN/inf there), atomic checkpoints every
 * `checkpointEvery` steps, exact resumption from the last checkpoint, and — under conv2d's variant
 * 'fastest' — the timing of the kernel families after a step that met new convolutions.
 */
import { existsSync } from 'node:fs';
import type { Batches, BatchCursor } from '../data/batches.js';
import type { Adam } from '../optim/adam.js';
import type { Tensor } from '../tensor.js';
import { Progress } from '../cli/progress.js';
import type { Engine } from '../gpu/engine.js';
import { tuneConvsTimed } from '../ops/conv_tuning.js';
import { readSafetensors, restoreInto, snapshot, writeSafetensors } from './checkpoint.js';

export interface Stepper<Row extends { step: number }> {
  readonly x: Tensor;
  readonly optimizer: Adam;
  step: number;
  run(y: Int32Array): void;
  flush(): Promise<Row[]>;
  state(): Record<string, Tensor>;
}

export class NonFiniteLossError extends Error {
  constructor(stage: string, step: number, value: number, checkpoint: string | null) {
    super(
      `${stage}: the loss became ${value} at step ${step}; stopped. ` +
        (checkpoint ? `The last good checkpoint is ${checkpoint} (resume with --resume, perhaps with a lower --lr).` : 'No checkpoint was written yet.'),
    );
    this.name = 'NonFiniteLossError';
  }
}

export interface StageOptions<Row> {
  name: string;
  totalSteps: number;
  logEvery: number;
  /** A multiple of logEvery (checkpoints are written right after a checked readback). */
  checkpointEvery: number;
  checkpointFile: string;
  resume: boolean;
  batches: Batches;
  /** The values that must be finite in a row (losses). */
  losses(row: Row): number[];
  /**
   * Receives every row once, in order (after a resume, from the checkpoint's step on), and the
   * seconds the stage has run so far (without the timing of kernel families under 'fastest').
   */
  onRows(rows: Row[], elapsedSeconds: number): void | Promise<void>;
  /** Text for the progress line from the rows just read (the last one is the latest step). */
  describe(row: Row, rows: Row[]): string;
  /** Called after a checkpoint is restored (the step it restored). */
  onResume?(step: number): void;
}

/**
 * Times the kernel families on the convolutions a step met for the first time under conv2d's
 * variant 'fastest' (tuneConvs) and says what it chose; returns the seconds it took (0 when the
 * step met none).
 */
async function tuneStepConvs(stage: string, engine: Engine): Promise<number> {
  const { seconds } = await tuneConvsTimed(engine, (line) => process.stderr.write(`${stage}  kernels: ${line}\n`));
  return seconds;
}

/**
 * Runs (or resumes) a stage to its last step; returns its wall time in seconds — after a resume,
 * the time up to the checkpoint (saved in it) plus the time of the steps run here; the timing of
 * kernel families under 'fastest' is left out (it is not training).
 */
export async function runStage<Row extends { step: number }>(stepper: Stepper<Row>, o: StageOptions<Row>): Promise<number> {
  if (o.checkpointEvery % o.logEvery !== 0) throw new RangeError('checkpointEvery must be a multiple of logEvery');
  let lastCheckpoint: string | null = null;
  let before = 0; // seconds spent before the checkpoint this run resumed from
  if (o.resume && existsSync(o.checkpointFile)) {
    const { tensors, metadata } = readSafetensors(o.checkpointFile);
    restoreInto(o.checkpointFile, stepper.state(), tensors);
    stepper.step = Number(metadata.step);
    stepper.optimizer.stepCount = Number(metadata.adam_step);
    o.batches.restore(JSON.parse(metadata.batches!) as BatchCursor);
    before = Number(metadata.elapsed_s ?? 0);
    lastCheckpoint = o.checkpointFile;
    o.onResume?.(stepper.step);
  }
  const progress = new Progress(o.name, o.totalSteps, o.logEvery);
  const start = Date.now();
  const startStep = stepper.step;
  let tuning = 0; // seconds spent timing kernel families (--conv-kernels fastest): not training time
  const seconds = () => (Date.now() - start) / 1000 - tuning;
  while (stepper.step < o.totalSteps) {
    o.batches.next();
    stepper.x.write(o.batches.x);
    stepper.run(o.batches.y);
    tuning += await tuneStepConvs(o.name, stepper.x.engine); // nothing (0 s) unless the step met new convolutions
    const step = stepper.step;
    if (step % o.logEvery !== 0 && step !== o.totalSteps) continue;
    const rows = await stepper.flush();
    for (const row of rows) {
      const bad = o.losses(row).find((v) => !Number.isFinite(v));
      if (bad !== undefined) throw new NonFiniteLossError(o.name, row.step, bad, lastCheckpoint);
    }
    const elapsed = seconds();
    await o.onRows(rows, elapsed);
    const ips = ((step - startStep) * o.batches.o.batch) / Math.max(elapsed, 1e-9);
    progress.update(step, `${o.describe(rows[rows.length - 1]!, rows)}  ${ips.toFixed(0)} img/s`);
    if (step % o.checkpointEvery === 0 || step === o.totalSteps) {
      const cursor = o.batches.save();
      writeSafetensors(o.checkpointFile, await snapshot(stepper.state()), {
        format: 'effconv-checkpoint-1',
        stage: o.name,
        step: String(step),
        adam_step: String(stepper.optimizer.stepCount),
        batches: JSON.stringify(cursor),
        elapsed_s: String(before + seconds()),
      });
      lastCheckpoint = o.checkpointFile;
    }
  }
  return before + seconds();
}
