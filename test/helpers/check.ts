/**
 * Test discipline (tinygrad's helper_test_op): each op case gives the GPU op, an independent
 * float64 reference forward and a reference backward. `checkOp` verifies
 *   1. GPU forward ≈ reference forward;
 *   2. reference backward ≈ central finite differences of the reference forward (float64);
 *   3. GPU backward (through the tape) ≈ reference backward;
 *   4. on the GPU alone, (L(x+εv) − L(x−εv)) / 2ε ≈ ⟨∇L, v⟩.
 * with L = Σ op(x) ⊙ R for a fixed random R.
 */
import { expect } from 'vitest';
import { backward, mul, noGrad, reshape, sum, Tensor, type Engine } from '../../src/index.js';
import { Rng } from '../../src/random.js';
import { randomArray } from './random.js';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** Throws with the worst element when |a − e| > atol + rtol·|e| anywhere. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}, what = 'values'): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-5;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} (rtol ${rtol}, atol ${atol}; ${expected.length} elements)`,
    );
  }
}

export interface OpInput {
  shape: number[];
  data: Float64Array;
  /** Inputs that are not differentiated (e.g. labels) set this false. */
  grad?: boolean;
  dtype?: 'float32' | 'int32';
}

export interface OpCase {
  name: string;
  inputs: OpInput[];
  gpu: (...xs: Tensor[]) => Tensor;
  ref: (...xs: Float64Array[]) => Float64Array;
  /** Reference backward: gradient of Σ ref(x) ⊙ g for each input (null for non-differentiable ones). */
  refGrad: (g: Float64Array, ...xs: Float64Array[]) => (Float64Array | null)[];
  fwdTol?: Tolerance;
  gradTol?: Tolerance;
  /** Finite-difference step for the float64 reference check. */
  fdEps?: number;
  /** Step for the GPU directional-derivative check; 0 skips it. */
  dirEps?: number;
  dirTol?: number;
  seed?: number;
}

function upload(engine: Engine, input: OpInput): Tensor {
  const t = Tensor.from(engine, input.dtype === 'int32' ? Int32Array.from(input.data) : input.data, input.shape, input.dtype ?? 'float32');
  t.requiresGrad = input.grad !== false && (input.dtype ?? 'float32') === 'float32';
  return t;
}

/**
 * Central differences of Σ ref(x) ⊙ g with respect to input k (float64), at `indices` (each
 * costs two reference forwards, so large inputs are checked at a random sample of elements).
 */
export function finiteDiffGrad(c: OpCase, xs: Float64Array[], g: Float64Array, k: number, eps: number, indices: number[]): Float64Array {
  const x = xs[k]!;
  const out = new Float64Array(indices.length);
  const objective = () => {
    const y = c.ref(...xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * g[i]!;
    return s;
  };
  indices.forEach((i, j) => {
    const keep = x[i]!;
    x[i] = keep + eps;
    const plus = objective();
    x[i] = keep - eps;
    const minus = objective();
    x[i] = keep;
    out[j] = (plus - minus) / (2 * eps);
  });
  return out;
}

export async function checkOp(engine: Engine, c: OpCase): Promise<void> {
  const rng = new Rng(c.seed ?? 1234);
  const xs = c.inputs.map((i) => Float64Array.from(i.dtype === 'int32' ? i.data : Float32Array.from(i.data))); // what the GPU sees
  const expected = c.ref(...xs);
  const g = randomArray(rng, expected.length);
  const refGrads = c.refGrad(g, ...xs);

  // 2. reference backward vs finite differences (float64)
  c.inputs.forEach((input, k) => {
    const rg = refGrads[k];
    if (input.grad === false || !rg) return;
    const n = xs[k]!.length;
    const indices = n <= 64 ? [...Array(n).keys()] : Array.from({ length: 64 }, () => rng.int(n));
    const fd = finiteDiffGrad(c, xs, g, k, c.fdEps ?? 1e-6, indices);
    expectClose(indices.map((i) => rg[i]!), fd, { rtol: 1e-5, atol: 1e-6 }, `${c.name}: reference grad of input ${k} vs finite differences`);
  });

  // 1 + 3. GPU forward and backward vs reference
  const tensors = c.inputs.map((i) => upload(engine, i));
  const { y, grads } = await (async () => {
    const R = Tensor.from(engine, g, [expected.length]);
    const out = engine.tidy(() => {
      const y = c.gpu(...tensors);
      const loss = sum(mul(reshape(y, [y.size]), R));
      backward(loss);
      return y;
    });
    R.dispose();
    return { y: await out.toFloat32(), grads: await Promise.all(tensors.map((t) => (t.grad ? t.grad.toFloat32() : null))) };
  })();
  expectClose(y, expected, c.fwdTol ?? { rtol: 1e-5, atol: 1e-5 }, `${c.name}: GPU forward vs reference`);
  c.inputs.forEach((input, k) => {
    const rg = refGrads[k];
    if (input.grad === false || !rg) return;
    expect(grads[k], `${c.name}: GPU produced no gradient for input ${k}`).toBeTruthy();
    expectClose(grads[k]!, rg, c.gradTol ?? { rtol: 1e-4, atol: 1e-5 }, `${c.name}: GPU grad of input ${k} vs reference`);
  });

  // 4. directional derivative on the GPU
  const dirEps = c.dirEps ?? 1e-2;
  if (dirEps > 0) {
    const dirs = c.inputs.map((input) => (input.grad === false || input.dtype === 'int32' ? null : randomArray(rng, input.data.length)));
    let predicted = 0;
    dirs.forEach((d, k) => {
      if (!d || !grads[k]) return;
      for (let i = 0; i < d.length; i++) predicted += grads[k]![i]! * d[i]!;
    });
    const lossAt = async (sign: number): Promise<number> => {
      const moved = c.inputs.map((input, k) => {
        const d = dirs[k];
        if (!d) return upload(engine, { ...input, grad: false });
        const data = Float64Array.from(xs[k]!, (v, i) => v + sign * dirEps * d[i]!);
        return upload(engine, { ...input, data, grad: false });
      });
      const R = Tensor.from(engine, g, [expected.length]);
      const loss = noGrad(engine, () => engine.tidy(() => sum(mul(c.gpu(...moved).view([expected.length]), R))));
      const v = await loss.item();
      loss.dispose();
      R.dispose();
      moved.forEach((t) => t.dispose());
      return v;
    };
    const numeric = ((await lossAt(1)) - (await lossAt(-1))) / (2 * dirEps);
    const tol = c.dirTol ?? 2e-2;
    expect(
      Math.abs(numeric - predicted),
      `${c.name}: GPU directional derivative ${numeric} vs ⟨grad, v⟩ ${predicted}`,
    ).toBeLessThanOrEqual(tol * Math.abs(predicted) + 1e-2);
  }
  for (const t of tensors) {
    t.grad?.dispose();
    t.dispose();
  }
}
