/**
 * WebGPU adapter/device acquisition: Dawn's Node bindings (npm `webgpu`) in Node, `navigator.gpu`
 * in a browser. Everything above this file sees only a GPUDevice.
 */

export interface DeviceOptions {
  /** Prefer a discrete GPU ('high-performance') or an integrated one ('low-power'). */
  powerPreference?: GPUPowerPreference;
  /** Called once if the device is lost after creation (driver reset, destroy()). */
  onLost?: (info: GPUDeviceLostInfo) => void;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  adapterInfo: AdapterDescription;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for Mesa's lavapipe/llvmpipe and other CPU implementations. */
  isCpu: boolean;
}

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `No WebGPU adapter found (${detail}).\n` +
        '  - With a GPU: install its Vulkan driver and the Vulkan loader (Debian: libvulkan1); NVIDIA\'s\n' +
        '    Vulkan driver also needs GLVND (libglvnd0), and one whose ICD manifest is not in\n' +
        '    /usr/share/vulkan/icd.d needs VK_DRIVER_FILES=<that manifest>.\n' +
        '  - Without a GPU on Debian 12 (as root): add the bookworm-backports suite, then\n' +
        '      apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers\n' +
        '    (or simply run `npm run setup`, which does this for you).\n' +
        '  - In a browser: use one with WebGPU enabled (Chrome/Edge 113+, Firefox 141+, Safari 26+).',
    );
    this.name = 'NoAdapterError';
  }
}

// Dawn's instance must stay reachable for as long as any device lives: if the GPU object is
// garbage-collected its worker threads are torn down under the device (a crash, not an error).
let nodeGpu: GPU | undefined;

/** Whether the WebGPU entry point is Dawn's Node binding (not a browser's navigator.gpu). */
export function usesDawnNode(): boolean {
  return nodeGpu !== undefined && !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
}

/**
 * Flags for Dawn's Node instance. Dawn rounds timestamp queries down to multiples of 65,536 ns by
 * default (a browser's guard against timing attacks, toggle `timestamp_quantization`), which reads
 * a kernel shorter than that as 0 or 65.5 µs — most kernels on a GPU, the small ones on lavapipe.
 * A Node process has no such page to guard, so effconv's own instance keeps full resolution.
 */
export const DAWN_NODE_FLAGS: readonly string[] = ['disable-dawn-features=timestamp_quantization'];

/** The WebGPU entry point effconv uses: navigator.gpu, or one Dawn instance in Node (shared, e.g. with a peer library in the bench). */
export async function getGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (nodeGpu) return nodeGpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new NoAdapterError('navigator.gpu is not available in this browser');
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as typeof mod;
  } catch (e) {
    throw new NoAdapterError(`the npm package "webgpu" could not be loaded: ${(e as Error).message}`);
  }
  // Dawn's GPU* constants (GPUBufferUsage, ...) are globals in browsers; install them once in Node.
  for (const [name, value] of Object.entries(mod.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  nodeGpu = mod.create([...DAWN_NODE_FLAGS]);
  return nodeGpu;
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const text = `${vendor} ${architecture} ${device} ${description}`.toLowerCase();
  const isCpu = /llvmpipe|lavapipe|swiftshader|cpu/.test(text);
  return { vendor, architecture, device, description, isCpu };
}

/** Opens a device with the adapter's full limits (large storage buffers for big convolutions). */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const gpu = await getGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new NoAdapterError('requestAdapter() returned null');
  const wanted: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxStorageBuffersPerShaderStage',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const name of wanted) requiredLimits[name] = adapter.limits[name] as number;
  const requiredFeatures = (['timestamp-query', 'shader-f16', 'subgroups'] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f),
  );
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'effconv' });
  void device.lost.then((info) => {
    if (info.reason === 'destroyed') return;
    const message = `WebGPU device lost (${info.reason}): ${info.message}`;
    if (options.onLost) options.onLost(info);
    else console.error(message);
  });
  return { device, adapter, adapterInfo: describeAdapter(adapter) };
}
