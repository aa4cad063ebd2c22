/**
 * A kernel is one WGSL entry point: its file, the uniform layout it reads at @binding(0), the
 * storage bindings it uses (in order, as passed to `dispatch`), and its `override` constants.
 * Pipelines are cached under a key derived from (file, entry, sorted constants): never hand-written.
 */
import type { UniformLayout } from './uniforms.js';

export interface KernelDef<F extends string = string> {
  readonly file: string;
  readonly entry: string;
  readonly params: UniformLayout<F>;
  /** Storage binding numbers this entry point uses, in the order buffers are passed to dispatch. */
  readonly bindings: readonly number[];
  /** Default override constants (workgroup sizes, tiles). */
  readonly constants?: Readonly<Record<string, number>>;
  /** A device feature the file needs (its module is compiled only on devices that have it). */
  readonly feature?: GPUFeatureName;
}

const registry: KernelDef[] = [];

/** Every kernel defined so far (the engine loads their files; a test compiles each). */
export function allKernels(): readonly KernelDef[] {
  return registry;
}

export function defineKernel<F extends string>(def: KernelDef<F>): KernelDef<F> {
  registry.push(def as KernelDef);
  return def;
}

export function pipelineKey(def: KernelDef, constants: Readonly<Record<string, number>>): string {
  const sorted = Object.keys(constants)
    .sort()
    .map((k) => `${k}=${constants[k]}`)
    .join(',');
  return `${def.file}#${def.entry}{${sorted}}`;
}

export class ShaderCompileError extends Error {
  constructor(file: string, entry: string, messages: readonly GPUCompilationMessage[], source: string) {
    const lines = source.split('\n');
    const detail = messages
      .map((m) => {
        const where = `${file}:${m.lineNum}:${m.linePos}`;
        const text = lines[m.lineNum - 1];
        return `${where} ${m.type}: ${m.message}${text !== undefined ? `\n    ${text.trim()}` : ''}`;
      })
      .join('\n');
    super(`WGSL compile error in ${file} (entry point ${entry}):\n${detail}`);
    this.name = 'ShaderCompileError';
  }
}
