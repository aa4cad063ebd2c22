import { beforeAll, describe, expect, it } from 'vitest';
import { avgPool2x2, backward, globalAvgPool, maxPool2x2, parameter, sum, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/**
 * Values in about ±1 where each 2×2 window's maximum leads the runner-up by ≥ 0.3: no ties, and
 * the argmax does not move under finite-difference steps.
 */
function poolFriendly(rng: Rng, planes: number, H: number, W: number): Float64Array {
  const x = Float64Array.from({ length: planes * H * W }, () => rng.uniform(-1, 1));
  for (let p = 0; p < planes; p++)
    for (let oy = 0; oy + 1 < H; oy += 2)
      for (let ox = 0; ox + 1 < W; ox += 2) {
        const idx = [0, 1, 2, 3].map((k) => p * H * W + (oy + (k >> 1)) * W + ox + (k & 1));
        const best = idx.reduce((b, q) => (x[q]! > x[b]! ? q : b), idx[0]!);
        x[best]! += 0.3;
      }
  return x;
}

function refPool2(x: Float64Array, planes: number, H: number, W: number, kind: 'max' | 'avg'): Float64Array {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  const out = new Float64Array(planes * Ho * Wo);
  for (let p = 0; p < planes; p++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        const w = [0, 1, 2, 3].map((k) => x[p * H * W + (2 * oy + (k >> 1)) * W + 2 * ox + (k & 1)]!);
        out[(p * Ho + oy) * Wo + ox] = kind === 'max' ? Math.max(...w) : (w[0]! + w[1]! + w[2]! + w[3]!) / 4;
      }
  return out;
}

function refPool2Grad(g: Float64Array, x: Float64Array, planes: number, H: number, W: number, kind: 'max' | 'avg'): Float64Array {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  const dx = new Float64Array(x.length);
  for (let p = 0; p < planes; p++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        const idx = [0, 1, 2, 3].map((k) => p * H * W + (2 * oy + (k >> 1)) * W + 2 * ox + (k & 1));
        const gv = g[(p * Ho + oy) * Wo + ox]!;
        if (kind === 'avg') idx.forEach((q) => (dx[q]! += gv / 4));
        else {
          const best = idx.reduce((b, q) => (x[q]! > x[b]! ? q : b), idx[0]!);
          dx[best]! += gv;
        }
      }
  return dx;
}

const shapes: [number, number, number, number][] = [
  [1, 1, 2, 2],
  [2, 3, 7, 9], // odd: last row/column dropped
  [1, 5, 8, 6],
  [3, 2, 28, 28], // W a multiple of 4: max pooling two windows per invocation (max_pool2_fwd4 / bwd4)
  [2, 3, 7, 8], // the same with a dropped odd last row
];

describe('2×2 pooling vs float64 reference', () => {
  for (const kind of ['max', 'avg'] as const) {
    for (const [N, C, H, W] of shapes) {
      it(`${kind} [${N}, ${C}, ${H}, ${W}]`, async () => {
        const rng = new Rng(N * C * H * W);
        const planes = N * C;
        await checkOp(engine, {
          name: `${kind}Pool2x2`,
          inputs: [{ shape: [N, C, H, W], data: poolFriendly(rng, planes, H, W) }],
          gpu: (x) => (kind === 'max' ? maxPool2x2(x) : avgPool2x2(x)),
          ref: (x) => refPool2(x, planes, H, W, kind),
          refGrad: (g, x) => [refPool2Grad(g, x, planes, H, W, kind)],
          dirEps: 1e-2,
        });
      });
    }
  }
});

describe('2×2 pooling backward into a recycled buffer', () => {
  // The gradient buffer comes from the engine's pool: every element, the dropped odd last row and
  // column included, must be written, or a previous tensor's values leak into it.
  for (const [kind, pool] of [['max', maxPool2x2], ['avg', avgPool2x2]] as const) {
    for (const [N, C, H, W] of [[2, 3, 7, 9], [2, 3, 7, 8]] as const) {
      it(`${kind}: [${N}, ${C}, ${H}, ${W}] gradient is 0 on the dropped row (and odd column), not stale data`, async () => {
        const stale = Tensor.from(engine, new Float32Array(N * C * H * W).fill(Number.NaN), [N, C, H, W]);
        await stale.toArray(); // submitted, so the pool hands the buffer out again
        stale.dispose();
        const rng = new Rng(3);
        const x = parameter(engine, Float32Array.from(poolFriendly(rng, N * C, H, W)), [N, C, H, W]);
        engine.tidy(() => backward(sum(pool(x))));
        const dx = await x.grad!.toArray();
        for (let p = 0; p < N * C; p++)
          for (let y = 0; y < H; y++)
            for (let xx = 0; xx < W; xx++) {
              const v = dx[(p * H + y) * W + xx]!;
              expect(Number.isNaN(v)).toBe(false);
              if (y === H - 1 || (W % 2 === 1 && xx === W - 1)) expect(v).toBe(0);
            }
        x.grad!.dispose();
        x.dispose();
      });
    }
  }
});

describe('2×2 max pooling ties', () => {
  it('a window of equal maxima passes its gradient to the first in row-major order', async () => {
    // windows (one plane, 2 × 4 input): [5 5; 5 5] and [1 7; 7 7]
    const x = parameter(engine, Float32Array.from([5, 5, 1, 7, 5, 5, 7, 7]), [1, 1, 2, 4]);
    const y = maxPool2x2(x);
    expect(Array.from(await y.toArray())).toEqual([5, 7]);
    engine.tidy(() => backward(sum(y)));
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 0, 0, 1, 0, 0, 0, 0]);
    x.grad!.dispose();
    y.dispose();
    x.dispose();
  });
});

describe('global average pooling', () => {
  for (const [N, C, H, W] of shapes) {
    it(`[${N}, ${C}, ${H}, ${W}]`, async () => {
      const rng = new Rng(N + C + H + W);
      const n = H * W;
      await checkOp(engine, {
        name: 'globalAvgPool',
        inputs: [{ shape: [N, C, H, W], data: poolFriendly(rng, N * C, H, W) }],
        gpu: (x) => globalAvgPool(x),
        ref: (x) => Float64Array.from({ length: N * C }, (_, p) => x.subarray(p * n, (p + 1) * n).reduce((a, b) => a + b, 0) / n),
        refGrad: (g, x) => [x.map((_, q) => g[Math.floor(q / n)]! / n)],
      });
    });
  }

  it('rejects inputs that are not NCHW or too small', () => {
    expect(() => maxPool2x2(Tensor.from(engine, new Float32Array(4), [2, 2]))).toThrow(/maxPool2x2: input must be \[N, C, H, W\], got \[2, 2\]/);
    expect(() => avgPool2x2(Tensor.from(engine, new Float32Array(3), [1, 1, 1, 3]))).toThrow(/avgPool2x2: input \[1, 1, 1, 3\] is smaller than the 2×2 window/);
  });
});
