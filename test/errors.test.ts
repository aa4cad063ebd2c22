/** Bad input gets a clear error naming the op and the shapes; nothing is silently wrong. */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accuracy, acquireDevice, add, batchNorm2d, batchNormState, conv2d, Engine, gaussianMask, globalAvgPool, matmul, maxPool2x2, mul, NoAdapterError, ShaderCompileError, ShapeError, sizeOneHot, sum, Tensor } from '../src/index.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('bad input', () => {
  it('an engine used after destroy() says so (its device would only raise empty DOMExceptions); destroy twice does nothing', async () => {
    const own = await Engine.create();
    const a = Tensor.from(own, [1, 2], [2]);
    const b = Tensor.from(own, [3, 4], [2]);
    own.destroy();
    const gone = /engine: used after destroy\(\)/;
    expect(() => add(a, b)).toThrow(gone);
    expect(() => Tensor.from(own, [1], [1])).toThrow(gone);
    expect(() => b.write([5, 6])).toThrow(gone);
    await expect(a.toFloat32()).rejects.toThrow(gone);
    await expect(own.sync()).rejects.toThrow(gone);
    expect(() => own.destroy()).not.toThrow();
    expect(() => a.dispose()).not.toThrow(); // cleanup after the engine is gone stays quiet
  });

  it('uploads: data length, dtype and shape are checked', () => {
    expect(() => Tensor.from(engine, [1, 2, 3], [2, 2])).toThrow(/tensor: data has 3 values but shape \[2, 2\] needs 4/);
    expect(() => Tensor.from(engine, new Int32Array(4), [4])).toThrow(/float32 data must be a Float32Array/);
    expect(() => Tensor.from(engine, [1.5], [1], 'int32')).toThrow(/int32 data must hold integers/);
    expect(() => Tensor.from(engine, [1], [-1])).toThrow(/invalid shape \[-1\]/);
    const t = Tensor.from(engine, [1, 2], [2]);
    expect(() => t.write([1, 2, 3])).toThrow(/write: data has 3 values, tensor \[2\] holds 2/);
    // one float past what a kernel can bind: refused when made, not at the next readback
    const floats = engine.limits.maxStorageBufferBindingSize / 4 + 1;
    expect(() => Tensor.empty(engine, [floats])).toThrow(/tensor: \[\d+\] needs \d+ MiB, more than the \d+ MiB this device binds as one buffer \(maxStorageBufferBindingSize\): use a smaller batch/);
  });

  it('binary ops: shapes that do not broadcast', () => {
    const a = Tensor.from(engine, new Float32Array(6), [2, 3]);
    const b = Tensor.from(engine, new Float32Array(4), [4]);
    expect(() => add(a, b)).toThrow(ShapeError);
    expect(() => add(a, b)).toThrow(/add: cannot broadcast \[4\] to \[2, 3\]/);
    const labels = Tensor.from(engine, [1, 2], [2], 'int32');
    expect(() => mul(a, labels)).toThrow(/mul: expected float32, got int32/);
  });

  it('every float op rejects an int32 operand (its bits would be read as floats), naming the op', () => {
    const ints = (shape: number[]) => Tensor.from(engine, new Int32Array(shape.reduce((a, b) => a * b, 1)), shape, 'int32');
    const floats = (shape: number[]) => Tensor.from(engine, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const bn = batchNormState(engine, 2);
    const cases: [string, () => unknown][] = [
      ['conv2d', () => conv2d(ints([1, 2, 4, 4]), floats([3, 2, 3, 3]))],
      ['conv2d', () => conv2d(floats([1, 2, 4, 4]), ints([3, 2, 3, 3]))],
      ['conv2d', () => conv2d(floats([1, 2, 4, 4]), floats([3, 2, 3, 3]), { size: 'fromSoftSize', softSize: ints([1]) })],
      ['batchNorm2d', () => batchNorm2d(ints([1, 2, 4, 4]), bn, true)],
      ['maxPool2x2', () => maxPool2x2(ints([1, 2, 4, 4]))],
      ['globalAvgPool', () => globalAvgPool(ints([1, 2, 4, 4]))],
      ['gaussianMask', () => gaussianMask(ints([1]), 3)],
      ['sizeOneHot', () => sizeOneHot(ints([2]), 1, 5)],
      ['matmul', () => matmul(ints([2, 2]), floats([2, 2]))],
      ['sum', () => sum(ints([4]))],
    ];
    for (const [op, run] of cases) expect(run, op).toThrow(new RegExp(`^${op}: expected float32, got int32 \\[`));
  });

  it("a tensor of another engine is refused before it reaches the device (not a Dawn validation message later)", async () => {
    const other = await Engine.create();
    const x = Tensor.from(engine, new Float32Array(2 * 4 * 4), [1, 2, 4, 4]);
    const w = Tensor.from(other, new Float32Array(3 * 2 * 9), [3, 2, 3, 3]);
    expect(() => engine.tidy(() => conv2d(x, w))).toThrow(/a tensor of another engine, or one already disposed .*: an op's tensors must all come from the engine that runs it/);
    expect(() => engine.tidy(() => add(x, Tensor.from(other, new Float32Array(32), [1, 2, 4, 4])))).toThrow(/a tensor of another engine/);
    await engine.sync(); // nothing invalid reached the device
    other.destroy();
  });

  it('accuracy: no samples, mismatched lengths and non-finite logits are errors, not a number', async () => {
    const data = (count: number, values = count * 4) => ({ images: new Float32Array(values), labels: new Int32Array(count), count });
    const logits = (x: Tensor) => mul(Tensor.from(engine, new Float32Array(x.shape[0]! * 3).fill(1), [x.shape[0]!, 3]), Tensor.from(engine, [1], [1]));
    await expect(accuracy(engine, logits, data(0), [4])).rejects.toThrow(/accuracy: no samples to evaluate/);
    await expect(accuracy(engine, logits, data(5, 19), [4])).rejects.toThrow(/accuracy: 5 samples of \[4\] need 20 image values and 5 labels, got 19 and 5/);
    await expect(accuracy(engine, logits, data(5), [4], 0)).rejects.toThrow(/accuracy: batch must be a positive integer/);
    expect(await accuracy(engine, logits, data(5), [4], 2)).toBe(1); // all logits equal: class 0, every label 0
    const diverged = (x: Tensor) => mul(logits(x), Tensor.from(engine, [NaN], [1]));
    await expect(accuracy(engine, diverged, data(5), [4], 2)).rejects.toThrow(/accuracy: the model's logits for sample 0 are not finite \(NaN\): its weights have diverged/);
  });

  it('no adapter: the error says how to install one', async () => {
    const saved = (globalThis as { navigator?: unknown }).navigator;
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => null } },
      configurable: true,
    });
    try {
      await expect(acquireDevice()).rejects.toThrow(NoAdapterError);
      await expect(acquireDevice()).rejects.toThrow(/apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers/);
      // what an NVIDIA machine without GLVND needs (its Vulkan driver loads through libGLdispatch)
      await expect(acquireDevice()).rejects.toThrow(/NVIDIA's\n\s+Vulkan driver also needs GLVND \(libglvnd0\)/);
    } finally {
      Object.defineProperty(globalThis, 'navigator', { value: saved, configurable: true });
    }
  });

  it('a WGSL compile error names the file, line and source', async () => {
    const broken = async (file: string) => {
      const text = await readFile(new URL(`../shaders/${file}`, import.meta.url), 'utf8');
      return file === 'reduce.wgsl' ? text.replace('acc += x[', 'acc += undefined_thing + x[') : text;
    };
    const err = await Engine.create({ shaderSource: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as Error).message).toMatch(/WGSL compile error in reduce\.wgsl/);
    expect((err as Error).message).toMatch(/reduce\.wgsl:\d+:\d+ error: .*undefined_thing/);
  });

  it('reading a disposed tensor fails clearly', async () => {
    const t = Tensor.from(engine, [1], [1]);
    t.dispose();
    await expect(t.toArray()).rejects.toThrow(/already disposed/);
  });
});

afterEach(() => engine.tidy(() => undefined));
