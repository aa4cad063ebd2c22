import { afterEach, describe, expect, it } from 'vitest';
import { Engine, Tensor } from '../src/index.js';
import { pacePolling, pacingUsers } from '../src/gpu/dawn_polling.js';

const realSetImmediate = globalThis.setImmediate;
afterEach(() => {
  expect(globalThis.setImmediate).toBe(realSetImmediate);
  expect(pacingUsers()).toBe(0);
});

/**
 * Imitates dawn.node's AsyncRunner: a native callback (a bound function prints as native code)
 * that re-arms itself with setImmediate until `ms` have passed; returns the poll times.
 */
function pollFor(ms: number): Promise<number[]> {
  return new Promise((resolve) => {
    const times: number[] = [];
    const start = performance.now();
    const poll = function () {
      const now = performance.now();
      times.push(now - start);
      if (now - start < ms) setImmediate(poll);
      else resolve(times);
    }.bind(null);
    setImmediate(poll);
  });
}

describe('paced polling for dawn.node', () => {
  it('a busy poll spins back to back; paced, it spins only briefly and then polls about 1 ms apart', async () => {
    const busy = await pollFor(30);
    const release = pacePolling(1);
    const paced = await pollFor(30);
    release();
    // unpaced: hundreds of polls in 30 ms
    expect(busy.length).toBeGreaterThan(300);
    // paced: back to back at first (a short wait ends as soon as before), then ≥ 1 ms apart
    expect(paced[1]! - paced[0]!).toBeLessThan(1);
    const late = paced.filter((t) => t > 5);
    const gaps = late.slice(1).map((t, i) => t - late[i]!);
    expect(gaps.length).toBeGreaterThan(5);
    // (another native callback armed from outside a poll, e.g. by Node's own streams, restarts the
    // short spin, so a gap may be short now and then: the median is what must hold)
    const median = [...gaps].sort((p, q) => p - q)[gaps.length >> 1]!;
    expect(median, paced.map((t) => t.toFixed(2)).join(' ')).toBeGreaterThanOrEqual(0.9);
    // compared past the first 5 ms only: how long the short spin lasts in polls depends on how
    // fast the machine is right then (a loaded 2-core CI runner spun 170 polls in it once)
    const busyLate = busy.filter((t) => t > 5);
    expect(late.length).toBeLessThan(busyLate.length / 3);
  });

  it('paced, a poll between 0.2 ms and 2 ms of a wait first naps ~0.1 ms instead of spinning', async () => {
    // pooled over several waits: a single wait's 2 ms can be taken by one hiccup of the process
    const inNapSpan = (times: number[]) => times.filter((t) => t > 0.4 && t < 1.8);
    const busy: number[][] = [];
    const paced: number[][] = [];
    for (let i = 0; i < 10; i++) {
      busy.push(inNapSpan(await pollFor(2.5)));
      const release = pacePolling(1);
      paced.push(inNapSpan(await pollFor(2.5)));
      release();
    }
    const gaps = paced.flatMap((ts) => ts.slice(1).map((t, i) => t - ts[i]!)).sort((p, q) => p - q);
    const shown = paced.map((ts) => ts.slice(0, 12).map((t) => t.toFixed(2)).join(' ')).join(' | ');
    expect(gaps.length, shown).toBeGreaterThan(10);
    expect(gaps[gaps.length >> 1], shown).toBeGreaterThanOrEqual(0.09);
    expect(paced.flat().length).toBeLessThan(busy.flat().length / 3);
  });

  it('leaves JavaScript callbacks to the real setImmediate', async () => {
    const release = pacePolling(50);
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      setTimeout(() => {
        order.push('timeout 20 ms');
        resolve();
      }, 20);
      setImmediate(() => order.push('immediate'));
    });
    release();
    expect(order).toEqual(['immediate', 'timeout 20 ms']);
  });

  it('is reference-counted, and releasing twice is harmless', () => {
    const a = pacePolling();
    const b = pacePolling();
    expect(globalThis.setImmediate).not.toBe(realSetImmediate);
    a();
    a();
    expect(pacingUsers()).toBe(1);
    expect(globalThis.setImmediate).not.toBe(realSetImmediate);
    b();
    expect(globalThis.setImmediate).toBe(realSetImmediate);
    expect(() => pacePolling(0)).toThrow(/interval must be > 0 ms/);
  });

  it('an engine on a CPU adapter paces while it lives (unless told not to), and its results are unchanged', async () => {
    const engine = await Engine.create();
    expect(pacingUsers()).toBe(engine.adapterInfo.isCpu ? 1 : 0);
    const t = Tensor.from(engine, [1, 2, 3], [3]);
    expect(Array.from(await t.toFloat32())).toEqual([1, 2, 3]);
    const unpaced = await Engine.create({ pacePolling: false });
    expect(pacingUsers()).toBe(engine.adapterInfo.isCpu ? 1 : 0);
    const forced = await Engine.create({ pacePolling: true });
    expect(pacingUsers()).toBe(engine.adapterInfo.isCpu ? 2 : 1);
    expect([engine.pacesPolling, unpaced.pacesPolling, forced.pacesPolling]).toEqual([engine.adapterInfo.isCpu, false, true]);
    for (const e of [engine, unpaced, forced]) e.destroy();
  });
});
