import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, softmaxCrossEntropy, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';
import { refLogSumExp } from './helpers/reference.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

function refXent(x: Float64Array, labels: Float64Array, N: number, K: number): Float64Array {
  const out = new Float64Array(N);
  for (let r = 0; r < N; r++) out[r] = refLogSumExp(x.subarray(r * K, r * K + K)) - x[r * K + labels[r]!]!;
  return out;
}

function refXentGrad(g: Float64Array, x: Float64Array, labels: Float64Array, N: number, K: number): Float64Array {
  const out = new Float64Array(N * K);
  for (let r = 0; r < N; r++) {
    const lse = refLogSumExp(x.subarray(r * K, r * K + K));
    for (let k = 0; k < K; k++) out[r * K + k] = g[r]! * (Math.exp(x[r * K + k]! - lse) - (k === labels[r] ? 1 : 0));
  }
  return out;
}

describe('softmax cross-entropy', () => {
  for (const [N, K, spread] of [
    [1, 1, 1],
    [1, 10, 3],
    [7, 3, 1],
    [70, 10, 3],
    [5, 4, 60], // large logits: needs the max subtraction
  ] as const) {
    it(`N=${N} K=${K} logits in ±${spread}`, async () => {
      const rng = new Rng(N * K + spread);
      const labels = Float64Array.from({ length: N }, () => rng.int(K));
      await checkOp(engine, {
        name: `xent ${N}x${K}`,
        inputs: [
          { shape: [N, K], data: randomArray(rng, N * K, -spread, spread) },
          { shape: [N], data: labels, dtype: 'int32', grad: false },
        ],
        gpu: (x, l) => softmaxCrossEntropy(x, l),
        ref: (x, l) => refXent(x, l, N, K),
        refGrad: (g, x, l) => [refXentGrad(g, x, l, N, K), null],
        fwdTol: { rtol: 1e-5, atol: 3e-5 },
        dirEps: spread > 10 ? 1e-2 : 1e-2,
      });
    });
  }

  it('mean cross-entropy of uniform logits is log K', async () => {
    const logits = Tensor.from(engine, new Float32Array(4 * 10), [4, 10]);
    expect(await crossEntropy(logits, [0, 3, 9, 5]).item()).toBeCloseTo(Math.log(10), 5);
  });

  it('rejects labels out of range on upload and NaNs them on the GPU', async () => {
    const logits = Tensor.from(engine, new Float32Array(2 * 3), [2, 3]);
    expect(() => crossEntropy(logits, [0, 3])).toThrow(/label 3 at index 1 is outside \[0, 3\)/);
    expect(() => crossEntropy(logits, [0, -1])).toThrow(/label -1 at index 1/);
    expect(() => crossEntropy(logits, [0])).toThrow(/labels \[1\] do not match logits \[2, 3\]/);
    const gpuLabels = Tensor.from(engine, [1, 7], [2], 'int32');
    const loss = await softmaxCrossEntropy(logits, gpuLabels).toArray();
    expect(loss[0]).toBeCloseTo(Math.log(3), 5);
    expect(Number.isNaN(loss[1])).toBe(true);
  });
});
