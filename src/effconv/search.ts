/**
 * Stage 1, the kernel-size search (DESIGN.md §1): each step runs the size predictor → v, s; the
 * kernel predictor → ŵ; the classifier with masked convolutions on a batch; loss =
 * cross-entropy + λ·L_param; Adam on both predictors and the classifier's other parameters.
 * The hard sizes are derived from v on the GPU; v and the losses of every step are copied into a
 * GPU log that is read back only every `logEvery` steps.
 */
import { backward, noGrad } from '../autograd/tape.js';
import type { Engine } from '../gpu/engine.js';
import { concat, copyInto, slice } from '../ops/concat.js';
import { add, mulScalar } from '../ops/elementwise.js';
import { conv2d, hardSize } from '../ops/conv2d.js';
import { reshape } from '../ops/shape.js';
import { sizeOneHot } from '../ops/size_encoding.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { Adam } from '../optim/adam.js';
import { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { budgetLoss, channelProductTensor, type BudgetLossKind, type SizeRange } from './budget.js';
import { CapturedStep, writeStepLabels } from './captured_step.js';
import { Classifier } from './classifier.js';
import { KernelPredictor, type KernelPredictorOptions } from './kernel_predictor.js';
import { SizePredictor, type SizePredictorOptions } from './size_predictor.js';
import { parameterCount, restParameters, type BackboneSpec } from './spec.js';
import { checkSizeRange, checkStepOptions, checkTarget } from './check_options.js';

export interface SearchOptions extends SizeRange {
  /** Target parameter count P_t (absolute, already checked against the feasible range). */
  target: number;
  lambda: number;
  lossKind: BudgetLossKind;
  batch: number;
  lr: number;
  seed: number;
  /** Steps between readbacks of the GPU log (and the largest number of rows it holds). */
  logEvery: number;
  sizePredictor?: SizePredictorOptions;
  kernelPredictor?: KernelPredictorOptions;
  /** Replay each step after the first two from a capture of its dispatches (TrainOptions.replay). Default true. */
  replay?: boolean;
}

/** One step of the search as read back from the GPU log. */
export interface SearchRow {
  step: number;
  v: number[];
  s: number[];
  classLoss: number;
  paramLoss: number;
  /** P(v), the smooth parameter count. */
  softParameters: number;
  /** P(s), the real count of the per-layer hard sizes. */
  parameters: number;
}

export class Search {
  readonly sizes: SizePredictor;
  readonly kernels: KernelPredictor;
  readonly classifier: Classifier;
  readonly optimizer: Adam;
  readonly x: Tensor;
  private readonly channelProducts: Tensor;
  private readonly log: Tensor; // [logEvery, L + 3]: v, class loss, param loss, P(v)
  /** The batch's labels, written before each step (a replayed step reads them here). */
  private readonly labels: Tensor;
  private readonly captured: CapturedStep;
  private logged = 0;
  step = 0;

  constructor(readonly engine: Engine, readonly spec: BackboneSpec, readonly o: SearchOptions) {
    checkStepOptions('Search', o);
    checkSizeRange('Search', o);
    checkTarget('Search', spec, o, o.target);
    if (!(o.lambda >= 0 && Number.isFinite(o.lambda))) throw new RangeError(`Search: lambda must be a number ≥ 0, got ${o.lambda}`);
    if (o.lossKind !== 'symmetric' && o.lossKind !== 'asymmetric') throw new RangeError(`Search: lossKind must be 'symmetric' or 'asymmetric', got ${String(o.lossKind)}`);
    const rng = new Rng(o.seed);
    const L = spec.layers.length;
    this.sizes = new SizePredictor(engine, L, o, rng, o.sizePredictor);
    this.kernels = new KernelPredictor(engine, spec, o, rng, o.kernelPredictor);
    this.classifier = new Classifier(engine, spec, rng);
    this.optimizer = new Adam([...this.sizes.parameters(), ...this.kernels.parameters(), ...this.classifier.parameters()], { lr: o.lr });
    this.x = engine.keep(Tensor.empty(engine, [o.batch, ...spec.input]));
    this.channelProducts = engine.keep(channelProductTensor(engine, spec));
    this.log = engine.keep(Tensor.empty(engine, [o.logEvery, L + 3]));
    this.labels = engine.keep(Tensor.empty(engine, [o.batch], 'int32'));
    this.captured = new CapturedStep(engine, o.replay ?? true);
  }

  /** One search step on the batch (x already written into this.x, labels y). Encodes only. */
  run(y: Int32Array): void {
    if (this.logged === this.o.logEvery) throw new Error('search: the step log is full; call flush() every logEvery steps');
    const { kMin, kMax } = this.o;
    writeStepLabels('Search.run', this.labels, y, this.spec.classes);
    this.optimizer.prepareStep();
    // one scope, so that the step is one command buffer (submitted as the scope ends)
    this.engine.tidy(() => {
      const row = this.captured.run(() => {
        const v = this.sizes.forward();
        const w = this.kernels.forward(noGrad(this.engine, () => sizeOneHot(v, kMin, kMax)));
        const logits = this.classifier.forward(
          this.x,
          (h, l, stride) => conv2d(h, w[l]!, { size: 'fromSoftSize', kMin, softSize: slice(v, 0, l, 1), stride }),
          true,
        );
        const classLoss = crossEntropy(logits, this.labels);
        const [paramLoss, softCount] = budgetLoss(v, this.channelProducts, restParameters(this.spec), this.o.target, this.o.lossKind);
        backward(add(classLoss, mulScalar(paramLoss, this.o.lambda)));
        this.optimizer.encodeStep();
        this.optimizer.zeroGrad();
        return concat([v, reshape(classLoss, [1]), reshape(paramLoss, [1]), reshape(softCount, [1])], 0);
      });
      copyInto(row, this.log, this.logged * row.size);
    });
    this.logged++;
    this.step++;
  }

  /** Whether the next step replays a capture (SearchOptions.replay). */
  get replaying(): boolean {
    return this.captured.replaying;
  }

  /** Reads the rows logged since the last flush (one readback). */
  async flush(): Promise<SearchRow[]> {
    const L = this.spec.layers.length;
    const n = this.logged;
    this.logged = 0;
    if (n === 0) return [];
    const data = await this.log.toFloat32();
    const first = this.step - n;
    return Array.from({ length: n }, (_, i) => {
      const r = data.subarray(i * (L + 3), (i + 1) * (L + 3));
      const v = Array.from(r.subarray(0, L));
      const s = v.map((vl) => hardSize(vl, this.o.kMin, this.o.kMax));
      return { step: first + i + 1, v, s, classLoss: r[L]!, paramLoss: r[L + 1]!, softParameters: r[L + 2]!, parameters: parameterCount(this.spec, s) };
    });
  }

  /** The current soft sizes (one readback). */
  async softSizes(): Promise<number[]> {
    const v = noGrad(this.engine, () => this.engine.tidy(() => this.sizes.forward()));
    const out = Array.from(await v.toFloat32());
    v.dispose();
    return out;
  }

  /** Every tensor a checkpoint must hold to resume exactly. */
  state(): Record<string, Tensor> {
    const named: Record<string, Tensor> = {};
    const add = (prefix: string, ts: Tensor[]) => ts.forEach((t, i) => (named[`${prefix}.${i}`] = t));
    add('size_predictor', [this.sizes.z, ...this.sizes.parameters()]);
    add('kernel_predictor', [this.kernels.z, ...this.kernels.parameters()]);
    add('classifier', [...this.classifier.parameters(), ...this.classifier.buffers()]);
    add('adam', this.optimizer.stateTensors());
    return named;
  }
}
