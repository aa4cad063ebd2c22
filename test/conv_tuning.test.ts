/** conv2d's variant 'fastest' and tuneConvs: what is recorded, what is timed, what is chosen and run. */
import { beforeAll, describe, expect, it } from 'vitest';
import { accuracy, backward, conv2d, describeTuning, sum, conv2dKernels, Engine, parameter, reshape, Tensor, tuneConvs, type Conv2dOptions, type ConvFamily } from '../src/index.js';
import { type TiledTile } from '../src/ops/conv2d.js';
import { subgroupWeightKernel, type SubgroupWeightKernel } from '../src/ops/conv2d_subgroup_rules.js';
import { allPasses, convChoices, hasPendingConvs, type ConvChoice, type ConvPass } from '../src/ops/conv_choices.js';
import { Rng } from '../src/random.js';
import { expectClose } from './helpers/check.js';
import { checkConv, checkSoftSizeConv, type ConvCase } from './helpers/conv_check.js';
import { resetConvChoices } from './helpers/conv_choices.js';
import { testEngine } from './helpers/engine.js';
import { randomArray } from './helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/**
 * A stand-in clock: each family's time at every pass from a table ('tiled 8x8': the tiled kernels'
 * other block, by default the same as 'tiled'; 'auto winograd': 'auto' with the other Winograd
 * setting than its rule's, by default the same as 'auto'), and how often each was timed.
 */
function fakeClock(ms: Partial<Record<ConvFamily | 'tiled 8x8' | 'auto winograd', number>>) {
  return passClock((family, _pass, _kernel, tile, winograd) => (tile ? (ms[`tiled ${tile}`] ?? ms.tiled) : winograd !== undefined ? (ms['auto winograd'] ?? ms.auto) : ms[family]) ?? 100);
}

/**
 * A stand-in clock whose time depends on the family, the pass, a forced subgroup weight-gradient
 * kernel, the tiled kernels' other block and 'auto''s other Winograd setting; calls keyed "tiled
 * 8x8" for that block, "auto winograd true" (false) for that setting.
 */
function passClock(time: (family: ConvFamily, pass: ConvPass, weightKernel?: SubgroupWeightKernel, tile?: TiledTile, winograd?: boolean) => number) {
  const calls: Record<string, number> = {};
  const measure = async (family: ConvFamily, run: () => void, pass: ConvPass, weightKernel?: SubgroupWeightKernel, tile?: TiledTile, winograd?: boolean) => {
    const name = tile ? `${family} ${tile}` : winograd !== undefined ? `${family} winograd ${winograd}` : family;
    calls[name] = (calls[name] ?? 0) + 1;
    run();
    await engine.sync();
    return time(family, pass, weightKernel, tile, winograd);
  };
  return { calls, measure };
}

/** The family of a conv2d kernel entry point: conv2d_subgroups.wgsl's end in _sg, the tiled ones in _tiled. */
const familyOfEntry = (entry: string) => (entry.endsWith('_sg') ? 'subgroups' : entry.endsWith('_tiled') ? 'tiled' : 'plain');

const values = (seed: number, shape: number[]) => randomArray(new Rng(seed), shape.reduce((a, b) => a * b));
const random = (seed: number, shape: number[]) => Tensor.from(engine, values(seed, shape), shape);
/** A tensor that needs its gradient. */
const param = (seed: number, shape: number[]) => parameter(engine, values(seed, shape), shape);

const resetChoices = () => resetConvChoices(engine);

/** From no choices, records one small convolution under 'fastest' whose inputs need no gradient (its forward alone is timed); returns x and w. */
function meetForwardOnly(seed: number): [Tensor, Tensor] {
  resetChoices();
  const x = random(seed, [1, 2, 6, 6]);
  const w = random(seed + 1, [2, 2, 3, 3]);
  conv2d(x, w, { variant: 'fastest' }).dispose();
  return [x, w];
}

describe("conv2d variant 'fastest'", () => {
  it("runs 'auto' and records each convolution once (shapes, options and gradients) until tuneConvs has timed it", async () => {
    resetChoices();
    const x = random(1, [2, 3, 8, 8]);
    const w = random(2, [4, 3, 3, 3]);
    const auto = await conv2d(x, w).toFloat32();
    const fastest = conv2d(x, w, { variant: 'fastest' });
    expect(await fastest.toFloat32()).toEqual(auto); // the same kernels, so the same bits
    conv2d(x, w, { variant: 'fastest' }).dispose(); // the same call: recorded once
    conv2d(x, w, { variant: 'fastest', stride: 2 }).dispose();
    const wp = param(3, [4, 3, 3, 3]);
    conv2d(x, wp, { variant: 'fastest' }).dispose(); // w needs its gradient: another key
    const keys = [...convChoices(engine).pending.keys()];
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe('[2, 3, 8, 8] * [4, 3, 3, 3] size 3 k_min 1 stride 1 pad 1');
    expect(keys[1]).toContain('stride 2');
    expect(keys[2]).toMatch(/ dw$/);
    const timings = await tuneConvs(engine, { reps: 1 });
    expect(timings.map((t) => t.key)).toEqual(keys);
    expect(hasPendingConvs(engine)).toBe(false);
    expect(await tuneConvs(engine)).toEqual([]); // nothing left to time
    for (const t of [fastest, x, w, wp]) t.dispose();
  });

  it('tuneConvs keeps the family its measurements put first, and later calls run it (checked against the float64 reference)', async () => {
    const c: ConvCase = { N: 2, Cin: 3, H: 7, W: 8, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1 };
    for (const [family, table] of [
      ['tiled', { auto: 5, plain: 3, tiled: 1 }],
      ['plain', { auto: 5, plain: 1, tiled: 3 }],
    ] as const) {
      resetChoices();
      // recorded as checkConv calls it: x and w need gradients
      const x = param(4, [c.N, c.Cin, c.H, c.W]);
      const w = param(5, [c.Cout, c.Cin, c.kw, c.kw]);
      const opts: Conv2dOptions = { size: c.s, stride: 1, padding: c.pad, variant: 'fastest' };
      conv2d(x, w, opts).dispose();
      const clock = fakeClock(table);
      const [timing] = await tuneConvs(engine, { reps: 3, measure: clock.measure });
      expect(timing!.chosen).toEqual(allPasses(family));
      expect(timing!.passes).toEqual(['forward', 'input', 'weight']);
      // each family's three passes, summed
      expect(timing!.ms).toMatchObject(engine.subgroupSize === null ? { auto: 15, plain: "the same kernels as 'auto'" } : { auto: 15, plain: 3 * table.plain, tiled: 3 * table.tiled });
      expect(timing!.passMs.auto).toEqual({ forward: 5, input: 5, weight: 5 });
      expect(conv2dKernels(x, w, opts).kernels).toBe(family === 'plain' && engine.subgroupSize === null ? 'plain' : family);
      await checkConv(engine, c, 40, 'fastest');
      for (const t of [x, w]) t.dispose();
    }
  });

  it('each pass keeps the family fastest at it, and a convolution whose passes chose apart runs each on its own (checked against the float64 reference)', async () => {
    const cases: ConvCase[] = [
      { N: 2, Cin: 3, H: 7, W: 8, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1 },
      { N: 2, Cin: 3, H: 8, W: 8, Cout: 4, kw: 5, s: 5, stride: 1, pad: 2, v: 4.2 }, // masked: the gradient passes' plans share the soft size
    ];
    const tables: ConvChoice[] = [
      { forward: 'tiled', input: 'auto', weight: 'plain' },
      { forward: 'auto', input: 'tiled', weight: 'tiled' },
      { forward: 'plain', input: 'plain', weight: 'auto' },
    ];
    const sg = engine.subgroupSize !== null;
    const kernelsOf = (f: ConvFamily) => (f === 'auto' ? (sg ? 'subgroups' : 'plain') : f);
    for (const [i, c] of cases.entries()) {
      const table = tables[i % tables.length]!;
      for (const wanted of [table, tables[(i + 1) % tables.length]!]) {
        resetChoices();
        // recorded as checkConv calls it: x, w (and v) need gradients
        const x = param(20 + i, [c.N, c.Cin, c.H, c.W]);
        const w = param(30 + i, [c.Cout, c.Cin, c.kw, c.kw]);
        const v = c.v === undefined ? undefined : parameter(engine, [c.v], [1]);
        const opts: Conv2dOptions = { size: c.s, stride: 1, padding: c.pad, softSize: v, variant: 'fastest' };
        conv2d(x, w, opts).dispose();
        const [timing] = await tuneConvs(engine, { reps: 2, measure: passClock((family, pass) => (family === wanted[pass] ? 1 : 5)).measure });
        // without subgroups 'plain' is 'auto' and not timed apart: 'auto' (first on the tie) stands for it
        const expected: ConvChoice = sg ? wanted : { forward: wanted.forward === 'plain' ? 'auto' : wanted.forward, input: wanted.input === 'plain' ? 'auto' : wanted.input, weight: wanted.weight === 'plain' ? 'auto' : wanted.weight };
        expect(timing!.chosen).toEqual(expected);
        expect(conv2dKernels(x, w, opts).passes).toEqual({ forward: kernelsOf(expected.forward), input: kernelsOf(expected.input), weight: kernelsOf(expected.weight) });
        // conv2d's own backward runs them: the step's forward, input-gradient and weight-gradient dispatches, in order
        if (engine.canTime) {
          engine.beginProfile();
          engine.tidy(() => backward(sum(conv2d(x, w, opts))));
          const main = (await engine.endProfile()).map((r) => r.entry).filter((e) => /^conv2d_(fwd|bwd_input|bwd_weight)/.test(e));
          expect(main.map(familyOfEntry), main.join(' ')).toEqual([expected.forward, expected.input, expected.weight].map(kernelsOf));
        }
        await checkConv(engine, c, 50 + i, 'fastest');
        for (const t of [x, w, v]) t?.dispose();
      }
    }
  });

  it("the weight gradient may keep another of 'auto''s subgroup kernels than its rules pick, and conv2d's backward runs it (checked against the float64 reference)", async (ctx) => {
    const sg = engine.subgroupSize;
    if (sg === null) ctx.skip();
    resetChoices();
    // 9 input channels: 'auto''s rules take conv2d_bwd_weight_sg (or the sliding kernel on 16+ lanes), not the taps kernel
    const c: ConvCase = { N: 2, Cin: 9, H: 7, W: 8, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1 };
    const x = param(60, [c.N, c.Cin, c.H, c.W]);
    const w = param(61, [c.Cout, c.Cin, c.kw, c.kw]);
    const opts: Conv2dOptions = { size: c.s, stride: 1, padding: c.pad, variant: 'fastest' };
    conv2d(x, w, opts).dispose();
    const [timing] = await tuneConvs(engine, { reps: 2, measure: passClock((family, _pass, kernel) => (kernel === 'taps' ? 0.5 : family === 'auto' ? 1 : 5)).measure });
    expect(timing!.chosen).toEqual({ ...allPasses('auto'), weightKernel: 'taps' });
    expect(timing!.weightKernelMs!.taps).toBe(0.5);
    expect(timing!.weightKernelMs![subgroupWeightKernel('auto', 9, 3, sg!)]).toBe("the same kernels as 'auto'");
    expect(describeTuning([timing!], 1)).toBe('1 convolution timed in 1.0 s, fastest kernels: (forward auto, input gradient auto, weight gradient auto (taps)) 1');
    expect(conv2dKernels(x, w, opts).weightKernels).toEqual(['taps']);
    if (engine.canTime) {
      engine.beginProfile();
      engine.tidy(() => backward(sum(conv2d(x, w, opts))));
      const weightEntries = (await engine.endProfile()).map((r) => r.entry).filter((e) => e.startsWith('conv2d_bwd_weight'));
      expect(weightEntries).toEqual(['conv2d_bwd_weight_taps_sg']);
    }
    await checkConv(engine, c, 62, 'fastest');
    // under a soft size only the kernel at the size it selects is told apart from auto's
    resetChoices();
    const wk = param(63, [4, 9, 9, 9]);
    const v = parameter(engine, [4.6], [1]); // size 5 of 1…9
    const soft: Conv2dOptions = { size: 'fromSoftSize', softSize: v, variant: 'fastest' };
    conv2d(x, wk, soft).dispose();
    const timedKernels: string[] = [];
    const [softTiming] = await tuneConvs(engine, {
      reps: 1,
      measure: passClock((_f, pass, kernel) => {
        if (pass === 'weight' && kernel) timedKernels.push(kernel);
        return 1;
      }).measure,
    });
    for (const kernel of ['taps', 'rows', 'slide'] as const) {
      const same = subgroupWeightKernel(kernel, 9, 5, sg!) === subgroupWeightKernel('auto', 9, 5, sg!);
      expect(timedKernels.includes(kernel), kernel).toBe(!same);
      if (same) expect(softTiming!.weightKernelMs![kernel]).toBe("the same kernels as 'auto'");
    }
    for (const t of [wk, v]) t.dispose();
    // a call that names its weight kernel keeps it: no other is timed
    resetChoices();
    conv2d(x, w, { ...opts, weightGradient: 'slide' }).dispose();
    const [named] = await tuneConvs(engine, { reps: 1, measure: passClock((_f, _p, kernel) => (kernel === 'taps' ? 0.5 : 1)).measure });
    expect(named!.key).toMatch(/ slide dx dw$/);
    expect(named!.weightKernelMs).toBeUndefined();
    expect(named!.chosen.weightKernel).toBeUndefined();
    for (const t of [x, w]) t.dispose();
  });

  it("each pass on 'auto' may keep the other Winograd setting than WINOGRAD_RULE's, and conv2d runs it (checked against the float64 reference)", async (ctx) => {
    if (engine.subgroupSize === null) ctx.skip();
    resetChoices();
    // a small 3 × 3 convolution: the rule runs every pass direct
    const c: ConvCase = { N: 2, Cin: 6, H: 8, W: 9, Cout: 5, kw: 3, s: 3, stride: 1, pad: 1 };
    const x = param(64, [c.N, c.Cin, c.H, c.W]);
    const w = param(65, [c.Cout, c.Cin, 3, 3]);
    const opts: Conv2dOptions = { variant: 'fastest' };
    expect(conv2dKernels(x, w, { variant: 'auto' }).winograd).toEqual({ forward: false, input: false, weight: false });
    conv2d(x, w, opts).dispose();
    // with the Winograd kernels: faster at the forward and the weight gradient, slower at the input gradient
    const fast: Record<ConvPass, number> = { forward: 0.5, input: 2, weight: 0.7 };
    const clock = passClock((family, pass, _kernel, _tile, winograd) => (winograd ? fast[pass] : family === 'auto' ? 1 : 5));
    const [timing] = await tuneConvs(engine, { reps: 2, measure: clock.measure });
    expect(timing!.chosen).toEqual({ ...allPasses('auto'), winograd: { forward: true, weight: true } });
    expect(timing!.winogradMs).toEqual({ forward: { winograd: true, ms: 0.5 }, input: { winograd: true, ms: 2 }, weight: { winograd: true, ms: 0.7 } });
    expect(clock.calls['auto winograd true']).toBe(9); // warm-up + 2 runs at each of the 3 passes
    expect(describeTuning([timing!], 1)).toBe('1 convolution timed in 1.0 s, fastest kernels: (forward auto (Winograd), input gradient auto, weight gradient auto (Winograd)) 1');
    expect(conv2dKernels(x, w, opts).winograd).toEqual({ forward: true, input: false, weight: true });
    if (engine.canTime) {
      engine.beginProfile();
      engine.tidy(() => backward(sum(conv2d(x, w, opts))));
      const entries = (await engine.endProfile()).map((r) => r.entry);
      expect(entries.filter((e) => e.startsWith('conv2d_winograd_') && e.endsWith('_input')).length).toBe(1); // the forward's tiles
      expect(entries).toContain('conv2d_winograd_input_interleaved'); // the weight gradient's
      expect(entries).toContain('conv2d_bwd_input_sg'); // the input gradient, direct (rows of 9 pixels)
    }
    await checkConv(engine, c, 66, 'fastest');
    // a call that names its Winograd setting keeps it: nothing else is timed for it
    resetChoices();
    conv2d(x, w, { ...opts, winograd: false }).dispose();
    const named = passClock(() => 1);
    const [namedTiming] = await tuneConvs(engine, { reps: 1, measure: named.measure });
    expect(namedTiming!.key).toContain('winograd false');
    expect(named.calls['auto winograd true']).toBeUndefined();
    for (const t of [x, w]) t.dispose();
  });

  it("the tiled kernels' 8 × 8 block is timed at the passes where their 4 × 4 one comes near the fastest, and kept where it wins (checked against the float64 reference)", async () => {
    const c: ConvCase = { N: 2, Cin: 3, H: 7, W: 8, Cout: 5, kw: 5, s: 3, stride: 1, pad: 1 };
    resetChoices();
    const x = param(64, [c.N, c.Cin, c.H, c.W]);
    const w = param(65, [c.Cout, c.Cin, c.kw, c.kw]);
    const opts: Conv2dOptions = { size: c.s, stride: 1, padding: c.pad, variant: 'fastest' };
    conv2d(x, w, opts).dispose();
    // forward: 4 × 4 near auto, 8 × 8 fastest; input gradient: 4 × 4 far behind (8 × 8 not
    // timed); weight gradient: 4 × 4 fastest, 8 × 8 slower
    const table: Record<ConvPass, Record<string, number>> = {
      forward: { auto: 2, plain: 9, tiled: 3, 'tiled 8x8': 1 },
      input: { auto: 1, plain: 9, tiled: 5, 'tiled 8x8': 0.1 },
      weight: { auto: 4, plain: 9, tiled: 2, 'tiled 8x8': 3 },
    };
    const timed: string[] = [];
    const [timing] = await tuneConvs(engine, {
      reps: 2,
      measure: passClock((family, pass, _kernel, tile) => {
        if (tile) timed.push(pass);
        return table[pass][tile ? `${family} ${tile}` : family]!;
      }).measure,
    });
    expect(timing!.chosen).toEqual({ forward: 'tiled', input: 'auto', weight: 'tiled', tiles: { forward: '8x8' } });
    expect(new Set(timed)).toEqual(new Set(['forward', 'weight']));
    expect(timing!.tileMs).toEqual({ '8x8': { forward: 1, input: 'not timed: the 4x4 block took more than 2× the fastest on its warm-up', weight: 3 } });
    expect(describeTuning([timing!], 1)).toBe('1 convolution timed in 1.0 s, fastest kernels: (forward tiled (8x8), input gradient auto, weight gradient tiled) 1');
    expect(conv2dKernels(x, w, opts).tiles).toEqual({ forward: '8x8', weight: '4x4' });
    await checkConv(engine, c, 66, 'fastest');
    // the 8 × 8 block at every pass: one name; and a call that names its tile times no other
    resetChoices();
    conv2d(x, w, opts).dispose();
    const [all8] = await tuneConvs(engine, { reps: 1, measure: fakeClock({ auto: 2, plain: 9, tiled: 3, 'tiled 8x8': 1 }).measure });
    expect(all8!.chosen).toEqual({ ...allPasses('tiled'), tiles: { forward: '8x8', input: '8x8', weight: '8x8' } });
    expect(describeTuning([all8!], 1)).toBe('1 convolution timed in 1.0 s, fastest kernels: tiled (8x8) 1');
    expect(conv2dKernels(x, w, opts).tiles).toEqual({ forward: '8x8', input: '8x8', weight: '8x8' });
    resetChoices();
    conv2d(x, w, { ...opts, tile: '8x8' }).dispose();
    const named = fakeClock({ auto: 2, plain: 9, tiled: 1 });
    const [namedTiming] = await tuneConvs(engine, { reps: 1, measure: named.measure });
    expect(namedTiming!.key).toMatch(/ tile 8x8 dx dw$/);
    expect(namedTiming!.tileMs).toBeUndefined();
    expect(named.calls['tiled 8x8']).toBeUndefined();
    expect(namedTiming!.chosen).toEqual(allPasses('tiled'));
    expect(conv2dKernels(x, w, { ...opts, tile: '8x8' }).tiles).toEqual({ forward: '8x8', input: '8x8', weight: '8x8' });
    // only the forward timed (no gradient wanted): the passes not timed take its block
    resetChoices();
    const xf = random(67, [c.N, c.Cin, c.H, c.W]);
    const wf = random(68, [c.Cout, c.Cin, c.kw, c.kw]);
    conv2d(xf, wf, opts).dispose();
    const [forwardOnly] = await tuneConvs(engine, { reps: 1, measure: fakeClock({ auto: 2, plain: 9, tiled: 3, 'tiled 8x8': 1 }).measure });
    expect(forwardOnly!.chosen).toEqual({ ...allPasses('tiled'), tiles: { forward: '8x8', input: '8x8', weight: '8x8' } });
    // stride 2: the tiled family's input gradient is the plain kernel on either block, not raced twice
    resetChoices();
    conv2d(x, w, { ...opts, stride: 2 }).dispose();
    const strided = fakeClock({ auto: 2, plain: 9, tiled: 3, 'tiled 8x8': 1 });
    const [stridedTiming] = await tuneConvs(engine, { reps: 1, measure: strided.measure });
    expect(stridedTiming!.tileMs!['8x8']!.input).toBe('the same kernels as the 4x4 block (no tiled kernel at this pass)');
    expect(stridedTiming!.chosen.tiles).toEqual({ forward: '8x8', weight: '8x8' });
    expect(strided.calls['tiled 8x8']).toBe(4); // a warm-up and a run at the forward and the weight gradient
    for (const t of [x, w, xf, wf]) t.dispose();
  });

  it("takes the engine's convTuningReps where it is given no reps", async () => {
    const [x, w] = meetForwardOnly(72);
    engine.convTuningReps = 2;
    try {
      const clock = fakeClock({ auto: 1, plain: 1, tiled: 5 }); // tiled far behind: its other block is not timed
      await tuneConvs(engine, { measure: clock.measure });
      expect(clock.calls.auto).toBe(3); // a warm-up and 2 runs
    } finally {
      engine.convTuningReps = 3;
    }
    await expect(Engine.create({ convTuningReps: 0 })).rejects.toThrow(/Engine.create: convTuningReps must be a positive integer, got 0/);
    for (const t of [x, w]) t.dispose();
  });

  it('times the families in turns, so that a host slowing down for a while slows them alike', async () => {
    const [x, w] = meetForwardOnly(70);
    const cost: Record<ConvFamily, number> = { auto: 10, plain: 12, tiled: 9 };
    const order: string[] = [];
    // with subgroups, 'auto' with the Winograd kernels too (this 3 × 3 convolution's rule runs it without)
    const families = engine.subgroupSize === null ? ['auto', 'tiled'] : ['auto', 'plain', 'tiled', 'auto winograd true'];
    const all = [...families, 'tiled 8x8'];
    // the last round's timings (after the warm-ups and 2 rounds) take twice as long: timed one
    // family after another they would all be the last family's, which would then look slowest
    const total = 4 * all.length;
    const [timing] = await tuneConvs(engine, {
      reps: 3,
      measure: passClock((family, _pass, _kernel, tile, winograd) => {
        order.push(tile ? `${family} ${tile}` : winograd !== undefined ? `${family} winograd ${winograd}` : family);
        return (tile ? 12 : cost[family]) * (order.length > total - all.length ? 2 : 1);
      }).measure,
    });
    // warm-ups (the tiled kernels' 8 × 8 block's once their 4 × 4 one's came near the best), then rounds
    expect(order).toEqual([...all, ...all, ...all, ...all]);
    expect(timing!.chosen).toEqual(allPasses('tiled'));
    expect(timing!.ms.tiled).toBe(9);
    for (const t of [x, w]) t.dispose();
  });

  it('a family clearly slower on its warm-up run is not run again; one that cannot run the shapes is reported', async () => {
    resetChoices();
    const x = random(6, [1, 2, 6, 6]);
    const w = random(7, [2, 2, 3, 3]);
    conv2d(x, w, { variant: 'fastest' }).dispose();
    const clock = fakeClock({ auto: 1, plain: 10, tiled: 1.5, 'tiled 8x8': 3 });
    const [timing] = await tuneConvs(engine, { reps: 3, measure: clock.measure });
    expect(timing!.chosen).toEqual(allPasses('auto'));
    expect(timing!.passes).toEqual(['forward']); // no input needs a gradient
    const plainTimed = engine.subgroupSize === null ? 0 : 1;
    // warm-up + 3 runs; plain: its warm-up only; the tiled kernels' 4 × 4 block came within 2× of
    // auto, so their 8 × 8 block was warmed up too: 3× auto's, not run again; with subgroups,
    // 'auto' with the Winograd kernels as 'auto' (a tie: 'auto' and its rule kept)
    expect(clock.calls).toEqual({ auto: 4, tiled: 4, 'tiled 8x8': 1, ...(plainTimed ? { plain: 1, 'auto winograd true': 4 } : {}) });
    expect(timing!.tileMs).toEqual({ '8x8': { forward: 3 } });
    // the tiled kernels' grid limit: 4410000 pixels per channel
    resetChoices();
    const big = Tensor.empty(engine, [1, 1, 2100, 2100]);
    const w1 = Tensor.from(engine, [1], [1, 1, 1, 1]);
    conv2d(big, w1, { variant: 'fastest' }).dispose();
    const [bigTiming] = await tuneConvs(engine, { reps: 1, measure: fakeClock({ auto: 1, plain: 1 }).measure });
    expect(bigTiming!.ms.tiled).toMatch(/^cannot run it: conv2d: the tiled kernels take at most 4194240 pixels/);
    expect(bigTiming!.chosen).toEqual(allPasses('auto'));
    for (const t of [x, w, big, w1]) t.dispose();
  });

  it("a soft size computed on the GPU is timed at its value when met, from a copy tuneConvs releases", async () => {
    resetChoices();
    // recorded as checkSoftSizeConv calls it: x, w and v need gradients
    const x = param(8, [2, 3, 8, 8]);
    const w = param(9, [4, 3, 9, 9]);
    const v = parameter(engine, [4.6], [1]); // hard size 5 of k_max 9
    const opts: Conv2dOptions = { size: 'fromSoftSize', kMin: 1, softSize: v, variant: 'fastest' };
    conv2d(x, w, opts).dispose();
    const pending = [...convChoices(engine).pending.values()][0]!;
    expect(pending.key).toBe('[2, 3, 8, 8] * [4, 3, 9, 9] size v k_min 1 stride 1 pad 4 masked dx dw');
    expect(pending.softSize).toBeInstanceOf(Tensor);
    expect(await (pending.softSize as Tensor).toFloat32()).toEqual(Float32Array.of(4.6));
    const live = engine.liveTensors;
    await tuneConvs(engine, { reps: 1, measure: fakeClock({ auto: 2, plain: 2, tiled: 1 }).measure });
    expect(engine.liveTensors).toBe(live - 1);
    expect(conv2dKernels(x, w, opts).kernels).toBe('tiled');
    // the tiled kernels chosen, on the size the GPU derives from v, gradients included
    await checkSoftSizeConv(engine, { N: 2, Cin: 3, H: 8, W: 8, Cout: 4 }, 4.6, 1, 1, 'fastest');
    for (const t of [x, w, v]) t.dispose();
  });

  it('accuracy() times the convolutions its first batch met, and its later batches run the choice', async () => {
    resetChoices();
    const w = random(12, [3, 1, 3, 3]);
    const count = 6;
    const data = { images: Float32Array.from(values(13, [count, 1, 5, 5])), labels: Int32Array.from([0, 1, 2, 0, 1, 2]), count };
    const keysSeen: string[][] = [];
    const forward = (x: Tensor) => {
      keysSeen.push([...convChoices(engine).chosen.keys()]);
      return reshape(conv2d(x, w, { variant: 'fastest', padding: 0 }), [x.shape[0]!, 27]);
    };
    const acc = await accuracy(engine, forward, data, [1, 5, 5], 3);
    expect(acc).toBeGreaterThanOrEqual(0);
    // nothing timed before the first batch; its convolution (forward only: no gradients) after it
    expect(keysSeen).toEqual([[], ['[3, 1, 5, 5] * [3, 1, 3, 3] size 3 k_min 1 stride 1 pad 0']]);
    expect(hasPendingConvs(engine)).toBe(false);
    w.dispose();
  });

  for (const clock of ['gpu', 'wall'] as const) {
    it(`times on the ${clock} clock and checks its arguments`, async (ctx) => {
      if (clock === 'gpu' && !engine.canTime) ctx.skip();
      resetChoices();
      const x = random(10, [2, 4, 8, 8]);
      const w = random(11, [8, 4, 3, 3]);
      const y = conv2d(x, w, { variant: 'fastest' });
      await expect(tuneConvs(engine, { reps: 0 })).rejects.toThrow(/tuneConvs: reps must be a positive integer, got 0/);
      await expect(tuneConvs(engine, { clock: 'cpu' as 'gpu' })).rejects.toThrow(/tuneConvs: clock must be 'gpu' or 'wall', got cpu/);
      let inside: Promise<unknown> | undefined;
      engine.tidy(() => {
        inside = tuneConvs(engine); // (returning it would be refused by tidy itself: a scope cannot span an await)
      });
      await expect(inside).rejects.toThrow(/tuneConvs: call it between steps, not inside a tidy scope/);
      const [timing] = await tuneConvs(engine, { reps: 2, clock });
      const times = Object.values(timing!.ms).filter((t): t is number => typeof t === 'number');
      expect(times.length).toBeGreaterThanOrEqual(2);
      for (const t of times) expect(t).toBeGreaterThan(0);
      // forward only (no gradients wanted): each family's total is its forward
      expect(timing!.passMs[timing!.chosen.forward]!.forward).toBe(Math.min(...times));
      const again = conv2d(x, w, { variant: 'fastest' });
      expectClose(await again.toFloat32(), await y.toFloat32(), { rtol: 1e-5, atol: 1e-5 }, `${timing!.chosen.forward} vs auto`);
      for (const t of [x, w, y, again]) t.dispose();
    });
  }
});
