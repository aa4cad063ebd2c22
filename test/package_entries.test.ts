/**
 * The package's entry points: the browser-safe one imports no Node module, each resolves under its
 * export condition, and every name README's examples import from 'effconv' is exported there.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

/** The modules a TypeScript file loads when it runs: static imports and re-exports, type-only ones left out. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (!m[1]) specifiers.push(m[2]!);
  }
  return specifiers;
}

/** Every module reached from `entry` by runtime imports, each with the chain that reaches it. */
function importGraph(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const spec of runtimeImports(file)) {
      const chain = [...reached.get(file)!, spec];
      if (!spec.startsWith('.')) {
        if (!reached.has(spec)) reached.set(spec, chain);
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!reached.has(target)) {
        reached.set(target, chain);
        queue.push(target);
      }
    }
  }
  return reached;
}

describe('package entries', () => {
  it('the browser entry reaches no Node module and no package by a static import', () => {
    const graph = importGraph(join(ROOT, 'src/browser.ts'));
    const outside = [...graph].filter(([module]) => !module.startsWith('/')).map(([, chain]) => chain.map((c) => (c.startsWith('/') ? relative(ROOT, c) : c)).join(' → '));
    expect(outside).toEqual([]);
    // the walk itself sees Node imports: the Node entry reaches node:fs
    expect([...importGraph(join(ROOT, 'src/index.ts')).keys()]).toContain('node:fs');
    expect(graph.size).toBeGreaterThan(30); // it followed the imports
  });

  it("package.json's exports send a browser build to browser.js and Node to index.js", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { browser: { default: string }; import: string }> };
    expect(pkg.exports['.']!.browser.default).toBe('./dist/src/browser.js');
    expect(pkg.exports['.']!.import).toBe('./dist/src/index.js');
    // resolved as a consumer would: a project with effconv in its node_modules, with and without the browser condition
    const project = mkdtempSync(join(tmpdir(), 'consumer-'));
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(ROOT, join(project, 'node_modules', 'effconv'), 'dir');
    const probe = "const m = await import('effconv'); console.log(JSON.stringify({ search: typeof m.Search, idx: typeof m.loadIdxImages, engine: typeof m.Engine }))";
    const load = async (...flags: string[]) => JSON.parse((await run(process.execPath, [...flags, '--input-type=module', '-e', probe], { cwd: project })).stdout) as Record<string, string>;
    expect(await load()).toEqual({ search: 'function', idx: 'function', engine: 'function' });
    expect(await load('--conditions=browser')).toEqual({ search: 'function', idx: 'undefined', engine: 'function' });
  });

  it("every name README's examples import from 'effconv' is exported, from the browser entry unless it needs Node", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const imports = [...readme.matchAll(/^import \{([^}]+)\} from '([^']+)';/gm)];
    expect(imports.length).toBeGreaterThanOrEqual(4);
    for (const m of imports) expect(m[2], m[0]).toBe('effconv'); // no deep paths: package.json exports none
    const node = await import('../src/index.js');
    const browser = await import('../src/browser.js');
    const nodeOnly = new Set(['useConvTuningFile', 'saveConvTuning', 'checkTuningFile', 'runEffConv', 'runStage', 'loadMnistJson', 'loadIdxImages', 'parseIdx', 'readSafetensors', 'writeSafetensors', 'restoreInto']);
    for (const m of imports) {
      for (const name of m[1]!.split(',').map((s) => s.trim()).filter(Boolean)) {
        expect(typeof (node as Record<string, unknown>)[name], `${name} (README: ${m[0]})`).not.toBe('undefined');
        if (!nodeOnly.has(name)) expect(typeof (browser as Record<string, unknown>)[name], `${name} in the browser entry`).not.toBe('undefined');
      }
    }
    // the Node-only names are not in the browser entry
    for (const name of nodeOnly) expect((browser as Record<string, unknown>)[name], name).toBeUndefined();
  });
});
