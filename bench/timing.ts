/**
 * Timing of GPU work: GPU timestamp queries (summed over the timed compute passes) where the
 * adapter has 'timestamp-query', else wall clock around queue completion; warm-up runs first,
 * then `reps` repetitions, median/min/max reported.
 */
import type { Engine } from '../src/index.js';
import { fmaPeak, fmaPeakFlops } from '../src/ops/fma_peak.js';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
  method: 'timestamp' | 'wall';
}

/** The middle value of `a` (the upper one of an even count). */
export const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

export function summarise(times: number[], method: Timing['method']): Timing {
  return { medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), reps: times.length, method };
}

/**
 * Times `work` (encoded inside one tidy). `setup`, when given, runs first in the same tidy and is
 * not timed (e.g. the forward pass whose backward is measured).
 */
export async function timeGpu<S>(engine: Engine, work: (s: S) => void, reps: number, setup?: () => S, warmup = 1): Promise<Timing> {
  const useStamps = engine.canTime;
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    let ms: number;
    if (useStamps) {
      engine.tidy(() => {
        const s = setup ? setup() : (undefined as S);
        engine.beginTiming();
        work(s);
      });
      ms = await engine.endTiming();
    } else {
      if (setup) {
        await engine.sync();
      }
      const t0 = performance.now();
      engine.tidy(() => work(setup ? setup() : (undefined as S)));
      await engine.sync();
      ms = performance.now() - t0;
    }
    if (i >= warmup) times.push(ms);
  }
  await engine.sync();
  return summarise(times, useStamps ? 'timestamp' : 'wall');
}

/** `work` run `n` times in one call: n passes back to back in one timed run (the bench's --repeat). */
export const repeatedPass = (work: () => void, n: number): (() => void) => (n === 1 ? work : () => { for (let i = 0; i < n; i++) work(); });

/** The Timing of one of the `n` passes a timed run of repeatedPass(…, n) encodes. */
export const perPass = (t: Timing, n: number): Timing => (n === 1 ? t : { ...t, medianMs: t.medianMs / n, minMs: t.minMs / n, maxMs: t.maxMs / n });

/** One measurement of the FMA peak kernel (n invocations × iters rounds): GFLOP/s of its best rep. */
export async function measurePeak(engine: Engine, n: number, iters: number, reps: number, roundsPerIteration?: number): Promise<{ gflops: number; n: number; iters: number; timing: Timing }> {
  const timing = await timeGpu(engine, () => void fmaPeak(engine, n, iters, roundsPerIteration), reps);
  return { gflops: fmaPeakFlops(n, iters) / timing.minMs / 1e6, n, iters, timing };
}

/** The device's FMA peak: the peak kernel grown (rounds, then invocations) until a run takes over 50 ms. */
export async function findPeak(engine: Engine, reps: number): Promise<{ gflops: number; n: number; iters: number; timing: Timing }> {
  let n = 1 << 14;
  let iters = 256;
  for (;;) {
    const m = await measurePeak(engine, n, iters, reps);
    if (m.timing.medianMs > 50 || n >= 1 << 22) return m;
    if (iters < 4096) iters *= 4;
    else n *= 4;
  }
}
