import { beforeAll, describe, expect, it } from 'vitest';
import { linear, matmul, ShapeError, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { refMatmul } from './helpers/reference.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** Transposes a row-major r×c matrix. */
function transpose(x: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j]!;
  return out;
}

// The kernel's workgroup covers 32×32 outputs in 4×4 blocks: sizes around and off those multiples.
const sizes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [5, 1, 3],
  [4, 4, 4],
  [33, 31, 17],
  [67, 35, 70],
  [2, 129, 3],
];

describe('matmul vs float64 reference, all transposes', () => {
  for (const [M, N, K] of sizes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        it(`M=${M} N=${N} K=${K} ta=${ta} tb=${tb}`, async () => {
          const rng = new Rng(M * 1000 + N * 10 + K);
          const a = randomArray(rng, M * K);
          const b = randomArray(rng, K * N);
          await checkOp(engine, {
            name: `matmul ${M}x${N}x${K}`,
            inputs: [
              { shape: ta ? [K, M] : [M, K], data: a },
              { shape: tb ? [N, K] : [K, N], data: b },
            ],
            gpu: (x, y) => matmul(x, y, { transposeA: ta, transposeB: tb }),
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
        });
      }
    }
  }
});

describe('batched matmul', () => {
  it('batched A and B', async () => {
    const rng = new Rng(9);
    const [Bt, M, N, K] = [3, 5, 6, 7];
    await checkOp(engine, {
      name: 'batched matmul',
      inputs: [
        { shape: [Bt, M, K], data: randomArray(rng, Bt * M * K) },
        { shape: [Bt, K, N], data: randomArray(rng, Bt * K * N) },
      ],
      gpu: (a, b) => matmul(a, b),
      ref: (a, b) => {
        const out = new Float64Array(Bt * M * N);
        for (let z = 0; z < Bt; z++) out.set(refMatmul(a.subarray(z * M * K), b.subarray(z * K * N), M, N, K), z * M * N);
        return out;
      },
      refGrad: (g, a, b) => {
        const ga = new Float64Array(Bt * M * K);
        const gb = new Float64Array(Bt * K * N);
        for (let z = 0; z < Bt; z++) {
          ga.set(refMatmul(g.subarray(z * M * N), b.subarray(z * K * N), M, K, N, false, true), z * M * K);
          gb.set(refMatmul(a.subarray(z * M * K), g.subarray(z * M * N), K, N, M, true, false), z * K * N);
        }
        return [ga, gb];
      },
    });
  });

  it('batched A with a shared B (gradient of B sums over the batch)', async () => {
    const rng = new Rng(10);
    const [Bt, M, N, K] = [2, 3, 5, 4];
    await checkOp(engine, {
      name: 'batched matmul, shared B',
      inputs: [
        { shape: [Bt, M, K], data: randomArray(rng, Bt * M * K) },
        { shape: [K, N], data: randomArray(rng, K * N) },
      ],
      gpu: (a, b) => matmul(a, b),
      ref: (a, b) => refMatmul(a, b, Bt * M, N, K),
      refGrad: (g, a, b) => [refMatmul(g, b, Bt * M, K, N, false, true), refMatmul(a, g, K, N, Bt * M, true, false)],
    });
  });
});

describe('linear', () => {
  it('x·Wᵀ + b matches the reference, gradients included', async () => {
    const rng = new Rng(11);
    const [Nb, I, O] = [6, 10, 7];
    await checkOp(engine, {
      name: 'linear',
      inputs: [
        { shape: [Nb, I], data: randomArray(rng, Nb * I) },
        { shape: [O, I], data: randomArray(rng, O * I) },
        { shape: [O], data: randomArray(rng, O) },
      ],
      gpu: (x, w, b) => linear(x, w, b),
      ref: (x, w, b) => refMatmul(x, w, Nb, O, I, false, true).map((v, i) => v + b[i % O]!),
      refGrad: (g, x, w) => {
        const gb = new Float64Array(O);
        g.forEach((v, i) => (gb[i % O]! += v));
        return [refMatmul(g, w, Nb, I, O), refMatmul(g, x, O, I, Nb, true, false), gb];
      },
    });
  });

  it('rejects mismatched shapes naming the op and shapes', () => {
    const x = Tensor.from(engine, new Float32Array(6), [2, 3]);
    const w = Tensor.from(engine, new Float32Array(8), [2, 4]);
    expect(() => linear(x, w)).toThrow(ShapeError);
    expect(() => linear(x, w)).toThrow(/linear: input \[2, 3\] does not fit weight \[2, 4\]/);
    expect(() => matmul(x, x)).toThrow(/matmul: inner dims differ: \[2, 3\] · \[2, 3\]/);
    expect(() => matmul(Tensor.from(engine, [1], [1]), x)).toThrow(/matmul: expected 2-D or 3-D/);
  });
});
