// Exit 0 when Dawn (npm `webgpu`) finds a WebGPU adapter on this machine, 1 otherwise.
// Used by scripts/setup.sh before anything is built, so it is plain JS with no project imports.
import { create } from 'webgpu';

const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.log('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
console.log(`WebGPU adapter: ${info.vendor ?? '?'} ${info.device || info.description || info.architecture || ''} (${info.backend ?? info.adapterType ?? 'unknown backend'})`);
process.exit(0);
