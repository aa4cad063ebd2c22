import { beforeAll, describe, expect, it } from 'vitest';
import { add, relu, Tensor, type Engine } from '../src/index.js';
import { usesDawnNode } from '../src/gpu/device.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('engine timing and profiling', () => {
  it('beginTiming / endTiming sum the GPU time of the work in between', async (ctx) => {
    if (!engine.canTime) ctx.skip();
    const x = Tensor.from(engine, new Float32Array(1 << 16).fill(-1), [1 << 16]);
    engine.beginTiming();
    engine.tidy(() => void relu(add(x, x)));
    const ms = await engine.endTiming();
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(ms)).toBe(true);
    x.dispose();
  });

  it("timestamps keep Dawn's full resolution (not rounded to 65,536 ns)", async (ctx) => {
    if (!engine.canTime || !usesDawnNode()) ctx.skip();
    // with Dawn's default timestamp_quantization every reading is a multiple of 65,536 ns
    const x = Tensor.from(engine, new Float32Array(1 << 12).fill(-1), [1 << 12]);
    const readingsNs: number[] = [];
    for (let i = 0; i < 6; i++) {
      engine.beginTiming();
      engine.tidy(() => void relu(x));
      readingsNs.push(Math.round((await engine.endTiming()) * 1e6));
    }
    expect(readingsNs.some((ns) => ns % 65536 !== 0), `readings ${readingsNs.join(', ')} ns`).toBe(true);
    x.dispose();
  });

  it('beginProfile / endProfile give each dispatch its entry point and time, in order, up to maxDispatches', async (ctx) => {
    if (!engine.canTime) ctx.skip();
    const x = Tensor.from(engine, new Float32Array(1000).fill(2), [1000]);
    const odd = Tensor.from(engine, new Float32Array(7).fill(2), [7]);
    engine.beginProfile();
    engine.tidy(() => {
      relu(add(x, x)); // n a multiple of 4: the vec4 kernels
      relu(odd);
    });
    const rows = await engine.endProfile();
    expect(rows.map((r) => r.entry)).toEqual(['add4', 'relu4', 'relu']);
    for (const r of rows) expect(r.ms).toBeGreaterThanOrEqual(0);
    // past maxDispatches the rest run untimed and unlisted
    engine.beginProfile(2);
    engine.tidy(() => void relu(relu(relu(odd))));
    expect((await engine.endProfile()).map((r) => r.entry)).toEqual(['relu', 'relu']);
    await expect(engine.endProfile()).rejects.toThrow(/endProfile without beginProfile/);
    x.dispose();
    odd.dispose();
  });
});
