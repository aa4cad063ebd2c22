/**
 * `node dist/bench/paired_trees.js --old DIR [--new DIR] [--pairs 9] [--only conv,e2e]`: a
 * before/after measurement that a shared host's drift cannot fake. Two built trees (their
 * `dist/src` folders; --new defaults to this one's) are imported into one process, each with its
 * own engine, and alternate rep by rep — the bench's conv rows (forward, input and weight
 * gradients; each pair also times the FMA peak kernel, whose best is the row peak) and fmnist-6's
 * training steps (batch 128). Prints a markdown table: each tree's median and, per pass, the
 * median of the pairs' after / before ratios, the figure to trust where whole bench runs drift.
 *
 * The tree before, for example: git worktree add /tmp/before <commit> && cd /tmp/before &&
 * ln -s <this checkout>/node_modules && npx tsc -p tsconfig.json; then --old /tmp/before/dist/src.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONV_ROWS, convFlops, convShapeName, randomFloats } from './conv_rows.js';
import { commandLine, PAIRED_USAGE, parsePairedOptions } from './options.js';
import { median, timeGpu } from './timing.js';

type Lib = typeof import('../src/index.js');
type Engine = Awaited<ReturnType<Lib['Engine']['create']>>;
interface Tree {
  lib: Lib;
  presets: typeof import('../src/effconv/spec.js')['PRESETS'];
  FinalTraining: typeof import('../src/effconv/final_training.js')['FinalTraining'];
  Search: typeof import('../src/effconv/search.js')['Search'];
}

const options = commandLine('paired_trees', parsePairedOptions, PAIRED_USAGE);
const { pairs, only } = options;
const dirs = [options.old!, options.new ?? join(dirname(fileURLToPath(import.meta.url)), '../src')];

const load = async (d: string, file: string) => import(pathToFileURL(join(d, file)).href);
// on lavapipe the tree loaded (and whose engine is created) first gains a few per cent (stop 44,
// bench/HISTORY.md): --new-first swaps the order, so a change can be paired both ways
const order = options.newFirst ? [1, 0] : [0, 1];
const trees: Tree[] = [];
const engines: Engine[] = [];
for (const i of order) {
  const d = dirs[i]!;
  trees[i] = {
    lib: (await load(d, 'index.js')) as Lib,
    presets: (await load(d, 'effconv/spec.js')).PRESETS,
    FinalTraining: (await load(d, 'effconv/final_training.js')).FinalTraining,
    Search: (await load(d, 'effconv/search.js')).Search,
  };
  engines[i] = await trees[i]!.lib.Engine.create();
}
const peakKernel = (await load(dirs[1]!, 'ops/fma_peak.js')) as typeof import('../src/ops/fma_peak.js');

const f1 = (v: number) => v.toFixed(1);
const f2 = (v: number) => v.toFixed(2);

/** One timed run of `work` on tree i's engine (bench/timing.ts's timeGpu, no warm-up). */
const timeOn = async (i: number, work: () => void): Promise<number> => (await timeGpu(engines[i]!, work, 1, undefined, 0)).medianMs;

/**
 * Times works[0] on the old tree and works[1] on the new after a warm-up run each, alternating
 * which goes first; where `peaks` is given, each pair also times the FMA peak kernel into it.
 */
async function paired(works: (() => void)[], peaks: number[] | null): Promise<{ ms: [number, number]; ratio: number }> {
  const times: [number[], number[]] = [[], []];
  for (const i of [0, 1]) await timeOn(i, works[i]!);
  for (let r = 0; r < pairs; r++) {
    const n = 16384, iters = 4096;
    if (peaks) peaks.push(peakKernel.fmaPeakFlops(n, iters) / (await timeOn(1, () => void peakKernel.fmaPeak(engines[1]!, n, iters))) / 1e6);
    for (const i of r % 2 ? [1, 0] : [0, 1]) times[i]!.push(await timeOn(i, works[i]!));
  }
  return { ms: [median(times[0]), median(times[1])], ratio: median(times[1].map((t, k) => t / times[0][k]!)) };
}

console.log(`# Before / after, paired in one process\n\nbefore: ${dirs[0]}\nafter: ${dirs[1]}\n${pairs} pairs; GPU timestamps; each cell before → after (medians), "pairs" the median of the after / before ratios.\n`);
if (only.includes('conv')) {
  console.log('| shape | k | fwd GFLOP/s | pairs | bwd-input GFLOP/s | pairs | bwd-weight GFLOP/s | pairs | fwd+bwd GFLOP/s | fwd % row peak | fwd+bwd % row peak | row peak GFLOP/s |');
  console.log(`|${'---|'.repeat(12)}`);
  for (const [c, ks] of CONV_ROWS) {
    for (const k of ks) {
      const xs = randomFloats(c.N * c.Cin * c.HW * c.HW), ws = randomFloats(c.Cout * c.Cin * k * k), gs = randomFloats(c.N * c.Cout * c.HW * c.HW);
      const passes = trees.map((t, i) => {
        const e = engines[i]!;
        const x = t.lib.parameter(e, xs, [c.N, c.Cin, c.HW, c.HW]);
        const w = t.lib.parameter(e, ws, [c.Cout, c.Cin, k, k]);
        const kernels = t.lib.conv2dKernels(x, w, { size: k });
        const g = t.lib.Tensor.from(e, gs, kernels.outShape);
        return { fwd: () => void kernels.forward(), input: () => void kernels.backwardInput(g), weight: () => void kernels.backwardWeight(g), dispose: () => [x, w, g].forEach((v) => v.dispose()) };
      });
      const flops = convFlops(c, k);
      const gf = (ms: number) => flops / ms / 1e6;
      const peaks: number[] = [];
      const fwd = await paired(passes.map((p) => p.fwd), peaks);
      const input = await paired(passes.map((p) => p.input), peaks);
      const weight = await paired(passes.map((p) => p.weight), peaks);
      passes.forEach((p) => p.dispose());
      const peak = Math.max(...peaks);
      const all = [0, 1].map((i) => (3 * flops) / (fwd.ms[i]! + input.ms[i]! + weight.ms[i]!) / 1e6);
      const cell = (p: { ms: [number, number]; ratio: number }) => `${f1(gf(p.ms[0]))} → ${f1(gf(p.ms[1]))} | ${f2(p.ratio)}`;
      const pct = (g: number) => `${f1((100 * g) / peak)} %`;
      console.log(`| ${convShapeName(c)} | ${k} | ${cell(fwd)} | ${cell(input)} | ${cell(weight)} | ${f1(all[0]!)} → ${f1(all[1]!)} | ${pct(gf(fwd.ms[0]))} → ${pct(gf(fwd.ms[1]))} | ${pct(all[0]!)} → ${pct(all[1]!)} | ${f1(peak)} |`);
    }
  }
}
if (only.includes('e2e')) {
  const B = 128;
  const labels = Int32Array.from({ length: B }, () => Math.floor(Math.random() * 10));
  const images = Float32Array.from({ length: B * 784 }, () => Math.random());
  console.log('\n| fmnist-6 step (batch 128) | ms | pairs |\n|---|---|---|');
  for (const kind of ['final 3×3', 'final 5×5', 'search'] as const) {
    const steps = trees.map((t, i) => {
      const spec = t.presets['fmnist-6']!;
      const step =
        kind === 'search'
          ? new t.Search(engines[i]!, spec, { kMin: 1, kMax: 9, target: 100_000, lambda: 2, lossKind: 'symmetric', batch: B, lr: 3e-3, seed: 0, logEvery: 1000 })
          : new t.FinalTraining(engines[i]!, spec, spec.layers.map(() => (kind === 'final 3×3' ? 3 : 5)), { batch: B, lr: 1e-3, steps: 1000, seed: 0, logEvery: 1000 });
      step.x.write(images);
      return step;
    });
    // warm-up: the first steps compile and capture (paired runs a third)
    for (const i of [0, 1]) for (let r = 0; r < 2; r++) {
      steps[i]!.run(labels);
      await engines[i]!.sync();
    }
    const { ms, ratio } = await paired([0, 1].map((i) => () => steps[i]!.run(labels)), null);
    console.log(`| ${kind} | ${f1(ms[0])} → ${f1(ms[1])} | ${f2(ratio)} |`);
  }
}
for (const e of engines) e.destroy();
