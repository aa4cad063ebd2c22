/**
 * The peer: TF.js 4.22 with its WebGPU backend on the same Dawn instance (navigator.gpu is set to
 * effconv's GPU object before TF.js loads). Kernel time from tf.time() (GPU timestamps where the
 * adapter has them), else wall time; same warm-up and repetitions as effconv's rows.
 */
import { createRequire } from 'node:module';
import { getGpu } from '../src/gpu/device.js';
import { summarise, type Timing } from './timing.js';

// Minimal structural types for the parts of TF.js the bench uses.
export interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  version: { tfjs: string };
  tidy<T>(fn: () => T): T;
  time(fn: () => void): Promise<{ kernelMs: number | { error: string }; wallMs: number }>;
  randomNormal(shape: number[]): TfTensor;
  conv2d(x: TfTensor, f: TfTensor, strides: number, pad: 'same'): TfTensor;
  grads(f: (...xs: TfTensor[]) => TfTensor): (xs: TfTensor[]) => TfTensor[];
  sum(x: TfTensor): TfTensor;
  oneHot(indices: TfTensor, depth: number): TfTensor;
  tensor1d(v: number[], dtype: string): TfTensor;
  sequential(): TfModel;
  layers: Record<string, (o: object) => unknown>;
  train: { adam(lr: number): unknown };
  backend(): { device?: GPUDevice };
}
export interface TfTensor {
  dispose(): void;
  data(): Promise<unknown>;
}
export interface TfModel {
  add(layer: unknown): void;
  compile(o: object): void;
  trainOnBatch(x: TfTensor, y: TfTensor): Promise<unknown>;
}

export async function loadTfjs(): Promise<Tf> {
  const gpu = await getGpu();
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu }, configurable: true });
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs') as Tf;
  require('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its WebGPU backend');
  await tf.ready();
  return tf;
}

/** Times fn (which must dispose what it creates) with tf.time. */
export async function timeTf(tf: Tf, fn: () => void, reps: number, warmup = 1): Promise<Timing> {
  const times: number[] = [];
  let method: Timing['method'] = 'timestamp';
  for (let i = 0; i < warmup + reps; i++) {
    const t = await tf.time(fn);
    const ms = typeof t.kernelMs === 'number' ? t.kernelMs : t.wallMs;
    if (typeof t.kernelMs !== 'number') method = 'wall';
    if (i >= warmup) times.push(ms);
  }
  return summarise(times, method);
}
