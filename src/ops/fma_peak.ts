/** The FMA-throughput kernel (shaders/fma_peak.wgsl) the bench measures the device's peak with. */
import type { Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { grid1d } from './grid.js';

export const PeakParams = uniformLayout('PeakParams', [
  ['n', 'u32'],
  ['iters', 'u32'],
] as const);

const WG = 64;
const peak = defineKernel({ file: 'fma_peak.wgsl', entry: 'fma_peak', params: PeakParams, bindings: [1], constants: { WG } });

/**
 * Runs n invocations of `iters` rounds, `roundsPerIteration` to a loop iteration (default 4, the
 * fastest on lavapipe; 1 shows what a loop's per-iteration cost leaves); returns their outputs
 * [n]. FLOPs = n · iters · 64.
 */
export function fmaPeak(engine: Engine, n: number, iters: number, roundsPerIteration = 4): Tensor {
  if (!Number.isInteger(roundsPerIteration) || roundsPerIteration < 1 || roundsPerIteration > 32) {
    throw new RangeError(`fmaPeak: roundsPerIteration must be an integer in 1…32, got ${roundsPerIteration}`);
  }
  const out = Tensor.empty(engine, [n]);
  engine.dispatch(peak, { n, iters }, [out.buffer], grid1d(n, WG), { ROUNDS: roundsPerIteration });
  return out;
}

export const fmaPeakFlops = (n: number, iters: number): number => n * iters * 8 * 4 * 2;
