/** Every entry point compiles, and every uniform layout declared in TS matches its WGSL struct. */
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { allKernels, type Engine } from '../src/index.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

function wgslStruct(file: string, struct: string): [string, string][] {
  const src = readFileSync(new URL(`../shaders/${file}`, import.meta.url), 'utf8');
  const m = new RegExp(`struct ${struct}\\s*\\{([^}]*)\\}`).exec(src);
  if (!m) throw new Error(`struct ${struct} not found in ${file}`);
  return m[1]!
    .split('\n')
    .map((l) => l.replace(/\/\/.*/, '').trim())
    .filter(Boolean)
    .map((l) => {
      const f = /^(\w+)\s*:\s*(\w+)\s*,?$/.exec(l);
      if (!f) throw new Error(`unexpected field "${l}" in ${struct}`);
      return [f[1]!, f[2]!];
    });
}

describe('shaders', () => {
  it('registers kernels from every shader file', () => {
    const files = new Set(allKernels().map((k) => k.file));
    for (const f of readdirSync(new URL('../shaders/', import.meta.url))) expect(files).toContain(f);
  });

  for (const k of allKernels()) {
    it(`${k.file}#${k.entry} compiles and its ${k.params.struct} layout matches the WGSL`, async (ctx) => {
      expect(k.params.fields.map(([n, t]) => [n, t])).toEqual(wgslStruct(k.file, k.params.struct));
      if (k.feature && !engine.device.features.has(k.feature)) ctx.skip(); // e.g. 'subgroups' on a device without them
      // e.g. adam_step4's 16 storage buffers, which its caller only uses where the device allows them
      if (k.bindings.length > engine.limits.maxStorageBuffersPerShaderStage) ctx.skip();
      await engine.compileCheck(k);
    });
  }
});
