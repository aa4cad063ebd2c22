import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetError, loadIdxImages, parseIdx } from '../src/index.js';

/** Writes an IDX file of unsigned bytes in the official layout (big-endian dims). */
function idx(dims: number[], values: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  out.set([0, 0, 8, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

describe('IDX loader', () => {
  it('reads images and labels, raw and gzipped, scaling pixels to [0, 1]', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([2, 2, 3], [0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6])));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([2], [7, 1]));
    const set = loadIdxImages(dir, 'train');
    expect(set.count).toBe(2);
    expect(set.shape).toEqual([1, 2, 3]);
    expect(Array.from(set.labels)).toEqual([7, 1]);
    expect(set.images[1]).toBe(1);
    expect(set.images[2]).toBeCloseTo(0.2, 6);
  });

  it('rejects bad magic, wrong rank, truncation and out-of-range labels, naming file and position', () => {
    expect(() => parseIdx(new Uint8Array([1, 2, 3, 4]), 'f', 1)).toThrow(/f: bad magic at byte 0 \(0x01020304\)/);
    expect(() => parseIdx(idx([2], [1, 2]), 'f', 3)).toThrow(/f: byte 3 gives 1 dimensions, expected 3/);
    expect(() => parseIdx(idx([5], [1, 2]), 'f', 1)).toThrow(/f: truncated at byte 10; header promises 13 bytes/);
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0]), 'f', 3)).toThrow(/truncated at byte 5 inside the header/);
    const dir = mkdtempSync(join(tmpdir(), 'idx-'));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([2, 1, 1], [0, 0]));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([2], [3, 12]));
    expect(() => loadIdxImages(dir, 't10k')).toThrow(/label 12 at byte 9 is outside \[0, 10\)/);
    expect(() => loadIdxImages(join(dir, 'missing'), 't10k')).toThrow(DatasetError);
    expect(() => loadIdxImages(join(dir, 'missing'), 't10k')).toThrow(/expected .*t10k-images-idx3-ubyte\[\.gz\]/);
  });
});
