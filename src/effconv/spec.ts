/**
 * Classifier backbones from a small declarative spec: a list of conv layers, each conv (no bias;
 * batch norm follows) → BatchNorm2d → ReLU → optional 2×2 pooling; then global average pooling and
 * a linear head. Presets: `fmnist-6` and `cifar-8`; a user may pass their own spec as JSON.
 */

export interface ConvLayerSpec {
  /** Output channels. */
  out: number;
  /** Convolution stride (default 1). */
  stride?: 1 | 2;
  /** 2×2 pooling after the activation. */
  pool?: 'max' | 'avg';
}

export interface BackboneSpec {
  name: string;
  /** [channels, height, width] of one input image. */
  input: [number, number, number];
  classes: number;
  layers: ConvLayerSpec[];
  /**
   * The parameter budget a run takes when none is given (a count, or a fraction ≤ 1 of the
   * all-k_max network); default DEFAULT_BUDGET_FRACTION.
   */
  budget?: number;
}

/**
 * The default budget of a backbone that names none (a user's spec): this fraction of its all-9×9
 * network, about the presets' own (fmnist-6's 100,000 is 0.155 of 645,210 parameters; cifar-8's
 * 1,500,000 is 0.142 of 10,546,154), each about 1.3 times its all-3×3 network.
 */
export const DEFAULT_BUDGET_FRACTION = 0.15;

export const PRESETS: Record<string, BackboneSpec> = {
  'fmnist-6': {
    name: 'fmnist-6',
    input: [1, 28, 28],
    classes: 10,
    layers: [{ out: 16 }, { out: 16, pool: 'max' }, { out: 32 }, { out: 32, pool: 'max' }, { out: 64 }, { out: 64 }],
    budget: 100_000,
  },
  'cifar-8': {
    name: 'cifar-8',
    input: [3, 32, 32],
    classes: 10,
    layers: [
      { out: 32 },
      { out: 32, pool: 'max' },
      { out: 64 },
      { out: 64, pool: 'max' },
      { out: 128 },
      { out: 128, pool: 'max' },
      { out: 256 },
      { out: 256 },
    ],
    budget: 1_500_000,
  },
};

export class SpecError extends Error {
  constructor(message: string) {
    super(`backbone spec: ${message}`);
    this.name = 'SpecError';
  }
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Checks a spec (e.g. parsed from a user's JSON file) and returns it typed; throws SpecError. */
export function validateSpec(raw: unknown): BackboneSpec {
  if (typeof raw !== 'object' || raw === null) throw new SpecError('must be a JSON object');
  const o = raw as Record<string, unknown>;
  const input = o.input;
  if (!Array.isArray(input) || input.length !== 3 || !input.every(isPosInt)) {
    throw new SpecError(`"input" must be [channels, height, width] of positive integers, got ${JSON.stringify(input)}`);
  }
  if (!isPosInt(o.classes) || o.classes < 2) throw new SpecError(`"classes" must be an integer ≥ 2, got ${JSON.stringify(o.classes)}`);
  if (!Array.isArray(o.layers) || o.layers.length === 0) throw new SpecError('"layers" must be a non-empty list');
  let [, h, w] = input as [number, number, number];
  const layers = o.layers.map((l: unknown, i: number): ConvLayerSpec => {
    const layer = l as Record<string, unknown>;
    if (typeof l !== 'object' || l === null || !isPosInt(layer.out)) throw new SpecError(`layer ${i}: "out" must be a positive integer`);
    const stride = layer.stride ?? 1;
    if (stride !== 1 && stride !== 2) throw new SpecError(`layer ${i}: "stride" must be 1 or 2, got ${JSON.stringify(stride)}`);
    if (layer.pool !== undefined && layer.pool !== 'max' && layer.pool !== 'avg') {
      throw new SpecError(`layer ${i}: "pool" must be "max" or "avg", got ${JSON.stringify(layer.pool)}`);
    }
    h = Math.floor((h - 1) / stride) + 1;
    w = Math.floor((w - 1) / stride) + 1;
    if (layer.pool) {
      if (h < 2 || w < 2) throw new SpecError(`layer ${i}: a ${h}×${w} feature map is too small to pool`);
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    }
    return { out: layer.out, stride: stride as 1 | 2, ...(layer.pool ? { pool: layer.pool as 'max' | 'avg' } : {}) };
  });
  return { name: typeof o.name === 'string' ? o.name : 'custom', input: input as [number, number, number], classes: o.classes, layers };
}

/** A preset by name, or a spec file's parsed JSON. */
export function resolveSpec(nameOrJson: string | object): BackboneSpec {
  if (typeof nameOrJson === 'string') {
    const p = PRESETS[nameOrJson];
    if (!p) throw new SpecError(`unknown preset "${nameOrJson}" (presets: ${Object.keys(PRESETS).join(', ')}; or pass a JSON file)`);
    return p;
  }
  return validateSpec(nameOrJson);
}

/** Per conv layer: input and output channels. */
export function channelPairs(spec: BackboneSpec): { cin: number; cout: number }[] {
  let cin = spec.input[0];
  return spec.layers.map((l) => {
    const pair = { cin, cout: l.out };
    cin = l.out;
    return pair;
  });
}

/** Parameters that do not depend on kernel sizes: batch-norm γ and β, the linear head. */
export function restParameters(spec: BackboneSpec): number {
  const last = spec.layers[spec.layers.length - 1]!.out;
  return spec.layers.reduce((s, l) => s + 2 * l.out, 0) + last * spec.classes + spec.classes;
}

/** The classifier's real parameter count with kernel sizes s (P(s) = Σ Cin·Cout·s² + P_rest). */
export function parameterCount(spec: BackboneSpec, sizes: readonly number[]): number {
  const pairs = channelPairs(spec);
  if (sizes.length !== pairs.length) throw new SpecError(`${sizes.length} sizes for ${pairs.length} conv layers`);
  return pairs.reduce((s, p, l) => s + p.cin * p.cout * sizes[l]! ** 2, 0) + restParameters(spec);
}

/** The spec with every layer's channel count scaled by `factor` (at least 1 channel). */
export function scaleWidth(spec: BackboneSpec, factor: number): BackboneSpec {
  return { ...spec, name: `${spec.name}×${factor.toFixed(3)}`, layers: spec.layers.map((l) => ({ ...l, out: Math.max(1, Math.round(l.out * factor)) })) };
}

/**
 * The all-s baseline at a parameter budget: channel widths scaled (bisection on the factor) so
 * that the all-s network's count is as close to `budget` as integer widths allow.
 */
export function widthMatched(spec: BackboneSpec, size: number, budget: number): BackboneSpec {
  const count = (f: number) => parameterCount(scaleWidth(spec, f), spec.layers.map(() => size));
  let lo = 0.01;
  let hi = 1;
  while (count(hi) < budget && hi < 1024) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (count(mid) < budget) lo = mid;
    else hi = mid;
  }
  // integer widths make the count a step function: take the closer of the two ends
  const best = Math.abs(count(lo) - budget) <= Math.abs(count(hi) - budget) ? lo : hi;
  return scaleWidth(spec, best);
}
