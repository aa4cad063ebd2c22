/**
 * `effconv kernels`: times a search step and a 3×3 final-training step of the backbone with each
 * convolution kernel family on this device, and with 'fastest' (each pass of each convolution on
 * the kernels tuneConvs timed fastest for it), and names the fastest (for --conv-kernels). On random data;
 * no run is touched, and nothing is written but the choices of 'fastest' into --tuning-file when
 * given (for a later run with --conv-kernels fastest --tuning-file: the convolutions of its search
 * steps, of the same backbone and batch, are then not timed again).
 */
import { Engine } from '../gpu/engine.js';
import { ShapeError } from '../gpu/errors.js';
import { resolveBudget } from '../effconv/budget.js';
import { FinalTraining } from '../effconv/final_training.js';
import { Search } from '../effconv/search.js';
import { describeChoice, type ConvFamily } from '../ops/conv_choices.js';
import { tuneConvsTimed, type ConvTiming } from '../ops/conv_tuning.js';
import { checkTuningFile, saveConvTuning } from '../effconv/conv_tuning_file.js';
import { Rng } from '../random.js';
import { sizeOf } from '../tensor.js';
import { num, posInt, runConfig, tuningReps, UsageError, type Values } from './run_options.js';

/** The families compared ('auto' stands for the subgroup kernels where it takes them), then 'fastest'. */
const FAMILIES = ['auto', 'plain', 'tiled', 'fastest'] as const;
type Family = (typeof FAMILIES)[number];

/** --families: a comma list of FAMILIES (default all of them), in the order given. */
function familiesOption(raw: unknown): Family[] {
  if (raw === undefined) return [...FAMILIES];
  const names = String(raw).split(',').map((n) => n.trim());
  const unknown = names.find((n) => !(FAMILIES as readonly string[]).includes(n));
  if (unknown !== undefined || names.length === 0) throw new UsageError(`--families must be a comma list of ${FAMILIES.join(', ')}, got "${String(raw)}"`);
  return [...new Set(names as Family[])];
}

export interface KernelTiming {
  kernels: Family;
  /** Milliseconds per step (wall clock over the timed steps, after a warm-up step), or why it could not run. */
  searchMs: number | string;
  finalMs: number | string;
}

/**
 * Wall-clock ms per step of `stepper` over `reps` steps after one warm-up step (its log flushed
 * after). Under 'fastest' the kernel families are timed on the warm-up step's convolutions
 * (reported through `tuned`) and a second warm-up step builds the chosen kernels.
 */
async function timeSteps(engine: Engine, stepper: Search | FinalTraining, x: Float32Array, y: Int32Array, reps: number, tuned: (t: ConvTiming[]) => void): Promise<number> {
  stepper.x.write(x);
  stepper.run(y);
  const { timings } = await tuneConvsTimed(engine, (line) => process.stderr.write(`${line}\n`));
  if (timings.length > 0) {
    tuned(timings);
    stepper.run(y);
  }
  await engine.sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) stepper.run(y);
  await engine.sync();
  const ms = (performance.now() - t0) / reps;
  await stepper.flush();
  return ms;
}

export async function kernelsCommand(v: Values): Promise<KernelTiming[]> {
  const cfg = runConfig(v, {}, false);
  const reps = num(v, 'reps', 3, posInt, 'a positive integer');
  const families = familiesOption(v.families);
  const tuningFile = typeof v['tuning-file'] === 'string' ? v['tuning-file'] : null;
  if (tuningFile !== null && !families.includes('fastest')) throw new UsageError("--tuning-file saves the choices of 'fastest'; --families leaves it out");
  if (tuningFile !== null) checkTuningFile(tuningFile); // before minutes of timing, not after
  const range = { kMin: cfg.kMin, kMax: cfg.kMax };
  const target = resolveBudget(cfg.backbone, range, cfg.budget);
  const engine = await Engine.create({ convTuningReps: tuningReps(v) });
  const rng = new Rng(cfg.seed);
  const x = Float32Array.from({ length: sizeOf([cfg.batch, ...cfg.backbone.input]) }, () => rng.uniform(-1, 1));
  const y = Int32Array.from({ length: cfg.batch }, () => rng.int(cfg.backbone.classes));
  console.log(`effconv kernels: ${cfg.backbone.name}, batch ${cfg.batch}, adapter ${engine.adapterInfo.description || engine.adapterInfo.device}${engine.adapterInfo.isCpu ? ' (CPU: the tiled kernels are several times slower here)' : ''}; ${reps} timed steps each after a warm-up step`);
  const rows: KernelTiming[] = [];
  const tunings: ConvTiming[] = [];
  for (const kernels of families) {
    engine.convVariant = kernels;
    const timed = async (make: () => Search | FinalTraining): Promise<number | string> => {
      try {
        return await timeSteps(engine, make(), x, y, reps, (t) => tunings.push(...t));
      } catch (e) {
        if (e instanceof RangeError || e instanceof ShapeError) return e.message; // a family that cannot run this backbone
        throw e;
      }
    };
    const logEvery = reps + 2; // every step's row (two warm-up steps under fastest) fits the log until the flush
    process.stderr.write(`timing ${kernels}…\n`);
    const searchMs = await timed(() => new Search(engine, cfg.backbone, { ...range, target, lambda: cfg.lambda, lossKind: cfg.lossKind, batch: cfg.batch, lr: cfg.searchLr, seed: cfg.seed, logEvery }));
    const finalMs = await timed(() => new FinalTraining(engine, cfg.backbone, cfg.backbone.layers.map(() => 3), { batch: cfg.batch, lr: cfg.lr, steps: reps + 2, seed: cfg.seed, logEvery }));
    rows.push({ kernels, searchMs, finalMs });
  }
  // a save that fails (the folder removed meanwhile, no permission) is reported after the tables, which it must not lose
  let saveError: Error | null = null;
  if (tuningFile !== null) {
    try {
      saveConvTuning(engine, tuningFile);
    } catch (e) {
      saveError = e as Error;
    }
  }
  const autoRules = engine.convAutoRules;
  engine.destroy();
  const cell = (ms: number | string) => (typeof ms === 'number' ? `${ms.toFixed(1)} (${((1000 * cfg.batch) / ms).toFixed(0)} images/s)` : `cannot run: ${ms}`);
  console.log('\n| --conv-kernels | search step, ms | final-training step (3×3), ms |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.kernels} | ${cell(r.searchMs)} | ${cell(r.finalMs)} |`);
  if (tunings.length > 0) {
    // a family's passes as timed (median ms each), then their sum
    const cellMs = (t: ConvTiming, family: ConvFamily) => {
      const ms = t.ms[family];
      if (typeof ms !== 'number') return ms ?? '';
      const passes = t.passes.map((pass) => t.passMs[family]![pass]!.toFixed(2));
      return passes.length > 1 ? `${passes.join(' + ')} = ${ms.toFixed(2)}` : ms.toFixed(2);
    };
    // the subgroup weight-gradient kernels timed beside those 'auto''s rules picked
    const otherWeightKernels = (t: ConvTiming) =>
      Object.entries(t.weightKernelMs ?? {})
        .filter((e): e is [string, number] => typeof e[1] === 'number')
        .map(([kernel, ms]) => `${kernel} ${ms.toFixed(2)}`)
        .join(', ');
    // the tiled kernels' 8 × 8 block, at the passes where their 4 × 4 one came near the fastest ("–": not timed there)
    const tile8 = (t: ConvTiming) => {
      const ms = t.tileMs?.['8x8'];
      if (!ms) return '';
      const cells = t.passes.map((pass) => (typeof ms[pass] === 'number' ? (ms[pass] as number).toFixed(2) : '–'));
      return cells.every((c) => c === '–') ? '' : cells.join(' + ');
    };
    // 'auto' with the other Winograd setting than its rule's: "with 1.20 + – + without 3.40" ("–": both can run there only one way)
    const otherWinograd = (t: ConvTiming) => {
      const ms = t.winogradMs;
      if (!ms) return '';
      return t.passes.map((pass) => (ms[pass] ? `${ms[pass]!.winograd ? 'with' : 'without'} ${ms[pass]!.ms.toFixed(2)}` : '–')).join(' + ');
    };
    console.log(`\n'fastest': each convolution's passes timed on each family (median ms: forward + input gradient + weight gradient, those its step computes), the fastest kept for each pass${autoRules === 'gpu' ? " — its 'auto' is the family of the subgroup kernels (else plain), while the --conv-kernels auto row above follows the GPU rules (tiled kernels, on their 8 × 8 block where GPU_TILE_RULE takes a pass, Winograd where WINOGRAD_GPU_RULE does)" : ''}\n`);
    console.log("| convolution | auto | plain | tiled | tiled, 8 × 8 block | auto's other weight-gradient kernels | auto with / without the Winograd kernels, against its rule | chosen |\n|---|---|---|---|---|---|---|---|");
    for (const t of tunings) console.log(`| ${t.key} | ${cellMs(t, 'auto')} (${t.autoKernels}) | ${cellMs(t, 'plain')} | ${cellMs(t, 'tiled')} | ${tile8(t)} | ${otherWeightKernels(t)} | ${otherWinograd(t)} | ${describeChoice(t.chosen)} |`);
    if (tuningFile !== null && !saveError) console.log(`\nthese choices are saved in ${tuningFile} (--conv-kernels fastest --tuning-file ${tuningFile} takes them)`);
  }
  const total = (r: KernelTiming) => (typeof r.searchMs === 'number' && typeof r.finalMs === 'number' ? r.searchMs + r.finalMs : Infinity);
  // where 'fastest' kept 'auto' everywhere it runs auto's kernels (under the CPU rules, where the
  // family and the rules are one): any gap between the two rows is noise
  const sameAsAuto = autoRules !== 'gpu' && tunings.length > 0 && tunings.every((t) => describeChoice(t.chosen) === 'auto') && families.includes('auto');
  const best = rows.filter((r) => !(sameAsAuto && r.kernels === 'fastest')).reduce((a, b) => (total(b) < total(a) ? b : a));
  console.log(`\nfastest here (search + final step): --conv-kernels ${best.kernels}${sameAsAuto ? " ('fastest' chose auto for every convolution)" : ''}`);
  if (saveError) throw new Error(`the choices above could not be saved to ${tuningFile}: ${saveError.message}`);
  return rows;
}
