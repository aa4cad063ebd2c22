/**
 * `node dist/bench/tiled_sweep.js [--reps 5] [--repeat 8] [--candidates …] [--out FILE.json]`:
 * the data behind tiledTile's choice on a GPU. Times conv2d.wgsl's tiled kernels under each
 * configuration of TILED_CANDIDATES (src/ops/conv2d_tiled.ts) — forward, input gradient, and the
 * weight gradient at several chunk lengths — on the bench's conv rows and fmnist-6's layers
 * (batch 128), in one process, and 'auto' beside them (the GPU rules: Winograd where they take
 * it). Each timed run encodes `repeat` passes back to back (as the bench's --repeat); GPU
 * timestamps where the adapter has them. Prints a markdown table per row: median ms per pass and
 * the forward's share of the FMA peak.
 */
import { writeFileSync } from 'node:fs';
import { conv2dKernels, Engine, parameter, Tensor } from '../src/index.js';
import { TILED_CANDIDATES, tiledSweep } from '../src/ops/conv2d_tiled.js';
import { CONV_ROWS, convFlops, convShapeName, randomFloats, type ConvShape } from './conv_rows.js';
import { commandLine, parseSweepOptions, SWEEP_USAGE } from './options.js';
import { findPeak, measurePeak, perPass, repeatedPass, timeGpu } from './timing.js';

const options = commandLine('tiled_sweep', (argv) => parseSweepOptions(argv, Object.keys(TILED_CANDIDATES)), SWEEP_USAGE);
const names = options.candidates ?? Object.keys(TILED_CANDIDATES);
/** The weight gradient's chunk lengths timed (TILED_WEIGHT_MIN_PIXELS, in src/ops/conv2d.ts, is the second). */
const WEIGHT_MIN_PIXELS = [1024, 256, 64];

const engine = await Engine.create();
console.log(`# Tiled configurations (${engine.adapterInfo.description || engine.adapterInfo.device || engine.adapterInfo.vendor})\n`);

/** Median ms of one pass: `repeat` passes a timed run. */
async function time(pass: () => void): Promise<number> {
  return perPass(await timeGpu(engine, repeatedPass(pass, options.repeat), options.reps, undefined, 2), options.repeat).medianMs;
}

const rows: [ConvShape, number[]][] = [...CONV_ROWS, [{ N: 128, HW: 28, Cin: 16, Cout: 16 }, [3, 5]], [{ N: 128, HW: 14, Cin: 32, Cout: 32 }, [3, 5]], [{ N: 128, HW: 7, Cin: 64, Cout: 64 }, [3, 5]]];
const found = await findPeak(engine, options.reps);
const peak = found.gflops;
console.log(`FMA peak ${peak.toFixed(0)} GFLOP/s; ${options.repeat} passes a timed run, medians of ${options.reps}\n`);
const results: unknown[] = [];
for (const [c, ks] of rows) {
  for (const k of ks) {
    const flops = convFlops(c, k);
    console.log(`## ${convShapeName(c)} k = ${k}\n\n| candidate | fwd ms | fwd % peak | input ms | ${WEIGHT_MIN_PIXELS.map((m) => `weight ms (chunks ≥ ${m})`).join(' | ')} |\n|${'---|'.repeat(4 + WEIGHT_MIN_PIXELS.length)}`);
    const x = parameter(engine, randomFloats(c.N * c.Cin * c.HW * c.HW), [c.N, c.Cin, c.HW, c.HW]);
    const w = parameter(engine, randomFloats(c.Cout * c.Cin * k * k), [c.Cout, c.Cin, k, k]);
    // each candidate on the tiled kernels, then 'auto' as the GPU rules run it (Winograd where they take it)
    for (const name of [...names, 'auto']) {
      tiledSweep.config = name === 'auto' ? null : TILED_CANDIDATES[name]!;
      const kernels = conv2dKernels(x, w, { size: k, variant: name === 'auto' ? 'auto' : 'tiled' });
      const g = Tensor.from(engine, randomFloats(c.N * c.Cout * c.HW * c.HW), kernels.outShape);
      const fwd = await time(() => void kernels.forward());
      const input = await time(() => void kernels.backwardInput(g));
      const weight: number[] = [];
      for (const m of WEIGHT_MIN_PIXELS) {
        tiledSweep.weightMinPixels = m;
        weight.push(await time(() => void kernels.backwardWeight(g)));
      }
      delete tiledSweep.weightMinPixels;
      g.dispose();
      const share = (100 * flops) / fwd / 1e6 / peak;
      const label = name === 'auto' ? `auto (${kernels.winograd.forward ? 'Winograd' : kernels.kernels} forward)` : name;
      console.log(`| ${label} | ${fwd.toFixed(3)} | ${share.toFixed(1)} % | ${input.toFixed(3)} | ${weight.map((v) => v.toFixed(3)).join(' | ')} |`);
      results.push({ shape: c, k, candidate: name, fwdMs: fwd, inputMs: input, weightMs: Object.fromEntries(WEIGHT_MIN_PIXELS.map((m, i) => [m, weight[i]])) });
    }
    tiledSweep.config = null;
    x.dispose();
    w.dispose();
    console.log('');
  }
}
console.log(`FMA peak at the end ${(await measurePeak(engine, found.n, found.iters, options.reps)).gflops.toFixed(0)} GFLOP/s`);
if (options.out) writeFileSync(options.out, JSON.stringify({ peakGflops: peak, repeat: options.repeat, reps: options.reps, results }, null, 1));
