/** Turns command-line options into a RunConfig, checking each value. */
import { existsSync, readFileSync } from 'node:fs';
import type { RunConfig } from '../effconv/run.js';
import { DEFAULT_BUDGET_FRACTION, resolveSpec, type BackboneSpec } from '../effconv/spec.js';
import { datasetInfo } from '../data/datasets.js';
import { CONV_VARIANTS, type ConvVariantName } from '../gpu/conv_variant.js';

export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

export const RUN_OPTIONS = {
  preset: { type: 'string' },
  spec: { type: 'string' },
  dataset: { type: 'string' },
  data: { type: 'string' },
  budget: { type: 'string' },
  lambda: { type: 'string' },
  asymmetric: { type: 'boolean' },
  'k-min': { type: 'string' },
  'k-max': { type: 'string' },
  batch: { type: 'string' },
  'search-epochs': { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  'search-lr': { type: 'string' },
  seed: { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  validation: { type: 'string' },
  baselines: { type: 'string' },
  'log-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  sizes: { type: 'string' },
  run: { type: 'string' },
  'conv-kernels': { type: 'string' },
  reps: { type: 'string' },
  families: { type: 'string' },
  'tuning-file': { type: 'string' },
  'tuning-reps': { type: 'string' },
  'no-replay': { type: 'boolean' },
} as const;

/** Options that set up a run (search, demo, train): what config.json keeps. */
const RUN_SETUP = ['preset', 'spec', 'dataset', 'data', 'budget', 'lambda', 'asymmetric', 'k-min', 'k-max', 'batch', 'search-epochs', 'epochs', 'lr', 'search-lr', 'seed', 'train-limit', 'test-limit', 'validation', 'baselines', 'log-every', 'checkpoint-every', 'out'] as const;
/** Options that choose the convolution kernels, not what is computed: a resumed run or eval may take them. */
const KERNEL_CHOICE = ['conv-kernels', 'tuning-file', 'tuning-reps'] as const;
/** How training steps are run, not what they compute: a resumed run may take them too. */
const STEP_CHOICE = [...KERNEL_CHOICE, 'no-replay'] as const;
/** The search's own options, which train (no search) has no use for. */
const SEARCH_ONLY = new Set<string>(['budget', 'lambda', 'asymmetric', 'search-epochs', 'search-lr']);

/** The options each command takes; any other is a usage error rather than silently ignored. */
export const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  search: [...RUN_SETUP, ...STEP_CHOICE, 'resume'],
  demo: [...RUN_SETUP, ...STEP_CHOICE, 'resume'],
  train: [...RUN_SETUP.filter((o) => !SEARCH_ONLY.has(o)), ...STEP_CHOICE, 'sizes'],
  eval: ['run', ...KERNEL_CHOICE],
  // random data: no dataset, no epochs; its own --reps and --families
  kernels: ['preset', 'spec', 'budget', 'lambda', 'asymmetric', 'k-min', 'k-max', 'batch', 'lr', 'search-lr', 'seed', 'reps', 'families', 'tuning-file', 'tuning-reps'],
  info: [],
};

/** Option names as flags: "--a, --b". */
const flags = (names: readonly string[]) => names.map((o) => `--${o}`).join(', ');

/**
 * Rejects an option `command` does not take (e.g. --sizes with search), and under --resume any
 * option but the kernel choice: the run continues as its config.json says.
 */
export function checkCommandOptions(command: string, v: Values): void {
  const allowed = COMMAND_OPTIONS[command];
  if (!allowed) return; // an unknown command is reported as such
  const given = Object.keys(v).filter((name) => name !== 'help' && v[name] !== undefined);
  const foreign = given.filter((name) => !allowed.includes(name));
  if (foreign.length > 0) throw new UsageError(`effconv ${command} does not take ${flags(foreign)} (see effconv --help)`);
  if (typeof v.resume === 'string') {
    const fixed = given.filter((name) => name !== 'resume' && !(STEP_CHOICE as readonly string[]).includes(name));
    if (fixed.length > 0) {
      throw new UsageError(`--resume continues ${v.resume} as its config.json sets it up; ${flags(fixed)} cannot change that (only ${flags(STEP_CHOICE)} can; start a new run with --out instead)`);
    }
  }
}

export const RUN_HELP = `Run options (search, train, demo):
  --preset NAME          backbone preset: fmnist-6 (default), cifar-8
  --spec FILE            backbone spec as JSON instead of a preset:
                         {"input":[C,H,W],"classes":K,"layers":[{"out":16},{"out":32,"pool":"max"},{"out":32,"stride":2}]}
  --dataset NAME         fashion-mnist (default), mnist, mnist-json, cifar10, stl10, imagenet32
  --data DIR             dataset directory (fashion-mnist default: /usr/share/datasets/fashion-mnist)
  --budget P             parameter budget: a count (e.g. 100000) or a fraction ≤ 1 of the k_max network
                         (default 100000 for fmnist-6, 1500000 for cifar-8, 0.15 for a --spec)
  --lambda X             weight of the budget loss (default 2)
  --asymmetric           budget loss log(max(P, P_t)/P_t): only exceeding costs (default symmetric log²)
  --k-min N --k-max N    admissible odd sizes (default 1 and 9)
  --batch N              batch size (default 128)
  --search-epochs X      search length in epochs, may be fractional (default 1)
  --epochs X             final-training epochs (default 10)
  --lr X                 final-training Adam learning rate, cosine-decayed (default 0.002)
  --search-lr X          search Adam learning rate (default 0.003)
  --seed N               random seed (default 0)
  --train-limit N        use only the first N training images (default all)
  --test-limit N         use only the first N test images (default all)
  --validation F         hold out fraction F of the training set and report on it instead of test
  --baselines LIST       comma list of 3x3, kmax, or none (default 3x3)
  --log-every N          steps between loss readbacks / progress lines (default 20)
  --checkpoint-every N   steps between checkpoints, a multiple of --log-every (default 200)
  --out DIR              run folder (default runs/<date>-<preset>)
  --resume DIR           continue an interrupted run from its last checkpoint (other options are read from DIR/config.json)
  --conv-kernels NAME    convolution kernels: auto (default: rules measured per kind of device — on a CPU
                         adapter the subgroup kernels where they apply; on a GPU the tiled kernels, and the
                         Winograd kernels for the 3×3 and 5×5 passes WINOGRAD_GPU_RULE takes), plain,
                         subgroups, tiled (workgroup-tiled, the GPU layout; slow on a CPU adapter), or
                         fastest (after a stage's first step, times each pass of each convolution on each
                         family and keeps the fastest for it: 10–33 s a stage for fmnist-6 on a CPU adapter);
                         \`effconv kernels\` times them all on this device; --resume and eval default to the
                         run's own choice
  --tuning-file FILE     (fastest) where the timed choices are kept and read back, so convolutions timed
                         before on this adapter are not timed again (default DIR/conv_tuning.json of the run);
                         \`effconv kernels --tuning-file FILE\` saves the choices of its 'fastest' row there
  --tuning-reps N        (fastest) timed runs per kernel candidate, their median counts (default 3; more on a
                         noisy host)
  --no-replay            run every training step as code; by default each step after a stage's second replays
                         a capture of its GPU commands (the same results bit for bit, less CPU time per step)
  --reps N               (kernels) timed steps per kernel family (default 3)
  --families LIST        (kernels) comma list of the families to time (default auto,plain,tiled,fastest)

train takes no search options (${flags([...SEARCH_ONLY])});
eval takes --run and the kernel options (${flags(KERNEL_CHOICE)}); --resume takes them and
--no-replay, and continues a run as its config.json sets it up;
kernels takes ${flags(COMMAND_OPTIONS.kernels!)}.
An option a command does not take is an error, not ignored; --out never reuses a run's folder.`;

/** Option `name` as a number (`fallback` when absent); a UsageError "--name must be <what>, got …" unless check holds. */
export function num(v: Values, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const raw = v[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got "${String(raw)}"`);
  return n;
}

export const posInt = (n: number) => Number.isInteger(n) && n > 0;
const nonNegInt = (n: number) => Number.isInteger(n) && n >= 0;

function backbone(v: Values): BackboneSpec {
  if (v.spec && v.preset) throw new UsageError('give either --preset or --spec, not both');
  if (typeof v.spec === 'string') {
    if (!existsSync(v.spec)) throw new UsageError(`--spec ${v.spec}: no such file`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(v.spec, 'utf8'));
    } catch (e) {
      throw new UsageError(`--spec ${v.spec}: ${(e as Error).message}`);
    }
    return resolveSpec(json as object);
  }
  return resolveSpec(typeof v.preset === 'string' ? v.preset : 'fmnist-6');
}

/**
 * A RunConfig from options over `defaults` (the demo passes smaller ones). `usesData` false (the
 * kernels command, on random data) skips the check that the dataset's classes match the backbone.
 */
export function runConfig(v: Values, defaults: Partial<RunConfig> = {}, usesData = true): RunConfig {
  const spec = backbone(v);
  const dataset = typeof v.dataset === 'string' ? v.dataset : (defaults.dataset ?? 'fashion-mnist');
  const info = datasetInfo(dataset);
  if (usesData && info.classes !== spec.classes) throw new UsageError(`dataset ${dataset} has ${info.classes} classes but backbone ${spec.name} has ${spec.classes}`);
  const logEvery = num(v, 'log-every', defaults.logEvery ?? 20, posInt, 'a positive integer');
  const checkpointEvery = num(v, 'checkpoint-every', defaults.checkpointEvery ?? 200, (n) => posInt(n) && n % logEvery === 0, `a positive multiple of --log-every (${logEvery})`);
  const baselinesRaw = typeof v.baselines === 'string' ? v.baselines : (defaults.baselines ?? ['3x3']).join(',');
  const baselines = baselinesRaw === 'none' ? [] : baselinesRaw.split(',').map((b) => b.trim());
  for (const b of baselines) if (b !== '3x3' && b !== 'kmax') throw new UsageError(`--baselines: unknown baseline "${b}" (3x3, kmax or none)`);
  const kMin = num(v, 'k-min', 1, (n) => posInt(n) && n % 2 === 1, 'an odd positive integer');
  const kMax = num(v, 'k-max', 9, (n) => posInt(n) && n % 2 === 1 && n >= kMin, `an odd integer ≥ --k-min (${kMin})`);
  return {
    backbone: spec,
    dataset,
    kMin,
    kMax,
    budget: num(v, 'budget', defaults.budget ?? spec.budget ?? DEFAULT_BUDGET_FRACTION, (n) => n > 0, 'a positive number'),
    lambda: num(v, 'lambda', 2, (n) => n >= 0, 'a number ≥ 0'),
    lossKind: v.asymmetric ? 'asymmetric' : 'symmetric',
    batch: num(v, 'batch', defaults.batch ?? 128, posInt, 'a positive integer'),
    searchEpochs: num(v, 'search-epochs', defaults.searchEpochs ?? 1, (n) => n > 0, 'a positive number'),
    finalEpochs: num(v, 'epochs', defaults.finalEpochs ?? 10, (n) => n > 0, 'a positive number'),
    lr: num(v, 'lr', 2e-3, (n) => n > 0, 'a positive number'),
    searchLr: num(v, 'search-lr', 3e-3, (n) => n > 0, 'a positive number'),
    seed: num(v, 'seed', 0, nonNegInt, 'an integer ≥ 0'),
    logEvery,
    checkpointEvery,
    // 0 (the default) means all; given, a limit is a positive count
    trainLimit: num(v, 'train-limit', defaults.trainLimit ?? 0, posInt, 'a positive integer'),
    testLimit: num(v, 'test-limit', defaults.testLimit ?? 0, posInt, 'a positive integer'),
    validation: num(v, 'validation', 0, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)'),
    baselines: baselines as ('3x3' | 'kmax')[],
    augment: info.colour,
  };
}

/**
 * --conv-kernels: the engine's conv2d variant (not part of a run's config: it changes no result
 * beyond rounding); `saved` (what a run folder was made with) when the option is not given.
 */
export function convKernels(v: Values, saved: ConvVariantName = 'auto'): ConvVariantName {
  const raw = v['conv-kernels'] ?? saved;
  if (!(CONV_VARIANTS as readonly unknown[]).includes(raw)) throw new UsageError(`--conv-kernels must be one of ${CONV_VARIANTS.join(', ')}, got "${String(raw)}"`);
  return raw as ConvVariantName;
}

/** --tuning-reps: tuneConvs' timed runs per candidate under --conv-kernels fastest (default 3). */
export function tuningReps(v: Values): number {
  return num(v, 'tuning-reps', 3, posInt, 'a positive integer');
}
