import { describe, expect, it } from 'vitest';
import { feasibleRange, resolveBudget, roundSizesJointly, uniformSoftSize } from '../src/effconv/budget.js';
import { channelPairs, parameterCount, PRESETS, resolveSpec, restParameters, validateSpec, widthMatched } from '../src/effconv/spec.js';
import { Rng } from '../src/random.js';

const fmnist = PRESETS['fmnist-6']!;
const range = { kMin: 1, kMax: 9 };

describe('backbone specs and parameter counts', () => {
  it('counts fmnist-6 by hand: Σ Cin·Cout·s² + batch norm + head', () => {
    // Σ Cin·Cout = 1·16 + 16·16 + 16·32 + 32·32 + 32·64 + 64·64 = 7952; BN 2·224; head 64·10 + 10
    expect(restParameters(fmnist)).toBe(448 + 650);
    expect(parameterCount(fmnist, [3, 3, 3, 3, 3, 3])).toBe(7952 * 9 + 1098);
    expect(parameterCount(fmnist, [1, 3, 5, 7, 9, 1])).toBe(16 + 256 * 9 + 512 * 25 + 1024 * 49 + 2048 * 81 + 4096 + 1098);
  });

  it('validates user specs with clear messages', () => {
    expect(() => validateSpec({ input: [1, 28], classes: 10, layers: [{ out: 4 }] })).toThrow(/"input" must be \[channels, height, width\]/);
    expect(() => validateSpec({ input: [1, 8, 8], classes: 10, layers: [] })).toThrow(/"layers" must be a non-empty list/);
    expect(() => validateSpec({ input: [1, 8, 8], classes: 10, layers: [{ out: 4, stride: 3 }] })).toThrow(/layer 0: "stride" must be 1 or 2/);
    expect(() => validateSpec({ input: [1, 2, 2], classes: 10, layers: [{ out: 4, pool: 'max' }, { out: 4, pool: 'max' }] })).toThrow(/layer 1: a 1×1 feature map is too small to pool/);
    expect(() => resolveSpec('nope')).toThrow(/unknown preset "nope" \(presets: fmnist-6, cifar-8/);
    const ok = validateSpec({ name: 'mine', input: [3, 16, 16], classes: 5, layers: [{ out: 8, stride: 2 }, { out: 8, pool: 'avg' }] });
    expect(channelPairs(ok)).toEqual([{ cin: 3, cout: 8 }, { cin: 8, cout: 8 }]);
  });

  it('width-matches the all-3×3 baseline to the budget within 1 %', () => {
    for (const budget of [50_000, 100_000, 200_000]) {
      const spec = widthMatched(fmnist, 3, budget);
      const p = parameterCount(spec, [3, 3, 3, 3, 3, 3]);
      expect(Math.abs(p - budget) / budget).toBeLessThan(0.01);
    }
  });
});

describe('budget', () => {
  it('gives the feasible range and rejects budgets outside it, naming the range', () => {
    const [lo, hi] = feasibleRange(fmnist, range);
    expect(lo).toBe(7952 + 1098);
    expect(hi).toBe(7952 * 81 + 1098);
    expect(() => resolveBudget(fmnist, range, 5_000)).toThrow(/budget 5,000 parameters is outside the feasible range 9,050 \(all 1×1\) … 645,210 \(all 9×9\)/);
    expect(() => resolveBudget(fmnist, range, 700_000)).toThrow(/outside the feasible range/);
    expect(() => resolveBudget(fmnist, range, Number.NaN)).toThrow(/positive number/);
    expect(resolveBudget(fmnist, range, 0.5)).toBe(0.5 * hi); // a fraction of the k_max network
    expect(resolveBudget(fmnist, range, 100_000)).toBe(100_000);
  });

  it('starts the soft sizes where P(v) equals the budget', () => {
    const v0 = uniformSoftSize(fmnist, 100_000);
    const pairs = channelPairs(fmnist);
    const p = pairs.reduce((s, q) => s + q.cin * q.cout * v0 * v0, 0) + restParameters(fmnist);
    expect(p).toBeCloseTo(100_000, 6);
  });

  it('joint rounding honours the budget where rounding each layer on its own misses it', () => {
    const rng = new Rng(5);
    let independentMisses = 0;
    for (let trial = 0; trial < 40; trial++) {
      // soft sizes with P(v) exactly on a random budget, as a converged search gives
      const v = Array.from({ length: 6 }, () => rng.uniform(1.5, 8.5));
      const pairs = channelPairs(fmnist);
      const target = pairs.reduce((s, q, l) => s + q.cin * q.cout * v[l]! ** 2, 0) + restParameters(fmnist);
      const independent = v.map((x) => Math.min(9, Math.max(1, 2 * Math.round((x - 1) / 2) + 1)));
      if (Math.abs(parameterCount(fmnist, independent) - target) / target > 0.02) independentMisses++;
      const r = roundSizesJointly(fmnist, v, target, range);
      expect(Math.abs(r.deviation), `trial ${trial}: v=${v.map((x) => x.toFixed(2))} → ${r.sizes}`).toBeLessThanOrEqual(0.02);
      expect(r.parameters).toBe(parameterCount(fmnist, r.sizes));
      r.sizes.forEach((s, l) => expect(Math.abs(s - v[l]!)).toBeLessThanOrEqual(3)); // stays near the search's sizes
    }
    expect(independentMisses).toBeGreaterThan(10); // the problem the joint rounding solves is real
  });
});
