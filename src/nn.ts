/** Parameter creation and initialisation (CPU, seeded) for layers built from the ops. */
import type { Engine } from './gpu/engine.js';
import { Rng } from './random.js';
import { Tensor } from './tensor.js';

/** A leaf tensor with requiresGrad, kept out of scopes: it lives until disposed. */
export function parameter(engine: Engine, data: ArrayLike<number>, shape: readonly number[]): Tensor {
  const t = engine.keep(Tensor.from(engine, data, shape));
  t.requiresGrad = true;
  return t;
}

/** PyTorch's default for Linear/Conv: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function uniformInit(rng: Rng, count: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.uniform(-bound, bound);
  return out;
}

export interface LinearParams {
  weight: Tensor;
  bias: Tensor;
}

/** Weight [out, in] and bias [out] for `linear`, initialised like torch.nn.Linear. */
export function linearParams(engine: Engine, rng: Rng, inFeatures: number, outFeatures: number): LinearParams {
  return {
    weight: parameter(engine, uniformInit(rng, inFeatures * outFeatures, inFeatures), [outFeatures, inFeatures]),
    bias: parameter(engine, uniformInit(rng, outFeatures, inFeatures), [outFeatures]),
  };
}
