/**
 * Checks of what Search and FinalTraining are built from, when they are built: a bad batch,
 * learning rate, size or budget is a RangeError naming it, instead of a zero-sized buffer, a
 * cryptic shape error at the first step, or a search that cannot reach its budget.
 */
import { feasibleRange, type SizeRange } from './budget.js';
import type { BackboneSpec } from './spec.js';

const positiveInteger = (n: number) => Number.isInteger(n) && n > 0;

/** The options every stepper has: batch, learning rate, seed and log length. */
export function checkStepOptions(where: string, o: { batch: number; lr: number; seed: number; logEvery: number }): void {
  if (!positiveInteger(o.batch)) throw new RangeError(`${where}: batch must be a positive integer, got ${o.batch}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new RangeError(`${where}: lr must be a positive number, got ${o.lr}`);
  if (!(Number.isInteger(o.seed) && o.seed >= 0)) throw new RangeError(`${where}: seed must be an integer ≥ 0, got ${o.seed}`);
  if (!positiveInteger(o.logEvery)) throw new RangeError(`${where}: logEvery must be a positive integer, got ${o.logEvery}`);
}

/** Admissible sizes kMin … kMax: odd, 1 ≤ kMin ≤ kMax. */
export function checkSizeRange(where: string, r: SizeRange): void {
  const odd = (n: number) => positiveInteger(n) && n % 2 === 1;
  if (!odd(r.kMin) || !odd(r.kMax) || r.kMin > r.kMax) throw new RangeError(`${where}: kMin and kMax must be odd integers with 1 ≤ kMin ≤ kMax, got ${r.kMin} and ${r.kMax}`);
}

/** The search's target parameter count: inside the backbone's feasible range at these sizes. */
export function checkTarget(where: string, spec: BackboneSpec, r: SizeRange, target: number): void {
  const [lo, hi] = feasibleRange(spec, r);
  if (!(target >= lo && target <= hi)) {
    throw new RangeError(`${where}: target ${target} parameters is outside the feasible range ${lo} (all ${r.kMin}×${r.kMin}) … ${hi} (all ${r.kMax}×${r.kMax}) of ${spec.name} (resolveBudget turns a budget into a checked target)`);
  }
}

/** One odd size per conv layer of the backbone. */
export function checkLayerSizes(where: string, spec: BackboneSpec, sizes: readonly number[]): void {
  if (sizes.length !== spec.layers.length) throw new RangeError(`${where}: ${sizes.length} sizes for the ${spec.layers.length} conv layers of ${spec.name}`);
  sizes.forEach((s, l) => {
    if (!(positiveInteger(s) && s % 2 === 1)) throw new RangeError(`${where}: layer ${l}'s size must be an odd positive integer, got ${s}`);
  });
}
