/** One engine per test file (each file runs in its own process). */
import { it } from 'vitest';
import { Engine, type ConvAutoRules } from '../../src/index.js';
import { bwdWeightQuadsOverride } from '../../src/ops/conv2d_subgroup_rules.js';

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

/** `await fn()` with the engine's rules (EngineOptions.convAutoRules) set to `rules`, restored once it settles. */
export async function underAutoRules<T>(engine: Engine, rules: ConvAutoRules, fn: () => Promise<T>): Promise<T> {
  const before = engine.convAutoRules;
  engine.convAutoRules = rules;
  try {
    return await fn();
  } finally {
    engine.convAutoRules = before;
  }
}

/**
 * `fn()` under the 'cpu-avx512' rules with conv2d_bwd_weight_sg forced to two blocks of input
 * channels per lane wherever it may take them (bwdWeightQuadsOverride), both restored after.
 */
export async function underForcedWeightQuads<T>(engine: Engine, fn: () => Promise<T>): Promise<T> {
  return underAutoRules(engine, 'cpu-avx512', async () => {
    bwdWeightQuadsOverride.quads = 2;
    try {
      return await fn();
    } finally {
      bwdWeightQuadsOverride.quads = null;
    }
  });
}

/** `fn()` with conv2d's 'auto' following `rules` on `engine` (EngineOptions.convAutoRules), restored after. */
export function withAutoRules<T>(engine: Engine, rules: ConvAutoRules, fn: () => T): T {
  const before = engine.convAutoRules;
  engine.convAutoRules = rules;
  try {
    return fn();
  } finally {
    engine.convAutoRules = before;
  }
}
