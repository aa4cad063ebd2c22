/** One convolution case checked against the float64 reference (shared by the conv2d test files). */
import type { TiledTile, WeightGradient } from '../../src/ops/conv2d.js';
import { conv2d, type ConvVariant, type Engine } from '../../src/index.js';
import { Rng } from '../../src/random.js';
import { checkOp } from './check.js';
import { refConv, refConvGrad, type ConvShape } from './conv_reference.js';
import { randomArray } from './random.js';

export interface ConvCase extends ConvShape {
  /** The soft size v (the Gaussian mask applied), or none. */
  v?: number;
}

export function convCaseName(c: ConvCase): string {
  return `N=${c.N} ${c.Cin}→${c.Cout} ${c.H}×${c.W} s=${c.s}/k=${c.kw} stride=${c.stride} pad=${c.pad}${c.v === undefined ? '' : ` v=${c.v}`}`;
}

/** The subgroup kernels take stride 1 with 'same' padding (on a device with subgroups). */
export const subgroupCase = (c: ConvCase) => c.stride === 1 && c.pad === (c.s - 1) / 2;

/**
 * checkOp on conv2d: forward vs the reference, the reference backward vs finite differences, the
 * GPU gradients of x, w (and v when masked) vs the reference backward.
 */
export async function checkConv(
  engine: Engine,
  c: ConvCase,
  seed: number,
  variant: ConvVariant = 'plain',
  weightGradient: WeightGradient = 'auto',
  tile?: TiledTile,
  winograd?: boolean,
): Promise<void> {
  const rng = new Rng(seed);
  const xs = randomArray(rng, c.N * c.Cin * c.H * c.W);
  const ws = randomArray(rng, c.Cout * c.Cin * c.kw * c.kw);
  const masked = c.v !== undefined;
  await checkOp(engine, {
    name: convCaseName(c),
    inputs: [
      { shape: [c.N, c.Cin, c.H, c.W], data: xs },
      { shape: [c.Cout, c.Cin, c.kw, c.kw], data: ws },
      ...(masked ? [{ shape: [1], data: Float64Array.of(c.v!) }] : []),
    ],
    gpu: (x, w, v) => conv2d(x, w, { size: c.s, stride: c.stride as 1 | 2, padding: c.pad, softSize: v, variant, weightGradient, ...(tile ? { tile } : {}), ...(winograd === undefined ? {} : { winograd }) }),
    ref: (x, w, v) => refConv(c, x, w, v?.[0]),
    refGrad: (g, x, w, v) => {
      const r = refConvGrad(c, g, x, w, v?.[0]);
      return masked ? [r.dx, r.dw, Float64Array.of(r.dv)] : [r.dx, r.dw];
    },
    fwdTol: { rtol: 1e-4, atol: 1e-4 },
    gradTol: { rtol: 1e-4, atol: 2e-4 },
    seed,
  });
}

/** The nearest odd size to v in [kMin, kMax], ties upward: the reference's hard size, found by search. */
export function nearestOdd(v: number, kMin: number, kMax: number): number {
  let best = kMin;
  for (let o = kMin; o <= kMax; o += 2) if (Math.abs(v - o) <= Math.abs(v - best)) best = o;
  return best;
}

/**
 * checkOp on conv2d with size 'fromSoftSize' on a k_max = 9 grid (the hard size taken from v on
 * the GPU) against the reference convolution of the nearest odd size: values and the gradients of
 * x, w and v. `shape` gives N, Cin, H, W, Cout.
 */
export async function checkSoftSizeConv(
  engine: Engine,
  shape: { N: number; Cin: number; H: number; W: number; Cout: number },
  v: number,
  kMin: number,
  stride: 1 | 2,
  variant: ConvVariant,
  tile?: TiledTile,
): Promise<void> {
  const s = nearestOdd(v, kMin, 9);
  const c: ConvCase = { ...shape, kw: 9, s, stride, pad: (s - 1) / 2, v };
  const rng = new Rng(Math.round(v * 10));
  await checkOp(engine, {
    name: convCaseName(c),
    inputs: [
      { shape: [c.N, c.Cin, c.H, c.W], data: randomArray(rng, c.N * c.Cin * c.H * c.W) },
      { shape: [c.Cout, c.Cin, 9, 9], data: randomArray(rng, c.Cout * c.Cin * 81) },
      { shape: [1], data: Float64Array.of(v) },
    ],
    gpu: (x, w, sv) => conv2d(x!, w!, { size: 'fromSoftSize', kMin, stride, softSize: sv, variant, ...(tile ? { tile } : {}) }),
    ref: (x, w, sv) => refConv(c, x!, w!, sv![0]),
    refGrad: (g, x, w, sv) => {
      const r = refConvGrad(c, g, x!, w!, sv![0]);
      return [r.dx, r.dw, Float64Array.of(r.dv)];
    },
    fwdTol: { rtol: 1e-4, atol: 1e-4 },
    gradTol: { rtol: 1e-4, atol: 2e-4 },
    dirEps: 1e-3, // small enough that v's hard size does not change
  });
}
