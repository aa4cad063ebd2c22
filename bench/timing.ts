/** Wall-clock timing of GPU work: warm-up, then repetitions each ended by queue completion. */
import type { Engine } from '../src/index.js';

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export async function timeGpu(engine: Engine, work: () => void, reps: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) {
    engine.tidy(work);
    await engine.sync();
  }
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    engine.tidy(work);
    await engine.sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, minMs: times[0]!, maxMs: times[times.length - 1]! };
}
