import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, linear, matmul, ShapeError, Tensor } from '../src/index.js';
import { bucketSize } from '../src/gpu/buffer-pool.js';
import { Rng } from '../src/random.js';
import { checkOp, expectClose } from './helpers/check.js';
import { testEngine, underAutoRules } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { checkMatmul } from './helpers/matmul_check.js';
import { refMatmul } from './helpers/reference.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// matmul.wgsl's workgroup covers 32×32 outputs in 4×4 blocks: sizes around and off those
// multiples. The subgroup kernels (variant 'auto' on a device with subgroups) take blocks of 16
// rows and, for B with contiguous rows and N a multiple of 4 (tb = false), 256 columns per
// workgroup ([67, 260, 9]: two, the second short; [33, 36, 17]: M off the block), or for B with
// contiguous columns, A with contiguous rows and K a multiple of 4 (tb = true, ta = false), 64
// columns ([67, 70, 68], [33, 31, 20]); M = 1 ([1, 8, 4]); every other case (N or K off a
// multiple of 4, transposes neither takes) matmul_any_sg, 4·SG columns and a block of 16 rows per
// subgroup ([33, 31, 17], [67, 35, 70], [2, 129, 3], [67, 260, 9] with tb: a second and a third
// subgroup's columns).
const sizes: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [5, 1, 3],
  [4, 4, 4],
  [33, 31, 17],
  [67, 35, 70],
  [2, 129, 3],
  [1, 8, 4],
  [33, 36, 17],
  [67, 260, 9],
  [33, 31, 20],
  [67, 70, 68],
];

describe('matmul vs float64 reference, all transposes', () => {
  for (const [M, N, K] of sizes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        for (const variant of ['auto', 'plain'] as const) {
          it(`M=${M} N=${N} K=${K} ta=${ta} tb=${tb} ${variant}`, () => checkMatmul(engine, M, N, K, ta, tb, variant));
        }
      }
    }
  }
});

// matmul_rows_sg sums K_STEP steps of k per accumulator update: 4 under the 'cpu-avx512' rules,
// 2 under 'cpu', 1 under 'gpu' (sumStep), the rest one by one: K = 17 (4·4 + 1, 2·8 + 1), 7
// (4 + 3), 16 (whole steps), 2 (under 4, all left over); with 4 and K a multiple of 4 (16, 12)
// an untransposed A's 4 steps come as one vec4 (A_VEC4), 21 rows a second block of 16 in part
describe('matmul_rows_sg under each rule set (K_STEP steps of k per update)', () => {
  const kSizes: [number, number, number][] = [
    [33, 36, 17],
    [20, 8, 7],
    [17, 12, 16],
    [5, 4, 2],
    [21, 8, 12],
  ];
  for (const rules of ['cpu', 'cpu-avx512', 'gpu'] as const) {
    for (const [M, N, K] of kSizes) {
      for (const ta of [false, true]) {
        it(`${rules} rules: M=${M} N=${N} K=${K} ta=${ta}`, () => underAutoRules(engine, rules, () => checkMatmul(engine, M, N, K, ta, false, 'auto')));
      }
    }
  }
});

describe('matmul_rows_sg, batched A with its 4 steps of k as vec4s (A_VEC4)', () => {
  // each product's A starts M·K floats on: a whole number of vec4s when K is a multiple of 4
  for (const rules of ['cpu', 'cpu-avx512'] as const) {
    it(`${rules} rules: 3 products of 9×12 · 12×8, B shared and batched`, () =>
      underAutoRules(engine, rules, async () => {
        const [batch, M, K, N] = [3, 9, 12, 8];
        const rng = new Rng(77);
        const a = randomArray(rng, batch * M * K);
        const b = randomArray(rng, batch * K * N);
        const A = Tensor.from(engine, Float32Array.from(a), [batch, M, K]);
        for (const shared of [true, false]) {
          const B = shared ? Tensor.from(engine, Float32Array.from(b.subarray(0, K * N)), [K, N]) : Tensor.from(engine, Float32Array.from(b), [batch, K, N]);
          const c = await engine.tidy(() => matmul(A, B)).toFloat32();
          for (let z = 0; z < batch; z++) {
            const want = refMatmul(a.subarray(z * M * K, (z + 1) * M * K), b.subarray(shared ? 0 : z * K * N, (shared ? 1 : z + 1) * K * N), M, N, K);
            expectClose(c.subarray(z * M * N, (z + 1) * M * N), want, { rtol: 1e-5, atol: 1e-5 }, `product ${z}${shared ? ', B shared' : ''}`);
          }
          B.dispose();
        }
        A.dispose();
      }));
  }
});

describe('matmul writes nothing outside C', () => {
  // The product's buffer is a pooled one holding a sentinel: everything past C (the bucket's slack)
  // must still hold it. Batched, so rows past M of one product would land in the next one's C.
  // A fresh engine, so the sentinel buffer is the only one of its size to hand out.
  it('rows past M and columns past N are not stored (subgroup and plain kernels)', async () => {
    const own = await Engine.create();
    const rng = new Rng(12);
    for (const [Bt, M, N, K, tb, variant] of [
      [2, 33, 36, 17, false, 'auto'],
      [2, 33, 31, 20, true, 'auto'],
      [2, 33, 31, 17, false, 'plain'],
      [2, 33, 31, 17, false, 'auto'], // matmul_any_sg: N = 31, its last lane's 3 columns
      [2, 33, 31, 17, true, 'auto'],
    ] as const) {
      const floats = Bt * M * N;
      const bucket = bucketSize(4 * floats) / 4; // the pooled buffer's whole size, slack included
      const sentinel = Tensor.from(own, new Float32Array(bucket).fill(-7), [bucket]);
      const buffer = sentinel.buffer;
      sentinel.dispose();
      own.pool.recycle(); // what the next submit would do: the released buffer can be handed out again
      const a = Tensor.from(own, randomArray(rng, Bt * M * K), [Bt, M, K]);
      const b = Tensor.from(own, randomArray(rng, Bt * K * N), tb ? [Bt, N, K] : [Bt, K, N]);
      const c = matmul(a, b, { transposeB: tb, variant });
      expect(c.buffer).toBe(buffer);
      const first = new Float32Array(await own.read(buffer, buffer.size));
      expect(first.subarray(0, floats).some((v) => v === -7)).toBe(false);
      expect(Array.from(first.subarray(floats)).every((v) => v === -7)).toBe(true);
      for (const t of [a, b, c]) t.dispose();
      own.pool.recycle();
    }
    own.destroy();
  });
});

describe('batched matmul', () => {
  // [3, 17, 8, 12]: matmul_rows_sg (forward) and the other subgroup kernels (gradients); [3, 5, 6,
  // 7]: matmul_any_sg (N = 6) under 'auto', matmul.wgsl under 'plain'
  for (const [Bt, M, N, K, variant] of [[3, 5, 6, 7, 'auto'], [3, 5, 6, 7, 'plain'], [3, 17, 8, 12, 'auto']] as const) {
    it(`batched A and B ${Bt}×${M}×${N}×${K} ${variant}`, async () => {
      const rng = new Rng(9 + M);
      await checkOp(engine, {
        name: 'batched matmul',
        inputs: [
          { shape: [Bt, M, K], data: randomArray(rng, Bt * M * K) },
          { shape: [Bt, K, N], data: randomArray(rng, Bt * K * N) },
        ],
        gpu: (a, b) => matmul(a, b, { variant }),
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
  }

  for (const [Bt, M, N, K] of [[2, 3, 5, 4], [2, 9, 12, 8]] as const) {
    it(`batched A with a shared B (gradient of B sums over the batch) ${Bt}×${M}×${N}×${K}`, async () => {
      const rng = new Rng(10 + M);
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
  }
});

describe('matmul_any_sg: a block of 16 rows per subgroup, several per workgroup', () => {
  // M = 300: 19 blocks of 16 rows, 8 subgroups of 8 lanes a workgroup (3 workgroup rows, the last
  // with 3 working subgroups, the last block 12 rows); N = 81 (the kernel predictor's k_max²): 3
  // subgroups of columns, the last with 17 (5 lanes, the last 1 column); K = 9 (2 steps of 4 and 1)
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`M=300 N=81 K=9 ta=${ta} tb=${tb}`, () => checkMatmul(engine, 300, 81, 9, ta, tb, 'auto'));
  }
  it('the kernel predictor\'s shapes take it, forward and gradients: [M, 8] · [8, 81], and not an aligned N', async () => {
    const entries = async (M: number, N: number) => {
      const a = Tensor.from(engine, new Float32Array(M * 8), [M, 8]);
      const b = Tensor.from(engine, new Float32Array(8 * N), [8, N]);
      engine.beginProfile();
      engine.tidy(() => void matmul(a, b));
      const names = (await engine.endProfile()).map((d) => d.entry);
      a.dispose();
      b.dispose();
      return names;
    };
    if (!engine.canTime || (engine.subgroupSize ?? 0) < 8) return; // no profile, or no subgroup kernels on this device
    expect(await entries(256, 81)).toEqual(['matmul_any_sg']);
    expect(await entries(256, 84)).toEqual(['matmul_rows_sg']);
  });
});

describe('linear', () => {
  // [20, 12, 36]: x·Wᵀ by matmul_cols_sg (K = 12), its gradients by matmul_rows_sg
  for (const [Nb, I, O] of [[6, 10, 7], [20, 12, 36]] as const) {
    it(`x·Wᵀ + b matches the reference, gradients included (${Nb}×${I} → ${O})`, async () => {
      const rng = new Rng(11 + I);
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
  }

  it('rejects mismatched shapes naming the op and shapes', () => {
    const x = Tensor.from(engine, new Float32Array(6), [2, 3]);
    const w = Tensor.from(engine, new Float32Array(8), [2, 4]);
    expect(() => linear(x, w)).toThrow(ShapeError);
    expect(() => linear(x, w)).toThrow(/linear: input \[2, 3\] does not fit weight \[2, 4\]/);
    expect(() => matmul(x, x)).toThrow(/matmul: inner dims differ: \[2, 3\] · \[2, 3\]/);
    expect(() => matmul(Tensor.from(engine, [1], [1]), x)).toThrow(/matmul: expected 2-D or 3-D/);
  });
});
