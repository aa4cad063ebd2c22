/** One engine per test file (each file runs in its own process). */
import { it } from 'vitest';
import { Engine } from '../../src/index.js';

let engine: Promise<Engine> | undefined;

export function testEngine(): Promise<Engine> {
  engine ??= Engine.create();
  return engine;
}

/**
 * A test of the subgroup kernels: skipped on a device without (fixed-size) subgroups. `engine`
 * gives the file's engine when the test runs (it is created in the file's beforeAll).
 */
export function itSubgroups(engine: () => Engine, name: string, fn: () => Promise<void>): void {
  it(name, async (ctx) => {
    if (engine().subgroupSize === null) ctx.skip();
    await fn();
  });
}
