/**
 * Where WGSL text comes from: the package's `shaders/` folder, read from disk in Node and fetched
 * relative to this module in a browser. Only files of that folder are ever loaded; no text from
 * the user is spliced into a shader.
 */

export type ShaderSource = (file: string) => Promise<string>;

const SHADER_FILE = /^[a-z0-9_]+\.wgsl$/;

export function defaultShaderSource(): ShaderSource {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  return isNode ? nodeShaderSource() : browserShaderSource(shaderFolderUrl(import.meta.url));
}

/**
 * The package's shaders/ folder from the URL of this module: two levels up from src/gpu/ in the
 * source tree, three from dist/src/gpu/ in the built package (what a browser loads from
 * node_modules). A bundler that moves the module elsewhere needs Engine.create({ shaderSource:
 * browserShaderSource(where it serves shaders/) }).
 */
export function shaderFolderUrl(moduleUrl: string): URL {
  const built = /\/dist\/src\/gpu\/[^/]+$/.test(new URL(moduleUrl).pathname);
  return new URL(built ? '../../../shaders/' : '../../shaders/', moduleUrl);
}

/** Browser: fetch `<base>/<file>`; serve the package's shaders/ folder at `base`. */
export function browserShaderSource(base: URL): ShaderSource {
  return async (file) => {
    checkName(file);
    const response = await fetch(new URL(file, base));
    if (!response.ok) throw new Error(`could not fetch shader ${file}: HTTP ${response.status}`);
    return response.text();
  };
}

function nodeShaderSource(): ShaderSource {
  let folder: Promise<string> | undefined;
  return async (file) => {
    checkName(file);
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    folder ??= findShaderFolder();
    return fs.readFile(path.join(await folder, file), 'utf8');
  };
}

/** Walks up from this module (src/gpu or dist/src/gpu) to the package root holding shaders/. */
async function findShaderFolder(): Promise<string> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'shaders');
    if (fs.existsSync(path.join(candidate, 'elementwise.wgsl'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`effconv: cannot find the shaders/ folder above ${fileURLToPath(import.meta.url)}`);
}

function checkName(file: string): void {
  if (!SHADER_FILE.test(file)) throw new Error(`invalid shader file name "${file}"`);
}
