/**
 * The load-cost kernels (shaders/load_cost.wgsl): the bench times a per-invocation load from a
 * storage buffer, a uniform buffer and workgroup memory against the same loop without loads, to
 * show what limits the convolutions on the device.
 */
import { UNIFORM_USAGE, type Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import { uniformLayout } from '../gpu/uniforms.js';
import { Tensor } from '../tensor.js';
import { grid1d } from './grid.js';

export const LoadParams = uniformLayout('LoadParams', [
  ['n', 'u32'],
  ['iters', 'u32'],
  ['mask', 'u32'],
] as const);

export type LoadSource = 'storage4' | 'storage1' | 'uniform4' | 'workgroup4' | 'none';
export const LOAD_SOURCES: readonly LoadSource[] = ['storage4', 'storage1', 'uniform4', 'workgroup4', 'none'];

const WG = 64;
/** vec4s in the storage source (its f32 view has as many f32s): a power of two. */
export const STORAGE_ELEMENTS = 1 << 16;
/** Elements each source's addresses cover (the WGSL array sizes of ubo and shared4). */
export const LOAD_SOURCE_ELEMENTS: Readonly<Record<LoadSource, number>> = {
  storage4: STORAGE_ELEMENTS,
  storage1: STORAGE_ELEMENTS,
  uniform4: 4096,
  workgroup4: 1024,
  none: STORAGE_ELEMENTS,
};

const bindings: Record<LoadSource, number[]> = { storage4: [1, 2], storage1: [1, 3], uniform4: [1, 4], workgroup4: [1, 2], none: [1] };
const kernels = Object.fromEntries(
  LOAD_SOURCES.map((s) => [s, defineKernel({ file: 'load_cost.wgsl', entry: `load_cost_${s}`, params: LoadParams, bindings: bindings[s], constants: { WG } })]),
) as Record<LoadSource, ReturnType<typeof defineKernel>>;

/** The sources' data: `values` (4 · STORAGE_ELEMENTS floats) as vec4s, as f32s, and its first 4096 vec4s as a uniform buffer. */
export class LoadCost {
  private readonly src: Tensor;
  private readonly ubo: GPUBuffer;

  constructor(private readonly engine: Engine, values: Float32Array) {
    if (values.length !== 4 * STORAGE_ELEMENTS) throw new RangeError(`LoadCost: expected ${4 * STORAGE_ELEMENTS} values, got ${values.length}`);
    this.src = Tensor.from(engine, values, [values.length]);
    const uboBytes = LOAD_SOURCE_ELEMENTS.uniform4 * 16;
    this.ubo = engine.createStorage(uboBytes, 'load_cost ubo', UNIFORM_USAGE);
    engine.write(this.ubo, values.subarray(0, uboBytes / 4));
  }

  /** n invocations of `iters` loads each from `source`; returns each invocation's sum [n]. */
  run(source: LoadSource, n: number, iters: number): Tensor {
    const out = Tensor.empty(this.engine, [n]);
    const data = source === 'uniform4' ? this.ubo : this.src.buffer;
    const buffers = source === 'none' ? [out.buffer] : [out.buffer, data];
    this.engine.dispatch(kernels[source], { n, iters, mask: LOAD_SOURCE_ELEMENTS[source] - 1 }, buffers, grid1d(n, WG));
    return out;
  }

  dispose(): void {
    this.engine.flush();
    this.src.dispose();
    this.engine.releaseStorage(this.ubo);
  }
}
