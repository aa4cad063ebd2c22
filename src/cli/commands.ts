/** `effconv search | train | eval | demo`: runs in a run folder, with progress on stderr. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../gpu/engine.js';
import { datasetInfo } from '../data/datasets.js';
import { resolveBudget } from '../effconv/budget.js';
import { FinalTraining } from '../effconv/final_training.js';
import { readSafetensors, restoreInto } from '../effconv/checkpoint.js';
import { prepareData, runEffConv, type Prepared, type RunConfig, type RunResults } from '../effconv/run.js';
import { RunFolder } from '../effconv/run_folder.js';
import { parameterCount, resolveSpec } from '../effconv/spec.js';
import { checkTuningFile, useConvTuningFile } from '../effconv/conv_tuning_file.js';
import type { ConvVariantName } from '../gpu/conv_variant.js';
import { convKernels, runConfig, tuningReps, UsageError, type Values } from './run_options.js';

const log = (s: string) => console.log(s);

function defaultOut(cfg: RunConfig, kind: string): string {
  const stamp = new Date().toISOString().replace(/[:T]/g, '-').slice(0, 19);
  return `runs/${stamp}-${kind}-${cfg.backbone.name}`;
}

/** Checks that a new run may use `dir`: never a folder that holds a run already (its results and checkpoints would be overwritten). */
function checkNewRunFolder(dir: string, resumable: boolean): string {
  if (existsSync(join(dir, 'config.json'))) throw new UsageError(`--out ${dir} already holds a run (its config.json); give another --out${resumable ? `, or continue that run with --resume ${dir}` : ''}`);
  return dir;
}

/** What a run folder's config.json holds. */
interface SavedConfig {
  config: RunConfig;
  dataDir?: string;
  /** --conv-kernels of the run (absent in folders written before it was kept). */
  convKernels?: ConvVariantName;
}

/**
 * The engine of a run in `folder`. Under --conv-kernels fastest it takes the choices of the
 * tuning file (--tuning-file, else the folder's conv_tuning.json) and saves new ones there;
 * `stop` ends the saving.
 */
async function runEngine(v: Values, folder: RunFolder, variant: ConvVariantName): Promise<{ engine: Engine; stop: () => void }> {
  const engine = await Engine.create({ convVariant: variant, convTuningReps: tuningReps(v) });
  if (variant !== 'fastest') return { engine, stop: () => {} };
  const file = typeof v['tuning-file'] === 'string' ? v['tuning-file'] : folder.path('conv_tuning.json');
  const { said, stop } = useConvTuningFile(engine, file, (line) => process.stderr.write(`kernels: ${line}\n`));
  process.stderr.write(`kernels: ${said}\n`);
  return { engine, stop };
}

/**
 * The run's --conv-kernels (`saved` when not given) once --tuning-file is checked against it —
 * and read, so that a path that cannot hold a tuning file (a folder, a missing folder) or a file
 * that is not one fails before a run folder is made.
 */
function runKernels(v: Values, saved?: ConvVariantName): ConvVariantName {
  const variant = convKernels(v, saved);
  const file = v['tuning-file'];
  if (typeof file === 'string' && variant !== 'fastest') throw new UsageError(`--tuning-file keeps the choices of --conv-kernels fastest; this run's kernels are ${variant}`);
  if (typeof file === 'string') checkTuningFile(file);
  if (v['tuning-reps'] !== undefined && variant !== 'fastest') throw new UsageError(`--tuning-reps sets the timing of --conv-kernels fastest; this run's kernels are ${variant}`);
  tuningReps(v);
  return variant;
}

/** Loads the dataset, failing before any training starts. */
function loadData(cfg: RunConfig, dir: string | undefined) {
  return datasetInfo(cfg.dataset).load(dir);
}

/** The results table; `evalName` the split accuracy is on, `given` where the sizes came from --sizes (train) rather than a search. */
function printResults(r: RunResults, evalName: 'test' | 'validation', given = false): void {
  if (r.search && given) log(`\nsizes [${r.search.sizes.join(', ')}] as given: ${r.search.parameters.toLocaleString('en')} parameters (the baselines matched to them)`);
  else if (r.search) log(`\nsearched sizes [${r.search.sizes.join(', ')}]: ${r.search.parameters.toLocaleString('en')} parameters (budget ${Math.round(r.search.target).toLocaleString('en')}, ${(100 * r.search.deviation).toFixed(2)} %), search ${r.search.seconds.toFixed(1)} s`);
  log(`\n| model | sizes | parameters | ${evalName} accuracy | s/epoch |\n|---|---|---|---|---|`);
  for (const m of r.models) log(`| ${m.name} | ${m.sizes.join(' ')} | ${m.parameters.toLocaleString('en')} | ${(100 * m.accuracy).toFixed(2)} % | ${m.secondsPerEpoch.toFixed(1)} |`);
}

/** search (stage 1 + 2 + baselines) and demo. */
export async function searchCommand(v: Values, defaults: Partial<RunConfig> = {}, kind = 'search'): Promise<void> {
  let cfg: RunConfig;
  let folder: RunFolder;
  let dataDir: string | undefined;
  let variant: ConvVariantName;
  let data: Prepared;
  if (typeof v.resume === 'string') {
    if (!existsSync(join(v.resume, 'config.json'))) throw new UsageError(`--resume ${v.resume}: no config.json there (not a run folder)`);
    folder = new RunFolder(v.resume);
    const saved = folder.readJson<SavedConfig>('config.json');
    cfg = saved.config;
    dataDir = saved.dataDir;
    variant = runKernels(v, saved.convKernels);
    data = prepareData(cfg, loadData(cfg, dataDir));
    log(`resuming ${v.resume}`);
  } else {
    cfg = runConfig(v, defaults);
    dataDir = typeof v.data === 'string' ? v.data : undefined;
    variant = runKernels(v);
    resolveBudget(cfg.backbone, cfg, cfg.budget); // an infeasible budget fails before anything is loaded
    const out = checkNewRunFolder(typeof v.out === 'string' ? v.out : defaultOut(cfg, kind), true);
    data = prepareData(cfg, loadData(cfg, dataDir)); // a missing or corrupt dataset, or too few images for a batch, fails before the run folder
    folder = new RunFolder(out);
    folder.writeJson('config.json', { config: cfg, dataDir, convKernels: variant, command: process.argv.slice(2).join(' ') });
  }
  const { engine, stop } = await runEngine(v, folder, variant);
  log(`effconv ${kind}: ${cfg.backbone.name} on ${cfg.dataset}, adapter ${engine.adapterInfo.description || engine.adapterInfo.device}; run folder ${folder.dir}`);
  const results = await runEffConv(engine, cfg, data, folder, { resume: typeof v.resume === 'string', log, replay: v['no-replay'] !== true });
  printResults(results, cfg.validation > 0 ? 'validation' : 'test');
  log(`\nrun folder: ${folder.dir} (summary.md, sizes.json, trajectory.csv, metrics.jsonl, plots/, checkpoints/)`);
  stop();
  engine.destroy();
}

/** train: final training of given sizes only (no search). */
export async function trainCommand(v: Values): Promise<void> {
  if (typeof v.sizes !== 'string') throw new UsageError('train needs --sizes, e.g. --sizes 3,5,3,3,5,3 (or run `effconv search`)');
  const cfg = runConfig(v);
  const sizes = v.sizes.split(',').map(Number);
  const L = cfg.backbone.layers.length;
  if (sizes.length !== L) throw new UsageError(`--sizes has ${sizes.length} values but ${cfg.backbone.name} has ${L} conv layers`);
  for (const s of sizes) if (!Number.isInteger(s) || s < cfg.kMin || s > cfg.kMax || s % 2 === 0) throw new UsageError(`--sizes: ${s} is not an odd size in [${cfg.kMin}, ${cfg.kMax}]`);
  const parameters = parameterCount(cfg.backbone, sizes);
  cfg.budget = parameters; // baselines are matched to the given network
  const variant = runKernels(v);
  const out = checkNewRunFolder(typeof v.out === 'string' ? v.out : defaultOut(cfg, 'train'), false);
  const data = prepareData(cfg, loadData(cfg, typeof v.data === 'string' ? v.data : undefined)); // before the run folder
  const folder = new RunFolder(out);
  folder.writeJson('config.json', { config: cfg, sizes, dataDir: v.data, convKernels: variant, command: process.argv.slice(2).join(' ') });
  const { engine, stop } = await runEngine(v, folder, variant);
  // A run with the search already "done" at the given sizes: stage 2 and baselines only.
  const results: RunResults = { models: [] };
  folder.writeJson('results.json', {
    ...results,
    search: { sizes, v: sizes, parameters, target: parameters, deviation: 0, independentSizes: sizes, independentParameters: parameters, seconds: 0, steps: 0, epochs: 0 },
  });
  const r = await runEffConv(engine, cfg, data, folder, { resume: true, log, replay: v['no-replay'] !== true });
  printResults(r, cfg.validation > 0 ? 'validation' : 'test', true);
  log(`\nrun folder: ${folder.dir}`);
  stop();
  engine.destroy();
}

/** eval: accuracy of a run's trained models, from their final checkpoints. */
export async function evalCommand(v: Values): Promise<void> {
  if (typeof v.run !== 'string') throw new UsageError('eval needs --run DIR (a run folder)');
  // checked before RunFolder, which makes the folder's subfolders
  if (!existsSync(join(v.run, 'results.json'))) throw new UsageError(`--run ${v.run}: no results.json (not a finished run folder)`);
  const folder = new RunFolder(v.run);
  const { config: cfg, dataDir, convKernels: saved } = folder.readJson<SavedConfig>('config.json');
  const results = folder.readJson<RunResults>('results.json');
  const variant = runKernels(v, saved);
  const prep = prepareData(cfg, loadData(cfg, dataDir));
  const { engine, stop } = await runEngine(v, folder, variant);
  for (const [i, m] of results.models.entries()) {
    const spec = { ...resolveSpec(cfg.backbone), layers: cfg.backbone.layers.map((l, k) => ({ ...l, out: m.channels[k]! })) };
    const t = new FinalTraining(engine, spec, m.sizes, { batch: cfg.batch, lr: cfg.lr, steps: 1, seed: 0, logEvery: 1 });
    const file = folder.path('checkpoints', `final-${i}.safetensors`);
    restoreInto(file, t.state(), readSafetensors(file).tensors);
    const acc = await t.evaluate(prep.evalImages, prep.evalLabels, { say: (line) => process.stderr.write(`eval  kernels: ${line}\n`) });
    log(`${m.name}: sizes [${m.sizes.join(', ')}], ${m.parameters.toLocaleString('en')} parameters, ${prep.evalName} accuracy ${(100 * acc).toFixed(2)} %`);
  }
  stop();
  engine.destroy();
}
