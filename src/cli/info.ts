/** `effconv info`: what WebGPU adapter effconv runs on. */
import { PACED_POLLING } from '../gpu/dawn_polling.js';
import type { ConvAutoRules } from '../gpu/conv_variant.js';
import type { Engine } from '../gpu/engine.js';
import { describeHostCpu, hostCpu } from '../host_cpu.js';

/** What each of conv2d's 'auto' rules runs, for the info line. */
const AUTO_RULES_TEXT: Record<ConvAutoRules, string> = {
  cpu: "the CPU rules (an AVX2 host's): the subgroup kernels wherever they run, the Winograd kernels where WINOGRAD_RULE takes a pass",
  'cpu-avx512': "the CPU rules of an AVX-512 host: the subgroup kernels wherever they run, the Winograd kernels where WINOGRAD_AVX512_RULE takes a pass",
  gpu: 'the GPU rules: the tiled kernels (their 8 × 8 block where GPU_TILE_RULE takes a pass), the Winograd kernels where WINOGRAD_GPU_RULE does',
};

export function describeEngine(engine: Engine): string {
  const a = engine.adapterInfo;
  const limits = engine.device.limits;
  const lines = [
    `adapter       ${[a.vendor, a.architecture, a.device].filter(Boolean).join(' / ') || '(unnamed)'}`,
    `description   ${a.description || '(none)'}`,
    `kind          ${a.isCpu ? 'CPU implementation (lavapipe/llvmpipe or similar): expect CPU speed' : 'GPU'}`,
    // a CPU adapter's speed is the host CPU's (same-named hosts differ: README, Performance)
    ...(a.isCpu ? [`host CPU      ${describeHostCpu(hostCpu())}`] : []),
    `backend       ${process.versions?.node ? "Dawn (npm 'webgpu') in Node " + process.versions.node : 'navigator.gpu'}`,
    `features      ${[...engine.device.features].sort().join(', ') || '(none)'}`,
    // which kernel files serve conv2d and matmul (README, Performance: how the kernels are organised)
    `subgroups     ${engine.subgroupSize !== null ? `${engine.subgroupSize} lanes: the subgroup kernels serve stride-1 'same' convolutions and matmul` : 'none of one fixed size: the plain kernels serve every convolution and matmul'}`,
    `conv 'auto'   ${AUTO_RULES_TEXT[engine.convAutoRules]} (EngineOptions.convAutoRules)`,
    `waiting       ${engine.pacesPolling ? `${PACED_POLLING} (its busy poll would take a CPU core from the device)` : "Dawn's default polling"}`,
    'limits',
  ];
  for (const name of [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ] as const) {
    lines.push(`  ${name.padEnd(36)} ${limits[name]}`);
  }
  return lines.join('\n');
}
