/**
 * `npm run bench`: device FMA peak, the kernels, end-to-end training steps, and the peer (TF.js
 * WebGPU on the same Dawn instance) side by side. Prints markdown tables and writes the same as
 * JSON (adapter, host CPU, date, commit) to bench/results/.
 *
 *   node dist/bench/main.js [--only peak,loads,conv,tiled,masked,matmul,gru,mask,bn,e2e] [--reps 5] [--no-peer] [--profile]
 *                           [--conv-kernels auto|plain|subgroups|tiled|fastest] [--out FILE]
 *
 * Every section runs by default, except `tiled` (conv2d's workgroup-tiled GPU kernels against
 * 'auto') on a CPU adapter, where those kernels are several times slower than 'auto' and only
 * lengthen the run: ask for it with --only there. --conv-kernels (default auto) is the conv2d
 * variant of the conv, masked and e2e sections; with `fastest` each of their convolutions is first
 * timed on every family (tuneConvs) and runs on the fastest, which the conv table names per row.
 *
 * FLOP formulas (stated once, used for every GFLOP/s figure):
 *   conv (each of forward, backward-input, backward-weight)  2·N·Ho·Wo·Cin·Cout·s²
 *     — the direct sums' count, also for a pass the Winograd kernels compute with a quarter of
 *     the multiply-adds (an effective rate, as vendor libraries report theirs; the conv table's
 *     kernels column names those passes)
 *   matmul M×K by K×N                                         2·M·N·K
 *   GRU cell forward (the two affine maps)                    2·B·(I + H)·3H;  backward 2× that
 *   FMA peak                                                  invocations · iterations · 64
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { AUTO_FAMILY, backward, batchNorm2d, batchNormState, conv2dKernels, Engine, fmaPeak, fmaPeakFlops, gaussianMask, LOAD_SOURCES, LoadCost, STORAGE_ELEMENTS, gruCell, gruCellParams, gruLayer, hardSize, reshape, slice, stack, matmul, parameter, sum, Tensor, type ConvVariant, type Engine as EngineT, type TiledTile } from '../src/index.js';
import { Rng } from '../src/random.js';
import { PACED_POLLING } from '../src/gpu/dawn_polling.js';
import { PRESETS } from '../src/effconv/spec.js';
import { Search } from '../src/effconv/search.js';
import { FinalTraining } from '../src/effconv/final_training.js';
import { resolveBudget } from '../src/effconv/budget.js';
import { tuneConvs } from '../src/ops/conv_tuning.js';
import { bnReduction, bnReductionOverride, bnWalkLanes, bnWalkLanesOverride } from '../src/ops/batch_norm.js';
import { describeHostCpu, hostCpu } from '../src/host_cpu.js';
import { loadTfjs, timeTf, type Tf, type TfTensor } from './peer_tfjs.js';
import { checkTargets, peerRatios, type ConvRow } from './targets.js';
import { BENCH_USAGE, commandLine, parseBenchOptions, SECTIONS, type BenchOptions } from './options.js';
import { findPeak, measurePeak, perPass, repeatedPass, summarise, timeGpu, type Timing } from './timing.js';
import { CONV_ROWS, convFlops, convShapeName, type ConvShape } from './conv_rows.js';

const options: BenchOptions = commandLine('bench', parseBenchOptions, BENCH_USAGE);
const { reps, convKernels, repeat } = options;
/** --repeat: a conv pass run `repeat` times back to back in one timed run, and its Timing per pass. */
const repeated = (f: () => void) => repeatedPass(f, repeat);
const onePass = (t: Timing): Timing => perPass(t, repeat);
const requested = options.only;
const engine = await Engine.create({ convVariant: convKernels });
const only = new Set<string>(requested ?? SECTIONS.filter((s) => s !== 'tiled' || !engine.adapterInfo.isCpu));
const rng = new Rng(0);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
const gf = (flops: number, ms: number) => flops / (ms * 1e6);
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const pct = (g: number) => (peakGflops ? `${((100 * g) / peakGflops).toFixed(1)} %` : '–');
const report: Record<string, unknown> = {};
const lines: string[] = [];
const out = (s = '') => {
  console.log(s);
  lines.push(s);
};

let tf: Tf | null = null;
if (options.peer && (only.has('conv') || only.has('e2e'))) {
  try {
    tf = await loadTfjs();
  } catch (e) {
    console.error(`peer unavailable: ${(e as Error).message}`);
  }
}

const adapter = engine.adapterInfo;
// EFFCONV_COMMIT: where the tree has no .git (the GPU check's copy, see scripts/gpu_check.sh)
const commit = process.env.EFFCONV_COMMIT ?? (() => {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
})();
out(`# effconv bench — ${adapter.description || adapter.device} (${adapter.isCpu ? 'CPU adapter' : 'GPU'}), ${new Date().toISOString().slice(0, 10)}, commit ${commit}`);
const cpu = hostCpu();
out(`Host CPU: ${describeHostCpu(cpu)}${adapter.isCpu ? ' (the CPU adapter runs on it)' : ''}.`);
out(`Timing: ${engine.canTime ? 'GPU timestamp queries' : 'wall clock around queue completion'}; a warm-up run (conv rows: on a batch of 2, then once at full size, untimed), then ${reps} repetitions, median (min–max)${repeat > 1 ? `; each timed run of a conv pass encodes ${repeat} passes back to back (--repeat), times per pass, the peer's alike` : ''}. Peer: ${tf ? `TF.js ${tf.version.tfjs} WebGPU on the same Dawn instance` : 'not run'}. Waiting for the device: ${engine.pacesPolling ? `${PACED_POLLING}${tf ? ', for the peer too' : ''}` : "Dawn's default polling"}.`);

// ---- device peak ----
let peakGflops = 0;
/** The peak kernel's shape, kept to measure it again at the end of the run (see 'host drift'). */
let peakShape: { n: number; iters: number } | null = null;
if (only.has('peak') || only.size > 0) {
  const m = await findPeak(engine, reps);
  const { n, iters } = m;
  peakGflops = m.gflops;
  peakShape = { n, iters };
  // the same rounds one per loop iteration: what a loop's per-iteration cost leaves of the peak
  const single = await measurePeak(engine, n, iters, reps, 1);
  report.peak = { gflops: peakGflops, invocations: n, iterations: iters, timing: m.timing, oneRoundPerIteration: single };
  out(`\n## Device FMA peak\n\n${f2(peakGflops)} GFLOP/s fp32 (WGSL, ${n} invocations × ${iters} rounds of 8 vec4 FMA chains, 4 rounds per loop iteration, best of ${reps}); every "% peak" below is relative to this. One round per loop iteration: ${f2(single.gflops)} GFLOP/s (${pct(single.gflops)}).`);
}

// ---- per-invocation loads ----
// What a load whose address differs per invocation costs, by where it reads from, over the same
// loop without loads: on lavapipe it is issued lane by lane, which is what limits the convolutions.
if (only.has('loads')) {
  const n = 1 << 14;
  const iters = 1024;
  const loads = new LoadCost(engine, rand(4 * STORAGE_ELEMENTS));
  const what = { storage4: 'vec4 from a storage buffer', storage1: 'f32 from a storage buffer', uniform4: 'vec4 from a uniform buffer', workgroup4: 'vec4 from workgroup memory', none: 'the loop without loads' };
  const rows: Record<string, Timing> = {};
  for (const source of LOAD_SOURCES) rows[source] = await timeGpu(engine, () => void loads.run(source, n, iters), reps);
  loads.dispose();
  report.loads = { invocations: n, loadsPerInvocation: iters, timing: rows };
  out(`\n## Loads (${n} invocations × ${iters} loads at addresses that differ per invocation)\n`);
  out('| source | ms | G loads/s | ns per load over the loop |');
  out('|---|---|---|---|');
  const loop = rows.none!.medianMs;
  for (const source of LOAD_SOURCES) {
    const ms = rows[source]!.medianMs;
    const extra = source === 'none' ? '' : f2(((ms - loop) * 1e6) / (n * iters));
    out(`| ${what[source]} | ${f2(ms)} | ${f2((n * iters) / (ms * 1e6))} | ${extra} |`);
  }
}

// ---- conv ----
/** "subgroups", or per pass where they differ ("fwd subgroups, dx plain, dw tiled"), with " (dw taps)" where the weight kernel is not auto's. */
function kernelsLabel(k: ReturnType<typeof conv2dKernels>, autoWeightKernels: string[]): string {
  const families = k.passes.input === k.kernels && k.passes.weight === k.kernels ? k.kernels : `fwd ${k.kernels}, dx ${k.passes.input}, dw ${k.passes.weight}`;
  const own = k.weightKernels.join() !== autoWeightKernels.join() && k.weightKernels.length > 0;
  const label = own ? `${families} (dw ${[...new Set(k.weightKernels)].join('/')})` : families;
  const winograd = (['forward', 'input', 'weight'] as const).filter((pass) => k.winograd[pass]).map((pass) => ({ forward: 'fwd', input: 'dx', weight: 'dw' })[pass]);
  return winograd.length > 0 ? `${label}, Winograd ${winograd.join('/')}` : label;
}

/**
 * A conv of shape c (window s on a kw grid, optionally masked by a soft size) ready to time, on
 * `variant` (default the bench's --conv-kernels; under 'fastest' first timed on every family).
 */
async function effconvPasses(c: ConvShape, s: number, kw = s, softSize?: number, variant: ConvVariant = engine.convVariant, tile?: TiledTile, perRun = repeat) {
  const x = parameter(engine, rand(c.N * c.Cin * c.HW * c.HW), [c.N, c.Cin, c.HW, c.HW]);
  const w = parameter(engine, rand(c.Cout * c.Cin * kw * kw), [c.Cout, c.Cin, kw, kw]);
  const v = softSize === undefined ? undefined : Tensor.from(engine, [softSize], [1]);
  const plan = () => conv2dKernels(x, w, { size: s, variant, ...(v ? { softSize: v } : {}), ...(tile ? { tile } : {}) });
  let k = plan();
  if ((await tuneConvs(engine)).length > 0) k = plan(); // now on the kernels timed fastest
  const g = Tensor.from(engine, rand(c.N * c.Cout * c.HW * c.HW), k.outShape);
  return {
    /** The kernels that run it: subgroups, plain or tiled (per pass where 'fastest' chose them apart, and the subgroup weight-gradient kernel where it is not 'auto''s). */
    kernels: kernelsLabel(k, conv2dKernels(x, w, { size: s, variant: 'auto', [AUTO_FAMILY]: true, ...(v ? { softSize: v } : {}) }).weightKernels),
    fwd: repeatedPass(() => void k.forward(), perRun),
    bwdIn: repeatedPass(() => void k.backwardInput(g), perRun),
    bwdW: repeatedPass(() => void k.backwardWeight(g), perRun),
    dispose: () => {
      for (const t of [x, w, g, v]) t?.dispose();
    },
  };
}

/** The same conv (s × s, 'same') in TF.js, NHWC: forward, and forward + both gradients; null without the peer. */
function peerPasses(c: ConvShape, s: number) {
  if (!tf) return null;
  const t = tf;
  const x = t.randomNormal([c.N, c.HW, c.HW, c.Cin]);
  const f = t.randomNormal([s, s, c.Cin, c.Cout]);
  const grad = t.grads((a: TfTensor, b: TfTensor) => t.sum(t.conv2d(a, b, 1, 'same')));
  return {
    fwd: repeated(() => t.tidy(() => void t.conv2d(x, f, 1, 'same'))),
    fb: repeated(() => t.tidy(() => void grad([x, f]))),
    dispose: () => {
      x.dispose();
      f.dispose();
    },
  };
}

/** One run of each pass on a batch of 2: pipeline and shader compilation, a fraction of the time. */
async function warmUp(c: ConvShape, s: number, kw = s, softSize?: number, peer = false) {
  // 'fastest' compiles the pipelines it times, on the row's own shapes
  const e = await effconvPasses({ ...c, N: 2 }, s, kw, softSize, engine.convVariant === 'fastest' ? 'auto' : engine.convVariant);
  for (const pass of [e.fwd, e.bwdIn, e.bwdW]) await timeGpu(engine, pass, 1, undefined, 0);
  e.dispose();
  const p = peer ? peerPasses({ ...c, N: 2 }, s) : null;
  if (p && tf) for (const pass of [p.fwd, p.fb]) await timeTf(tf, pass, 1, 0);
  p?.dispose();
}

/**
 * One untimed run of each pass at the row's own size, effconv's and the peer's: warmUp compiled
 * the pipelines on a batch of 2, and this allocates the full-size buffers, whose first use would
 * otherwise land in the first timed rep — Dawn zero-fills a new buffer on its first use, on
 * lavapipe ~4 ms for a 6.4 MB output written for the first time (a 1 × 1 forward that takes 2 ms
 * once its buffers are reused; bench/HISTORY.md, stop 41).
 */
async function fullSizeRun(ours: (() => void)[], peer: (() => void)[]) {
  for (const pass of ours) await timeGpu(engine, pass, 1, undefined, 0);
  if (tf) for (const pass of peer) await timeTf(tf, pass, 1, 0);
}

/**
 * The masked section's passes, each timed run MASKED_PER_RUN passes back to back (at least
 * --repeat), per pass: they take 0.4–4 ms, and on lavapipe a dispatch of that size reads ~0.9 ms
 * more in some reps than in others (a bimodal spread that runs of single passes left in their
 * medians: the masked s = 3 row read 0.83–1.35× its plain 3 × 3 across runs 69–71; bench/HISTORY.md,
 * stop 41). The convolutions given alternate rep by rep, so a ratio between them compares the
 * same seconds.
 */
const MASKED_PER_RUN = 8;

async function maskedConvs(convs: { c: ConvShape; s: number; kw: number; softSize?: number }[]) {
  const perRun = Math.max(repeat, MASKED_PER_RUN);
  const passes = [];
  for (const { c, s, kw, softSize } of convs) {
    await warmUp(c, s, kw, softSize);
    const e = await effconvPasses(c, s, kw, softSize, engine.convVariant, undefined, perRun);
    await fullSizeRun([e.fwd, e.bwdIn, e.bwdW], []);
    passes.push(e);
  }
  const times = passes.map(() => ({ fwd: [] as Timing[], bwdIn: [] as Timing[], bwdW: [] as Timing[] }));
  for (let r = 0; r < reps; r++) {
    for (const [i, e] of passes.entries()) {
      for (const name of ['fwd', 'bwdIn', 'bwdW'] as const) times[i]![name].push(await timeGpu(engine, e[name], 1, undefined, 0));
    }
  }
  for (const e of passes) e.dispose();
  return times.map((t) => ({ fwd: perPass(combine(t.fwd), perRun), bwdIn: perPass(combine(t.bwdIn), perRun), bwdW: perPass(combine(t.bwdW), perRun), perRun }));
}

// figures the targets are judged on (bench/targets.ts)
let convRows: ConvRow[] | undefined;
let maskedOverPlain3: number | undefined;
let e2eOverPeer: number | undefined;

/** One Timing from single-rep ones (their times, and 'wall' if any of them was). */
const combine = (ts: Timing[]): Timing => summarise(ts.map((t) => t.minMs), ts.some((t) => t.method === 'wall') ? 'wall' : 'timestamp');

/**
 * One conv row, effconv and the peer interleaved rep by rep, each rep also timing the FMA peak
 * kernel (at the peak section's shape): a shared host's speed drifts within a run (README), so
 * the row's ratios — × TF.js and % of peak — compare figures taken in the same few seconds.
 */
async function convRow(c: ConvShape, k: number) {
  await warmUp(c, k, k, undefined, true);
  const e = await effconvPasses(c, k);
  const p = peerPasses(c, k);
  await fullSizeRun([e.fwd, e.bwdIn, e.bwdW], p ? [p.fwd, p.fb] : []);
  const times = { peak: [] as Timing[], fwd: [] as Timing[], bwdIn: [] as Timing[], bwdW: [] as Timing[], peerFwd: [] as Timing[], peerFb: [] as Timing[] };
  for (let r = 0; r < reps; r++) {
    if (peakShape) times.peak.push(await timeGpu(engine, () => void fmaPeak(engine, peakShape!.n, peakShape!.iters), 1, undefined, 0));
    times.fwd.push(await timeGpu(engine, e.fwd, 1, undefined, 0));
    times.bwdIn.push(await timeGpu(engine, e.bwdIn, 1, undefined, 0));
    times.bwdW.push(await timeGpu(engine, e.bwdW, 1, undefined, 0));
    if (p && tf) {
      times.peerFwd.push(await timeTf(tf, p.fwd, 1, 0));
      times.peerFb.push(await timeTf(tf, p.fb, 1, 0));
    }
  }
  e.dispose();
  p?.dispose();
  const peak = peakShape && times.peak.length ? gf(fmaPeakFlops(peakShape.n, peakShape.iters), combine(times.peak).minMs) : 0;
  return {
    kernels: e.kernels,
    peak,
    fwd: onePass(combine(times.fwd)),
    bwdIn: onePass(combine(times.bwdIn)),
    bwdW: onePass(combine(times.bwdW)),
    peer: p ? { fwd: onePass(combine(times.peerFwd)), fb: onePass(combine(times.peerFb)) } : null,
  };
}

/** A markdown table's header row and separator. */
const tableHead = (columns: string[]) => out(`| ${columns.join(' | ')} |\n|${'---|'.repeat(columns.length)}`);

if (only.has('conv')) {
  out(`\n## conv2d (unmasked, stride 1, same padding, variant "${engine.convVariant}")\n`);
  out('effconv and TF.js alternate rep by rep, and each rep also times the FMA peak kernel: "% peak" is against the best of those ("row peak"), so both ratios compare figures from the same few seconds. GFLOP/s count the direct sums (2·N·Ho·Wo·Cin·Cout·k² a pass), also where the kernels column names a pass computed by the Winograd kernels, which do a quarter of those multiply-adds.\n');
  tableHead(['shape', 'k', 'fwd ms', 'fwd GFLOP/s', 'bwd-input ms', 'bwd-input GFLOP/s', 'bwd-weight ms', 'bwd-weight GFLOP/s', 'fwd+bwd GFLOP/s', 'fwd % peak', 'fwd+bwd % peak', 'TF.js fwd GFLOP/s', 'TF.js fwd+bwd GFLOP/s', '× TF.js fwd', '× TF.js fwd+bwd', 'row peak GFLOP/s', 'kernels']);
  const rows: ConvRow[] = [];
  for (const [c, ks] of CONV_ROWS) {
    for (const k of ks) {
      const flops = convFlops(c, k);
      const e = await convRow(c, k);
      const p = e.peer;
      const fbMs = e.fwd.medianMs + e.bwdIn.medianMs + e.bwdW.medianMs;
      const row = {
        shape: convShapeName(c),
        k,
        kernels: e.kernels,
        flops,
        ...(e.peak > 0 ? { peakGflops: e.peak } : {}),
        effconv: { fwd: e.fwd, bwdInput: e.bwdIn, bwdWeight: e.bwdW, fwdGflops: gf(flops, e.fwd.medianMs), fwdBwdGflops: gf(3 * flops, fbMs) },
        peer: p ? { fwd: p.fwd, fwdBwd: p.fb, fwdGflops: gf(flops, p.fwd.medianMs), fwdBwdGflops: gf(3 * flops, p.fb.medianMs) } : null,
      };
      rows.push(row);
      const E = row.effconv;
      const ratios = peerRatios(row);
      const rowPct = (g: number) => (e.peak > 0 ? `${((100 * g) / e.peak).toFixed(1)} %` : pct(g));
      out(
        `| ${row.shape} | ${k} | ${f2(e.fwd.medianMs)} (${f2(e.fwd.minMs)}–${f2(e.fwd.maxMs)}) | ${f2(E.fwdGflops)} | ${f2(e.bwdIn.medianMs)} | ${f2(gf(flops, e.bwdIn.medianMs))} | ${f2(e.bwdW.medianMs)} | ${f2(gf(flops, e.bwdW.medianMs))} | ${f2(E.fwdBwdGflops)} | ${rowPct(E.fwdGflops)} | ${rowPct(E.fwdBwdGflops)} | ` +
          (row.peer && ratios ? `${f2(row.peer.fwdGflops)} | ${f2(row.peer.fwdBwdGflops)} | ${f2(ratios.fwd)} | ${f2(ratios.fwdBwd)} |` : '– | – | – | – |') +
          ` ${e.peak > 0 ? f2(e.peak) : '–'} | ${e.kernels} |`,
      );
    }
  }
  report.conv = rows;
  convRows = rows;
}

if (only.has('tiled')) {
  out('\n## conv2d, workgroup-tiled kernels (variant "tiled") against "auto"\n');
  out(
    'The tiled kernels run all three passes as the implicit matrix product in workgroup tiles: with their default 4 × 4 block of products per invocation (64 × 64 tiles, 16 along the sum per stage in workgroup memory) and with the 8 × 8 block (`tile: \'8x8\'`: 128 × 128 or 64 × 256 tiles, 8 per stage). Medians of the three timed in turns.\n',
  );
  tableHead([
    'shape', 'k', 'tiled fwd ms', 'tiled fwd GFLOP/s', 'tiled fwd % peak', 'tiled bwd-input ms', 'tiled bwd-weight ms', 'tiled fwd+bwd GFLOP/s', 'tiled fwd+bwd % peak',
    '8×8 fwd ms', '8×8 fwd GFLOP/s', '8×8 fwd % peak', '8×8 bwd-input ms', '8×8 bwd-weight ms', '8×8 fwd+bwd % peak',
    '"auto" fwd ms', '"auto" fwd+bwd ms', 'tiled / "auto" fwd', 'tiled / "auto" fwd+bwd', '8×8 / "auto" fwd', '8×8 / "auto" fwd+bwd',
  ]);
  const rows: unknown[] = [];
  for (const [c, ks] of CONV_ROWS) {
    for (const k of ks) {
      const flops = convFlops(c, k);
      const variants = ['tiled', 'tiled8', 'auto'] as const;
      const passes = {
        tiled: await effconvPasses(c, k, k, undefined, 'tiled'),
        tiled8: await effconvPasses(c, k, k, undefined, 'tiled', '8x8'),
        auto: await effconvPasses(c, k, k, undefined, 'auto'),
      };
      const passNames = ['fwd', 'bwdIn', 'bwdW'] as const;
      const noTimes = () => ({ fwd: [] as Timing[], bwdIn: [] as Timing[], bwdW: [] as Timing[] });
      const times = { tiled: noTimes(), tiled8: noTimes(), auto: noTimes() };
      for (const e of Object.values(passes)) for (const name of passNames) await timeGpu(engine, e[name], 1, undefined, 0); // warm-up
      for (let r = 0; r < reps; r++) {
        for (const variant of variants) {
          for (const name of passNames) times[variant][name].push(await timeGpu(engine, passes[variant][name], 1, undefined, 0));
        }
      }
      for (const e of Object.values(passes)) e.dispose();
      const medians = (v: (typeof variants)[number]) => ({ fwd: onePass(combine(times[v].fwd)), bwdIn: onePass(combine(times[v].bwdIn)), bwdW: onePass(combine(times[v].bwdW)) });
      const t = medians('tiled');
      const t8 = medians('tiled8');
      const a = medians('auto');
      const total = (v: typeof t) => v.fwd.medianMs + v.bwdIn.medianMs + v.bwdW.medianMs;
      const shape = convShapeName(c);
      rows.push({ shape, k, flops, tiled: t, tiled8x8: t8, auto: a });
      out(
        `| ${shape} | ${k} | ${f2(t.fwd.medianMs)} | ${f2(gf(flops, t.fwd.medianMs))} | ${pct(gf(flops, t.fwd.medianMs))} | ${f2(t.bwdIn.medianMs)} | ${f2(t.bwdW.medianMs)} | ${f2(gf(3 * flops, total(t)))} | ${pct(gf(3 * flops, total(t)))} | ` +
          `${f2(t8.fwd.medianMs)} | ${f2(gf(flops, t8.fwd.medianMs))} | ${pct(gf(flops, t8.fwd.medianMs))} | ${f2(t8.bwdIn.medianMs)} | ${f2(t8.bwdW.medianMs)} | ${pct(gf(3 * flops, total(t8)))} | ` +
          `${f2(a.fwd.medianMs)} | ${f2(total(a))} | ${f2(t.fwd.medianMs / a.fwd.medianMs)} | ${f2(total(t) / total(a))} | ${f2(t8.fwd.medianMs / a.fwd.medianMs)} | ${f2(total(t8) / total(a))} |`,
      );
    }
  }
  // whole fmnist-6 steps (batch 128) on each variant: the engine's convVariant, alternated rep by rep
  const { spec, search, finalOf, step, B } = await fmnistSteppers(engine);
  const final3 = finalOf(spec.layers.map(() => 3));
  const steps: Record<string, Record<'tiled' | 'auto', Timing[]>> = { search: { tiled: [], auto: [] }, final: { tiled: [], auto: [] } };
  for (let r = 0; r < reps; r++) {
    for (const variant of ['tiled', 'auto'] as const) {
      engine.convVariant = variant;
      for (const [name, s] of [['search', search], ['final', final3]] as const) steps[name]![variant].push(await step(s, 1)); // each after a warm-up step
    }
  }
  engine.convVariant = convKernels;
  out(`\nfmnist-6 steps, batch ${B}, on each variant (alternated):\n`);
  tableHead(['step', 'tiled ms', '"auto" ms', 'tiled / "auto"']);
  const stepRows: Record<string, unknown> = {};
  for (const [name, label] of [['search', 'search step (sizes from the soft sizes)'], ['final', 'final-training step, 3×3']] as const) {
    const t = combine(steps[name]!.tiled);
    const a = combine(steps[name]!.auto);
    stepRows[name] = { tiled: t, auto: a };
    out(`| ${label} | ${f2(t.medianMs)} | ${f2(a.medianMs)} | ${f2(t.medianMs / a.medianMs)} |`);
  }
  report.tiled = { rows, steps: stepRows };
}

if (only.has('masked')) {
  const c = { N: 16, HW: 16, Cin: 32, Cout: 32 };
  out(`\n## Masked conv2d, k_max = 9, N=${c.N} ${c.HW}×${c.HW} ${c.Cin}→${c.Cout} (Gaussian mask fused; GFLOP/s count the s×s window; each timed run ${Math.max(repeat, MASKED_PER_RUN)} passes back to back, times per pass; at s = 3 the plain 3×3 alternates with it rep by rep)\n`);
  out('| s | fwd ms | bwd-input ms | bwd-weight ms | fwd+bwd ms | fwd+bwd GFLOP/s | % peak | fwd ms / s² | × plain s×s (fwd+bwd) |');
  out('|---|---|---|---|---|---|---|---|---|');
  const rows: unknown[] = [];
  for (let s = 1; s <= 9; s += 2) {
    const flops = convFlops(c, s);
    const [m, plain = null] = await maskedConvs([{ c, s, kw: 9, softSize: s / 2 + 0.3 }, ...(s === 3 ? [{ c, s: 3, kw: 3 }] : [])]);
    const total = (r: typeof m) => r.fwd.medianMs + r.bwdIn.medianMs + r.bwdW.medianMs;
    rows.push({ s, masked: m, plain3: plain });
    const overPlain = plain ? total(m) / total(plain) : undefined;
    if (overPlain !== undefined) maskedOverPlain3 = overPlain;
    out(`| ${s} | ${f2(m.fwd.medianMs)} | ${f2(m.bwdIn.medianMs)} | ${f2(m.bwdW.medianMs)} | ${f2(total(m))} | ${f2(gf(3 * flops, total(m)))} | ${pct(gf(3 * flops, total(m)))} | ${(m.fwd.medianMs / (s * s)).toFixed(3)} | ${overPlain !== undefined ? f2(overPlain) : ''} |`);
  }
  report.masked = rows;
}

if (only.has('matmul')) {
  out('\n## matmul\n\n| size | ms | GFLOP/s | % peak |\n|---|---|---|---|');
  const rows: unknown[] = [];
  for (const n of [512, 2048]) {
    const a = Tensor.from(engine, rand(n * n), [n, n]);
    const b = Tensor.from(engine, rand(n * n), [n, n]);
    const t = await timeGpu(engine, () => void matmul(a, b), reps);
    const g = gf(2 * n * n * n, t.medianMs);
    rows.push({ n, timing: t, gflops: g });
    out(`| ${n}³ | ${f2(t.medianMs)} | ${f2(g)} | ${pct(g)} |`);
    a.dispose();
    b.dispose();
  }
  report.matmul = rows;
}

/** Drops the gradients a timed forward + backward left on these tensors (so the next rep starts clean). */
function clearGrads(ts: readonly Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

if (only.has('gru')) {
  out('\n## GRU cell (input size = hidden size)\n\n| batch | hidden | fwd ms | fwd GFLOP/s | fwd+bwd ms | fwd+bwd GFLOP/s |\n|---|---|---|---|---|---|');
  const rows: unknown[] = [];
  for (const B of [1, 64]) {
    for (const H of [64, 256]) {
      const p = gruCellParams(engine, rng, H, H);
      const x = parameter(engine, rand(B * H), [B, H]);
      const h = parameter(engine, rand(B * H), [B, H]);
      const flops = 2 * B * 2 * H * 3 * H;
      const fwd = await timeGpu(engine, () => void gruCell(x, h, p), reps);
      const fb = await timeGpu(engine, () => {
        backward(sum(gruCell(x, h, p)));
        clearGrads([x, h, p.wIh, p.wHh, p.bIh, p.bHh]);
      }, reps);
      rows.push({ batch: B, hidden: H, fwd, fwdBwd: fb });
      out(`| ${B} | ${H} | ${f2(fwd.medianMs)} | ${f2(gf(flops, fwd.medianMs))} | ${f2(fb.medianMs)} | ${f2(gf(3 * flops, fb.medianMs))} |`);
    }
  }
  report.gru = rows;

  // A sequence: gruLayer (input maps for all steps in one matmul, the recurrence in one dispatch)
  // against the same GRU run cell by cell; the first two shapes are the predictors' (one step per
  // layer), the last is past gruLayer's B·H ≤ 512 (it runs cell by cell itself there).
  out('\n## GRU layer over a sequence: one recurrence dispatch vs cell by cell (forward + backward, input size = hidden size)\n\n| steps | batch | hidden | gruLayer ms | dispatches | cell by cell ms | dispatches | cell by cell / gruLayer |\n|---|---|---|---|---|---|---|---|');
  const seqRows: unknown[] = [];
  for (const [T, B, H] of [[6, 1, 32], [6, 1, 64], [16, 8, 64], [16, 2, 256], [16, 64, 256]] as const) {
    const p = gruCellParams(engine, rng, H, H);
    const xs = parameter(engine, rand(T * B * H), [T, B, H]);
    const params = [xs, p.wIh, p.wHh, p.bIh, p.bHh];
    const byCell = () => {
      let h = Tensor.from(engine, new Float32Array(B * H), [B, H]);
      const outs: Tensor[] = [];
      for (let t = 0; t < T; t++) outs.push((h = gruCell(reshape(slice(xs, 0, t, 1), [B, H]), h, p)));
      return stack(outs);
    };
    const step = (run: () => Tensor) => () => {
      backward(sum(run()));
      clearGrads(params);
    };
    const dispatchesOf = (fn: () => void) => {
      const before = engine.dispatchCount;
      engine.tidy(fn);
      return engine.dispatchCount - before;
    };
    const layer = step(() => gruLayer(xs, p));
    const cells = step(byCell);
    const layerDispatches = dispatchesOf(layer);
    const cellDispatches = dispatchesOf(cells);
    const tl = await timeGpu(engine, layer, reps);
    const tc = await timeGpu(engine, cells, reps);
    seqRows.push({ steps: T, batch: B, hidden: H, layer: tl, layerDispatches, cells: tc, cellDispatches });
    out(`| ${T} | ${B} | ${H} | ${f2(tl.medianMs)} | ${layerDispatches} | ${f2(tc.medianMs)} | ${cellDispatches} | ${f2(tc.medianMs / tl.medianMs)} |`);
  }
  report.gruSequence = seqRows;
}

if (only.has('mask')) {
  const v = parameter(engine, [3.2], [1]);
  const fwd = await timeGpu(engine, () => void gaussianMask(v, 9), reps);
  const fb = await timeGpu(engine, () => {
    backward(sum(gaussianMask(v, 9)));
    clearGrads([v]);
  }, reps);
  report.mask = { fwd, fwdBwd: fb };
  out(`\n## Gaussian mask (k = 9)\n\nforward ${(1000 * fwd.medianMs).toFixed(1)} µs, forward+backward ${(1000 * fb.medianMs).toFixed(1)} µs (dispatch-bound: 81 taps).`);
}

// ---- batch norm's layouts ----
// Training-mode batch norm with its fused ReLU, forward + backward, on fmnist-6's activations at
// batch 128, under the layouts of its per-channel reductions (bnReduction) and of its walks over a
// channel's values (bnWalkLanes): a CPU adapter's — one workgroup per channel, each subgroup
// walking a chunk of its own —, the same with the workgroup's invocations side by side (a GPU's
// walk, the CPU adapters' before stop 43), and a GPU adapter's — blocks of images summed in
// workgroup memory, invocations side by side. Its kernels' own time (a profile: the loss's sum and
// its backward left out); needs timestamps.
if (only.has('bn') && engine.canTime) {
  const chunkLanes = bnWalkLanes(true, engine.subgroupSize);
  out(`\n## Batch norm: its kernels' time in forward + backward (training, fused ReLU), fmnist-6's activations at batch 128\n\nThree layouts: the per-channel reductions one workgroup per channel, each subgroup walking a chunk of the channel's values (${chunkLanes} lanes apart; the CPU adapters' layout), the same with the workgroup's invocations side by side at each step, and the reductions in blocks of images summed in workgroup memory, invocations side by side (the GPU adapters'); this adapter uses the ${engine.adapterInfo.isCpu ? 'first' : 'third'}. Each dispatch in its own timed pass (a profile), median of ${reps}.\n`);
  tableHead(['activations', 'a workgroup a channel, chunk per subgroup, ms', 'a workgroup a channel, side by side, ms', 'blocks of images, ms', 'blocks × channels', 'side by side / chunks', 'blocks / chunks']);
  const rows: unknown[] = [];
  for (const [N, C, H] of [[128, 16, 28], [128, 32, 14], [128, 64, 7]] as const) {
    const x = parameter(engine, rand(N * C * H * H), [N, C, H, H]);
    const st = batchNormState(engine, C);
    const blocks = bnReduction(false, N, C, H * H);
    const time = async (plan: { split: number; tree: boolean }, lanes: number): Promise<Timing> => {
      bnReductionOverride.plan = () => plan;
      bnWalkLanesOverride.lanes = lanes;
      try {
        const times: number[] = [];
        for (let i = 0; i <= reps; i++) {
          engine.beginProfile();
          engine.tidy(() => backward(sum(batchNorm2d(x, st, true, { relu: true }))));
          const profile = await engine.endProfile();
          clearGrads([x, st.gamma, st.beta]);
          if (i > 0) times.push(profile.filter((d) => d.entry.startsWith('batch_norm')).reduce((a, d) => a + d.ms, 0));  // the first a warm-up
        }
        return summarise(times, 'timestamp');
      } finally {
        bnReductionOverride.plan = null;
        bnWalkLanesOverride.lanes = null;
      }
    };
    const chunks = await time({ split: N, tree: false }, chunkLanes);
    const sideBySide = await time({ split: N, tree: false }, 0);
    const split = await time(blocks, 0);
    rows.push({ shape: [N, C, H, H], oneWorkgroupPerChannel: { chunkLanes, timing: chunks }, oneWorkgroupPerChannelSideBySide: sideBySide, blocks: { ...blocks, timing: split } });
    out(`| ${N}×${C}×${H}×${H} | ${f2(chunks.medianMs)} | ${f2(sideBySide.medianMs)} | ${f2(split.medianMs)} | ${blocks.splits} × ${C} | ${f2(sideBySide.medianMs / chunks.medianMs)} | ${f2(split.medianMs / chunks.medianMs)} |`);
    x.dispose();
    st.gamma.dispose();
    st.beta.dispose();
    st.running.dispose();
  }
  report.batchNorm = rows;
} else if (only.has('bn')) out("\n## Batch norm\n\nNot run: its kernels' times need the adapter's 'timestamp-query' feature.");

/** The end-to-end steppers: fmnist-6 at batch 128, a 100 k budget, one random batch. */
async function fmnistSteppers(eng: EngineT) {
  const spec = PRESETS['fmnist-6']!;
  const B = 128;
  const data = rand(B * 784);
  const y = Int32Array.from({ length: B }, () => rng.int(10));
  const target = resolveBudget(spec, { kMin: 1, kMax: 9 }, 100_000);
  const searchOf = (replay = true) => new Search(eng, spec, { kMin: 1, kMax: 9, target, lambda: 2, lossKind: 'symmetric', batch: B, lr: 1e-3, seed: 0, logEvery: 1000, replay });
  const search = searchOf();
  const finalOf = (ks: number[], replay = true) => new FinalTraining(eng, spec, ks, { batch: B, lr: 1e-3, steps: 1000, seed: 0, logEvery: 1000, replay });
  /** One step of s timed over `n` reps (after a warm-up; under 'fastest', after its convolutions were timed). */
  const step = async (s: Search | FinalTraining, n = reps) => {
    s.x.write(data);
    if (eng.convVariant === 'fastest') {
      s.run(y);
      await tuneConvs(eng); // the convolutions that step met, if any
    }
    const t = await timeGpu(eng, () => s.run(y), n);
    await s.flush();
    return t;
  };
  return { spec, B, y, search, searchOf, finalOf, step };
}

async function e2e(eng: EngineT) {
  const { spec, B, y, search, searchOf, finalOf, step } = await fmnistSteppers(eng);
  // the search's cost is compared with final training at the sizes the search starts from
  const sizes = (await search.softSizes()).map((v) => hardSize(v, 1, 9));
  // the CPU side of a step: dispatches, submits, and the time to encode them (run() until it returns)
  const encodeTimes = async (s: Search | FinalTraining) => {
    const encodeMs: number[] = [];
    let dispatches = 0;
    let submits = 0;
    for (let i = 0; i < reps; i++) {
      await eng.sync();
      const [d0, s0, t0] = [eng.dispatchCount, eng.submitCount, performance.now()];
      s.run(y);
      encodeMs.push(performance.now() - t0);
      [dispatches, submits] = [eng.dispatchCount - d0, eng.submitCount - s0];
    }
    await eng.sync();
    await s.flush();
    return { dispatches, submits, encodeMs: summarise(encodeMs, 'wall').medianMs };
  };
  // ... replayed from the step's capture (s), and run as code (asCode: the same step, replay: false)
  const cpuSide = async (s: Search | FinalTraining, asCode: Search | FinalTraining) => {
    const replayed = await encodeTimes(s);
    asCode.x.write(rand(B * 784));
    for (let i = 0; i < 2; i++) asCode.run(y); // warm: its buffers, pipelines and bind groups made, as the replayed stepper's were
    const code = await encodeTimes(asCode);
    return { ...replayed, encodeMsAsCode: code.encodeMs };
  };
  const ts = await step(search);
  const searchCpu = await cpuSide(search, searchOf(false));
  const sameSizes = finalOf(sizes);
  const tSame = await step(sameSizes);
  const sameCpu = await cpuSide(sameSizes, finalOf(sizes, false));
  const final3 = finalOf(spec.layers.map(() => 3));
  const tfin = await step(final3);
  const finalCpu = await cpuSide(final3, finalOf(spec.layers.map(() => 3), false));
  // --profile: each kernel's share of one step, every dispatch in its own timed pass
  const profileOf = async (s: Search | FinalTraining) => {
    eng.beginProfile();
    s.run(y);
    const rows = await eng.endProfile();
    await s.flush();
    return rows;
  };
  const profile = options.profile ? { search: await profileOf(search), final: await profileOf(final3) } : null;
  let peer: Timing | null = null;
  if (tf) {
    const t = tf;
    const model = t.sequential();
    spec.layers.forEach((l, i) => {
      model.add(t.layers.conv2d!({ filters: l.out, kernelSize: 3, padding: 'same', useBias: false, ...(i === 0 ? { inputShape: [28, 28, 1] } : {}) }));
      model.add(t.layers.batchNormalization!({}));
      model.add(t.layers.activation!({ activation: 'relu' }));
      if (l.pool) model.add(t.layers.maxPooling2d!({ poolSize: 2 }));
    });
    model.add(t.layers.globalAveragePooling2d!({}));
    model.add(t.layers.dense!({ units: 10 }));
    model.compile({ optimizer: t.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
    const xs = t.randomNormal([B, 28, 28, 1]);
    const ys = t.tensor1d(Array.from(y), 'float32');
    const times: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const t0 = performance.now();
      await model.trainOnBatch(xs, ys); // returns the loss: includes one readback, as effconv reads its loss every N steps
      if (i > 0) times.push(performance.now() - t0);
    }
    peer = summarise(times, 'wall');
  }
  return { search: ts, sizes, finalSameSizes: tSame, final: tfin, peer, batch: B, profile, cpu: { search: searchCpu, finalSameSizes: sameCpu, final: finalCpu } };
}

/** Per-kernel totals of a profiled step, largest first, as markdown rows. */
function profileTable(rows: { entry: string; ms: number }[]): string[] {
  const totals = new Map<string, { ms: number; n: number }>();
  for (const r of rows) {
    const t = totals.get(r.entry) ?? { ms: 0, n: 0 };
    totals.set(r.entry, { ms: t.ms + r.ms, n: t.n + 1 });
  }
  const all = rows.reduce((a, r) => a + r.ms, 0);
  return [...totals.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([entry, t]) => `| ${entry} | ${t.n} | ${f2(t.ms)} | ${((100 * t.ms) / all).toFixed(1)} % |`);
}

if (only.has('e2e')) {
  const r = await e2e(engine);
  report.e2e = r;
  if (r.peer) e2eOverPeer = r.peer.medianMs / r.final.medianMs;
  const ips = (t: Timing) => (r.batch / (t.medianMs / 1000)).toFixed(1);
  const ks = r.sizes.join(', ');
  out(`\n## End to end: fmnist-6, batch ${r.batch}, 100 k budget (the search starts at sizes [${ks}])\n`);
  out('| step | ms | images/s | dispatches | submits | CPU ms to encode and submit | the same, run as code |\n|---|---|---|---|---|---|---|');
  const cpu = (c: { dispatches: number; submits: number; encodeMs: number; encodeMsAsCode: number }) => `${c.dispatches} | ${c.submits} | ${f2(c.encodeMs)} | ${f2(c.encodeMsAsCode)}`;
  out(`| search step (predictors + masked convs on the 9×9 grid + budget loss + Adam), sizes [${ks}] | ${f2(r.search.medianMs)} | ${ips(r.search)} | ${cpu(r.cpu.search)} |`);
  out(`| final-training step, plain convs of sizes [${ks}] | ${f2(r.finalSameSizes.medianMs)} | ${ips(r.finalSameSizes)} | ${cpu(r.cpu.finalSameSizes)} |`);
  out(`| final-training step, plain 3×3 | ${f2(r.final.medianMs)} | ${ips(r.final)} | ${cpu(r.cpu.final)} |`);
  if (r.peer) out(`| TF.js final-training step, 3×3 (same model, NHWC, wall clock incl. loss readback) | ${f2(r.peer.medianMs)} | ${ips(r.peer)} | | | | |`);
  out('\n"CPU ms to encode and submit": a step\'s run() until it returns (its dispatches go into one command encoder, submitted at the end), median over the reps — replayed from the step\'s capture, as training runs it; "run as code": the same step with `replay: false`, its ops, tape and plans run each time.');
  out(`\nsearch step / final step at the same sizes = ${f2(r.search.medianMs / r.finalSameSizes.medianMs)}${r.peer ? `; effconv / TF.js images/s (3×3) = ${f2(r.peer.medianMs / r.final.medianMs)}` : ''}`);
  if (r.profile) {
    for (const [name, rows] of [['search step', r.profile.search], ['final-training step, 3×3', r.profile.final]] as const) {
      out(`\n### Profile: one ${name} (each dispatch in its own timed pass)\n`);
      out('| kernel | dispatches | ms | share |\n|---|---|---|---|');
      for (const line of profileTable(rows)) out(line);
    }
  }
}

// ---- host drift ----
// On a shared host the machine's speed can change within a run; the peak measured again at the
// end says by how much, which bounds what the "% peak" figures between the two can mean.
if (peakShape && (convRows || only.has('e2e'))) {
  const atEnd = await measurePeak(engine, peakShape.n, peakShape.iters, reps);
  (report.peak as Record<string, unknown>).atEnd = atEnd;
  const drift = atEnd.gflops / peakGflops;
  out(`\n## Host drift\n\nFMA peak measured again at the end of the run: ${f2(atEnd.gflops)} GFLOP/s, ${f2(drift)}× the figure at the start${Math.abs(drift - 1) > 0.15 ? ' — the host changed speed during the run by more than 15 %, so the "% peak" figures above carry that much uncertainty' : ''}.`);
}

const targets = checkTargets(peakGflops, convRows, maskedOverPlain3, e2eOverPeer);
if (targets.length > 0) {
  out(`\n## Targets (README, Performance): ${targets.filter((t) => t.met).length} of ${targets.length} met in this run\n`);
  out('| target | this run | met |\n|---|---|---|');
  for (const t of targets) out(`| ${t.target} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`);
  report.targets = targets;
}

mkdirSync('bench/results', { recursive: true });
const file = options.out ?? `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ adapter, hostCpu: cpu, date: new Date().toISOString(), commit, reps, repeat, peer: tf ? `tfjs ${tf.version.tfjs}` : null, ...report }, null, 2));
writeFileSync(file.replace(/\.json$/, '.md'), `${lines.join('\n')}\n`);
console.log(`\nwritten ${file} (and .md)`);
engine.destroy();
process.exit(0);
