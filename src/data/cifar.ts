/**
 * CIFAR-10 binary version: each record is 1 label byte then 3072 pixel bytes (the red, green and
 * blue 32×32 planes, row-major) — already NCHW. Train: data_batch_1.bin … data_batch_5.bin;
 * test: test_batch.bin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSet } from './mnist_json.js';
import { DatasetError } from './idx.js';

const RECORD = 1 + 3 * 32 * 32;

export const CIFAR10_FILES = {
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ['test_batch.bin'],
};

/** Parses CIFAR-10 binary batches (checked: whole records, labels in [0, 10)). */
export function parseCifar10(files: { name: string; bytes: Uint8Array }[]): ImageSet {
  for (const f of files) {
    if (f.bytes.length === 0 || f.bytes.length % RECORD !== 0) {
      const whole = Math.floor(f.bytes.length / RECORD);
      throw new DatasetError(`${f.name}: truncated or not a CIFAR-10 batch: ${f.bytes.length} bytes is not a whole number of ${RECORD}-byte records (record ${whole} ends early at byte ${whole * RECORD})`);
    }
  }
  const count = files.reduce((s, f) => s + f.bytes.length / RECORD, 0);
  const images = new Float32Array(count * 3072);
  const labels = new Int32Array(count);
  let n = 0;
  for (const f of files) {
    for (let r = 0; r < f.bytes.length / RECORD; r++, n++) {
      const at = r * RECORD;
      const label = f.bytes[at]!;
      if (label >= 10) throw new DatasetError(`${f.name}: label ${label} at byte ${at} is outside [0, 10)`);
      labels[n] = label;
      for (let i = 0; i < 3072; i++) images[n * 3072 + i] = f.bytes[at + 1 + i]! / 255;
    }
  }
  return { images, labels, count, shape: [3, 32, 32] };
}

export function loadCifar10(dir: string, split: 'train' | 'test'): ImageSet {
  const names = CIFAR10_FILES[split];
  const missing = names.filter((n) => !existsSync(join(dir, n)));
  if (missing.length) {
    throw new DatasetError(`CIFAR-10 not found: expected ${names.map((n) => join(dir, n)).join(', ')} (the "binary version" from the CIFAR site, extracted); missing ${missing.join(', ')}`);
  }
  return parseCifar10(names.map((n) => ({ name: join(dir, n), bytes: readFileSync(join(dir, n)) })));
}
