/**
 * `effconv demo`. The EffConv kernel-size search is not implemented yet (it needs the masked
 * convolution kernels); until then the demo is an honest engine check on real data: an MLP
 * trained on Fashion-MNIST with the WGSL kernels, reporting test accuracy and throughput.
 */
import { backward } from '../autograd/tape.js';
import { accuracy } from '../evaluate.js';
import { FASHION_MNIST_DIR, loadIdxImages } from '../data/idx.js';
import type { Engine } from '../gpu/engine.js';
import { linearParams } from '../nn.js';
import { relu } from '../ops/elementwise.js';
import { linear } from '../ops/matmul.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { Adam } from '../optim/adam.js';
import { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { Progress } from './progress.js';

export interface DemoOptions {
  dataDir: string;
  steps: number;
  batch: number;
  seed: number;
}

export const demoDefaults: DemoOptions = { dataDir: FASHION_MNIST_DIR, steps: 600, batch: 128, seed: 0 };

export async function runDemo(engine: Engine, o: DemoOptions, log: (s: string) => void): Promise<{ accuracy: number }> {
  log('Note: the EffConv kernel-size search is not available yet; this demo checks the engine');
  log('      by training an MLP (784-256-10) on Fashion-MNIST with effconv\'s WGSL kernels.');
  const train = loadIdxImages(o.dataDir, 'train');
  const test = loadIdxImages(o.dataDir, 't10k');
  log(`Fashion-MNIST: ${train.count} train / ${test.count} test images from ${o.dataDir}`);
  const features = train.shape[0] * train.shape[1] * train.shape[2];
  const rng = new Rng(o.seed);
  const l1 = linearParams(engine, rng, features, 256);
  const l2 = linearParams(engine, rng, 256, 10);
  const opt = new Adam([l1.weight, l1.bias, l2.weight, l2.bias], { lr: 1e-3 });
  const forward = (x: Tensor) => linear(relu(linear(x, l1.weight, l1.bias)), l2.weight, l2.bias);

  const order = rng.shuffle([...Array(train.count).keys()]);
  const xb = new Float32Array(o.batch * features);
  const yb = new Int32Array(o.batch);
  const progress = new Progress('train', o.steps, 100);
  const start = Date.now();
  let running = NaN;
  for (let step = 0; step < o.steps; step++) {
    for (let k = 0; k < o.batch; k++) {
      const i = order[(step * o.batch + k) % train.count]!;
      xb.set(train.images.subarray(i * features, (i + 1) * features), k * features);
      yb[k] = train.labels[i]!;
    }
    const readLoss = step % 20 === 19 || step === o.steps - 1;
    const loss = engine.tidy(() => {
      const loss = crossEntropy(forward(Tensor.from(engine, xb, [o.batch, features])), yb);
      backward(loss);
      opt.step();
      opt.zeroGrad();
      return readLoss ? loss : null;
    });
    if (loss) {
      const v = await loss.item();
      loss.dispose();
      if (!Number.isFinite(v)) throw new Error(`loss is ${v} at step ${step + 1}; stopping`);
      running = Number.isNaN(running) ? v : 0.8 * running + 0.2 * v;
      const ips = ((step + 1) * o.batch) / ((Date.now() - start) / 1000);
      progress.update(step + 1, `loss ${running.toFixed(4)}  ${ips.toFixed(0)} img/s`);
    }
  }
  const acc = await accuracy(engine, forward, test, [features], 1000);
  const seconds = (Date.now() - start) / 1000;
  log(`test accuracy ${(100 * acc).toFixed(2)} % after ${o.steps} steps of batch ${o.batch} (${seconds.toFixed(1)} s on ${engine.adapterInfo.device || engine.adapterInfo.description})`);
  return { accuracy: acc };
}
