/**
 * Downsampled ImageNet 32×32 (Chrabaszcz et al.) npz batches: each holds `data` [N, 3072] uint8
 * (red, green, blue 32×32 planes, row-major: NCHW like CIFAR) and `labels` [N] in 1…1000.
 * Train: train_data_batch_1.npz … train_data_batch_10.npz; validation: val_data.npz.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSet } from './mnist_json.js';
import { DatasetError } from './idx.js';
import { parseNpy, readZip } from './npz.js';

export function parseImagenet32(files: { name: string; bytes: Uint8Array }[], classes = 1000): ImageSet {
  const parts = files.map(({ name, bytes }) => {
    const zip = readZip(bytes, name);
    const data = zip.get('data.npy');
    const labels = zip.get('labels.npy');
    if (!data || !labels) throw new DatasetError(`${name}: expected data.npy and labels.npy in the archive, found ${[...zip.keys()].join(', ')}`);
    const x = parseNpy(data, `${name}:data.npy`);
    const y = parseNpy(labels, `${name}:labels.npy`);
    if (x.shape.length !== 2 || x.shape[1] !== 3072) throw new DatasetError(`${name}:data.npy has shape [${x.shape}], expected [N, 3072]`);
    if (y.data.length !== x.shape[0]) throw new DatasetError(`${name}: ${y.data.length} labels for ${x.shape[0]} images`);
    y.data.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 1 || v > classes) throw new DatasetError(`${name}:labels.npy: label ${v} at index ${i} is outside 1…${classes}`);
    });
    return { x, y };
  });
  const count = parts.reduce((s, p) => s + p.y.data.length, 0);
  const images = new Float32Array(count * 3072);
  const labels = new Int32Array(count);
  let n = 0;
  for (const p of parts) {
    for (let i = 0; i < p.x.data.length; i++) images[n * 3072 + i] = p.x.data[i]! / 255;
    p.y.data.forEach((v, i) => (labels[n + i] = v - 1));
    n += p.y.data.length;
  }
  return { images, labels, count, shape: [3, 32, 32] };
}

export function loadImagenet32(dir: string, split: 'train' | 'test'): ImageSet {
  if (!existsSync(dir)) throw new DatasetError(`ImageNet 32×32 not found: ${dir} does not exist (expected train_data_batch_*.npz and val_data.npz)`);
  const names = split === 'train' ? readdirSync(dir).filter((f) => /^train_data_batch_\d+\.npz$/.test(f)).sort() : ['val_data.npz'];
  if (!names.length || !names.every((f) => existsSync(join(dir, f)))) {
    throw new DatasetError(`ImageNet 32×32 not found: expected ${split === 'train' ? 'train_data_batch_1.npz …' : 'val_data.npz'} in ${dir}`);
  }
  return parseImagenet32(names.map((f) => ({ name: join(dir, f), bytes: readFileSync(join(dir, f)) })));
}
