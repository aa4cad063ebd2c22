/**
 * tuneConvs: what conv2d's variant 'fastest' runs. Each convolution met under 'fastest' since the
 * last call is timed on every kernel family that can run it — its forward and each gradient its
 * training step computes, pass by pass, on random data of its shapes, after a warm-up, the
 * families of a pass in turns — and each pass keeps the family fastest at it (a benchmark mode
 * like cuDNN's, which also chooses the forward, backward-data and backward-filter algorithms
 * apart); the weight gradient may also keep another of 'auto''s subgroup kernels than its rules
 * pick, the tiled kernels their other block (Conv2dOptions.tile) where their default one came
 * near the fastest on its warm-up, and a pass on 'auto' the other Winograd setting than
 * WINOGRAD_RULE's where both can run (Conv2dOptions.winograd). Steps after the call run the chosen kernels; steps before it run 'auto'. Call it between steps (outside any tidy scope): runStage
 * does after a step that met new convolutions, `effconv kernels` after its warm-up step.
 */
import type { Engine } from '../gpu/engine.js';
import { ShapeError } from '../gpu/errors.js';
import { Rng } from '../random.js';
import { sizeOf, Tensor } from '../tensor.js';
import { allPasses, CONV_PASSES, convChoices, describeChoice, pendingConvCount, type ConvChoice, type ConvFamily, type ConvPass, type PendingConv } from './conv_choices.js';
import { AUTO_FAMILY, conv2dKernels, hardSize, TILED_TILES, type Conv2dOptions, type TiledTile } from './conv2d.js';
import { SUBGROUP_WEIGHT_KERNELS, type SubgroupWeightKernel } from './conv2d_subgroup_rules.js';

/** The families timed, in order of preference on a tie. */
export const TUNED_FAMILIES: readonly ConvFamily[] = ['auto', 'plain', 'tiled'];

/** A candidate that takes this many times the best at a pass, on its warm-up or first timed run, is not run at that pass again. */
const ABANDON_RATIO = 2;

export interface ConvTiming {
  /** The convolution: shapes, options and the gradients timed (the key its choice is kept under). */
  key: string;
  /** The family of each pass (a pass not timed — no gradient wanted — takes the forward's). */
  chosen: ConvChoice;
  /** What 'auto' ran here: the subgroup kernels or the plain ones. */
  autoKernels: 'subgroups' | 'plain';
  /** The passes timed: the forward, and the gradients the convolution's inputs need. */
  passes: ConvPass[];
  /**
   * The sum of each family's passes' median ms, or why it was not timed (it cannot run this
   * convolution, or runs the same kernels as 'auto').
   */
  ms: Partial<Record<ConvFamily, number | string>>;
  /** Each family's median ms per pass (one run's where the family was dropped as clearly slower at it). */
  passMs: Partial<Record<ConvFamily, Partial<Record<ConvPass, number>>>>;
  /**
   * Where the weight gradient can run 'auto''s subgroup kernels: the median ms of each of them
   * its rules did not pick (or why it was not timed: it runs the same kernels as another).
   */
  weightKernelMs?: Partial<Record<SubgroupWeightKernel, number | string>>;
  /**
   * Where the tiled kernels ran: each other block than their default '4x4' (Conv2dOptions.tile),
   * its median ms per pass — or why it was not timed at that pass (the default block's warm-up
   * took more than ABANDON_RATIO times the fastest there, or the pass runs no tiled kernel).
   */
  tileMs?: Partial<Record<TiledTile, Partial<Record<ConvPass, number | string>>>>;
  /**
   * Where 'auto' can run a pass with and without the Winograd kernels (a fixed 3 × 3 or 5 × 5
   * window, Conv2dOptions.winograd 'auto'): at each such pass, the median ms of the setting
   * WINOGRAD_RULE did not pick (true: with them, false: without).
   */
  winogradMs?: Partial<Record<ConvPass, { winograd: boolean; ms: number }>>;
}

export interface TuneOptions {
  /** Timed runs per candidate after the warm-up (their median counts); default engine.convTuningReps (3). */
  reps?: number;
  /**
   * 'gpu': the GPU time of the passes from timestamp queries (default where the adapter has
   * 'timestamp-query'); 'wall': the wall clock from encoding to the GPU's finish (the default
   * elsewhere; it counts the CPU's encoding too).
   */
  clock?: 'gpu' | 'wall';
  /**
   * Times one run of a family's pass in ms, instead of `clock` (for tests); `weightKernel`, `tile`
   * where one is forced, `winograd` where the pass's Winograd setting is the other than 'auto''s.
   */
  measure?: (family: ConvFamily, run: () => void, pass: ConvPass, weightKernel?: SubgroupWeightKernel, tile?: TiledTile, winograd?: boolean) => Promise<number>;
}

/** The GPU time of the work `run` encodes and submits, in ms. */
async function gpuClock(engine: Engine, run: () => void): Promise<number> {
  engine.beginTiming(256);
  run();
  return engine.endTiming();
}

/** The wall-clock time from encoding the work `run` submits to its finish on the GPU, in ms. */
async function wallClock(engine: Engine, run: () => void): Promise<number> {
  await engine.sync();
  const t0 = performance.now();
  run();
  await engine.sync();
  return performance.now() - t0;
}

/** The window size a soft-size convolution ran at when it was met (its soft size's copy read back: tuning runs between steps). */
async function timedSize(conv: PendingConv): Promise<number> {
  const v = conv.softSize instanceof Tensor ? (await conv.softSize.toFloat32())[0]! : (conv.softSize as number);
  return hardSize(v, conv.kMin, conv.wShape[2]!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Times the pending convolutions and keeps each one's fastest kernels per pass; returns what was measured. */
export async function tuneConvs(engine: Engine, options: TuneOptions = {}): Promise<ConvTiming[]> {
  const reps = options.reps ?? engine.convTuningReps;
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`tuneConvs: reps must be a positive integer, got ${reps}`);
  if (engine.scopeDepth > 0) throw new Error('tuneConvs: call it between steps, not inside a tidy scope');
  const clock = options.clock ?? (engine.canTime ? 'gpu' : 'wall');
  if (clock !== 'gpu' && clock !== 'wall') throw new RangeError(`tuneConvs: clock must be 'gpu' or 'wall', got ${String(clock)}`);
  if (clock === 'gpu' && !engine.canTime) throw new RangeError("tuneConvs: clock 'gpu' needs the adapter's 'timestamp-query' feature; use clock 'wall'");
  const measure = options.measure ?? ((_family: ConvFamily, run: () => void) => (clock === 'gpu' ? gpuClock : wallClock)(engine, run));
  // the wall clock would count the warm-up's pipeline compilation
  const screensByWarmUp = options.measure !== undefined || clock === 'gpu';
  const choices = convChoices(engine);
  const { pending, chosen, listeners } = choices;
  const timings: ConvTiming[] = [];
  for (const conv of [...pending.values()]) {
    pending.delete(conv.key);
    try {
      const timing = await timeFamilies(engine, conv, reps, measure, screensByWarmUp);
      chosen.set(conv.key, timing.chosen);
      choices.version++;
      timings.push(timing);
    } finally {
      if (conv.softSize instanceof Tensor) conv.softSize.dispose();
    }
  }
  if (timings.length > 0) for (const listener of listeners) listener();
  return timings;
}

/**
 * Kernels timed by tuneConvs: a family, 'auto' with a subgroup weight-gradient kernel forced
 * (weight pass only), or 'tiled' with another block (tile), raced at a pass only where the
 * candidate it comes `after` (the default block) came within ABANDON_RATIO of the fastest warm-up.
 */
interface Candidate {
  family: ConvFamily;
  weightKernel?: SubgroupWeightKernel;
  tile?: TiledTile;
  /** 'auto' with the Winograd setting WINOGRAD_RULE did not pick, at the passes in `passes`. */
  winograd?: boolean;
  after?: Candidate;
  kernels: ReturnType<typeof conv2dKernels>;
  passes: ConvPass[];
}

/**
 * The median ms of one pass on each candidate raced. Each is warmed up first (pipelines built,
 * buffers pooled); where the warm-up's time counts (screensByWarmUp), one more than ABANDON_RATIO
 * times the best warm-up is not run again, and a candidate that comes `after` it is not run at all
 * (left out of the result). The others then take turns, one timed run each per round — so a host
 * that slows for a while slows them alike instead of whichever ran then — and after the first
 * round one more than ABANDON_RATIO times that round's best drops out.
 */
async function raceCandidates(
  candidates: Candidate[],
  pass: ConvPass,
  run: (c: Candidate) => void,
  reps: number,
  measure: NonNullable<TuneOptions['measure']>,
  screensByWarmUp: boolean,
): Promise<Map<Candidate, number>> {
  const timeOnce = (c: Candidate) => measure(c.family, () => run(c), pass, c.weightKernel, c.tile, c.winograd);
  const runs = new Map<Candidate, number[]>();
  const warmUps = new Map<Candidate, number>();
  const leaders = candidates.filter((c) => !c.after);
  for (const c of leaders) warmUps.set(c, await timeOnce(c));
  const near = (c: Candidate) => !screensByWarmUp || warmUps.get(c)! <= ABANDON_RATIO * Math.min(...warmUps.values());
  const racing = [...leaders, ...candidates.filter((c) => c.after && near(c.after))];
  for (const c of racing) if (!warmUps.has(c)) warmUps.set(c, await timeOnce(c));
  const bestWarmUp = Math.min(...warmUps.values());
  let left = racing.filter((c) => {
    const dropped = screensByWarmUp && warmUps.get(c)! > ABANDON_RATIO * bestWarmUp;
    runs.set(c, dropped ? [warmUps.get(c)!] : []);
    return !dropped;
  });
  for (let r = 0; r < reps; r++) {
    for (const c of left) runs.get(c)!.push(await timeOnce(c));
    if (r === 0) {
      const bestFirst = Math.min(...left.map((c) => runs.get(c)![0]!));
      left = left.filter((c) => runs.get(c)![0]! <= ABANDON_RATIO * bestFirst);
    }
  }
  return new Map(racing.map((c) => [c, median(runs.get(c)!)]));
}

async function timeFamilies(engine: Engine, conv: PendingConv, reps: number, measure: NonNullable<TuneOptions['measure']>, screensByWarmUp: boolean): Promise<ConvTiming> {
  const rng = new Rng(1);
  const random = (shape: readonly number[]) => Tensor.from(engine, Float32Array.from({ length: sizeOf(shape) }, () => rng.uniform(-1, 1)), shape);
  const opts: Conv2dOptions = {
    size: conv.size,
    kMin: conv.kMin,
    stride: conv.stride,
    padding: conv.size === 'fromSoftSize' ? 'same' : conv.padding,
    weightGradient: conv.weightKernel,
    winograd: conv.winograd,
    ...(conv.tile === undefined ? {} : { tile: conv.tile }),
    ...(conv.softSize === null ? {} : { softSize: conv.softSize }),
  };
  const x = random(conv.xShape);
  const w = random(conv.wShape);
  const auto = conv2dKernels(x, w, { ...opts, variant: 'auto', [AUTO_FAMILY]: true });
  const g = random(auto.outShape);
  try {
    return await raceFamilies(conv, opts, { x, w, g, auto }, reps, measure, screensByWarmUp);
  } finally {
    for (const t of [x, w, g]) t.dispose();
  }
}

/** timeFamilies on its random x, w and upstream gradient g; `auto` the convolution's kernels on 'auto'. */
async function raceFamilies(
  conv: PendingConv,
  opts: Conv2dOptions,
  { x, w, g, auto }: { x: Tensor; w: Tensor; g: Tensor; auto: ReturnType<typeof conv2dKernels> },
  reps: number,
  measure: NonNullable<TuneOptions['measure']>,
  screensByWarmUp: boolean,
): Promise<ConvTiming> {
  const engine = x.engine;
  const autoKernels = auto.kernels === 'subgroups' ? 'subgroups' : 'plain';
  const passes: ConvPass[] = ['forward', ...(conv.gradients.input ? ['input' as const] : []), ...(conv.gradients.weight ? ['weight' as const] : [])];
  const ms: ConvTiming['ms'] = {};
  const weightKernelMs: NonNullable<ConvTiming['weightKernelMs']> = {};
  // what is timed: each family that can run the convolution, at every pass, and 'auto' with each
  // subgroup weight-gradient kernel its rules did not pick (unless the call named one), at the weight pass
  const candidates: Candidate[] = [];
  for (const family of TUNED_FAMILIES) {
    if (family === 'plain' && autoKernels === 'plain') {
      ms.plain = "the same kernels as 'auto'";
      continue;
    }
    try {
      candidates.push({ family, kernels: family === 'auto' ? auto : conv2dKernels(x, w, { ...opts, variant: family }), passes });
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof ShapeError)) throw e;
      ms[family] = `cannot run it: ${e.message}`;
    }
  }
  if (conv.gradients.weight && conv.weightKernel === 'auto' && auto.weightKernels.length > 0) {
    // what runs: under a soft size only the window it selects does work (the other sizes'
    // dispatches return at once), so kernels that differ at other sizes only are not timed apart
    const sizeIndex = conv.size === 'fromSoftSize' ? ((await timedSize(conv)) - conv.kMin) >> 1 : null;
    const runs = (k: ReturnType<typeof conv2dKernels>) => (sizeIndex === null ? k.weightKernels.join() : k.weightKernels[sizeIndex]!);
    const seen = [runs(auto)];
    for (const weightKernel of SUBGROUP_WEIGHT_KERNELS) {
      const kernels = conv2dKernels(x, w, { ...opts, variant: 'auto', [AUTO_FAMILY]: true, weightGradient: weightKernel });
      if (seen.includes(runs(kernels))) weightKernelMs[weightKernel] = runs(kernels) === seen[0] ? "the same kernels as 'auto'" : 'the same kernels as another';
      else candidates.push({ family: 'auto', weightKernel, kernels, passes: ['weight'] });
      seen.push(runs(kernels));
    }
  }
  // the tiled kernels' other blocks (unless the call named one): raced at a pass only where the
  // default block's warm-up came near the fastest — on a CPU adapter, where it is far behind, not at all
  const tiled = candidates.find((c) => c.family === 'tiled');
  const tileMs: NonNullable<ConvTiming['tileMs']> = {};
  if (tiled && conv.tile === undefined) {
    for (const tile of TILED_TILES.filter((t) => t !== '4x4')) {
      candidates.push({ family: 'tiled', tile, after: tiled, kernels: conv2dKernels(x, w, { ...opts, variant: 'tiled', tile }), passes });
      tileMs[tile] = {};
    }
  }
  // 'auto' with the other Winograd setting than its rule's, at each pass where both can run (the
  // call left it to 'auto'): on a device other than the one WINOGRAD_RULE was measured on, the
  // rule may be wrong either way
  if (conv.winograd === 'auto' && autoKernels === 'subgroups') {
    for (const winograd of [true, false]) {
      let kernels: ReturnType<typeof conv2dKernels>;
      try {
        kernels = conv2dKernels(x, w, { ...opts, variant: 'auto', [AUTO_FAMILY]: true, winograd });
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        continue; // winograd: true cannot run this convolution
      }
      const differs = passes.filter((pass) => kernels.winograd[pass] !== auto.winograd[pass]);
      if (differs.length > 0) candidates.push({ family: 'auto', winograd, kernels, passes: differs });
    }
  }
  const times = new Map<Candidate, Partial<Record<ConvPass, number>>>(candidates.map((c) => [c, {}]));
  const best: Partial<Record<ConvPass, Candidate>> = {};
  const fastest = (raced: Candidate[], result: Map<Candidate, number>) => raced.reduce((a, b) => (result.get(b)! < result.get(a)! ? b : a));
  for (const pass of passes) {
    // (a tiled block is raced where the pass runs tiled kernels: a strided input gradient is the plain kernel on any block)
    const racing = candidates.filter((c) => c.passes.includes(pass) && (!c.tile || c.kernels.tiles[pass] !== undefined));
    const run = (c: Candidate) => {
      // the pass, submitted (not in a tidy scope: leaving the outermost one would drop an
      // autograd tape the caller has not run backward on)
      const k = c.kernels;
      (pass === 'forward' ? k.forward() : pass === 'input' ? k.backwardInput(g) : k.backwardWeight(g)).dispose();
      engine.flush();
    };
    const result = await raceCandidates(racing, pass, run, reps, measure, screensByWarmUp);
    for (const [c, t] of result) times.get(c)![pass] = t;
    for (const c of candidates) {
      if (!c.tile || !c.passes.includes(pass) || result.has(c)) continue;
      tileMs[c.tile]![pass] = racing.includes(c) ? `not timed: the 4x4 block took more than ${ABANDON_RATIO}× the fastest on its warm-up` : 'the same kernels as the 4x4 block (no tiled kernel at this pass)';
    }
    // the least time; a tie goes to the candidate timed first ('auto' and its rules)
    best[pass] = fastest([...result.keys()], result);
  }
  const passMs: ConvTiming['passMs'] = {};
  const winogradMs: NonNullable<ConvTiming['winogradMs']> = {};
  for (const c of candidates) {
    const t = times.get(c)!;
    if (c.winograd !== undefined) for (const pass of c.passes) winogradMs[pass] = { winograd: c.winograd, ms: t[pass]! };
    else if (c.weightKernel) weightKernelMs[c.weightKernel] = t.weight!;
    else if (c.tile) for (const pass of passes) tileMs[c.tile]![pass] ??= t[pass]!;
    else {
      passMs[c.family] = t;
      ms[c.family] = passes.reduce((sum, pass) => sum + t[pass]!, 0);
    }
  }
  const forward = best.forward?.family ?? 'auto';
  const tiles: NonNullable<ConvChoice['tiles']> = {};
  for (const pass of passes) if (best[pass]?.tile) tiles[pass] = best[pass]!.tile;
  // a pass not timed (no gradient wanted) takes the forward's family, and so its block
  for (const pass of CONV_PASSES) if (!passes.includes(pass) && tiles.forward) tiles[pass] = tiles.forward;
  const winograd: NonNullable<ConvChoice['winograd']> = {};
  for (const pass of passes) if (best[pass]?.winograd !== undefined) winograd[pass] = best[pass]!.winograd!;
  const chosen: ConvChoice = {
    ...allPasses(forward),
    ...(best.input ? { input: best.input.family } : {}),
    ...(best.weight ? { weight: best.weight.family, ...(best.weight.weightKernel ? { weightKernel: best.weight.weightKernel } : {}) } : {}),
    ...(Object.keys(tiles).length > 0 ? { tiles } : {}),
    ...(Object.keys(winograd).length > 0 ? { winograd } : {}),
  };
  return {
    key: conv.key,
    chosen,
    autoKernels,
    passes,
    ms,
    passMs,
    ...(Object.keys(weightKernelMs).length > 0 ? { weightKernelMs } : {}),
    ...(Object.keys(tileMs).length > 0 ? { tileMs } : {}),
    ...(Object.keys(winogradMs).length > 0 ? { winogradMs } : {}),
  };
}

/**
 * tuneConvs with its defaults, and how long it took: what runStage, accuracy() and `effconv
 * kernels` run after a step or batch. `say` hears what is about to be timed (it takes a while on a
 * CPU adapter), then what was chosen (describeTuning); with nothing pending it does nothing.
 */
export async function tuneConvsTimed(engine: Engine, say: (line: string) => void = () => {}): Promise<{ timings: ConvTiming[]; seconds: number }> {
  const n = pendingConvCount(engine);
  if (n === 0) return { timings: [], seconds: 0 }; // nothing met since the last tuning: nothing to say
  const reps = engine.convTuningReps;
  say(`timing ${TUNED_FAMILIES.join(', ')} on ${n} convolution${n === 1 ? '' : 's'} (${reps} run${reps === 1 ? '' : 's'} each after a warm-up)…`);
  const start = performance.now();
  const timings = await tuneConvs(engine);
  const seconds = (performance.now() - start) / 1000;
  say(describeTuning(timings, seconds));
  return { timings, seconds };
}

/**
 * One line on what tuneConvs chose, e.g. "3 convolutions timed in 1.2 s, fastest kernels: auto 2,
 * (forward auto, input gradient auto, weight gradient tiled) 1".
 */
export function describeTuning(timings: readonly ConvTiming[], seconds: number): string {
  const counts = new Map<string, number>();
  for (const t of timings) counts.set(describeChoice(t.chosen), (counts.get(describeChoice(t.chosen)) ?? 0) + 1);
  const chosen = [...counts].map(([what, n]) => `${what.includes(',') ? `(${what})` : what} ${n}`).join(', ');
  return `${timings.length} convolution${timings.length === 1 ? '' : 's'} timed in ${seconds.toFixed(1)} s, fastest kernels: ${chosen}`;
}
