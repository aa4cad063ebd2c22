/** The EffConv stages on a tiny backbone: budget honoured, budget loss steers v, no allocation, resume, NaN. */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/index.js';
import { Batches, channelStatistics } from '../src/data/batches.js';
import { resolveBudget, roundSizesJointly } from '../src/effconv/budget.js';
import { readSafetensors, snapshot } from '../src/effconv/checkpoint.js';
import { FinalTraining, type TrainOptions } from '../src/effconv/final_training.js';
import { Search, type SearchOptions } from '../src/effconv/search.js';
import { NonFiniteLossError, runStage } from '../src/effconv/stage.js';
import { hasPendingConvs } from '../src/ops/conv_choices.js';
import { tuneConvs, type TuneOptions } from '../src/ops/conv_tuning.js';
import { resetConvChoices } from './helpers/conv_choices.js';
import { testEngine } from './helpers/engine.js';
import { syntheticImages, TINY } from './helpers/synthetic.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const range = { kMin: 1, kMax: 7 };
const data = syntheticImages(256, 1);
const norm = channelStatistics(data);
const searchOptions = (target: number, extra: Partial<SearchOptions> = {}): SearchOptions => ({
  ...range,
  target,
  lambda: 2,
  lossKind: 'symmetric',
  batch: 16,
  lr: 0.01,
  seed: 3,
  logEvery: 4,
  ...extra,
});

const quietStage = { losses: (r: { classLoss?: number; loss?: number; paramLoss?: number }) => [r.classLoss ?? r.loss!, r.paramLoss ?? 0], onRows: () => {}, describe: () => '' };

describe('search', () => {
  it('Search and FinalTraining reject bad options when built, naming them', () => {
    const target = resolveBudget(TINY, range, 2_000);
    const bad = (o: Partial<SearchOptions>, message: RegExp) => expect(() => new Search(engine, TINY, searchOptions(target, o))).toThrow(message);
    bad({ batch: 0 }, /Search: batch must be a positive integer, got 0/);
    bad({ lr: -1 }, /Search: lr must be a positive number, got -1/);
    bad({ logEvery: 1.5 }, /Search: logEvery must be a positive integer/);
    bad({ kMin: 3, kMax: 1 }, /Search: kMin and kMax must be odd integers with 1 ≤ kMin ≤ kMax, got 3 and 1/);
    bad({ target: 10 }, /Search: target 10 parameters is outside the feasible range \d+ \(all 1×1\) … \d+ \(all 7×7\) of tiny/);
    bad({ lambda: NaN }, /Search: lambda must be a number ≥ 0/);
    const train = (sizes: number[], o: Partial<TrainOptions> = {}) => () => new FinalTraining(engine, TINY, sizes, { batch: 16, lr: 1e-3, steps: 20, seed: 0, logEvery: 4, ...o });
    expect(train([3, 4, 1])).toThrow(/FinalTraining: layer 1's size must be an odd positive integer, got 4/);
    expect(train([3, 3])).toThrow(/FinalTraining: 2 sizes for the 3 conv layers of tiny/);
    expect(train([3, 3, 3], { steps: 0 })).toThrow(/FinalTraining: steps \(the cosine schedule's length\) must be a positive integer/);
    expect(train([3, 3, 3], { seed: -1 })).toThrow(/FinalTraining: seed must be an integer ≥ 0/);
  });

  it('a short search ends with real (rounded) parameter count within ±2 % of the budget', async () => {
    for (const budget of [2_000, 3_500]) {
      const target = resolveBudget(TINY, range, budget);
      const search = new Search(engine, TINY, searchOptions(target));
      const batches = new Batches(data, { batch: 16, seed: 1, norm });
      for (let i = 0; i < 12; i++) {
        batches.next();
        search.x.write(batches.x);
        search.run(batches.y);
        if (search.step % 4 === 0) await search.flush();
      }
      const v = await search.softSizes();
      const r = roundSizesJointly(TINY, v, target, range);
      expect(Math.abs(r.deviation), `budget ${budget}: sizes ${r.sizes} give ${r.parameters}`).toBeLessThanOrEqual(0.02);
    }
  });

  it('the budget loss moves P(v) toward the budget from a start far above it', async () => {
    const target = resolveBudget(TINY, range, 1_500);
    const search = new Search(engine, TINY, searchOptions(target, { lambda: 20, sizePredictor: { initialSize: 6 } }));
    const batches = new Batches(data, { batch: 16, seed: 2, norm });
    const P: number[] = [];
    for (let i = 0; i < 24; i++) {
      batches.next();
      search.x.write(batches.x);
      search.run(batches.y);
      if (search.step % 4 === 0) P.push(...(await search.flush()).map((r) => r.softParameters));
    }
    const first = Math.abs(Math.log(P[0]! / target));
    const last = Math.abs(Math.log(P[P.length - 1]! / target));
    expect(last).toBeLessThan(0.5 * first);
  });

  // conv2d on the engine's default kernels, on the tiled ones (which pack their weights every
  // step), and on 'fastest' (the families timed after the first step, a mix of them after)
  // (the last: 'fastest' with a stand-in clock that sends each pass to another family and the
  // weight gradient to a forced subgroup kernel, so its steps run the mix)
  const mixed: TuneOptions['measure'] = async (family, run, pass, weightKernel) => {
    run();
    await engine.sync();
    const wanted = { forward: 'tiled', input: 'plain', weight: 'auto' }[pass];
    return family === wanted ? (weightKernel === 'taps' ? 0.5 : 1) : 5;
  };
  for (const [convVariant, measure] of [['auto'], ['tiled'], ['fastest'], ['fastest', mixed]] as const) {
    it(`search and final-training steps (conv kernels '${convVariant}'${measure ? ', mixed choices' : ''}) create no GPU buffers or bind groups after warm-up and log v, s, losses per step`, async () => {
      engine.convVariant = convVariant;
      resetConvChoices(engine); // each case times its own
      try {
        const target = resolveBudget(TINY, range, 2_500);
        const search = new Search(engine, TINY, searchOptions(target));
        const train = new FinalTraining(engine, TINY, [3, 5, 1], { batch: 16, lr: 1e-3, steps: 20, seed: 0, logEvery: 4 });
        const trainUncaptured = new FinalTraining(engine, TINY, [5, 3, 1], { batch: 16, lr: 1e-3, steps: 20, seed: 0, logEvery: 4, replay: false });
        for (const stepper of [search, train, trainUncaptured]) {
          const batches = new Batches(data, { batch: 16, seed: 4, norm });
          let [created, bindGroups, dispatches, skipped, tunings] = [0, 0, 0, 0, 0];
          for (let i = 0; i < 16; i++) {
            batches.next();
            const [submits, reads] = [engine.submitCount, engine.readCount];
            stepper.x.write(batches.x);
            stepper.run(batches.y);
            // a whole step (batch upload, forward, backward, optimiser, GPU log) is one command buffer
            // and reads nothing back; only the log flush every 4 steps does
            expect([engine.submitCount - submits, engine.readCount - reads]).toEqual([1, 0]);
            if (hasPendingConvs(engine)) {
              expect([convVariant, i]).toEqual(['fastest', 0]); // only 'fastest' records, on a stepper's first step
              const timings = await tuneConvs(engine, { reps: 1, ...(measure ? { measure } : {}) });
              if (measure && engine.subgroupSize !== null) for (const t of timings) expect(t.chosen.forward).toBe('tiled');
              tunings += timings.length;
            }
            if (stepper.step % 4 === 0) await stepper.flush();
            if (i === 7) [created, bindGroups, dispatches, skipped] = [engine.memory().createdBuffers, engine.bindGroupsCreated, engine.dispatchCount, engine.uniformWritesSkipped];
          }
          expect(tunings > 0).toBe(convVariant === 'fastest');
          expect(engine.memory().createdBuffers).toBe(created);
          // the pool hands a step the same buffers each time, so its bind groups come from the cache,
          // and most of its uniforms are already in their buffers (the optimiser's change every step)
          expect(engine.bindGroupsCreated).toBe(bindGroups);
          // steps after the second replay their capture (no uniforms to write but the log copy's
          // offset); run as code, most of a step's uniforms are already in their buffers
          expect(stepper.replaying).toBe(stepper !== trainUncaptured);
          if (stepper.replaying) expect(engine.uniformWritesSkipped - skipped).toBeLessThanOrEqual(8);
          else expect(engine.uniformWritesSkipped - skipped).toBeGreaterThan(0.6 * (engine.dispatchCount - dispatches));
        }
        batchesRun: {
          const batches = new Batches(data, { batch: 16, seed: 4, norm });
          for (let i = 0; i < 3; i++) {
            batches.next();
            search.x.write(batches.x);
            search.run(batches.y);
          }
          const rows = await search.flush();
          expect(rows.map((r) => r.step)).toEqual([17, 18, 19]);
          for (const r of rows) {
            expect(r.v).toHaveLength(3);
            r.v.forEach((v, l) => {
              expect(v).toBeGreaterThan(range.kMin);
              expect(v).toBeLessThan(range.kMax);
              expect(Math.abs(r.s[l]! - v)).toBeLessThanOrEqual(1); // nearest odd size
            });
            expect(Number.isFinite(r.classLoss) && Number.isFinite(r.paramLoss)).toBe(true);
          }
          break batchesRun;
        }
      } finally {
        engine.convVariant = 'auto';
      }
    });
  }
});

async function searchWeights(s: Search): Promise<Float32Array[]> {
  return Object.values(await snapshot(s.state())).map((a) => a.data);
}

describe('replayed steps', () => {
  const runSteps = async (stepper: Search | FinalTraining, steps: number) => {
    const batches = new Batches(data, { batch: 16, seed: 8, norm, cropPadding: 1, flip: true });
    const rows: unknown[] = [];
    for (let i = 0; i < steps; i++) {
      batches.next();
      stepper.x.write(batches.x);
      stepper.run(batches.y);
      if (stepper.step % 4 === 0) rows.push(...(await stepper.flush()));
    }
    return { rows, state: Object.values(await snapshot(stepper.state())).map((a) => Array.from(a.data)) };
  };

  it('compute bit for bit what running the steps’ code computes (search; final training, its learning rate changing every step)', async () => {
    const target = resolveBudget(TINY, range, 2_500);
    const trainOptions: TrainOptions = { batch: 16, lr: 3e-3, steps: 8, seed: 2, logEvery: 4, weightDecay: 0.01 };
    for (const make of [
      (replay: boolean) => new Search(engine, TINY, searchOptions(target, { replay })),
      (replay: boolean) => new FinalTraining(engine, TINY, [3, 5, 1], { ...trainOptions, replay }),
    ]) {
      const replayed = make(true);
      const run = await runSteps(replayed, 8);
      expect(replayed.replaying).toBe(true);
      const code = make(false);
      const reference = await runSteps(code, 8);
      expect(code.replaying).toBe(false);
      expect(run.rows).toEqual(reference.rows);
      expect(run.state.length).toBe(reference.state.length);
      run.state.forEach((t, i) => expect(t, `state tensor ${i}`).toEqual(reference.state[i]));
    }
  });

  it('a step with labels of the wrong count or out of range throws before encoding anything', () => {
    const train = new FinalTraining(engine, TINY, [3, 3, 3], { batch: 16, lr: 1e-3, steps: 4, seed: 0, logEvery: 4 });
    const dispatches = engine.dispatchCount;
    expect(() => train.run(new Int32Array(15))).toThrow(/FinalTraining.run: 15 labels for a batch of 16/);
    expect(() => train.run(Int32Array.from({ length: 16 }, (_, i) => (i === 3 ? TINY.classes : 0)))).toThrow(new RegExp(`FinalTraining.run: label ${TINY.classes} at index 3 is outside \\[0, ${TINY.classes}\\)`));
    expect(engine.dispatchCount).toBe(dispatches);
    expect(train.step).toBe(0);
  });
});

describe('resume', () => {
  it('a search killed after a checkpoint and resumed ends with the same sizes and weights as an uninterrupted one', async () => {
    const target = resolveBudget(TINY, range, 2_500);
    const stage = (dir: string, resume: boolean, extra: object = {}) => ({
      name: 'search',
      totalSteps: 12,
      logEvery: 2,
      checkpointEvery: 4,
      checkpointFile: join(dir, 'search.safetensors'),
      resume,
      batches: new Batches(data, { batch: 16, seed: 7, norm, cropPadding: 1, flip: true }),
      ...quietStage,
      ...extra,
    });
    const straight = new Search(engine, TINY, searchOptions(target));
    const dirA = mkdtempSync(join(tmpdir(), 'effconv-a-'));
    await runStage(straight, stage(dirA, false));

    const dirB = mkdtempSync(join(tmpdir(), 'effconv-b-'));
    const killed = new Search(engine, TINY, searchOptions(target));
    const kill = (rows: { step: number }[]) => {
      if (rows[rows.length - 1]!.step === 6) throw new Error('killed');
    };
    await expect(runStage(killed, stage(dirB, false, { onRows: kill }))).rejects.toThrow('killed');
    expect(readSafetensors(join(dirB, 'search.safetensors')).metadata.step).toBe('4');

    const resumed = new Search(engine, TINY, searchOptions(target, { seed: 99 })); // different init: all state must come from the checkpoint
    let resumedAt = -1;
    await runStage(resumed, stage(dirB, true, { onResume: (s: number) => (resumedAt = s) }));
    expect(resumedAt).toBe(4);
    expect(resumed.step).toBe(12);
    const a = await searchWeights(straight);
    const b = await searchWeights(resumed);
    expect(b.length).toBe(a.length);
    a.forEach((t, i) => expect(Array.from(b[i]!), `tensor ${i}`).toEqual(Array.from(t)));
    const va = await straight.softSizes();
    const vb = await resumed.softSizes();
    expect(roundSizesJointly(TINY, vb, target, range).sizes).toEqual(roundSizesJointly(TINY, va, target, range).sizes);
    expect(readdirSync(dirB).filter((f) => f.includes('.tmp'))).toEqual([]); // atomic writes leave nothing behind
  });

  it('a NaN loss stops the stage naming the step, and the last good checkpoint stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'effconv-nan-'));
    const train = new FinalTraining(engine, TINY, [3, 3, 3], { batch: 16, lr: 1e-3, steps: 12, seed: 0, logEvery: 2 });
    const poison = (rows: { step: number }[]) => {
      if (rows[rows.length - 1]!.step === 6) train.classifier.head.weight.write(new Float32Array(train.classifier.head.weight.size).fill(Number.NaN));
    };
    const file = join(dir, 'final.safetensors');
    const run = runStage(train, {
      name: 'train',
      totalSteps: 12,
      logEvery: 2,
      checkpointEvery: 4,
      checkpointFile: file,
      resume: false,
      batches: new Batches(data, { batch: 16, seed: 1, norm }),
      ...quietStage,
      onRows: poison,
    });
    await expect(run).rejects.toThrow(NonFiniteLossError);
    await expect(run).rejects.toThrow(/train: the loss became NaN at step 7; stopped\. The last good checkpoint is .*final\.safetensors/);
    const saved = readSafetensors(file);
    expect(saved.metadata.step).toBe('4');
    for (const t of Object.values(saved.tensors)) expect(t.data.every(Number.isFinite)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });
});
