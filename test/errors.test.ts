/** Bad input gets a clear error naming the op and the shapes; nothing is silently wrong. */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireDevice, add, Engine, mul, NoAdapterError, ShaderCompileError, ShapeError, Tensor } from '../src/index.js';
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
  });

  it('binary ops: shapes that do not broadcast', () => {
    const a = Tensor.from(engine, new Float32Array(6), [2, 3]);
    const b = Tensor.from(engine, new Float32Array(4), [4]);
    expect(() => add(a, b)).toThrow(ShapeError);
    expect(() => add(a, b)).toThrow(/add: cannot broadcast \[4\] to \[2, 3\]/);
    const labels = Tensor.from(engine, [1, 2], [2], 'int32');
    expect(() => mul(a, labels)).toThrow(/mul: expected float32, got int32/);
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
