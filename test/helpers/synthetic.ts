/** Small learnable image sets (class templates + noise) and a tiny backbone, for fast EffConv tests. */
import type { ImageSet } from '../../src/data/mnist_json.js';
import type { BackboneSpec } from '../../src/effconv/spec.js';
import { Rng } from '../../src/random.js';

export const TINY: BackboneSpec = {
  name: 'tiny',
  input: [1, 8, 8],
  classes: 4,
  layers: [{ out: 4 }, { out: 8, pool: 'max' }, { out: 8 }],
};

export function syntheticImages(count: number, seed: number, shape: [number, number, number] = [1, 8, 8], classes = 4): ImageSet {
  const rng = new Rng(1000 + classes);
  const per = shape[0] * shape[1] * shape[2];
  const templates = Array.from({ length: classes }, () => Float32Array.from({ length: per }, () => rng.next()));
  const noise = new Rng(seed);
  const images = new Float32Array(count * per);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const c = noise.int(classes);
    labels[n] = c;
    for (let i = 0; i < per; i++) images[n * per + i] = Math.min(1, Math.max(0, templates[c]![i]! + 0.3 * (noise.next() - 0.5)));
  }
  return { images, labels, count, shape };
}
