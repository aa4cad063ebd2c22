import { Rng } from '../../src/random.js';

export function randomArray(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

/** Values with |v| in [gap, 1]: keeps kinks (relu at 0) out of finite-difference stencils. */
export function awayFromZero(rng: Rng, n: number, gap = 0.1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(gap, 1);
  return out;
}

export function randomShape(rng: Rng, rank: number, max = 9): number[] {
  return Array.from({ length: rank }, () => 1 + rng.int(max));
}
