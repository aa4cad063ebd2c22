/**
 * A Tensor is a handle on contiguous float32 (or int32, for labels) GPU storage with a shape.
 * Several handles may share one storage (reshape views, tensors saved by the autograd tape); the
 * storage returns to the pool when its last handle is disposed.
 */
import type { Engine } from './gpu/engine.js';
import { fmtShape, ShapeError } from './gpu/errors.js';

export type DType = 'float32' | 'int32';

class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  /** Set on leaves (parameters) by the user; on op outputs by the tape when any input has it. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward`; kept out of scopes. */
  grad: Tensor | null = null;
  /** True for outputs of recorded ops (their gradient flows on to the op's inputs). */
  hasNode = false;
  private _disposed = false;

  private constructor(
    readonly engine: Engine,
    readonly shape: readonly number[],
    readonly dtype: DType,
    private readonly storage: Storage,
    track: boolean,
  ) {
    this.size = sizeOf(shape);
    engine.liveTensors++;
    if (track) engine.track(this);
  }

  /** A new tensor of the given shape; contents undefined until a kernel writes them. */
  static empty(engine: Engine, shape: readonly number[], dtype: DType = 'float32', label = 'tensor'): Tensor {
    checkShape(shape);
    const bytes = sizeOf(shape) * 4;
    // larger, no kernel could bind it: Dawn would report it only at the next readback
    if (bytes > engine.maxTensorBytes) {
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 2 : 0)} MiB`;
      throw new ShapeError('tensor', `${fmtShape(shape)} needs ${mib(bytes)}, more than the ${mib(engine.maxTensorBytes)} this device binds as one buffer (maxStorageBufferBindingSize): use a smaller batch`);
    }
    return new Tensor(engine, [...shape], dtype, new Storage(engine.createStorage(bytes, label), bytes), true);
  }

  /** Uploads CPU data; its length must match the shape. */
  static from(
    engine: Engine,
    data: ArrayLike<number>,
    shape: readonly number[],
    dtype: DType = 'float32',
  ): Tensor {
    checkShape(shape);
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError('tensor', `data has ${data.length} values but shape ${fmtShape(shape)} needs ${n}`);
    }
    if (dtype === 'float32' && !(data instanceof Float32Array) && !Array.isArray(data) && !(data instanceof Float64Array)) {
      throw new TypeError(`tensor: float32 data must be a Float32Array, Float64Array or number[]`);
    }
    if (dtype === 'int32' && !(data instanceof Int32Array) && !(data instanceof Uint8Array) && !Array.isArray(data)) {
      throw new TypeError(`tensor: int32 data must be an Int32Array, Uint8Array or number[]`);
    }
    const typed = dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    if (dtype === 'int32' && Array.isArray(data) && data.some((v) => !Number.isInteger(v))) {
      throw new TypeError('tensor: int32 data must hold integers');
    }
    const t = Tensor.empty(engine, shape, dtype, 'upload');
    engine.write(t.buffer, typed, 0, false);
    return t;
  }

  get buffer(): GPUBuffer {
    if (this._disposed) throw new Error(`tensor #${this.id} ${fmtShape(this.shape)} was already disposed`);
    return this.storage.buffer;
  }

  get disposed(): boolean {
    return this._disposed;
  }

  get rank(): number {
    return this.shape.length;
  }

  /**
   * A new handle on the same storage with another shape (no copy). Not recorded on the autograd
   * tape: use `reshape()` when gradients must flow through the new shape.
   */
  view(shape: readonly number[], track = true): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new ShapeError('reshape', `cannot view ${fmtShape(this.shape)} as ${fmtShape(shape)}`);
    }
    void this.buffer; // throws if disposed
    this.storage.refs++;
    return new Tensor(this.engine, [...shape], this.dtype, this.storage, track);
  }

  /** A second, untracked handle on the same data (the tape saves tensors this way). */
  retain(): Tensor {
    return this.view(this.shape, false);
  }

  /** Overwrites the contents from the CPU (e.g. the next batch into a persistent input tensor). */
  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) {
      throw new ShapeError('write', `data has ${data.length} values, tensor ${fmtShape(this.shape)} holds ${this.size}`);
    }
    const typed = this.dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    this.engine.write(this.buffer, typed);
  }

  async toArray(): Promise<Float32Array | Int32Array> {
    const bytes = await this.engine.read(this.buffer, this.size * 4);
    return this.dtype === 'float32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  async toFloat32(): Promise<Float32Array> {
    const out = await this.toArray();
    return out instanceof Float32Array ? out : Float32Array.from(out);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError('item', `tensor has shape ${fmtShape(this.shape)}, not one element`);
    return (await this.toArray())[0]!;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this.engine.liveTensors--;
    if (--this.storage.refs === 0) this.engine.releaseStorage(this.storage.buffer);
  }

  toString(): string {
    return `Tensor#${this.id}${fmtShape(this.shape)}`;
  }
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkShape(shape: readonly number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ShapeError('tensor', `invalid shape ${fmtShape(shape)}`);
  }
}
