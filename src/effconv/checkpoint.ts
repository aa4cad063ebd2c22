/**
 * Checkpoints in the safetensors format (8-byte little-endian header length, JSON header with
 * dtype/shape/data_offsets per tensor and string `__metadata__`, then the raw little-endian data),
 * written to a temporary file and renamed, so an interrupted write never replaces a good one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Tensor } from '../tensor.js';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export class CheckpointError extends Error {
  constructor(file: string, message: string) {
    super(`checkpoint ${file}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/** Writes tensors (float32) and string metadata atomically to `file`. */
export function writeSafetensors(file: string, tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned, as the format recommends
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const name of names) {
      const d = tensors[name]!.data;
      writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Reads a safetensors file of F32 tensors; checks the header against the file's size. */
export function readSafetensors(file: string): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new CheckpointError(file, `truncated: ${buf.length} bytes`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new CheckpointError(file, `header of ${n} bytes runs past the end of the ${buf.length}-byte file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw new CheckpointError(file, 'header is not valid JSON');
  }
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors: Record<string, NamedArray> = {};
  const base = 8 + n;
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (h.dtype !== 'F32') throw new CheckpointError(file, `tensor ${name} has dtype ${h.dtype}; only F32 is supported`);
    const [a, b] = h.data_offsets;
    const count = h.shape.reduce((x, y) => x * y, 1);
    if (b - a !== count * 4 || base + b > buf.length) throw new CheckpointError(file, `tensor ${name}: data [${a}, ${b}) does not fit its shape or the file`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(base + a, base + b));
    tensors[name] = { shape: h.shape, data };
  }
  return { tensors, metadata };
}

/** Reads GPU tensors back into named arrays (one readback per tensor; only at checkpoints). */
export async function snapshot(named: Record<string, Tensor>): Promise<Record<string, NamedArray>> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(named)) out[name] = { shape: [...t.shape], data: await t.toFloat32() };
  return out;
}

/** Writes saved arrays into existing GPU tensors, checking that every name and shape matches. */
export function restoreInto(file: string, named: Record<string, Tensor>, saved: Record<string, NamedArray>): void {
  for (const [name, t] of Object.entries(named)) {
    const s = saved[name];
    if (!s) throw new CheckpointError(file, `missing tensor ${name}`);
    if (s.data.length !== t.size) throw new CheckpointError(file, `tensor ${name} has ${s.data.length} values, the model expects ${t.size}`);
    t.write(s.data);
  }
}
