/**
 * Stage 2, final training: the classifier with plain s_l × s_l convolutions (no predictors, no
 * mask), from scratch, Adam with a cosine learning-rate decay. The same class trains the
 * baselines (all-3×3 width-matched, all-k_max). Losses go to a GPU log read every `logEvery` steps.
 */
import { backward, noGrad } from '../autograd/tape.js';
import type { Engine } from '../gpu/engine.js';
import { copyInto } from '../ops/concat.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { Adam } from '../optim/adam.js';
import { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { accuracy } from '../evaluate.js';
import { CapturedStep, writeStepLabels } from './captured_step.js';
import { Classifier, PlainConvs } from './classifier.js';
import { parameterCount, type BackboneSpec } from './spec.js';
import { checkLayerSizes, checkStepOptions } from './check_options.js';

export interface TrainOptions {
  batch: number;
  lr: number;
  /** Total steps (for the cosine schedule). */
  steps: number;
  seed: number;
  logEvery: number;
  weightDecay?: number;
  /**
   * Replay each step after the first two from a capture of its dispatches (Engine.capture)
   * instead of running its code again: the same results, far less CPU time per step. Default true.
   */
  replay?: boolean;
}

export class FinalTraining {
  readonly convs: PlainConvs;
  readonly classifier: Classifier;
  readonly optimizer: Adam;
  readonly x: Tensor;
  private readonly log: Tensor;
  /** The batch's labels, written before each step (a replayed step reads them here). */
  private readonly labels: Tensor;
  private readonly captured: CapturedStep;
  private logged = 0;
  step = 0;

  constructor(readonly engine: Engine, readonly spec: BackboneSpec, readonly sizes: readonly number[], readonly o: TrainOptions) {
    checkStepOptions('FinalTraining', o);
    checkLayerSizes('FinalTraining', spec, sizes);
    if (!(Number.isInteger(o.steps) && o.steps > 0)) throw new RangeError(`FinalTraining: steps (the cosine schedule's length) must be a positive integer, got ${o.steps}`);
    if (!((o.weightDecay ?? 0) >= 0)) throw new RangeError(`FinalTraining: weightDecay must be ≥ 0, got ${o.weightDecay}`);
    const rng = new Rng(o.seed);
    this.convs = new PlainConvs(engine, spec, sizes, rng);
    this.classifier = new Classifier(engine, spec, rng);
    this.optimizer = new Adam([...this.convs.weights, ...this.classifier.parameters()], { lr: o.lr, weightDecay: o.weightDecay ?? 0, decoupled: true });
    this.x = engine.keep(Tensor.empty(engine, [o.batch, ...spec.input]));
    this.log = engine.keep(Tensor.empty(engine, [o.logEvery]));
    this.labels = engine.keep(Tensor.empty(engine, [o.batch], 'int32'));
    this.captured = new CapturedStep(engine, o.replay ?? true);
  }

  get parameterCount(): number {
    return parameterCount(this.spec, this.sizes);
  }

  /** Learning rate at a step: cosine decay from lr to 0 over o.steps. */
  lrAt(step: number): number {
    return 0.5 * this.o.lr * (1 + Math.cos((Math.PI * Math.min(step, this.o.steps)) / this.o.steps));
  }

  /** One training step on the batch in this.x with labels y. Encodes only. */
  run(y: Int32Array): void {
    if (this.logged === this.o.logEvery) throw new Error('train: the step log is full; call flush() every logEvery steps');
    writeStepLabels('FinalTraining.run', this.labels, y, this.spec.classes);
    this.optimizer.options.lr = this.lrAt(this.step);
    this.optimizer.prepareStep();
    // one scope, so that the step is one command buffer (submitted as the scope ends)
    this.engine.tidy(() => {
      const loss = this.captured.run(() => {
        const loss = crossEntropy(this.forward(this.x, true), this.labels);
        backward(loss);
        this.optimizer.encodeStep();
        this.optimizer.zeroGrad();
        return loss;
      });
      copyInto(loss, this.log, this.logged);
    });
    this.logged++;
    this.step++;
  }

  /** Whether the next step replays a capture (TrainOptions.replay). */
  get replaying(): boolean {
    return this.captured.replaying;
  }

  forward(x: Tensor, training: boolean): Tensor {
    return this.classifier.forward(x, this.convs.conv, training);
  }

  /** Losses of the steps since the last flush (one readback). */
  async flush(): Promise<{ step: number; loss: number }[]> {
    const n = this.logged;
    this.logged = 0;
    if (n === 0) return [];
    const data = await this.log.toFloat32();
    return Array.from({ length: n }, (_, i) => ({ step: this.step - n + i + 1, loss: data[i]! }));
  }

  /**
   * Accuracy on normalised images [count, C·H·W] (eval-mode batch norm), in batches of `batch`
   * (default 500); `say`: see accuracy().
   */
  evaluate(images: Float32Array, labels: Int32Array, o: { batch?: number; say?: (line: string) => void } = {}): Promise<number> {
    return noGrad(this.engine, () => accuracy(this.engine, (x) => this.forward(x, false), { images, labels, count: labels.length }, this.spec.input, o.batch, o.say));
  }

  state(): Record<string, Tensor> {
    const named: Record<string, Tensor> = {};
    const add = (prefix: string, ts: Tensor[]) => ts.forEach((t, i) => (named[`${prefix}.${i}`] = t));
    add('conv', this.convs.weights);
    add('classifier', [...this.classifier.parameters(), ...this.classifier.buffers()]);
    add('adam', this.optimizer.stateTensors());
    return named;
  }
}
