/**
 * IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (Node only). Every header field and
 * length is checked before any value is used, so a corrupt file fails here, naming the file and
 * byte position, not halfway through training.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ImageSet } from './mnist_json.js';

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

const UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses an IDX buffer of unsigned bytes; `file` is used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string, expectedRank: number): IdxArray {
  if (bytes.length < 4) throw new DatasetError(`${file}: truncated at byte ${bytes.length} (no IDX header)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`${file}: bad magic at byte 0 (0x${hex(bytes, 0, 4)}); not an IDX file`);
  }
  if (bytes[2] !== UBYTE) throw new DatasetError(`${file}: byte 2 gives element type 0x${bytes[2]!.toString(16)}; only unsigned bytes (0x08) are supported`);
  const rank = bytes[3]!;
  if (rank !== expectedRank) throw new DatasetError(`${file}: byte 3 gives ${rank} dimensions, expected ${expectedRank}`);
  const headerEnd = 4 + 4 * rank;
  if (bytes.length < headerEnd) throw new DatasetError(`${file}: truncated at byte ${bytes.length} inside the header (needs ${headerEnd})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < headerEnd + count) {
    throw new DatasetError(`${file}: truncated at byte ${bytes.length}; header promises ${headerEnd + count} bytes (dims ${dims.join('×')})`);
  }
  return { dims, data: bytes.subarray(headerEnd, headerEnd + count) };
}

function hex(b: Uint8Array, from: number, n: number): string {
  return Array.from(b.subarray(from, from + n), (v) => v.toString(16).padStart(2, '0')).join('');
}

function readMaybeGz(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DatasetError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Finds `<dir>/<base>` or `<dir>/<base>.gz`. */
function locate(dir: string, base: string): string | null {
  for (const name of [base, `${base}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Loads one split ('train' or 't10k') of an IDX image dataset: images scaled to [0, 1], labels
 * checked to lie in [0, classes).
 */
export function loadIdxImages(dir: string, split: 'train' | 't10k', classes = 10): ImageSet {
  const imagesBase = `${split}-images-idx3-ubyte`;
  const labelsBase = `${split}-labels-idx1-ubyte`;
  const imagesPath = locate(dir, imagesBase);
  const labelsPath = locate(dir, labelsBase);
  if (!imagesPath || !labelsPath) {
    const hint = dir === FASHION_MNIST_DIR ? ' Install it with: sudo apt-get install dataset-fashion-mnist' : '';
    throw new DatasetError(`dataset not found: expected ${join(dir, imagesBase)}[.gz] and ${join(dir, labelsBase)}[.gz].${hint}`);
  }
  const images = parseIdx(readMaybeGz(imagesPath), imagesPath, 3);
  const labels = parseIdx(readMaybeGz(labelsPath), labelsPath, 1);
  const [count, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new DatasetError(`${labelsPath}: ${labels.dims[0]} labels for ${count} images in ${imagesPath}`);
  }
  const labelOffset = 8; // header of a rank-1 IDX file
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = labels.data[i]!;
    if (v >= classes) throw new DatasetError(`${labelsPath}: label ${v} at byte ${labelOffset + i} is outside [0, ${classes})`);
    out[i] = v;
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i]! / 255;
  return { images: pixels, labels: out, count, shape: [1, height, width] };
}
