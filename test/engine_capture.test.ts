/** Engine.capture: a step's commands replayed on new data, its buffers held back, and what it refuses. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, add, backward, crossEntropy, linear, linearParams, mul, relu, scale, Tensor, type Engine } from '../src/index.js';
import { UNIFORM_USAGE } from '../src/gpu/engine.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const N = 1000; // not a multiple of any workgroup size
const stepOf = (x: Tensor) => add(relu(scale(x, 2, -1)), mul(x, x)); // three intermediates, four dispatches
const reference = (x: Float32Array) => Array.from(x, (v) => Math.max(0, 2 * v - 1) + v * v);
const randomData = (rng: Rng) => Float32Array.from({ length: N }, () => rng.uniform(-2, 2));

describe('engine capture', () => {
  it('a replay computes the step on the data written since, and leaves tensors made after the capture alone', async () => {
    const rng = new Rng(5);
    const x = Tensor.empty(engine, [N]);
    x.write(randomData(rng));
    const pinnedBefore = engine.memory().pinnedBuffers;
    let out: Tensor | null = null;
    const capture = engine.capture(() => {
      out = engine.keep(engine.tidy(() => stepOf(x)));
    });
    expect(capture.dispatches).toBe(4);
    // the three intermediates and four uniform buffers, released by the step, are held back for it
    expect(capture.pinnedBuffers).toBe(7);
    expect(engine.memory().pinnedBuffers - pinnedBefore).toBe(7);
    expectClose(await out!.toFloat32(), reference(await x.toFloat32()), { rtol: 1e-6, atol: 1e-6 }, 'captured run');
    for (let round = 0; round < 3; round++) {
      const data = randomData(rng);
      x.write(data);
      // tensors of the same size made between replays must not get the step's buffers
      const others = Array.from({ length: 4 }, (_, i) => Tensor.from(engine, new Float32Array(N).fill(i + 10), [N]));
      const dispatches = engine.dispatchCount;
      capture.replay();
      expect(engine.dispatchCount - dispatches).toBe(4);
      expectClose(await out!.toFloat32(), reference(data), { rtol: 1e-6, atol: 1e-6 }, `replay ${round}`);
      for (const [i, t] of others.entries()) expect(new Set(await t.toFloat32())).toEqual(new Set([i + 10]));
      others.forEach((t) => t.dispose());
    }
    expect(capture.replays).toBe(3);
    capture.dispose();
    capture.dispose(); // idempotent
    expect(engine.memory().pinnedBuffers).toBe(pinnedBefore);
    expect(() => capture.replay()).toThrow(/replay\(\) after dispose\(\)/);
    out!.dispose();
    x.dispose();
  });

  it('a replay after a tensor of the step was disposed throws instead of writing into a buffer now someone else’s', async () => {
    const x = Tensor.from(engine, new Float32Array(N).fill(1), [N]);
    let out: Tensor | null = null;
    const capture = engine.capture(() => {
      out = engine.keep(engine.tidy(() => stepOf(x)));
    });
    await engine.sync();
    x.dispose();
    expect(() => capture.replay()).toThrow(/buffer .* was released since .*capture the step again/);
    capture.dispose();
    out!.dispose();
  });

  it('refuses what a replay could not repeat: CPU writes, readbacks and submits inside the step, nesting, a replay inside a capture', async () => {
    const x = Tensor.from(engine, new Float32Array(N).fill(1), [N]);
    const pinned = engine.memory().pinnedBuffers;
    const live = engine.memory().liveBuffers;
    expect(() => engine.capture(() => engine.tidy(() => add(x, Tensor.from(engine, new Float32Array(N), [N]))))).toThrow(/the step wrote 4000 bytes of CPU data into buffer .*write per-step data into its tensors before/);
    let readback: Promise<Float32Array> | null = null;
    expect(() => engine.capture(() => engine.tidy(() => void (readback = stepOf(x).toFloat32())))).toThrow(/the step read buffer .* back/);
    await expect(readback).rejects.toThrow(/the step read buffer .* back/); // the readback itself refused too
    expect(() => engine.capture(() => {
      engine.tidy(() => void stepOf(x));
      engine.flush();
    })).toThrow(/the step submitted its work/);
    const inner = engine.capture(() => engine.tidy(() => void stepOf(x)));
    expect(() => engine.capture(() => engine.capture(() => {}))).toThrow(/already capturing/);
    expect(() => engine.capture(() => inner.replay())).toThrow(/a replay inside a step being captured/);
    inner.dispose();
    // each failed capture pinned nothing and left no buffer handed out; the engine still works
    await engine.sync();
    expect(engine.memory().pinnedBuffers).toBe(pinned);
    expect(engine.memory().liveBuffers).toBe(live);
    const y = engine.tidy(() => engine.keep(stepOf(x)));
    expect(new Set(await y.toFloat32())).toEqual(new Set([2]));
    y.dispose();
    x.dispose();
  });

  it('a uniform buffer overwritten with engine.write gets its uniforms written again by the next dispatch that takes it', async () => {
    const x = Tensor.from(engine, [1, 2, 3, 4, 5], [5]);
    const run = async () => {
      const y = engine.tidy(() => engine.keep(scale(x, 3, 1)));
      const values = Array.from(await y.toFloat32());
      y.dispose();
      return values;
    };
    expect(await run()).toEqual([4, 7, 10, 13, 16]);
    // scale's uniform buffer, taken from the pool and overwritten (as an optimiser's
    // hyperparameter buffer is), then given back: the next scale with the same uniforms takes it
    // again and must write them rather than trust what it remembers having written there
    const taken = engine.createStorage(16, 'overwritten', UNIFORM_USAGE);
    engine.write(taken, new Uint32Array(64));
    engine.releaseStorage(taken);
    x.write([10, 20, 30, 40, 50]);
    const scratch = Tensor.empty(engine, [5]);
    engine.copy(x.buffer, scratch.buffer, 20); // a submit that takes no uniform buffer, so the pool recycles `taken`
    await engine.sync();
    expect(await run()).toEqual([31, 61, 91, 121, 151]);
    scratch.dispose();
    x.dispose();
  });

  it('the README example: an MLP trained with Adam, its steps after the second replayed, ends with the weights of the same steps run as code', async () => {
    const rng = new Rng(9);
    const batches = Array.from({ length: 6 }, () => ({
      images: Float32Array.from({ length: 8 * 20 }, () => rng.uniform(-1, 1)),
      labels: Int32Array.from({ length: 8 }, () => Math.floor(rng.uniform(0, 4))),
    }));
    const train = async (replay: boolean) => {
      const init = new Rng(1);
      const l1 = linearParams(engine, init, 20, 16);
      const l2 = linearParams(engine, init, 16, 4);
      const params = [l1.weight, l1.bias, l2.weight, l2.bias];
      const opt = new Adam(params, { lr: 1e-2 });
      const x = engine.keep(Tensor.empty(engine, [8, 20]));
      const y = engine.keep(Tensor.empty(engine, [8], 'int32'));
      const step = () =>
        engine.tidy(() => {
          const loss = crossEntropy(linear(relu(linear(x, l1.weight, l1.bias)), l2.weight, l2.bias), y);
          backward(loss);
          opt.encodeStep();
          opt.zeroGrad();
          return loss;
        });
      let capture: ReturnType<Engine['capture']> | null = null;
      let loss: Tensor | null = null;
      const losses: number[] = [];
      for (const [i, b] of batches.entries()) {
        x.write(b.images);
        y.write(b.labels);
        opt.prepareStep();
        if (!replay || i === 0) {
          loss?.dispose();
          loss = engine.keep(step());
        } else if (i === 1) {
          loss!.dispose();
          capture = engine.capture(() => void (loss = engine.keep(step())));
        } else capture!.replay();
        engine.flush();
        losses.push(await loss!.item());
      }
      const weights = await Promise.all(params.map(async (p) => Array.from(await p.toFloat32())));
      capture?.dispose();
      opt.dispose();
      for (const t of [...params, x, y, loss!]) t.dispose();
      return { losses, weights };
    };
    const replayed = await train(true);
    const code = await train(false);
    expect(replayed.losses).toEqual(code.losses);
    expect(replayed.weights).toEqual(code.weights);
    expect(new Set(code.losses).size).toBe(batches.length); // each step's own loss, not the captured one's
  });
});
