import { beforeAll, describe, expect, it } from 'vitest';
import { add, backward, mul, noGrad, parameter, reshape, sum, Tensor, type Engine, flatten, relu } from '../src/index.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('autograd tape', () => {
  it('sums the gradient of a tensor used twice', async () => {
    const x = parameter(engine, [1, -2, 3], [3]);
    engine.tidy(() => backward(sum(add(mul(x, x), x)))); // d/dx (x² + x) = 2x + 1
    expect(Array.from(await x.grad!.toArray())).toEqual([3, -3, 7]);
    // a second backward accumulates into .grad
    engine.tidy(() => backward(sum(x)));
    expect(Array.from(await x.grad!.toArray())).toEqual([4, -2, 8]);
    x.grad!.dispose();
    x.dispose();
  });

  it('flows through reshape / flatten views', async () => {
    const x = parameter(engine, [1, 2, 3, 4, 5, 6], [2, 3]);
    const w = Tensor.from(engine, [1, 0, 2, 0, 3, 0], [6]);
    engine.tidy(() => backward(sum(mul(reshape(flatten(reshape(x, [2, 1, 3])), [6]), w))));
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 0, 2, 0, 3, 0]);
  });

  it('records nothing under noGrad and refuses backward then', () => {
    const x = parameter(engine, [1, 2], [2]);
    const y = noGrad(engine, () => sum(mul(x, x)));
    expect(y.requiresGrad).toBe(false);
    expect(() => backward(y)).toThrow(/does not depend on any tensor with requiresGrad/);
    expect(() => backward(mul(x, x))).toThrow(/backward: loss must have one element, got \[2\]/);
  });

  it('tidy disposes intermediates but keeps returned tensors and gradients', async () => {
    const x = parameter(engine, [1, 2, 3], [3]);
    engine.tidy(() => {}); // drops records left on the tape by earlier tests (made outside any scope)
    const before = engine.memory();
    const out = engine.tidy(() => {
      const h = relu(mul(x, x));
      const loss = sum(h);
      backward(loss);
      return loss;
    });
    const after = engine.memory();
    // loss and x.grad survive; everything else went back to the pool
    expect(after.liveTensors - before.liveTensors).toBe(2);
    expect(await out.item()).toBe(14);
    expect(() => relu(Tensor.from(engine, [1], [1])).dispose()).not.toThrow();
    out.dispose();
    x.grad!.dispose();
    x.dispose();
  });

  it('a loss whose records are gone is refused, not silently back-propagated into nothing', async () => {
    const p = parameter(engine, [1, 2, 3], [3]);
    const gone = /backward: the records behind this loss are gone — an earlier backward\(\) used them, or the outermost tidy scope/;
    engine.tidy(() => {
      const loss = sum(mul(p, p));
      backward(loss);
      expect(() => backward(loss)).toThrow(gone); // a second backward: PyTorch refuses it too
    });
    expect(Array.from(await p.grad!.toFloat32())).toEqual([2, 4, 6]); // the first one's gradient, once
    // a loss kept past the scope that recorded it
    const kept = engine.tidy(() => sum(mul(p, p)));
    expect(() => backward(kept)).toThrow(gone);
    kept.dispose();
    expect(() => noGrad(((() => 1) as unknown) as Engine, 1 as unknown as () => number)).toThrow(/noGrad\(engine, fn\): fn must be a function/);
  });

  it('a scope that throws frees its tensors and its records; an async fn is refused', async () => {
    const p = parameter(engine, [1, 2], [2]);
    await engine.sync();
    const before = engine.memory().liveTensors;
    for (let i = 0; i < 3; i++) {
      expect(() =>
        engine.tidy(() => {
          sum(add(mul(p, p), p));
          throw new Error('boom');
        }),
      ).toThrow('boom');
    }
    expect(engine.memory().liveTensors).toBe(before); // 3 failed steps left nothing behind
    // the next step runs as usual (no stale records from the failed ones)
    engine.tidy(() => backward(sum(mul(p, p))));
    expect(Array.from(await p.grad!.toFloat32())).toEqual([2, 4]);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const later = () => engine.tidy((async () => add(p, p)) as unknown as () => Tensor);
    expect(later).toThrow(/engine\.tidy\(fn\): fn returned a Promise — a scope cannot span an await/);
    await new Promise((r) => setTimeout(r, 20));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
    expect(engine.memory().liveTensors).toBe(before + 1); // p's gradient
  });

  it('a disposed tensor cannot be used', () => {
    const t = Tensor.from(engine, [1], [1]);
    t.dispose();
    expect(() => relu(t)).toThrow(/already disposed/);
  });
});
