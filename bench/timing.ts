/**
 * Timing of GPU work: GPU timestamp queries (summed over the timed compute passes) where the
 * adapter has 'timestamp-query', else wall clock around queue completion; warm-up runs first,
 * then `reps` repetitions, median/min/max reported.
 */
import type { Engine } from '../src/index.js';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
  method: 'timestamp' | 'wall';
}

export function summarise(times: number[], method: Timing['method']): Timing {
  const t = [...times].sort((a, b) => a - b);
  return { medianMs: t[Math.floor(t.length / 2)]!, minMs: t[0]!, maxMs: t[t.length - 1]!, reps: t.length, method };
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
