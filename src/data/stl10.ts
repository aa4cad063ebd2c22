/**
 * STL-10 binary version: <split>_X.bin holds N images of 3×96×96 bytes, each channel stored
 * column-major (the transpose of the usual row-major plane); <split>_y.bin holds N labels 1…10.
 * We return row-major NCHW and labels 0…9.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSet } from './mnist_json.js';
import { DatasetError } from './idx.js';

const SIDE = 96;
const IMAGE = 3 * SIDE * SIDE;

export function parseStl10(xName: string, x: Uint8Array, yName: string, y: Uint8Array): ImageSet {
  if (x.length === 0 || x.length % IMAGE !== 0) {
    const whole = Math.floor(x.length / IMAGE);
    throw new DatasetError(`${xName}: truncated or not STL-10 images: ${x.length} bytes is not a whole number of ${IMAGE}-byte images (image ${whole} ends early at byte ${whole * IMAGE})`);
  }
  const count = x.length / IMAGE;
  if (y.length !== count) throw new DatasetError(`${yName}: ${y.length} labels for ${count} images in ${xName}`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = y[i]!;
    if (v < 1 || v > 10) throw new DatasetError(`${yName}: label ${v} at byte ${i} is outside 1…10`);
    labels[i] = v - 1;
  }
  const images = new Float32Array(count * IMAGE);
  for (let n = 0; n < count; n++)
    for (let c = 0; c < 3; c++) {
      const base = n * IMAGE + c * SIDE * SIDE;
      for (let col = 0; col < SIDE; col++)
        for (let row = 0; row < SIDE; row++) images[base + row * SIDE + col] = x[base + col * SIDE + row]! / 255;
    }
  return { images, labels, count, shape: [3, SIDE, SIDE] };
}

export function loadStl10(dir: string, split: 'train' | 'test'): ImageSet {
  const xPath = join(dir, `${split}_X.bin`);
  const yPath = join(dir, `${split}_y.bin`);
  if (!existsSync(xPath) || !existsSync(yPath)) {
    throw new DatasetError(`STL-10 not found: expected ${xPath} and ${yPath} (the binary version, stl10_binary/, extracted)`);
  }
  return parseStl10(xPath, readFileSync(xPath), yPath, readFileSync(yPath));
}
