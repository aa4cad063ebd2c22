import { describe, it, beforeAll } from 'vitest';
import * as ec from '../src/index.js';
import type { Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { checkOp } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { awayFromZero, randomArray } from './helpers/random.js';
import { bIndex, map } from './helpers/reference.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// b's shape, a's shape, and how b repeats over a ([outer, bn, inner]).
const broadcasts: { name: string; a: number[]; b: number[]; bn: number; inner: number }[] = [
  { name: 'same shape, odd size', a: [3, 7, 5], b: [3, 7, 5], bn: 105, inner: 1 },
  { name: 'same shape, a multiple of 4 (add4 / mul4), several workgroups', a: [4, 600], b: [4, 600], bn: 2400, inner: 1 },
  { name: 'scalar', a: [4, 9], b: [1], bn: 1, inner: 1 },
  { name: 'row vector (bias)', a: [6, 13], b: [13], bn: 13, inner: 1 },
  { name: 'per-channel NCHW', a: [2, 3, 5, 7], b: [3, 1, 1], bn: 3, inner: 35 },
  { name: 'column', a: [5, 11], b: [5, 1], bn: 5, inner: 11 },
  { name: '1-sized dims', a: [1, 1, 1], b: [1, 1, 1], bn: 1, inner: 1 },
  { name: 'more than one workgroup', a: [3, 300], b: [300], bn: 300, inner: 1 },
  // b's gradient: one invocation per element of b (above), or a workgroup each when there are
  // few and each sums many terms (per-channel NCHW, and this)
  { name: 'few channels, long sums', a: [20, 2, 9], b: [2, 1], bn: 2, inner: 9 },
];

function sumOver(g: Float64Array, bn: number, inner: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(bn);
  for (let i = 0; i < g.length; i++) out[bIndex(i, bn, inner)]! += f(i);
  return out;
}

type Bin = 'add' | 'sub' | 'mul' | 'div';
const binaryRef: Record<Bin, { f: (a: number, b: number) => number; da: (a: number, b: number) => number; db: (a: number, b: number) => number }> = {
  add: { f: (a, b) => a + b, da: () => 1, db: () => 1 },
  sub: { f: (a, b) => a - b, da: () => 1, db: () => -1 },
  mul: { f: (a, b) => a * b, da: (_, b) => b, db: (a) => a },
  div: { f: (a, b) => a / b, da: (_, b) => 1 / b, db: (a, b) => -a / (b * b) },
};

describe('binary elementwise ops with broadcasting', () => {
  for (const op of Object.keys(binaryRef) as Bin[]) {
    for (const bc of broadcasts) {
      it(`${op}: ${bc.name}`, async () => {
        const rng = new Rng(op.length * 100 + bc.a.length);
        const r = binaryRef[op];
        const n = bc.a.reduce((x, y) => x * y, 1);
        await checkOp(engine, {
          name: `${op} ${bc.name}`,
          inputs: [
            { shape: bc.a, data: randomArray(rng, n) },
            // divisors kept away from 0 so the quotient is well conditioned
            { shape: bc.b, data: op === 'div' ? map(awayFromZero(rng, bc.bn, 0.5), (v) => v * 2) : randomArray(rng, bc.bn) },
          ],
          gpu: (a, b) => ec[op](a, b),
          ref: (a, b) => map(a, (v, i) => r.f(v, b[bIndex(i, bc.bn, bc.inner)]!)),
          refGrad: (g, a, b) => [
            map(a, (v, i) => g[i]! * r.da(v, b[bIndex(i, bc.bn, bc.inner)]!)),
            sumOver(g, bc.bn, bc.inner, (i) => g[i]! * r.db(a[i]!, b[bIndex(i, bc.bn, bc.inner)]!)),
          ],
          gradTol: { rtol: 1e-4, atol: 1e-4 },
        });
      });
    }
  }

  it('broadcasts the smaller operand of add/mul when it comes first', async () => {
    const a = ec.Tensor.from(engine, [1, 2], [2]);
    const b = ec.Tensor.from(engine, [1, 2, 3, 4], [2, 2]);
    const { expect } = await import('vitest');
    expect(Array.from(await ec.add(a, b).toArray())).toEqual([2, 4, 4, 6]);
  });
});

type Un = 'relu' | 'sigmoid' | 'tanh' | 'exp' | 'log';
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const unaryRef: Record<Un, { f: (x: number) => number; d: (x: number) => number; data: (rng: Rng, n: number) => Float64Array }> = {
  relu: { f: (x) => Math.max(x, 0), d: (x) => (x > 0 ? 1 : 0), data: (rng, n) => awayFromZero(rng, n) },
  sigmoid: { f: sig, d: (x) => sig(x) * (1 - sig(x)), data: (rng, n) => randomArray(rng, n, -4, 4) },
  tanh: { f: Math.tanh, d: (x) => 1 - Math.tanh(x) ** 2, data: (rng, n) => randomArray(rng, n, -3, 3) },
  exp: { f: Math.exp, d: Math.exp, data: (rng, n) => randomArray(rng, n, -2, 2) },
  log: { f: Math.log, d: (x) => 1 / x, data: (rng, n) => randomArray(rng, n, 0.2, 3) },
};

describe('unary elementwise ops', () => {
  for (const op of Object.keys(unaryRef) as Un[]) {
    // [600] and [4, 2050] take relu's vec4 kernels (n a multiple of 4; the latter several workgroups)
    for (const shape of [[1], [7, 13], [2, 3, 5, 7], [600], [4, 2050]]) {
      it(`${op} ${JSON.stringify(shape)}`, async () => {
        const rng = new Rng(shape.length + op.length);
        const r = unaryRef[op];
        const n = shape.reduce((x, y) => x * y, 1);
        await checkOp(engine, {
          name: `${op} ${JSON.stringify(shape)}`,
          inputs: [{ shape, data: r.data(rng, n) }],
          gpu: (x) => ec[op](x),
          ref: (x) => map(x, r.f),
          refGrad: (g, x) => [map(x, (v, i) => g[i]! * r.d(v))],
          fwdTol: { rtol: 2e-6, atol: 2e-6 },
        });
      });
    }
  }

  it('sigmoid and tanh stay finite for large |x|', async () => {
    const { expect } = await import('vitest');
    const x = ec.Tensor.from(engine, [-100, -30, 30, 100], [4]);
    const s = await ec.sigmoid(x).toArray();
    const t = await ec.tanh(x).toArray();
    expect(Array.from(s)).toEqual([expect.closeTo(0, 6), expect.closeTo(0, 6), expect.closeTo(1, 6), expect.closeTo(1, 6)]);
    expect(Array.from(t)).toEqual([-1, -1, 1, 1]);
  });

  it('scale = alpha * x + beta, with gradient alpha', async () => {
    const rng = new Rng(5);
    await checkOp(engine, {
      name: 'scale',
      inputs: [{ shape: [5, 3], data: randomArray(rng, 15) }],
      gpu: (x) => ec.scale(x, -1.5, 0.25),
      ref: (x) => map(x, (v) => -1.5 * v + 0.25),
      refGrad: (g) => [map(g, (v) => -1.5 * v)],
    });
  });
});

describe('creation', () => {
  it('full / zeros / ones fill every element, including past 65535 workgroups of 256', async () => {
    const { expect } = await import('vitest');
    const t = ec.full(engine, [5, 7], 2.5);
    expect(Array.from(await t.toArray()).every((v) => v === 2.5)).toBe(true);
    const quads = ec.full(engine, [4, 1001], -1.5); // a multiple of 4: fill4, several workgroups
    const q = await quads.toArray();
    expect(q.length).toBe(4004);
    expect(q.every((v) => v === -1.5)).toBe(true);
    const big = ec.ones(engine, [65536 * 256 + 3]);
    const values = await big.toArray();
    expect(values.length).toBe(65536 * 256 + 3);
    expect(values.every((v) => v === 1)).toBe(true);
    big.dispose();
  });
});
