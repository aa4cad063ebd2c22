/**
 * The parameter budget: its feasible range, the differentiable budget loss on the soft sizes, and
 * the joint rounding of soft sizes to odd sizes that honours the budget.
 */
import { Tensor } from '../tensor.js';
import { budgetLossOp } from '../ops/budget_loss.js';
import { hardSize } from '../ops/conv2d.js';
import { channelPairs, parameterCount, restParameters, type BackboneSpec } from './spec.js';

export interface SizeRange {
  kMin: number;
  kMax: number;
}

export class BudgetError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

/** Smallest and largest parameter counts the backbone can have (all k_min, all k_max). */
export function feasibleRange(spec: BackboneSpec, r: SizeRange): [number, number] {
  const L = spec.layers.length;
  return [parameterCount(spec, Array(L).fill(r.kMin)), parameterCount(spec, Array(L).fill(r.kMax))];
}

/**
 * The target count P_t from an absolute count (> 1) or a fraction (0, 1] of the k_max network's
 * count; throws BudgetError naming the feasible range when it is outside it.
 */
export function resolveBudget(spec: BackboneSpec, r: SizeRange, budget: number): number {
  const [lo, hi] = feasibleRange(spec, r);
  if (!(budget > 0) || !Number.isFinite(budget)) throw new BudgetError(`budget must be a positive number, got ${budget}`);
  const target = budget <= 1 ? budget * hi : budget;
  if (target < lo || target > hi) {
    throw new BudgetError(
      `budget ${Math.round(target).toLocaleString('en')} parameters is outside the feasible range ` +
        `${lo.toLocaleString('en')} (all ${r.kMin}×${r.kMin}) … ${hi.toLocaleString('en')} (all ${r.kMax}×${r.kMax}) of ${spec.name}`,
    );
  }
  return target;
}

/** The uniform soft size v0 with P(v0, …, v0) = P_t: where the size predictor starts. */
export function uniformSoftSize(spec: BackboneSpec, target: number): number {
  const cc = channelPairs(spec).reduce((s, p) => s + p.cin * p.cout, 0);
  return Math.sqrt((target - restParameters(spec)) / cc);
}

export type BudgetLossKind = 'symmetric' | 'asymmetric';

/**
 * L_param on the tape from the soft sizes v [L]: with P(v) = Σ Cin·Cout·v² + P_rest,
 * symmetric (log(P/P_t))², or asymmetric log(max(P, P_t)/P_t). Returns [loss, P(v)].
 */
export function budgetLoss(v: Tensor, channelProducts: Tensor, rest: number, target: number, kind: BudgetLossKind): [Tensor, Tensor] {
  const { loss, params } = budgetLossOp(v, channelProducts, rest, target, kind);
  return [loss, params];
}

export interface RoundedSizes {
  sizes: number[];
  parameters: number;
  /** (P(s) − P_t) / P_t */
  deviation: number;
}

/**
 * Chooses the odd sizes jointly: rounding each v_l on its own can miss the budget by several
 * percent (the sizes' errors add up). Among combinations whose count is within `tolerance` of the
 * target, take the one nearest the soft sizes (Σ (s_l − v_l)²); if none is, the one with the count
 * nearest the target. Candidates per layer: every admissible size within `reach` of v_l;
 * exhaustive over those (small for the backbones used here), then over all sizes when no
 * combination of the near ones is within tolerance and the network is small enough.
 */
export function roundSizesJointly(spec: BackboneSpec, v: readonly number[], target: number, r: SizeRange, tolerance = 0.02): RoundedSizes {
  const pairs = channelPairs(spec);
  const rest = restParameters(spec);
  const L = v.length;
  const admissible: number[] = [];
  for (let s = r.kMin; s <= r.kMax; s += 2) admissible.push(s);
  const reach = L <= 8 ? 3 : L <= 12 ? 1.5 : 1;
  const candidates = v.map((vl) => {
    const near = admissible.filter((s) => Math.abs(s - vl) <= reach);
    const fallback = [hardSize(vl, r.kMin, r.kMax)];
    return (near.length ? near : fallback).sort((a, b) => Math.abs(a - vl) - Math.abs(b - vl));
  });
  const search = (sets: number[][]) => {
    let best: { sizes: number[]; within: boolean; score: number } | null = null;
    const current: number[] = new Array(L);
    const visit = (l: number, count: number, dist: number): void => {
      if (l === L) {
        const p = count + rest;
        const within = Math.abs(p - target) <= tolerance * target;
        const score = within ? dist : Math.abs(p - target);
        if (!best || (within && !best.within) || (within === best.within && score < best.score)) best = { sizes: current.slice(), within, score };
        return;
      }
      for (const s of sets[l]!) {
        current[l] = s;
        visit(l + 1, count + pairs[l]!.cin * pairs[l]!.cout * s * s, dist + (s - v[l]!) ** 2);
      }
    };
    visit(0, 0, 0);
    return best!;
  };
  let best = search(candidates);
  // Coarse networks may need a size further from v to come near the budget: widen to every size.
  const count = (sizes: number[]) => sizes.reduce((c, s, l) => c + pairs[l]!.cin * pairs[l]!.cout * s * s, rest);
  if (!best.within && admissible.length ** L <= 2_000_000) {
    const wide = search(v.map(() => admissible));
    if (Math.abs(count(wide.sizes) - target) < Math.abs(count(best.sizes) - target)) best = wide;
  }
  const sizes = best.sizes;
  const parameters = parameterCount(spec, sizes);
  return { sizes, parameters, deviation: (parameters - target) / target };
}

/** Per-layer Cin·Cout as a GPU tensor [L] (the weights of v² in P(v)). */
export function channelProductTensor(engineOf: Tensor['engine'], spec: BackboneSpec): Tensor {
  return Tensor.from(engineOf, channelPairs(spec).map((p) => p.cin * p.cout), [spec.layers.length]);
}
