/** One matmul case checked against the float64 reference (shared by the matmul test files). */
import { matmul, type Engine } from '../../src/index.js';
import { Rng } from '../../src/random.js';
import { checkOp } from './check.js';
import { randomArray } from './random.js';
import { refMatmul } from './reference.js';

/** Transposes a row-major r×c matrix. */
export function transpose(x: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
}

/**
 * checkOp on matmul(a, b) of an M×K and a K×N product (stored transposed where ta / tb): forward
 * and both gradients (themselves matmuls with other transposes) against the reference.
 */
export async function checkMatmul(engine: Engine, M: number, N: number, K: number, ta: boolean, tb: boolean, variant: 'auto' | 'plain' = 'auto'): Promise<void> {
  const rng = new Rng(M * 1000 + N * 10 + K);
  const a = randomArray(rng, M * K);
  const b = randomArray(rng, K * N);
  await checkOp(engine, {
    name: `matmul ${M}x${N}x${K}`,
    inputs: [
      { shape: ta ? [K, M] : [M, K], data: a },
      { shape: tb ? [N, K] : [K, N], data: b },
    ],
    gpu: (x, y) => matmul(x, y, { transposeA: ta, transposeB: tb, variant }),
    ref: (x, y) => refMatmul(x, y, M, N, K, ta, tb),
    refGrad: (g, x, y) => {
      const A = ta ? transpose(x, K, M) : x; // A as M×K
      const B = tb ? transpose(y, N, K) : y; // B as K×N
      const gA = refMatmul(g, B, M, K, N, false, true); // M×K
      const gB = refMatmul(A, g, K, N, M, true, false); // K×N
      return [ta ? transpose(gA, M, K) : gA, tb ? transpose(gB, K, N) : gB];
    },
    fwdTol: { rtol: 1e-5, atol: 1e-5 },
    gradTol: { rtol: 1e-4, atol: 1e-4 },
  });
}
