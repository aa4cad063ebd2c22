/**
 * A whole EffConv run in a run folder: search (stage 1) → final training of the found sizes
 * (stage 2) → the baselines at the same budget → summary.md and plots. Every stage checkpoints;
 * `resume` skips finished stages and continues the interrupted one from its last checkpoint.
 */
import type { Engine } from '../gpu/engine.js';
import { Batches, channelStatistics, holdOut, normalised, subset, type Normalisation } from '../data/batches.js';
import type { ImageSet } from '../data/mnist_json.js';
import { roundSizesJointly, resolveBudget, type BudgetLossKind } from './budget.js';
import { FinalTraining } from './final_training.js';
import { CsvLog, RunFolder } from './run_folder.js';
import { Search, type SearchRow } from './search.js';
import { runStage } from './stage.js';
import { parameterCount, widthMatched, type BackboneSpec } from './spec.js';
import { hardSize } from '../ops/conv2d.js';
import { writeReport } from './report.js';

export interface RunConfig {
  backbone: BackboneSpec;
  dataset: string;
  kMin: number;
  kMax: number;
  /** Absolute parameter count (> 1) or fraction of the k_max network (≤ 1). */
  budget: number;
  lambda: number;
  lossKind: BudgetLossKind;
  batch: number;
  searchEpochs: number;
  finalEpochs: number;
  searchLr: number;
  lr: number;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Use only the first N training / test images (0 = all). */
  trainLimit: number;
  testLimit: number;
  /** Hold out this fraction of the training set for validation (0 = none; test set used). */
  validation: number;
  baselines: ('3x3' | 'kmax')[];
  /** Random crop + flip (colour data). */
  augment: boolean;
}

export interface SearchResult {
  sizes: number[];
  v: number[];
  parameters: number;
  target: number;
  deviation: number;
  /** Per-layer sizes rounded independently, for comparison. */
  independentSizes: number[];
  independentParameters: number;
  seconds: number;
  steps: number;
  epochs: number;
}

export interface ModelResult {
  name: string;
  sizes: number[];
  channels: number[];
  parameters: number;
  accuracy: number;
  seconds: number;
  secondsPerEpoch: number;
  steps: number;
}

export interface RunResults {
  search?: SearchResult;
  models: ModelResult[];
}

/** A run's data as prepareData leaves it: the training images, the normalised evaluation set. */
export interface Prepared {
  train: ImageSet;
  evalImages: Float32Array;
  evalLabels: Int32Array;
  evalName: string;
  norm: Normalisation;
}

export function prepareData(cfg: RunConfig, data: { train: ImageSet; test: ImageSet }): Prepared {
  let train = cfg.trainLimit > 0 && cfg.trainLimit < data.train.count ? subset(data.train, [...Array(cfg.trainLimit).keys()]) : data.train;
  let evalSet = cfg.testLimit > 0 && cfg.testLimit < data.test.count ? subset(data.test, [...Array(cfg.testLimit).keys()]) : data.test;
  let evalName = 'test';
  if (cfg.validation > 0) {
    const split = holdOut(train, cfg.validation, cfg.seed);
    train = split.train;
    evalSet = split.validation;
    evalName = 'validation';
  }
  // before any run folder or step: a batch larger than the images left would fail at the first one
  if (train.count < cfg.batch) {
    const left = cfg.trainLimit > 0 || cfg.validation > 0 ? ' left after the training limit and the validation split' : '';
    throw new RangeError(`batch size ${cfg.batch} exceeds the ${train.count} training images${left}`);
  }
  const [C, H, W] = cfg.backbone.input;
  if (train.shape[0] !== C || train.shape[1] !== H || train.shape[2] !== W) {
    throw new Error(`dataset images are ${train.shape.join('×')} but backbone ${cfg.backbone.name} expects ${cfg.backbone.input.join('×')}`);
  }
  const norm = channelStatistics(train);
  return { train, evalImages: normalised(evalSet, norm), evalLabels: evalSet.labels, evalName, norm };
}

const stepsFor = (epochs: number, perEpoch: number) => Math.max(1, Math.round(epochs * perEpoch));

export async function runEffConv(
  engine: Engine,
  cfg: RunConfig,
  data: { train: ImageSet; test: ImageSet } | Prepared,
  folder: RunFolder,
  opts: {
    resume: boolean;
    log: (s: string) => void;
    /** Replay each training step after a stage's second from a capture (SearchOptions.replay); default true. */
    replay?: boolean;
  },
): Promise<RunResults> {
  const log = opts.log;
  const replay = opts.replay ?? true;
  if (!replay) log('steps: every training step run as code (no replay of captured steps)');
  const range = { kMin: cfg.kMin, kMax: cfg.kMax };
  const target = resolveBudget(cfg.backbone, range, cfg.budget);
  // raw data is prepared here; a caller that checked it before making the run folder passes it prepared
  const prep = 'evalImages' in data ? data : prepareData(cfg, data);
  const results: RunResults = opts.resume && folder.exists('results.json') ? folder.readJson<RunResults>('results.json') : { models: [] };
  const batchesFor = (seedOffset: number) =>
    new Batches(prep.train, { batch: cfg.batch, seed: cfg.seed + seedOffset, norm: prep.norm, cropPadding: cfg.augment ? 4 : 0, flip: cfg.augment });
  const perEpoch = Math.floor(prep.train.count / cfg.batch);
  log(`${prep.train.count} training images (${perEpoch} steps of ${cfg.batch} per epoch), ${prep.evalLabels.length} ${prep.evalName} images`);

  // ---- stage 1: search ----
  if (!results.search) {
    const steps = stepsFor(cfg.searchEpochs, perEpoch);
    const search = new Search(engine, cfg.backbone, { ...range, target, lambda: cfg.lambda, lossKind: cfg.lossKind, batch: cfg.batch, lr: cfg.searchLr, seed: cfg.seed, logEvery: cfg.logEvery, replay });
    const L = cfg.backbone.layers.length;
    const header = ['step', ...Array.from({ length: L }, (_, l) => `v${l + 1}`), ...Array.from({ length: L }, (_, l) => `s${l + 1}`), 'class_loss', 'param_loss', 'soft_parameters', 'parameters'];
    const csv = new CsvLog(folder.path('trajectory.csv'), header);
    if (!opts.resume) csv.truncate(0);
    log(`search: ${steps} steps (${cfg.searchEpochs} epochs), budget ${Math.round(target).toLocaleString('en')} parameters, λ = ${cfg.lambda} (${cfg.lossKind})`);
    const seconds = await runStage<SearchRow>(search, {
      name: 'search',
      totalSteps: steps,
      logEvery: cfg.logEvery,
      checkpointEvery: cfg.checkpointEvery,
      checkpointFile: folder.path('checkpoints', 'search.safetensors'),
      resume: opts.resume,
      batches: batchesFor(0),
      losses: (r) => [r.classLoss, r.paramLoss],
      onResume: (step) => {
        csv.truncate(step);
        folder.truncateMetrics('search', step);
        log(`search: resumed at step ${step}`);
      },
      onRows: (rows, elapsed) => {
        csv.append(rows.map((r) => [r.step, ...r.v.map((x) => x.toFixed(5)), ...r.s, r.classLoss, r.paramLoss, r.softParameters.toFixed(1), r.parameters]));
        const last = rows[rows.length - 1]!;
        folder.appendMetric({ stage: 'search', step: last.step, class_loss: last.classLoss, param_loss: last.paramLoss, soft_parameters: last.softParameters, sizes: last.s, elapsed_s: elapsed });
      },
      describe: (r, rows) => `loss ${(rows.reduce((a, q) => a + q.classLoss, 0) / rows.length).toFixed(3)} + λ·${r.paramLoss.toFixed(4)}  s=[${r.s.join(',')}]  P(v)=${Math.round(r.softParameters)}`,
    });
    const v = await search.softSizes();
    const joint = roundSizesJointly(cfg.backbone, v, target, range);
    const independent = v.map((x) => hardSize(x, cfg.kMin, cfg.kMax)); // each layer on its own
    results.search = {
      sizes: joint.sizes,
      v,
      parameters: joint.parameters,
      target,
      deviation: joint.deviation,
      independentSizes: independent,
      independentParameters: parameterCount(cfg.backbone, independent),
      seconds,
      steps,
      epochs: steps / perEpoch,
    };
    folder.writeJson('sizes.json', results.search);
    folder.writeJson('results.json', results);
    log(`search: sizes [${joint.sizes.join(', ')}], ${joint.parameters.toLocaleString('en')} parameters (${(100 * joint.deviation).toFixed(2)} % from the budget) in ${seconds.toFixed(1)} s`);
  }

  // ---- stage 2: final training of the found sizes, and the baselines ----
  const L = cfg.backbone.layers.length;
  const models: { name: string; spec: BackboneSpec; sizes: number[] }[] = [{ name: 'effconv', spec: cfg.backbone, sizes: results.search.sizes }];
  if (cfg.baselines.includes('3x3')) models.push({ name: 'all-3x3 (width-matched)', spec: widthMatched(cfg.backbone, 3, target), sizes: Array(L).fill(3) });
  if (cfg.baselines.includes('kmax')) models.push({ name: `all-${cfg.kMax}x${cfg.kMax}`, spec: cfg.backbone, sizes: Array(L).fill(cfg.kMax) });
  for (const [i, m] of models.entries()) {
    if (results.models.some((r) => r.name === m.name)) continue;
    const steps = stepsFor(cfg.finalEpochs, perEpoch);
    const stage = `train:${m.name}`;
    // under --conv-kernels fastest the evaluation's convolutions (no gradients, its own batch) are timed too
    const evalKernels = (line: string) => process.stderr.write(`${stage}  kernels (evaluation): ${line}\n`);
    const trainer = new FinalTraining(engine, m.spec, m.sizes, { batch: cfg.batch, lr: cfg.lr, steps, seed: cfg.seed + 1000 * (i + 1), logEvery: cfg.logEvery, weightDecay: 5e-4, replay });
    log(`${stage}: sizes [${m.sizes.join(', ')}], channels [${m.spec.layers.map((l) => l.out).join(', ')}], ${trainer.parameterCount.toLocaleString('en')} parameters, ${steps} steps`);
    let evalSeconds = 0; // per-epoch evaluations, left out of the training time
    const total = await runStage(trainer, {
      name: stage,
      totalSteps: steps,
      logEvery: cfg.logEvery,
      checkpointEvery: cfg.checkpointEvery,
      checkpointFile: folder.path('checkpoints', `final-${i}.safetensors`),
      resume: opts.resume,
      batches: batchesFor(1000 * (i + 1)),
      losses: (r) => [r.loss],
      onResume: (step) => {
        folder.truncateMetrics(stage, step);
        log(`${stage}: resumed at step ${step}`);
      },
      onRows: async (rows, elapsed) => {
        const last = rows[rows.length - 1]!;
        folder.appendMetric({ stage, step: last.step, loss: last.loss, mean_loss: rows.reduce((s, r) => s + r.loss, 0) / rows.length, lr: trainer.lrAt(last.step), elapsed_s: elapsed });
        const epochEnded = Math.floor(last.step / perEpoch) > Math.floor((rows[0]!.step - 1) / perEpoch);
        if (epochEnded && last.step < steps) {
          const t0 = Date.now();
          const acc = await trainer.evaluate(prep.evalImages, prep.evalLabels, { say: evalKernels });
          evalSeconds += (Date.now() - t0) / 1000;
          folder.appendMetric({ stage, step: last.step, event: 'eval', split: prep.evalName, accuracy: acc });
        }
      },
      describe: (_r, rows) => `loss ${(rows.reduce((a, r) => a + r.loss, 0) / rows.length).toFixed(4)} (mean of the last ${rows.length} steps)`,
    });
    const seconds = total - evalSeconds;
    const acc = await trainer.evaluate(prep.evalImages, prep.evalLabels, { say: evalKernels });
    folder.appendMetric({ stage, step: steps, event: 'eval', split: prep.evalName, accuracy: acc });
    const result: ModelResult = {
      name: m.name,
      sizes: m.sizes,
      channels: m.spec.layers.map((l) => l.out),
      parameters: trainer.parameterCount,
      accuracy: acc,
      seconds,
      secondsPerEpoch: (seconds * perEpoch) / steps,
      steps,
    };
    results.models.push(result);
    folder.writeJson('results.json', results);
    log(`${stage}: ${prep.evalName} accuracy ${(100 * acc).toFixed(2)} %, ${result.secondsPerEpoch.toFixed(1)} s/epoch`);
  }
  await writeReport(engine, cfg, results, folder, prep.evalName);
  return results;
}
