/** bench/targets.ts judges a run's figures against the README's performance targets. */
import { describe, expect, it } from 'vitest';
import { checkTargets, type ConvRow } from '../bench/targets.js';
import type { Timing } from '../bench/timing.js';

const ms = (medianMs: number): Timing => ({ medianMs, minMs: medianMs, maxMs: medianMs, reps: 1, method: 'timestamp' });

/** A conv row of `flops` per pass with the given effconv and TF.js times (ms). */
function row(k: number, flops: number, fwd: number, bwdIn: number, bwdW: number, peerFwd: number, peerFb: number): ConvRow {
  return {
    shape: 'N=1 4×4 1→1',
    k,
    effconv: { fwd: ms(fwd), bwdInput: ms(bwdIn), bwdWeight: ms(bwdW), fwdGflops: flops / (fwd * 1e6), fwdBwdGflops: (3 * flops) / ((fwd + bwdIn + bwdW) * 1e6) },
    peer: { fwd: ms(peerFwd), fwdBwd: ms(peerFb) },
  };
}

describe('checkTargets', () => {
  it('judges each k ≥ 3 row on % of peak and every row on × TF.js, at the stated thresholds', () => {
    // peak 100 GFLOP/s; 1 GFLOP per pass: fwd 20 ms = 50 GFLOP/s (50 %), fwd+bwd 3 GFLOP in 75 ms = 40 %
    const atThreshold = row(3, 1e9, 20, 25, 30, 80, 450);
    const checks = checkTargets(100, [atThreshold], undefined, undefined);
    expect(checks.map((c) => [c.target.split(': ')[1], c.met])).toEqual([
      ['forward ≥ 50 % of peak', true],
      ['forward + backward ≥ 40 % of peak', true],
      ['forward ≥ 4× TF.js', true],
      ['forward + backward ≥ 6× TF.js', true],
    ]);
    const below = row(3, 1e9, 20.1, 25, 30, 80, 449);
    expect(checkTargets(100, [below], undefined, undefined).map((c) => c.met)).toEqual([false, false, false, false]);
  });

  it("judges % of peak against the peak measured alongside the row when the row has one", () => {
    // fwd 40 GFLOP/s, fwd+bwd 3 GFLOP in 100 ms = 30 GFLOP/s: 40 % / 30 % of the run's 100, 80 % / 60 % of the row's 50
    const r = row(3, 1e9, 25, 35, 40, 200, 1000);
    expect(checkTargets(100, [r], undefined, undefined).slice(0, 2).map((c) => [c.value, c.met])).toEqual([['40.0 %', false], ['30.0 %', false]]);
    expect(checkTargets(100, [{ ...r, peakGflops: 50 }], undefined, undefined).slice(0, 2).map((c) => [c.value, c.met])).toEqual([['80.0 %', true], ['60.0 %', true]]);
  });

  it('asks no % of peak of k = 1 rows, and checks the masked and end-to-end ratios', () => {
    const checks = checkTargets(100, [row(1, 1e9, 100, 100, 100, 500, 2000)], 1.3, 2.9);
    expect(checks.map((c) => c.target.split(': ').pop())).toEqual([
      'forward ≥ 4× TF.js',
      'forward + backward ≥ 6× TF.js',
      'masked s = 3 in k_max = 9 ≤ 1.25× a plain 3×3 (forward + backward)',
      'fmnist-6 final-training step ≥ 3× TF.js images/s',
    ]);
    expect(checks.map((c) => c.met)).toEqual([true, true, false, false]);
    expect(checkTargets(100, undefined, 1.25, 3).map((c) => c.met)).toEqual([true, true]);
  });
});
