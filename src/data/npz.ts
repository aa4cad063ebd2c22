/**
 * Reading NumPy .npz archives: a zip file (entries stored or deflated) of .npy arrays. Enough of
 * both formats for dataset files: little-endian or byte-sized integer and float dtypes, C order.
 */
import { inflateRawSync } from 'node:zlib';
import { DatasetError } from './idx.js';

export interface NpyArray {
  shape: number[];
  /** Values as float64 (labels and pixels both fit exactly). */
  data: Float64Array;
  dtype: string;
}

/** The entries of a zip archive, decompressed. */
export function readZip(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new DatasetError(`${file}: not a zip/npz archive (no end-of-central-directory record; truncated?)`);
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let e = 0; e < entries; e++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new DatasetError(`${file}: bad central directory entry at byte ${at}`);
    const method = view.getUint16(at + 10, true);
    const compressed = view.getUint32(at + 20, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw new DatasetError(`${file}: bad local header of ${name} at byte ${local}`);
    const dataAt = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataAt + compressed > bytes.length) throw new DatasetError(`${file}: entry ${name} is truncated at byte ${bytes.length}`);
    const raw = bytes.subarray(dataAt, dataAt + compressed);
    if (method === 0) out.set(name, raw);
    else if (method === 8) out.set(name, new Uint8Array(inflateRawSync(raw)));
    else throw new DatasetError(`${file}: entry ${name} uses unsupported zip compression method ${method}`);
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const DTYPES: Record<string, [bytes: number, read: (v: DataView, at: number) => number]> = {
  '|u1': [1, (v, a) => v.getUint8(a)],
  '|i1': [1, (v, a) => v.getInt8(a)],
  '<u2': [2, (v, a) => v.getUint16(a, true)],
  '<i2': [2, (v, a) => v.getInt16(a, true)],
  '<i4': [4, (v, a) => v.getInt32(a, true)],
  '<u4': [4, (v, a) => v.getUint32(a, true)],
  '<i8': [8, (v, a) => Number(v.getBigInt64(a, true))],
  '<f4': [4, (v, a) => v.getFloat32(a, true)],
  '<f8': [8, (v, a) => v.getFloat64(a, true)],
};

/** Parses one .npy array. */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new DatasetError(`${file}: bad magic at byte 0; not a .npy array`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 + headerLen : 12 + headerLen;
  if (start > bytes.length) throw new DatasetError(`${file}: header runs past the end at byte ${bytes.length}`);
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DatasetError(`${file}: unreadable .npy header "${header.trim()}"`);
  if (fortran === 'True') throw new DatasetError(`${file}: Fortran-ordered arrays are not supported`);
  const dtype = DTYPES[descr];
  if (!dtype) throw new DatasetError(`${file}: unsupported dtype ${descr}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [size, read] = dtype;
  if (start + count * size > bytes.length) {
    throw new DatasetError(`${file}: truncated: ${count} values of ${descr} need ${start + count * size} bytes, the array has ${bytes.length}`);
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, start + i * size);
  return { shape, data, dtype: descr };
}
