/**
 * The engine owns the device, the shader modules and pipeline cache, the buffer pool, the open
 * command encoder and the scope stack. Ops call `dispatch`; dispatches accumulate in one compute
 * pass of one encoder until something needs the results on the CPU (`read`) or a step ends
 * (`flush`), so a whole training step is one submit.
 */
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { Capture, CaptureRecorder, type CaptureHost } from './capture.js';
import { checkConvAutoRules, checkConvVariant, type ConvAutoRules, type ConvVariantName } from './conv_variant.js';
import { pacePolling } from './dawn_polling.js';
import { acquireDevice, usesDawnNode, type AdapterDescription, type DeviceOptions } from './device.js';
import { GpuValidationError } from './errors.js';
import { allKernels, pipelineKey, ShaderCompileError, type KernelDef } from './kernel.js';
import { defaultShaderSource, type ShaderSource } from './shader-source.js';
import { textHash } from './text_hash.js';
import { packUniforms, type UniformLayout, type UniformValues } from './uniforms.js';

export interface EngineOptions extends DeviceOptions {
  shaderSource?: ShaderSource;
  /**
   * Pace Dawn's Node-binding polls while the engine lives (see dawn_polling.ts): its default busy
   * poll takes a CPU core for as long as the GPU works. Default: on for a CPU adapter (lavapipe),
   * whose device shares those cores; off for a GPU, where a paced poll would only add latency to
   * long waits. Ignored outside Node.
   */
  pacePolling?: boolean;
  /**
   * The kernels conv2d runs when a call names no variant (ConvVariant in ops/conv2d.ts): 'auto'
   * (default), 'plain', 'subgroups', 'tiled' or 'fastest'. Lets a whole model — a search, a final
   * training — run on one kernel family, e.g. the workgroup-tiled kernels on a GPU, or each of its
   * convolutions on the family measured fastest for it (tuneConvs).
   */
  convVariant?: ConvVariantName;
  /**
   * Which measured rules conv2d's 'auto' follows: 'cpu' (measured on lavapipe on an AVX2 host: the
   * subgroup kernels wherever they run, the Winograd ones where WINOGRAD_RULE takes a pass),
   * 'cpu-avx512' (the same on an AVX-512 host, whose Winograd rule is WINOGRAD_AVX512_RULE) or
   * 'gpu' (measured on an NVIDIA H200: the workgroup-tiled kernels, on their 8 × 8 block where
   * GPU_TILE_RULE takes a pass, with the subgroup Winograd kernels for a forward or input gradient
   * that WINOGRAD_GPU_RULE takes).
   * Default: on a CPU adapter 'cpu-avx512' in Node on a host whose CPU has AVX-512, else 'cpu'; on
   * a GPU 'gpu'. 'fastest' times every family either way.
   */
  convAutoRules?: ConvAutoRules;
  /** Timed runs per candidate when tuneConvs is given no `reps` (default 3; more on a noisy host). */
  convTuningReps?: number;
}

export interface MemoryInfo extends PoolStats {
  /** Tensor handles not yet disposed. */
  liveTensors: number;
}

/** Something that holds GPU memory and is released by a scope. */
export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage may be absent at load)
/** UNIFORM | COPY_DST: the engine's uniform buffers (and other fixed-size uniform data). */
export const UNIFORM_USAGE = 0x40 | 0x08;
const READBACK_USAGE = 0x01 | 0x08; // MAP_READ | COPY_DST
const MAX_GROUPS = 65535;
/** Bind groups the engine keeps for reuse (see bindGroup). */
const BIND_GROUP_CACHE = 8192;

/** A compute pipeline and a number of its own (which keys its bind groups). */
interface KeyedPipeline {
  readonly id: number;
  readonly pipeline: GPUComputePipeline;
}

export class Engine {
  readonly pool: BufferPool;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, KeyedPipeline>();
  /** The pipelines' cache by kernel and the constants of a call, in front of `pipelines` (by canonical key). */
  private readonly pipelinesByDef = new WeakMap<KernelDef, Map<string, KeyedPipeline>>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** subgroupSize, once found (undefined before). */
  private subgroupSizeFound: number | null | undefined;
  /** The pipeline the open pass last set (a repeat is not set again). */
  private passPipeline: GPUComputePipeline | null = null;
  /** Timestamp queries of the timed passes; `entries` (profiling) names each pass's one dispatch. */
  private timing: { set: GPUQuerySet; used: number; capacity: number; entries: string[] | null } | null = null;
  /** Whether the open compute pass records timestamps. */
  private passTimed = false;
  private errorChecks: Promise<GPUError | null>[] = [];
  private readonly scopes: Set<Disposable>[] = [];
  private readonly scopeHooks: ((depth: number) => void)[] = [];
  private lostMessage: string | null = null;
  /** The largest buffer a kernel can bind (maxStorageBufferBindingSize), read once: every tensor is checked against it. */
  readonly maxTensorBytes: number;
  /** Set by destroy(): any later use throws instead of reaching a destroyed device (whose errors are empty DOMExceptions). */
  private destroyed = false;
  /** Ends this engine's share of paced polling (EngineOptions.pacePolling); null when not paced. */
  private releasePacing: (() => void) | null = null;
  /** Tensor handles alive; maintained by Tensor. */
  liveTensors = 0;
  /** Dispatches encoded since creation (for tests and benches). */
  dispatchCount = 0;
  /** The capture being recorded (Engine.capture), else null. */
  private recorder: CaptureRecorder | null = null;
  /** conv2d's kernels when a call names no variant (EngineOptions.convVariant). */
  convVariant: ConvVariantName = 'auto';
  /** The rules conv2d's 'auto' follows (EngineOptions.convAutoRules). */
  convAutoRules: ConvAutoRules = 'cpu';
  /** tuneConvs' timed runs per candidate when it is given no `reps` (EngineOptions.convTuningReps). */
  convTuningReps = 3;
  /** Bind groups created since creation (for tests: a warm training step creates none). */
  bindGroupsCreated = 0;
  /** Uniform writes skipped because the buffer already held the bytes (writeUniform). */
  uniformWritesSkipped = 0;
  /** What each pooled uniform buffer holds (its words as last written), to skip rewriting them. */
  private readonly uniformWords = new WeakMap<GPUBuffer, Uint32Array>();
  /** Where a dispatch's uniforms are packed before the comparison with uniformWords. */
  private uniformScratch = new Uint32Array(16);
  private uniformScratchView = new DataView(this.uniformScratch.buffer);
  /** A fingerprint (textHash) of each shader file as compiled: what recorded kernel choices were timed on. */
  readonly shaderHashes = new Map<string, string>();
  /** Command buffers submitted since creation (for tests and benches). */
  submitCount = 0;
  /** Buffers read back to the CPU since creation (for tests: a training step reads nothing). */
  readCount = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter,
    readonly adapterInfo: AdapterDescription,
    private readonly shaderSource: ShaderSource,
  ) {
    this.pool = new BufferPool(device);
    this.maxTensorBytes = device.limits.maxStorageBufferBindingSize;
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostMessage = `WebGPU device lost (${info.reason}): ${info.message}`;
    });
  }

  static async create(options: EngineOptions = {}): Promise<Engine> {
    const convVariant = checkConvVariant('Engine.create', 'convVariant', options.convVariant ?? 'auto');
    const convAutoRules = options.convAutoRules === undefined ? undefined : checkConvAutoRules('Engine.create', 'convAutoRules', options.convAutoRules);
    const reps = options.convTuningReps ?? 3;
    if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`Engine.create: convTuningReps must be a positive integer, got ${reps}`);
    const { device, adapter, adapterInfo } = await acquireDevice(options);
    const engine = new Engine(device, adapter, adapterInfo, options.shaderSource ?? defaultShaderSource());
    engine.convVariant = convVariant;
    engine.convAutoRules = convAutoRules ?? (await defaultConvAutoRules(adapterInfo.isCpu));
    engine.convTuningReps = reps;
    if (usesDawnNode() && (options.pacePolling ?? adapterInfo.isCpu)) engine.releasePacing = pacePolling();
    try {
      await engine.loadShaders();
    } catch (e) {
      engine.destroy(); // a shader that cannot be read or compiled: give back the device and the paced polling
      throw e;
    }
    return engine;
  }

  /**
   * Compiles every registered shader file not yet loaded (skipping files whose kernels need a
   * feature this device lacks); throws ShaderCompileError on errors.
   */
  async loadShaders(files: readonly string[] = [...new Set(allKernels().map((k) => k.file))]): Promise<void> {
    await Promise.all(
      files
        .filter((f) => !this.modules.has(f) && this.supportsFile(f))
        .map(async (file) => {
          const code = await this.shaderSource(file);
          const module = this.device.createShaderModule({ code, label: file });
          const info = await module.getCompilationInfo();
          const errors = info.messages.filter((m) => m.type === 'error');
          if (errors.length > 0) throw new ShaderCompileError(file, '(module)', errors, code);
          this.modules.set(file, module);
          this.shaderHashes.set(file, textHash(code));
        }),
    );
  }

  /** Whether the device has every feature the kernels of `file` declare. */
  supportsFile(file: string): boolean {
    return allKernels().every((k) => k.file !== file || !k.feature || this.device.features.has(k.feature));
  }

  /**
   * The device's subgroup size when it has the 'subgroups' feature and one fixed size (e.g. 8 on
   * lavapipe), else null. Kernels that shuffle across a subgroup assume lanes of one subgroup are
   * consecutive local invocations, which holds for 1-D workgroups on the drivers we know.
   */
  get subgroupSize(): number | null {
    // asked by every convolution's plan: found once (the adapter's info is read back from Dawn)
    if (this.subgroupSizeFound === undefined) {
      const info = (this.adapter as GPUAdapter & { info?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).info;
      const min = info?.subgroupMinSize;
      const max = info?.subgroupMaxSize;
      this.subgroupSizeFound = this.device.features.has('subgroups') && min !== undefined && min === max ? min : null;
    }
    return this.subgroupSizeFound;
  }

  /** Whether this engine spaces Dawn's polls while it waits (EngineOptions.pacePolling). */
  get pacesPolling(): boolean {
    return this.releasePacing !== null;
  }

  /** The device's limits (the adapter's, as requested at creation). */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  pipeline(def: KernelDef, constants: Readonly<Record<string, number>> = {}): GPUComputePipeline {
    return this.keyedPipeline(def, constants).pipeline;
  }

  /** The pipeline of def with these constants, with its number. */
  private keyedPipeline(def: KernelDef, constants: Readonly<Record<string, number>>): KeyedPipeline {
    // Looked up per dispatch: by the def, then by the call's constants as written (no merge or
    // sort on the hot path); the canonical key is built once per new combination.
    let byConstants = this.pipelinesByDef.get(def);
    if (!byConstants) this.pipelinesByDef.set(def, (byConstants = new Map()));
    let callKey = '';
    for (const name in constants) callKey += `${name}=${constants[name]},`;
    let keyed = byConstants.get(callKey);
    if (!keyed) {
      const merged = { ...def.constants, ...constants };
      const key = pipelineKey(def, merged);
      keyed = this.pipelines.get(key);
      if (!keyed) {
        const module = this.modules.get(def.file);
        if (!module) throw new Error(`shader ${def.file} is not loaded (call engine.loadShaders())`);
        const pipeline = this.device.createComputePipeline({
          label: key,
          layout: 'auto',
          compute: { module, entryPoint: def.entry, constants: merged },
        });
        keyed = { id: this.pipelines.size, pipeline };
        this.pipelines.set(key, keyed);
      }
      byConstants.set(callKey, keyed);
    }
    return keyed;
  }

  /**
   * The bind group of a dispatch: cached by pipeline and buffers, as creating one costs more CPU
   * time than the rest of a dispatch's encoding (~35 µs of ~60 on lavapipe). Pooled buffers live
   * as long as the engine, and a training step's dispatches take the same buffers step after step
   * (the pool hands them out in a repeating order), so after warm-up every lookup hits. Bounded:
   * emptied when it reaches BIND_GROUP_CACHE entries.
   */
  private bindGroup(keyed: KeyedPipeline, def: KernelDef, uniform: GPUBuffer, buffers: readonly GPUBuffer[]): GPUBindGroup {
    let groupKey = `${keyed.id}|${this.pool.idOf(uniform)}`;
    for (const b of buffers) groupKey += `,${this.pool.idOf(b)}`;
    let group = this.bindGroups.get(groupKey);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform, size: def.params.byteSize } }];
      def.bindings.forEach((binding, i) => entries.push({ binding, resource: { buffer: buffers[i]! } }));
      group = this.device.createBindGroup({ label: `${def.file}#${def.entry}`, layout: keyed.pipeline.getBindGroupLayout(0), entries });
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
      this.bindGroups.set(groupKey, group);
      this.bindGroupsCreated++;
    }
    return group;
  }

  /** Packs a dispatch's uniforms (checked, so a bad value throws before anything is acquired) into the scratch words. */
  private packUniforms<F extends string>(layout: UniformLayout<F>, values: UniformValues<F>): Uint32Array {
    const words = layout.byteSize / 4;
    if (this.uniformScratch.length < words) {
      this.uniformScratch = new Uint32Array(words);
      this.uniformScratchView = new DataView(this.uniformScratch.buffer);
    }
    packUniforms(layout, values, this.uniformScratchView);
    return this.uniformScratch.subarray(0, words);
  }

  /**
   * Writes a dispatch's uniforms, unless the buffer already holds those bytes: the pool hands a
   * training step's dispatches the same uniform buffers step after step, with the same shapes in
   * them, so after warm-up nearly every write is skipped (each writeBuffer is a staging copy).
   * Safe because a pooled uniform buffer is written by one dispatch per submit (it is reused only
   * after the submit) and its contents persist between submits.
   */
  private writeUniform(uniform: GPUBuffer, packed: Uint32Array): void {
    let last = this.uniformWords.get(uniform);
    if (last && last.length === packed.length) {
      let same = true;
      for (let i = 0; i < packed.length; i++) {
        if (last[i] !== packed[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.uniformWritesSkipped++;
        return;
      }
    } else {
      this.uniformWords.set(uniform, (last = new Uint32Array(packed.length)));
    }
    last.set(packed);
    this.device.queue.writeBuffer(uniform, 0, last); // copied by the call: `last` may change after it
  }

  /** Compiles a pipeline now and reports errors as a thrown ShaderCompileError-like message. */
  async compileCheck(def: KernelDef, constants: Readonly<Record<string, number>> = {}): Promise<void> {
    this.device.pushErrorScope('validation');
    this.pipeline(def, constants);
    const error = await this.device.popErrorScope();
    if (error) throw new Error(`pipeline ${def.file} entry ${def.entry}: ${error.message}`);
  }

  // ---- buffers ---------------------------------------------------------------------------

  /** A pooled buffer (storage by default; an op's constant data may ask for UNIFORM_USAGE); give it back with releaseStorage. */
  createStorage(bytes: number, label: string, usage: GPUBufferUsageFlags = STORAGE_USAGE): GPUBuffer {
    this.checkAlive();
    return this.pool.acquire(Math.max(4, bytes), usage, label);
  }

  releaseStorage(buffer: GPUBuffer): void {
    if (this.destroyed) return; // destroy() freed every buffer: a tensor disposed after it has nothing left to give back
    this.pool.release(buffer);
  }

  /** Writes CPU data into a buffer. Flushes first if commands still pending might read it. */
  write(buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0, hasPendingUse = true): void {
    this.checkAlive();
    this.refuseWhileCapturing(`wrote ${data.byteLength} bytes of CPU data into buffer "${buffer.label}"`);
    if (hasPendingUse && this.encoder) this.flush();
    this.uniformWords.delete(buffer); // no longer what writeUniform last put there, if it was a dispatch's uniform buffer
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  // ---- encoding --------------------------------------------------------------------------

  dispatch<F extends string>(
    def: KernelDef<F>,
    params: UniformValues<F>,
    buffers: readonly GPUBuffer[],
    workgroups: readonly [number, number?, number?],
    constants: Readonly<Record<string, number>> = {},
  ): void {
    this.checkAlive();
    if (buffers.length !== def.bindings.length) {
      throw new Error(`${def.file}#${def.entry}: expected ${def.bindings.length} buffers, got ${buffers.length}`);
    }
    // a tensor of another engine (another device) would fail only as a Dawn validation message, later
    for (const b of buffers) if (!this.pool.owns(b)) throw new Error(`${def.file}#${def.entry}: a tensor of another engine, or one already disposed (buffer "${b.label}"): an op's tensors must all come from the engine that runs it`);
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_GROUPS || y > MAX_GROUPS || z > MAX_GROUPS) {
      throw new RangeError(`${def.file}#${def.entry}: dispatch ${x}x${y}x${z} exceeds ${MAX_GROUPS} workgroups per dimension`);
    }
    const keyed = this.keyedPipeline(def, constants);
    const packed = this.packUniforms(def.params, params);
    const uniform = this.pool.acquire(def.params.byteSize, UNIFORM_USAGE, def.params.struct);
    this.writeUniform(uniform, packed);
    const bindGroup = this.bindGroup(keyed, def, uniform, buffers);
    this.encodeDispatch(keyed.pipeline, bindGroup, x, y, z, def.entry);
    this.pool.release(uniform); // reusable after this encoder is submitted
    if (this.recorder) this.recorder.dispatch(keyed.pipeline, bindGroup, [x, y, z], def.entry, [uniform, ...buffers]);
  }

  /** The Dawn side of a dispatch (also what a capture's replay runs). */
  private encodeDispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number, entry: string): void {
    const pass = this.computePass();
    if (this.passPipeline !== pipeline) {
      pass.setPipeline(pipeline); // a pass keeps its pipeline between dispatches
      this.passPipeline = pipeline;
    }
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    if (this.timing?.entries && this.passTimed) {
      // profiling: one pass per dispatch, so each gets its own timestamps
      this.timing.entries.push(entry);
      this.endPass();
    }
  }

  /** Copies bytes between buffers, in order with the dispatches around it. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recorder?.copy(src, dst, bytes, srcOffset, dstOffset);
  }

  // ---- captured steps --------------------------------------------------------------------

  /**
   * Runs `step` (encoding its work as usual) and returns its commands as a Capture, whose
   * `replay()` encodes them again without running any of the step's JavaScript — for a training
   * step repeated on new data in the same buffers, where encoding is most of a small model's step
   * time on a GPU. A replay sees the captured run's buffers and uniform values: what changes per
   * step must be in buffers written before each replay (see src/gpu/capture.ts); `step` may not
   * write CPU data, read back or submit (each throws here). Buffers the step released stay
   * reserved for the capture until its `dispose()`.
   */
  capture(step: () => void): Capture {
    this.checkAlive();
    if (this.recorder) throw new Error('engine.capture: already capturing (captures do not nest)');
    const recorder = (this.recorder = new CaptureRecorder());
    const submits = this.submitCount;
    try {
      step();
    } finally {
      this.recorder = null;
    }
    if (recorder.refusal) throw new Error(recorder.refusal);
    // a submit inside the step would let the pool hand a released buffer to a later op of the
    // same step, and the replay would then share it between the two
    if (this.submitCount !== submits) throw new Error('engine.capture: the step submitted its work (a flush or sync inside it); a captured step must encode into one command buffer');
    return new Capture(this.captureHost, recorder.commands, recorder.buffers);
  }

  private readonly captureHost: CaptureHost = {
    encode: (c) => {
      if (c.kind === 'dispatch') this.encodeDispatch(c.pipeline, c.bindGroup, c.groups[0], c.groups[1], c.groups[2], c.entry);
      else this.copy(c.src, c.dst, c.bytes, c.srcOffset, c.dstOffset);
    },
    isLive: (b) => this.pool.owns(b),
    pin: (b) => this.pool.pin(b),
    unpin: (b) => {
      if (!this.destroyed) this.pool.unpin(b); // destroy() freed every buffer
    },
    beforeReplay: () => {
      this.checkAlive();
      if (this.recorder) throw new Error('engine.capture: a replay inside a step being captured (replay it outside, before or after)');
    },
  };

  /** Throws when a step being captured does what a replay could not repeat. */
  private refuseWhileCapturing(what: string): void {
    if (!this.recorder) return;
    const message = `engine.capture: the step ${what}, which a replay would not repeat; write per-step data into its tensors before capturing or replaying`;
    this.recorder.refusal ??= message; // capture() throws it too: an async caller (a readback) turns this throw into a rejection
    throw new Error(message);
  }

  /** Submits everything encoded so far (one command buffer). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.device.queue.submit([this.encoder.finish()]);
    this.errorChecks.push(this.device.popErrorScope());
    this.encoder = null;
    this.submitCount++;
    this.pool.recycle();
  }

  /** Reads a buffer back to the CPU; the only place the engine waits for the GPU. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.checkAlive();
    this.refuseWhileCapturing(`read buffer "${buffer.label}" back`);
    const staging = this.pool.acquire(bytes, READBACK_USAGE, 'readback');
    this.readCount++;
    this.copy(buffer, staging, Math.ceil(bytes / 4) * 4);
    this.flush();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */, 0, Math.ceil(bytes / 4) * 4);
      await this.checkErrors();
      const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
      staging.unmap();
      return out;
    } catch (e) {
      this.checkAlive();
      await this.checkErrors();
      throw e;
    } finally {
      this.pool.release(staging);
    }
  }

  /** Waits until the GPU has finished all submitted work; throws validation errors raised by it. */
  async sync(): Promise<void> {
    this.checkAlive();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  private async checkErrors(): Promise<void> {
    const checks = this.errorChecks;
    this.errorChecks = [];
    const errors = (await Promise.all(checks)).filter((e): e is GPUError => e !== null);
    if (errors.length > 0) throw new GpuValidationError(errors.map((e) => e.message).join('\n'));
    this.checkAlive();
  }

  private commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'effconv step' });
    }
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      const t = this.timing;
      const timestampWrites =
        t && t.used + 2 <= t.capacity ? { querySet: t.set, beginningOfPassWriteIndex: t.used, endOfPassWriteIndex: t.used + 1 } : undefined;
      if (t && timestampWrites) t.used += 2;
      this.passTimed = timestampWrites !== undefined;
      this.pass = this.commandEncoder().beginComputePass({ label: 'effconv kernels', ...(timestampWrites ? { timestampWrites } : {}) });
      this.passPipeline = null;
    }
    return this.pass;
  }

  /** Whether GPU timestamps can time the work (the adapter has 'timestamp-query'). */
  get canTime(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Starts timing: every compute pass begun from now on records GPU timestamps at its start and
   * end (up to maxPasses passes). For benchmarks; `endTiming` returns the total.
   */
  beginTiming(maxPasses = 64): void {
    this.startTiming(maxPasses, null);
  }

  /**
   * Starts profiling: from now on every dispatch runs in its own timed compute pass (up to
   * maxDispatches), so `endProfile` can say what each kernel cost. Splitting the passes adds a
   * little overhead; for benchmarks and performance work, not for training. Profile work whose
   * buffers are warm (a step after its first, ops inside `tidy`): a new buffer's first use (Dawn
   * zero-fills it then) lands in the timed pass of the dispatch that first uses it — on lavapipe
   * ~4 ms for a 6.4 MB output, twice that 1 × 1 kernel's own time (bench/HISTORY.md, stop 41).
   */
  beginProfile(maxDispatches = 1024): void {
    this.startTiming(maxDispatches, []);
  }

  /** Stops profiling: each profiled dispatch's kernel entry point and GPU time in milliseconds. */
  async endProfile(): Promise<{ entry: string; ms: number }[]> {
    const entries = this.timing?.entries;
    if (!entries) throw new Error('engine: endProfile without beginProfile');
    const stamps = await this.stopTiming();
    return entries.map((entry, i) => ({ entry, ms: passMs(stamps, i) }));
  }

  private startTiming(maxPasses: number, entries: string[] | null): void {
    if (!this.canTime) throw new Error("engine: the adapter has no 'timestamp-query' feature");
    this.flush();
    this.timing?.set.destroy();
    this.timing = { set: this.device.createQuerySet({ type: 'timestamp', count: 2 * maxPasses, label: 'effconv timing' }), used: 0, capacity: 2 * maxPasses, entries };
  }

  /** Stops timing; the summed GPU time of the timed passes in milliseconds (one readback). */
  async endTiming(): Promise<number> {
    if (!this.timing) throw new Error('engine: endTiming without beginTiming');
    const stamps = await this.stopTiming();
    let ms = 0;
    for (let i = 0; 2 * i + 1 < stamps.length; i++) ms += passMs(stamps, i);
    return ms;
  }

  /** Ends timing and reads the timestamps back (begin, end per timed pass). */
  private async stopTiming(): Promise<BigUint64Array> {
    const t = this.timing!;
    this.flush();
    this.timing = null;
    if (t.used === 0) {
      t.set.destroy();
      return new BigUint64Array(0);
    }
    const bytes = t.used * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'timing resolve' });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'timing readback' });
    const enc = this.device.createCommandEncoder({ label: 'timing' });
    enc.resolveQuerySet(t.set, 0, t.used, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    for (const b of [resolve, staging]) b.destroy();
    t.set.destroy();
    return stamps;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private checkAlive(): void {
    if (this.destroyed) throw new Error('engine: used after destroy() (its device and buffers are gone; create another Engine)');
    if (this.lostMessage) throw new Error(this.lostMessage);
  }

  // ---- scopes ----------------------------------------------------------------------------

  /**
   * Runs fn; every tensor created inside and not returned (nor kept) is disposed at the end.
   * The outermost scope also ends the step: it drops any unused autograd records and submits.
   * A scope that throws disposes its tensors too (and rethrows); fn must not be async — a
   * scope cannot span an await, so a returned Promise is an error.
   */
  tidy<T>(fn: () => T): T {
    const scope = new Set<Disposable>();
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.scopes.pop();
      this.endScope(scope, new Set()); // a failed step would otherwise keep its tensors for good
      throw e;
    }
    this.scopes.pop();
    if (result instanceof Promise) {
      result.catch(() => {}); // what it does after this scope fails for the reason given here
      this.endScope(scope, new Set());
      throw new TypeError('engine.tidy(fn): fn returned a Promise — a scope cannot span an await; encode the work inside tidy() and await readbacks outside it');
    }
    const keep = new Set<Disposable>();
    collectDisposables(result, keep);
    this.endScope(scope, keep);
    return result;
  }

  /** Disposes a closed scope's tensors but those in `keep` (handed to the parent scope); ends the step at the outermost scope. */
  private endScope(scope: Set<Disposable>, keep: Set<Disposable>): void {
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (keep.has(t)) parent?.add(t);
      else t.dispose();
    }
    for (const hook of this.scopeHooks) hook(this.scopes.length);
    if (this.scopes.length === 0 && !this.recorder) this.flush(); // a captured step is submitted by whoever captured it
  }

  /** Registers a tensor with the innermost scope (called by Tensor). */
  track(t: Disposable): void {
    this.scopes[this.scopes.length - 1]?.add(t);
  }

  /** Removes a tensor from every scope so it outlives them (parameters, gradients, state). */
  keep<T extends Disposable>(t: T): T {
    for (const s of this.scopes) s.delete(t);
    return t;
  }

  /** Called with the new scope depth whenever a tidy scope ends (the tape uses it). */
  onScopeEnd(hook: (depth: number) => void): void {
    this.scopeHooks.push(hook);
  }

  get scopeDepth(): number {
    return this.scopes.length;
  }

  memory(): MemoryInfo {
    return { ...this.pool.stats(), liveTensors: this.liveTensors };
  }

  /** Releases the device and every buffer; a second call does nothing, any other use after it throws. */
  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.bindGroups.clear();
    this.pool.destroy();
    this.device.destroy();
    this.releasePacing?.();
    this.releasePacing = null;
    this.destroyed = true;
  }
}

function collectDisposables(value: unknown, out: Set<Disposable>): void {
  if (value === null || typeof value !== 'object') return;
  if (typeof (value as Disposable).dispose === 'function' && 'disposed' in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectDisposables(v, out);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) collectDisposables(v, out);
  }
}

/** GPU time of timed pass i in milliseconds (0 if its timestamps went backwards). */
function passMs(stamps: BigUint64Array, i: number): number {
  const [begin, end] = [stamps[2 * i]!, stamps[2 * i + 1]!];
  return end > begin ? Number(end - begin) / 1e6 : 0;
}

/**
 * The rules conv2d's 'auto' follows by default (EngineOptions.convAutoRules): 'gpu' on a GPU; on a
 * CPU adapter, whose speed is the host's, 'cpu-avx512' where Node can read that the host CPU has
 * AVX-512, else 'cpu' (a browser cannot tell).
 */
export async function defaultConvAutoRules(isCpu: boolean): Promise<ConvAutoRules> {
  if (!isCpu) return 'gpu';
  if (!usesDawnNode()) return 'cpu';
  const { hostCpu } = await import('../host_cpu.js'); // reads /proc/cpuinfo: Node only
  return hostCpu().avx512 === true ? 'cpu-avx512' : 'cpu';
}
