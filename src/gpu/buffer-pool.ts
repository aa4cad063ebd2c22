/**
 * GPU buffers recycled by (usage, size bucket). Buckets are quarter-octaves of powers of two, so a
 * buffer is at most 25 % larger than asked for and a training step's recurring sizes hit the
 * free lists after the first step.
 *
 * A released buffer may still be read by commands not yet submitted, and `queue.writeBuffer`
 * runs before those commands; so released buffers wait in `pending` until the engine submits
 * its encoder, and only then become reusable.
 */

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers idle in the free lists (including those waiting for the next submit). */
  pooledBuffers: number;
  pooledBytes: number;
  /** GPU buffers ever created by this pool: stops growing once a workload is warm. */
  createdBuffers: number;
  /** Released buffers held back for captured steps (Engine.capture), which bind them when replayed. */
  pinnedBuffers: number;
  pinnedBytes: number;
}

export function bucketSize(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const size = octave * step;
    if (size >= bytes) return size;
  }
  return octave * 2;
}

export class BufferPool {
  /** Free lists by listKey(usage, bucket size). */
  private readonly free = new Map<number, GPUBuffer[]>();
  /**
   * Each buffer's free list, size and number (in creation order), kept at creation: reading
   * `usage` and `size` back crosses into Dawn.
   */
  private readonly slots = new WeakMap<GPUBuffer, { readonly list: GPUBuffer[]; readonly size: number; readonly id: number }>();
  private pending: GPUBuffer[] = [];
  private readonly live = new Set<GPUBuffer>();
  /** Released buffers a captured step still binds: out of the free lists until unpinned. */
  private readonly pinned = new Set<GPUBuffer>();
  private created = 0;
  private pooledBytes = 0;
  private pooledCount = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    const k = listKey(usage, size);
    let list = this.free.get(k);
    if (!list) this.free.set(k, (list = []));
    let buffer = list.pop();
    if (buffer) {
      this.pooledBytes -= size;
      this.pooledCount--;
    } else {
      if (size > this.device.limits.maxBufferSize) {
        throw new RangeError(
          `buffer of ${bytes} bytes exceeds this device's maxBufferSize (${this.device.limits.maxBufferSize})`,
        );
      }
      buffer = this.device.createBuffer({ size, usage, label });
      this.slots.set(buffer, { list, size, id: ++this.created });
    }
    this.live.add(buffer);
    return buffer;
  }

  /** Whether `buffer` was acquired here and not released: a buffer of another engine's pool is not. */
  owns(buffer: GPUBuffer): boolean {
    return this.live.has(buffer);
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`buffer "${buffer.label}" released twice`);
    this.pending.push(buffer);
    this.pooledBytes += this.slots.get(buffer)!.size;
    this.pooledCount++;
  }

  /**
   * Holds back a released buffer (waiting for a submit or already free) so that nothing acquires
   * it: a captured step's intermediates, which its replays write and read again.
   */
  pin(buffer: GPUBuffer): void {
    if (this.live.has(buffer) || this.pinned.has(buffer)) throw new Error(`buffer "${buffer.label}" cannot be pinned: it is in use`);
    const slot = this.slots.get(buffer)!;
    const at = this.pending.indexOf(buffer);
    if (at >= 0) this.pending.splice(at, 1);
    else slot.list.splice(slot.list.indexOf(buffer), 1);
    this.pooledBytes -= slot.size;
    this.pooledCount--;
    this.pinned.add(buffer);
  }

  /** Gives a pinned buffer back (reusable after the next submit, as commands may still use it). */
  unpin(buffer: GPUBuffer): void {
    if (!this.pinned.delete(buffer)) throw new Error(`buffer "${buffer.label}" is not pinned`);
    this.pending.push(buffer);
    this.pooledBytes += this.slots.get(buffer)!.size;
    this.pooledCount++;
  }

  /** Called after each queue submit: buffers released before it may now be reused. */
  recycle(): void {
    const touched = new Set<GPUBuffer[]>();
    for (const buffer of this.pending) {
      const list = this.slots.get(buffer)!.list;
      list.push(buffer);
      touched.add(list);
    }
    this.pending = [];
    // Each free list in one order (lowest number last, handed out first), whatever order the
    // buffers came back in: a training step then gets the same buffers for the same tensors step
    // after step, which lets the engine reuse its bind groups.
    for (const list of touched) list.sort((a, b) => this.idOf(b) - this.idOf(a));
  }

  /** The buffer's number, in creation order (a buffer of this pool's). */
  idOf(buffer: GPUBuffer): number {
    return this.slots.get(buffer)!.id;
  }

  stats(): PoolStats {
    let liveBytes = 0;
    for (const b of this.live) liveBytes += b.size;
    let pinnedBytes = 0;
    for (const b of this.pinned) pinnedBytes += this.slots.get(b)!.size;
    return {
      liveBuffers: this.live.size,
      liveBytes,
      pooledBuffers: this.pooledCount,
      pooledBytes: this.pooledBytes,
      createdBuffers: this.created,
      pinnedBuffers: this.pinned.size,
      pinnedBytes,
    };
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    for (const b of this.pending) b.destroy();
    for (const b of this.live) b.destroy();
    for (const b of this.pinned) b.destroy();
    this.free.clear();
    this.pinned.clear();
    this.pending = [];
    this.live.clear();
  }
}

/** A number per (usage, size): usage flags fit in 10 bits (WebGPU's largest is 0x200), so no string is built per acquire. */
function listKey(usage: number, size: number): number {
  return size * 1024 + usage;
}
