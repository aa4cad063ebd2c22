/**
 * Mini-batches from an in-memory image set: seeded shuffling per epoch, per-channel
 * normalisation, and random crop (zero padding) + horizontal flip augmentation for colour data.
 * Batches are assembled on the CPU into reused arrays; the caller writes them into persistent
 * GPU tensors, so a training step allocates nothing.
 */
import { Rng } from '../random.js';
import type { ImageSet } from './mnist_json.js';

export interface Normalisation {
  mean: number[];
  std: number[];
}

/** Per-channel mean and standard deviation of an image set (pixels in [0, 1]). */
export function channelStatistics(data: ImageSet): Normalisation {
  const [C, H, W] = data.shape;
  const plane = H * W;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0;
    let q = 0;
    for (let n = 0; n < data.count; n++) {
      const base = (n * C + c) * plane;
      for (let i = 0; i < plane; i++) {
        const v = data.images[base + i]!;
        s += v;
        q += v * v;
      }
    }
    const m = s / (data.count * plane);
    mean.push(m);
    std.push(Math.sqrt(Math.max(q / (data.count * plane) - m * m, 1e-12)));
  }
  return { mean, std };
}

/** Splits off the last `fraction` of a seeded permutation as a validation set. */
export function holdOut(data: ImageSet, fraction: number, seed: number): { train: ImageSet; validation: ImageSet } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`validation fraction must be in (0, 1), got ${fraction}`);
  const order = new Rng(seed).shuffle([...Array(data.count).keys()]);
  const nVal = Math.max(1, Math.round(data.count * fraction));
  return { train: subset(data, order.slice(0, data.count - nVal)), validation: subset(data, order.slice(data.count - nVal)) };
}

/** The samples at `indices`, copied. */
export function subset(data: ImageSet, indices: readonly number[]): ImageSet {
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  indices.forEach((i, k) => {
    images.set(data.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = data.labels[i]!;
  });
  return { images, labels, count: indices.length, shape: data.shape };
}

export interface BatchOptions {
  batch: number;
  seed: number;
  norm: Normalisation;
  /** Random crop with this much zero padding and horizontal flips (colour data); 0 = none. */
  cropPadding?: number;
  flip?: boolean;
}

/** Where a batch stream is: enough to resume it exactly. */
export interface BatchCursor {
  epoch: number;
  position: number;
  /** RNG state the epoch's permutation was drawn from. */
  shuffleState: number;
  /** RNG state now (augmentation draws continue from it). */
  rngState: number;
}

export class Batches {
  readonly x: Float32Array;
  readonly y: Int32Array;
  private order: number[] = [];
  private rng: Rng;
  private cursor: BatchCursor;

  constructor(readonly data: ImageSet, readonly o: BatchOptions) {
    if (data.count < o.batch) throw new RangeError(`batch size ${o.batch} exceeds the ${data.count} training samples`);
    const per = data.shape[0] * data.shape[1] * data.shape[2];
    this.x = new Float32Array(o.batch * per);
    this.y = new Int32Array(o.batch);
    this.rng = new Rng(o.seed);
    this.cursor = { epoch: 0, position: 0, shuffleState: 0, rngState: 0 };
    this.reshuffle();
  }

  /** Full batches per epoch (the remainder of each epoch is skipped). */
  get perEpoch(): number {
    return Math.floor(this.data.count / this.o.batch);
  }

  get epoch(): number {
    return this.cursor.epoch;
  }

  /** State at the start of the next batch. */
  save(): BatchCursor {
    return { ...this.cursor, rngState: this.rng.state };
  }

  restore(c: BatchCursor): void {
    this.rng.state = c.shuffleState;
    this.reshuffle();
    this.rng.state = c.rngState;
    this.cursor = { ...c };
  }

  private reshuffle(): void {
    this.cursor.shuffleState = this.rng.state;
    this.order = this.rng.shuffle([...Array(this.data.count).keys()]);
  }

  /** Fills this.x / this.y with the next batch (normalised, augmented). */
  next(): void {
    if (this.cursor.position + this.o.batch > this.data.count) {
      this.cursor.epoch++;
      this.cursor.position = 0;
      this.reshuffle();
    }
    const [C, H, W] = this.data.shape;
    const per = C * H * W;
    const pad = this.o.cropPadding ?? 0;
    const { mean, std } = this.o.norm;
    for (let k = 0; k < this.o.batch; k++) {
      const i = this.order[this.cursor.position + k]!;
      this.y[k] = this.data.labels[i]!;
      const src = this.data.images.subarray(i * per, (i + 1) * per);
      const dy = pad ? this.rng.int(2 * pad + 1) - pad : 0;
      const dx = pad ? this.rng.int(2 * pad + 1) - pad : 0;
      const flip = this.o.flip ? this.rng.next() < 0.5 : false;
      for (let c = 0; c < C; c++)
        for (let r = 0; r < H; r++)
          for (let col = 0; col < W; col++) {
            const sr = r + dy;
            const sc0 = col + dx;
            const sc = flip ? W - 1 - sc0 : sc0;
            const inside = sr >= 0 && sr < H && sc >= 0 && sc < W;
            const v = inside ? src[(c * H + sr) * W + sc]! : 0;
            this.x[k * per + (c * H + r) * W + col] = (v - mean[c]!) / std[c]!;
          }
    }
    this.cursor.position += this.o.batch;
  }
}

/** Normalises a whole image set (for evaluation), returning a new array. */
export function normalised(data: ImageSet, norm: Normalisation): Float32Array {
  const [C, H, W] = data.shape;
  const plane = H * W;
  const out = new Float32Array(data.images.length);
  for (let i = 0; i < out.length; i++) {
    const c = Math.floor(i / plane) % C;
    out[i] = (data.images[i]! - norm.mean[c]!) / norm.std[c]!;
  }
  return out;
}
