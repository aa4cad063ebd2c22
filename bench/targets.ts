/**
 * The performance targets (README, Performance) checked against one bench run's own figures, so a
 * run says by itself which of them it meets. Every target is a ratio, comparable across devices.
 */
import type { Timing } from './timing.js';

export interface ConvRow {
  shape: string;
  k: number;
  /** The kernel family that ran the row (bench --conv-kernels: 'fastest' picks it per row). */
  kernels?: string;
  /** The FMA peak measured alongside the row (bench/main.ts); the run's peak when absent. */
  peakGflops?: number;
  effconv: { fwdGflops: number; fwdBwdGflops: number; fwd: Timing; bwdInput: Timing; bwdWeight: Timing };
  peer: { fwd: Timing; fwdBwd: Timing } | null;
}

export interface TargetCheck {
  target: string;
  /** The figures it was judged on, for the reader. */
  value: string;
  met: boolean;
}

/** effconv's speed-up over TF.js on a conv row (TF.js time / effconv time), or null without a peer. */
export function peerRatios(r: ConvRow): { fwd: number; fwdBwd: number } | null {
  if (!r.peer) return null;
  const e = r.effconv;
  return { fwd: r.peer.fwd.medianMs / e.fwd.medianMs, fwdBwd: r.peer.fwdBwd.medianMs / (e.fwd.medianMs + e.bwdInput.medianMs + e.bwdWeight.medianMs) };
}

const pc = (v: number) => `${(100 * v).toFixed(1)} %`;
const x = (v: number) => `${v.toFixed(2)}×`;

/** One check per target and conv row (targets with no figures in this run are left out). */
export function checkTargets(
  peakGflops: number,
  conv: readonly ConvRow[] | undefined,
  maskedOverPlain3: number | undefined,
  e2eOverPeer: number | undefined,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const r of conv ?? []) {
    const row = `${r.shape} k=${r.k}`;
    const peak = r.peakGflops ?? peakGflops;
    const fwd = r.effconv.fwdGflops / peak;
    const fb = r.effconv.fwdBwdGflops / peak;
    if (r.k >= 3 && peak > 0) {
      checks.push({ target: `${row}: forward ≥ 50 % of peak`, value: pc(fwd), met: fwd >= 0.5 });
      checks.push({ target: `${row}: forward + backward ≥ 40 % of peak`, value: pc(fb), met: fb >= 0.4 });
    }
    const ratios = peerRatios(r);
    if (ratios) {
      checks.push({ target: `${row}: forward ≥ 4× TF.js`, value: x(ratios.fwd), met: ratios.fwd >= 4 });
      checks.push({ target: `${row}: forward + backward ≥ 6× TF.js`, value: x(ratios.fwdBwd), met: ratios.fwdBwd >= 6 });
    }
  }
  if (maskedOverPlain3 !== undefined) {
    checks.push({ target: 'masked s = 3 in k_max = 9 ≤ 1.25× a plain 3×3 (forward + backward)', value: x(maskedOverPlain3), met: maskedOverPlain3 <= 1.25 });
  }
  if (e2eOverPeer !== undefined) {
    checks.push({ target: 'fmnist-6 final-training step ≥ 3× TF.js images/s', value: x(e2eOverPeer), met: e2eOverPeer >= 3 });
  }
  return checks;
}
