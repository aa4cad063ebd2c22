/**
 * Pointwise ops (shaders/elementwise.wgsl). Each op's forward and gradient are declared together:
 * binary ops in `binary`, unary ops in the `unary` table.
 */
import { fmtShape, ShapeError } from '../gpu/errors.js';
import { expectFloat32 } from './operands.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { record, setGradHelpers } from '../autograd/tape.js';
import { Tensor } from '../tensor.js';
import type { Engine } from '../gpu/engine.js';
import { grid1d } from './grid.js';
import { sumKeepBlock } from './reduce.js';

export const EwParams = uniformLayout('EwParams', [
  ['n', 'u32'],
  ['bn', 'u32'],
  ['inner', 'u32'],
  ['alpha', 'f32'],
  ['beta', 'f32'],
] as const);

const WG = 256;
const kernel = (entry: string, bindings: number[]) =>
  defineKernel({ file: 'elementwise.wgsl', entry, params: EwParams, bindings, constants: { WG } });

const K = {
  add: kernel('add', [1, 2, 3]),
  sub: kernel('sub', [1, 2, 3]),
  mul: kernel('mul', [1, 2, 3]),
  div: kernel('div', [1, 2, 3]),
  div_bwd_b: kernel('div_bwd_b', [1, 2, 3, 4]),
  scale: kernel('scale', [1, 3]),
  fill: kernel('fill', [3]),
  relu: kernel('relu', [1, 3]),
  relu_bwd: kernel('relu_bwd', [1, 2, 3]),
  relu4: kernel('relu4', [5, 7]),
  relu_bwd4: kernel('relu_bwd4', [5, 6, 7]),
  add4: kernel('add4', [5, 6, 7]),
  fill4: kernel('fill4', [7]),
  mul4: kernel('mul4', [5, 6, 7]),
  sigmoid: kernel('sigmoid', [1, 3]),
  sigmoid_bwd: kernel('sigmoid_bwd', [1, 2, 3]),
  tanh_fwd: kernel('tanh_fwd', [1, 3]),
  tanh_bwd: kernel('tanh_bwd', [1, 2, 3]),
  exp_fwd: kernel('exp_fwd', [1, 3]),
  exp_bwd: kernel('exp_bwd', [1, 2, 3]),
  log_fwd: kernel('log_fwd', [1, 3]),
  log_bwd: kernel('log_bwd', [1, 2, 3]),
};

type EwKernel = (typeof K)[keyof typeof K];

/**
 * Kernels over vec4s (bindings 5–7) that serve n a multiple of 4 in place of the f32 one (the
 * binary ones only for a full-size b).
 */
const VEC4: Partial<Record<string, EwKernel>> = { relu: K.relu4, relu_bwd: K.relu_bwd4, add: K.add4, mul: K.mul4, fill: K.fill4 };

function run(k: EwKernel, out: Tensor, inputs: Tensor[], p: { bn?: number; inner?: number; alpha?: number; beta?: number } = {}): Tensor {
  const n = out.size;
  const k4 = n % 4 === 0 && (p.bn === undefined || p.bn === n) ? VEC4[k.entry] : undefined;
  out.engine.dispatch(
    k4 ?? k,
    { n, bn: p.bn ?? n, inner: p.inner ?? 1, alpha: p.alpha ?? 0, beta: p.beta ?? 0 },
    orderBuffers(k4 ?? k, inputs, out),
    grid1d(k4 ? n / 4 : n, WG),
  );
  return out;
}

// Binding order in the shader: 1 = a, 2 = b, 3 = out, 4 = c (5 = a, 6 = b, 7 = out as vec4s);
// `inputs` fill the kernel's input bindings in turn.
function orderBuffers(k: EwKernel, inputs: Tensor[], out: Tensor): GPUBuffer[] {
  const outSlot = k.bindings.includes(7) ? 7 : 3;
  const slots = new Map<number, GPUBuffer>([[outSlot, out.buffer]]);
  const inputSlots = k.bindings.filter((b) => b !== outSlot);
  inputSlots.forEach((b, i) => {
    const t = inputs[i];
    if (!t) throw new Error(`${k.entry}: missing input ${i}`);
    slots.set(b, t.buffer);
  });
  return k.bindings.map((b) => slots.get(b)!);
}

// ---- broadcasting ------------------------------------------------------------------------

/** How b broadcasts over a: a viewed as [outer, bn, inner] with b of bn elements. */
export interface Broadcast {
  outer: number;
  bn: number;
  inner: number;
  full: boolean;
}

/**
 * b (right-aligned, numpy style) must equal a on one contiguous block of dims and be 1 elsewhere:
 * a scalar, a row vector, a per-channel vector [C, 1, 1] of NCHW, or a's own shape.
 */
export function broadcastOf(op: string, a: readonly number[], b: readonly number[]): Broadcast {
  const n = a.reduce((x, y) => x * y, 1);
  const bsize = b.reduce((x, y) => x * y, 1);
  const fail = () => new ShapeError(op, `cannot broadcast ${fmtShape(b)} to ${fmtShape(a)}`);
  if (b.length > a.length) {
    if (b.slice(0, b.length - a.length).every((d) => d === 1)) b = b.slice(b.length - a.length);
    else throw fail();
  }
  if (bsize === 1) return { outer: n, bn: 1, inner: 1, full: n === 1 };
  const padded = [...Array(a.length - b.length).fill(1), ...b];
  let lo = -1;
  let hi = -1;
  for (let d = 0; d < a.length; d++) {
    if (padded[d] === 1 && a[d] !== 1) {
      if (lo >= 0 && hi < 0) hi = d;
      continue;
    }
    if (padded[d] !== a[d]) throw fail();
    if (lo < 0) lo = d;
    else if (hi >= 0) throw fail(); // a second block: not supported
  }
  if (lo < 0) lo = 0;
  if (hi < 0) hi = a.length;
  const inner = a.slice(hi).reduce((x, y) => x * y, 1);
  return { outer: n / (bsize * inner), bn: bsize, inner, full: bsize === n };
}

type BinaryName = 'add' | 'sub' | 'mul' | 'div';

function binary(name: BinaryName, a: Tensor, b: Tensor): Tensor {
  expectFloat32(name, a, b);
  if ((name === 'add' || name === 'mul') && b.size > a.size) [a, b] = [b, a];
  const bc = broadcastOf(name, a.shape, b.shape);
  const out = run(K[name], Tensor.empty(a.engine, a.shape), [a, b], bc);
  // Gradient of b: the full-size summand, summed over the broadcast dims.
  const reduceToB = (g: Tensor): Tensor => (bc.full ? g.view(b.shape) : sumKeepBlock(g, bc, b.shape));
  return record(name, [a, b], out, name === 'mul' || name === 'div' ? [a, b] : [], (g, saved, needs) => {
    switch (name) {
      case 'add':
        return [g, needs[1] ? reduceToB(g) : null];
      case 'sub':
        return [g, needs[1] ? reduceToB(scale(g, -1)) : null];
      case 'mul': {
        const [sa, sb] = saved as [Tensor, Tensor];
        return [needs[0] ? mul(g, sb) : null, needs[1] ? reduceToB(mul(g, sa)) : null];
      }
      case 'div': {
        const [sa, sb] = saved as [Tensor, Tensor];
        const gb = needs[1] ? run(K.div_bwd_b, Tensor.empty(a.engine, a.shape), [sa, sb, g], bc) : null;
        return [needs[0] ? div(g, sb) : null, gb ? reduceToB(gb) : null];
      }
    }
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

// ---- unary ---------------------------------------------------------------------------------

interface UnaryRule {
  fwd: EwKernel;
  bwd: EwKernel;
  /** Which tensor the backward kernel reads besides the gradient. */
  saves: 'input' | 'output';
}

const unary = {
  relu: { fwd: K.relu, bwd: K.relu_bwd, saves: 'input' },
  sigmoid: { fwd: K.sigmoid, bwd: K.sigmoid_bwd, saves: 'output' },
  tanh: { fwd: K.tanh_fwd, bwd: K.tanh_bwd, saves: 'output' },
  exp: { fwd: K.exp_fwd, bwd: K.exp_bwd, saves: 'output' },
  log: { fwd: K.log_fwd, bwd: K.log_bwd, saves: 'input' },
} as const satisfies Record<string, UnaryRule>;

export type UnaryName = keyof typeof unary;

function unaryOp(name: UnaryName, x: Tensor): Tensor {
  expectFloat32(name, x);
  const rule: UnaryRule = unary[name];
  const y = run(rule.fwd, Tensor.empty(x.engine, x.shape), [x]);
  return record(name, [x], y, [rule.saves === 'input' ? x : y], (g, [s]) => [
    run(rule.bwd, Tensor.empty(x.engine, x.shape), [s!, g]),
  ]);
}

export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);

/** alpha * x + beta. */
export function scale(x: Tensor, alpha: number, beta = 0): Tensor {
  expectFloat32('scale', x);
  const y = run(K.scale, Tensor.empty(x.engine, x.shape), [x], { alpha, beta });
  return record('scale', [x], y, [], (g) => [scale(g, alpha)]);
}

export const mulScalar = (x: Tensor, s: number): Tensor => scale(x, s, 0);
export const addScalar = (x: Tensor, s: number): Tensor => scale(x, 1, s);
export const neg = (x: Tensor): Tensor => scale(x, -1, 0);

// ---- creation ------------------------------------------------------------------------------

export function full(engine: Engine, shape: readonly number[], value: number): Tensor {
  return run(K.fill, Tensor.empty(engine, shape), [], { alpha: value });
}

export const zeros = (engine: Engine, shape: readonly number[]): Tensor => full(engine, shape, 0);
export const ones = (engine: Engine, shape: readonly number[]): Tensor => full(engine, shape, 1);

/** Fills an existing tensor in place (no tape record). */
export function fillInPlace(t: Tensor, value: number): void {
  run(K.fill, t, [], { alpha: value });
}

setGradHelpers({ ones, add });
