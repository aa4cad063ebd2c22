/** Every entry point compiles, and every uniform layout declared in TS matches its WGSL struct. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { add, allKernels, browserShaderSource, Engine, shaderFolderUrl, Tensor } from '../src/index.js';
import { pacingUsers } from '../src/gpu/dawn_polling.js';
import { AdamHyper } from '../src/optim/adam.js';
import { SgdHyper } from '../src/optim/sgd.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
const ROOT = new URL('..', import.meta.url);
beforeAll(async () => {
  engine = await testEngine();
});

/** How many of `bindings` the WGSL file declares as storage buffers (a kernel may also bind uniform buffers). */
function storageBindings(file: string, bindings: readonly number[]): number {
  const src = readFileSync(new URL(`../shaders/${file}`, import.meta.url), 'utf8');
  return bindings.filter((b) => new RegExp(`@binding\\(${b}\\)\\s*var<storage`).test(src)).length;
}

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
  it("a browser's default finds shaders/ from the module's URL, in the source tree and in the built package", () => {
    const shaders = new URL('shaders/', ROOT).href;
    expect(shaderFolderUrl(new URL('src/gpu/shader-source.ts', ROOT).href).href).toBe(shaders);
    expect(shaderFolderUrl(new URL('dist/src/gpu/shader-source.js', ROOT).href).href).toBe(shaders);
    expect(shaderFolderUrl('https://cdn.example/npm/effconv@0.1.0/dist/src/gpu/shader-source.js').href).toBe('https://cdn.example/npm/effconv@0.1.0/shaders/');
  });

  it('an engine built on browserShaderSource (fetching each file) loads every shader and runs', async () => {
    // a fetch that serves file: URLs, as a browser serves the package's folder over HTTP
    const fetched: string[] = [];
    const saved = globalThis.fetch;
    globalThis.fetch = (async (url: URL | string) => {
      const u = new URL(String(url));
      fetched.push(u.pathname);
      try {
        return new Response(readFileSync(fileURLToPath(u), 'utf8'));
      } catch {
        return new Response('', { status: 404 });
      }
    }) as typeof fetch;
    try {
      const base = shaderFolderUrl(pathToFileURL(fileURLToPath(new URL('dist/src/gpu/shader-source.js', ROOT))).href);
      const own = await Engine.create({ shaderSource: browserShaderSource(base) });
      const sum = await add(Tensor.from(own, [1, 2], [2]), Tensor.from(own, [3, 4], [2])).toFloat32();
      expect(Array.from(sum)).toEqual([4, 6]);
      expect(fetched.length).toBe(new Set(allKernels().map((k) => k.file)).size);
      own.destroy();
      // a folder without the files: the error names the file and the HTTP status
      const pacing = pacingUsers();
      await expect(Engine.create({ shaderSource: browserShaderSource(new URL('nowhere/', ROOT)), pacePolling: true })).rejects.toThrow(/could not fetch shader \w+\.wgsl: HTTP 404/);
      expect(pacingUsers()).toBe(pacing); // the failed engine gave its paced polling (and device) back
    } finally {
      globalThis.fetch = saved;
    }
  });

  it('registers kernels from every shader file', () => {
    const files = new Set(allKernels().map((k) => k.file));
    for (const f of readdirSync(new URL('../shaders/', import.meta.url))) expect(files).toContain(f);
  });

  for (const layout of [AdamHyper, SgdHyper]) {
    it(`the optimisers' hyperparameter buffer ${layout.struct} (bound beside the dispatch's own uniforms) matches its WGSL struct`, () => {
      expect(layout.fields.map(([n, t]) => [n, t])).toEqual(wgslStruct('optim.wgsl', layout.struct));
    });
  }

  for (const k of allKernels()) {
    it(`${k.file}#${k.entry} compiles and its ${k.params.struct} layout matches the WGSL`, async (ctx) => {
      expect(k.params.fields.map(([n, t]) => [n, t])).toEqual(wgslStruct(k.file, k.params.struct));
      if (k.feature && !engine.device.features.has(k.feature)) ctx.skip(); // e.g. 'subgroups' on a device without them
      // e.g. adam_step4's 16 storage buffers, which its caller only uses where the device allows them
      if (storageBindings(k.file, k.bindings) > engine.limits.maxStorageBuffersPerShaderStage) ctx.skip();
      await engine.compileCheck(k);
    });
  }
});
