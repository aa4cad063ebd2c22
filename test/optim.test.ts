import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, parameter, SGD, Tensor, type Engine } from '../src/index.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** Runs `steps` updates with fixed per-step gradients on the GPU; returns the final weights. */
async function runGpu(make: (p: Tensor) => SGD | Adam, w0: Float64Array, grads: Float64Array[]): Promise<Float32Array> {
  const p = parameter(engine, w0, [w0.length]);
  const opt = make(p);
  for (const g of grads) {
    p.grad = engine.keep(Tensor.from(engine, g, [g.length]));
    opt.step();
    opt.zeroGrad();
  }
  const out = await p.toFloat32();
  opt.dispose();
  p.dispose();
  return out;
}

/**
 * `steps` updates as a training loop replays them: `beforeStep(t)` writes step t's gradients (and
 * any hyperparameter) first; step 0 runs step() (it creates the zero-filled state, never part of a
 * capture), step 1 is captured (prepareStep, then encodeStep under engine.capture), the rest replay it.
 */
function stepsWithReplay(opt: SGD | Adam, steps: number, beforeStep: (t: number) => void): void {
  beforeStep(0);
  opt.step();
  beforeStep(1);
  opt.prepareStep();
  const capture = engine.capture(() => opt.encodeStep());
  for (let t = 2; t < steps; t++) {
    beforeStep(t);
    opt.prepareStep();
    capture.replay();
  }
  capture.dispose();
}

/**
 * PyTorch's SGD: a step with no gradient (null) leaves the parameter and its momentum alone, and
 * the momentum buffer starts at the first gradient. `lr`: one value, or one per step.
 */
function refSgd(w: Float64Array, grads: (Float64Array | null)[], lr: number | number[], momentum: number, dampening: number, wd: number, nesterov: boolean): Float64Array {
  w = w.slice();
  const buf = new Float64Array(w.length);
  let started = false;
  grads.forEach((grad, t) => {
    if (!grad) return;
    const stepLr = typeof lr === 'number' ? lr : lr[t]!;
    for (let i = 0; i < w.length; i++) {
      let g = grad[i]! + wd * w[i]!;
      if (momentum > 0) {
        buf[i] = started ? momentum * buf[i]! + (1 - dampening) * g : g;
        g = nesterov ? g + momentum * buf[i]! : buf[i]!;
      }
      w[i]! -= stepLr * g;
    }
    started = true;
  });
  return w;
}

function refAdam(w: Float64Array, grads: Float64Array[], lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean): Float64Array {
  w = w.slice();
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  grads.forEach((grad, t) => {
    for (let i = 0; i < w.length; i++) {
      let g = grad[i]!;
      if (decoupled) w[i]! *= 1 - lr * wd;
      else g += wd * w[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      const mh = m[i]! / (1 - b1 ** (t + 1));
      const vh = v[i]! / (1 - b2 ** (t + 1));
      w[i]! -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  return w;
}

describe('optimizers vs float64 reference', () => {
  const rng = new Rng(3);
  const n = 517; // not a multiple of the workgroup size
  const w0 = randomArray(rng, n);
  const grads = Array.from({ length: 5 }, () => randomArray(rng, n));

  // dampening > 0 tells PyTorch's first momentum step (buf = g) from a buffer started at 0
  for (const [momentum, dampening, wd, nesterov] of [
    [0, 0, 0, false],
    [0.9, 0, 0, false],
    [0.9, 0.5, 0, false],
    [0.9, 0, 1e-2, true],
  ] as const) {
    it(`SGD momentum=${momentum} dampening=${dampening} weightDecay=${wd} nesterov=${nesterov}`, async () => {
      const gpu = await runGpu((p) => new SGD([p], { lr: 0.1, momentum, dampening, weightDecay: wd, nesterov }), w0, grads);
      expectClose(gpu, refSgd(w0, grads, 0.1, momentum, dampening, wd, nesterov), { rtol: 1e-5, atol: 1e-6 });
    });
  }

  it("SGD: a parameter whose first gradient comes at a later step starts its momentum there, and one without a gradient is left alone", async () => {
    const r = new Rng(13);
    const [a0, b0] = [randomArray(r, 300), randomArray(r, 5)];
    const [a, b] = [parameter(engine, a0, [300]), parameter(engine, b0, [5])];
    const gradsA = Array.from({ length: 4 }, () => randomArray(r, 300));
    const gradsB = [null, null, randomArray(r, 5), randomArray(r, 5)];
    const opt = new SGD([a, b], { lr: 0.05, momentum: 0.8, dampening: 0.3 });
    for (let t = 0; t < 4; t++) {
      a.grad = engine.keep(Tensor.from(engine, gradsA[t]!, [300]));
      if (gradsB[t]) b.grad = engine.keep(Tensor.from(engine, gradsB[t]!, [5]));
      opt.step();
      opt.zeroGrad();
    }
    expectClose(await a.toFloat32(), refSgd(a0, gradsA, 0.05, 0.8, 0.3, 0, false), { rtol: 1e-5, atol: 1e-6 }, 'a');
    expectClose(await b.toFloat32(), refSgd(b0, gradsB, 0.05, 0.8, 0.3, 0, false), { rtol: 1e-5, atol: 1e-6 }, 'b');
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('SGD replayed from a capture (prepareStep before each replay) follows the reference with the learning rate moved every step', async () => {
    const r = new Rng(14);
    const start = randomArray(r, 517);
    const steps = 6;
    const stepGrads = Array.from({ length: steps }, () => randomArray(r, 517));
    const lrs = Array.from({ length: steps }, (_, t) => 0.1 * (1 - t / steps)); // a decaying schedule
    const p = parameter(engine, start, [517]);
    const grad = engine.keep(Tensor.empty(engine, [517]));
    p.grad = grad; // a fixed gradient tensor, written before each step
    const opt = new SGD([p], { lr: lrs[0]!, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2 });
    stepsWithReplay(opt, steps, (t) => {
      grad.write(stepGrads[t]!);
      opt.options.lr = lrs[t]!;
    });
    expect(opt.stepCount).toBe(steps);
    expectClose(await p.toFloat32(), refSgd(start, stepGrads, lrs, 0.9, 0.1, 1e-2, false), { rtol: 1e-5, atol: 1e-6 });
    opt.dispose();
    for (const t of [p, grad]) t.dispose();
  });

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'} with weight decay`, async () => {
      const gpu = await runGpu((p) => new Adam([p], { lr: 0.01, weightDecay: 0.1, decoupled }), w0, grads);
      expectClose(gpu, refAdam(w0, grads, 0.01, 0.9, 0.999, 1e-8, 0.1, decoupled), { rtol: 1e-5, atol: 1e-6 });
    });
  }

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'} over 9 parameters of different sizes: 4 per dispatch (two adam_step4 and one adam_step) or 1, both vs the reference`, async () => {
      const sizes = [1, 517, 3, 256, 64, 1000, 7, 2, 33]; // sizes 1, odd, multiples of the workgroup
      const r = new Rng(11);
      const starts = sizes.map((k) => randomArray(r, k));
      const stepGrads = sizes.map((k) => Array.from({ length: 4 }, () => randomArray(r, k)));
      for (const tensorsPerDispatch of [4, 1] as const) {
        const ps = starts.map((w) => parameter(engine, w, [w.length]));
        const opt = new Adam(ps, { lr: 0.01, weightDecay: 0.1, decoupled, tensorsPerDispatch });
        const dispatches: number[] = [];
        for (let t = 0; t < 4; t++) {
          ps.forEach((p, k) => (p.grad = engine.keep(Tensor.from(engine, stepGrads[k]![t]!, [sizes[k]!]))));
          const before = engine.dispatchCount;
          opt.step();
          dispatches.push(engine.dispatchCount - before);
          opt.zeroGrad();
        }
        // after the first step, which also zero-fills the moments it creates
        // (adam_step4 where the device allows its 16 storage buffers)
        const grouped = tensorsPerDispatch === 4 && engine.limits.maxStorageBuffersPerShaderStage >= 16;
        expect(dispatches.slice(1)).toEqual(Array(3).fill(grouped ? 3 : 9));
        for (const [k, p] of ps.entries()) {
          expectClose(await p.toFloat32(), refAdam(starts[k]!, stepGrads[k]!, 0.01, 0.9, 0.999, 1e-8, 0.1, decoupled), { rtol: 1e-5, atol: 1e-6 }, `parameter ${k} (${sizes[k]} elements), ${tensorsPerDispatch} per dispatch`);
        }
        opt.dispose();
        for (const p of ps) p.dispose();
      }
    });
  }

  it('Adam replayed from a capture (prepareStep before each replay, encodeStep captured) follows the reference: its bias corrections move every step', async () => {
    const sizes = [517, 3, 256, 64, 1000]; // one adam_step4 group and one adam_step, where the device allows
    const r = new Rng(12);
    const starts = sizes.map((k) => randomArray(r, k));
    const steps = 5;
    const stepGrads = sizes.map((k) => Array.from({ length: steps }, () => randomArray(r, k)));
    const ps = starts.map((w) => parameter(engine, w, [w.length]));
    const grads = sizes.map((k) => engine.keep(Tensor.empty(engine, [k])));
    ps.forEach((p, k) => (p.grad = grads[k]!)); // fixed gradient tensors, written before each step
    const opt = new Adam(ps, { lr: 0.01, weightDecay: 0.1, decoupled: true });
    stepsWithReplay(opt, steps, (t) => grads.forEach((g, k) => g.write(stepGrads[k]![t]!)));
    expect(opt.stepCount).toBe(steps);
    for (const [k, p] of ps.entries()) {
      expectClose(await p.toFloat32(), refAdam(starts[k]!, stepGrads[k]!, 0.01, 0.9, 0.999, 1e-8, 0.1, true), { rtol: 1e-5, atol: 1e-6 }, `parameter ${k} (${sizes[k]} elements)`);
    }
    opt.dispose();
    for (const t of [...ps, ...grads]) t.dispose();
  });

  it('Adam at a learning rate of 0 (the end of a cosine schedule) updates nothing and does not throw', async () => {
    const w0 = [0.5, -1, 2];
    const p = parameter(engine, w0, [3]);
    const opt = new Adam([p], { lr: 0.1, weightDecay: 0.1, decoupled: true });
    opt.options.lr = 0;
    p.grad = engine.keep(Tensor.from(engine, [1, 1, 1], [3]));
    opt.step();
    expect(Array.from(await p.toFloat32())).toEqual(w0);
    opt.zeroGrad();
    opt.dispose();
    p.dispose();
  });

  it('plain SGD (momentum 0) keeps no momentum buffer per parameter, and refuses a momentum raised later', async () => {
    const ps = [parameter(engine, randomArray(new Rng(5), 1000), [1000]), parameter(engine, [1, 2, 3], [3])];
    const liveAfterOneStep = (opt: SGD) => {
      const before = engine.memory().liveTensors;
      for (const p of ps) p.grad = engine.keep(Tensor.from(engine, new Float32Array(p.size).fill(1), p.shape));
      opt.step();
      opt.zeroGrad();
      return engine.memory().liveTensors - before;
    };
    const plain = new SGD(ps, { lr: 0.1 });
    expect(liveAfterOneStep(plain)).toBe(1); // one shared placeholder, whatever the parameters
    const withMomentum = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    expect(liveAfterOneStep(withMomentum)).toBe(2); // a buffer per parameter
    const w = await ps[1]!.toFloat32();
    for (const p of ps) p.grad = engine.keep(Tensor.from(engine, new Float32Array(p.size).fill(1), p.shape));
    plain.options.momentum = 0.5;
    expect(() => plain.step()).toThrow(/SGD: momentum was 0 when this optimizer was made, so it keeps no momentum buffers/);
    expect(plain.stepCount).toBe(1); // the refused step is not counted, and its gradients moved nothing
    expect(await ps[1]!.toFloat32()).toEqual(w);
    plain.zeroGrad();
    for (const t of [plain, withMomentum, ...ps]) t.dispose();
  });

  it('rejects bad hyper-parameters and parameters without requiresGrad', () => {
    const p = parameter(engine, [1, 2], [2]);
    expect(() => new SGD([p], { lr: 0 })).toThrow(/SGD: lr must be > 0/);
    expect(() => new SGD([p], { lr: 0.1, momentum: 1 })).toThrow(/SGD: momentum must be in \[0, 1\), got 1/);
    expect(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 2 })).toThrow(/SGD: dampening must be in \[0, 1\]/);
    expect(() => new SGD([p], { lr: 0.1, weightDecay: -1 })).toThrow(/SGD: weightDecay must be ≥ 0/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov needs momentum > 0 and dampening 0/);
    expect(() => new Adam([p], { beta1: 1 })).toThrow(/betas/);
    expect(() => new Adam([p], { tensorsPerDispatch: 2 as 1 })).toThrow(/tensorsPerDispatch must be 1 or 4/);
    expect(() => new Adam([Tensor.from(engine, [1], [1])])).toThrow(/requiresGrad/);
    expect(() => new Adam([p], { weightDecay: -1 })).toThrow(/Adam: weightDecay must be ≥ 0, got -1/);
    expect(() => new Adam([p], { eps: -1e-8 })).toThrow(/Adam: eps must be ≥ 0/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/optimizer: parameter 1 \[2\] is listed twice/);
  });
});
