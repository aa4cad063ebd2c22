/** Saved choices of conv2d's 'fastest': records, what an engine takes from them, tuning files. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  conv2d,
  conv2dKernels,
  convKernelsFingerprint,
  CONV_TUNING_FORMAT,
  deviceIdentity,
  Engine,
  exportConvTuning,
  importConvTuning,
  mergeConvTuning,
  onConvsTuned,
  parameter,
  parseConvTuning,
  saveConvTuning,
  Tensor,
  tuneConvs,
  useConvTuningFile,
  type Conv2dOptions,
  type ConvFamily,
  type ConvTuningRecord,
} from '../src/index.js';
import { defaultShaderSource } from '../src/gpu/shader-source.js';
import { allPasses, convChoices, convChoicesVersion, hasPendingConvs, type ConvChoice } from '../src/ops/conv_choices.js';
import { resetConvChoices } from './helpers/conv_choices.js';
import { testEngine } from './helpers/engine.js';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** A stand-in clock that puts `family` first. */
const favour = (family: ConvFamily) => async (f: ConvFamily, run: () => void) => {
  run();
  await engine.sync();
  return f === family ? 1 : 5;
};

const resetChoices = () => resetConvChoices(engine);

const opts: Conv2dOptions = { variant: 'fastest', padding: 1 };
const KEY = '[1, 2, 6, 6] * [3, 2, 3, 3] size 3 k_min 1 stride 1 pad 1';

/** Records the test convolution under 'fastest' and returns its tensors. */
function meetConv(): Tensor[] {
  const x = Tensor.from(engine, new Float32Array(72).fill(0.5), [1, 2, 6, 6]);
  const w = Tensor.from(engine, new Float32Array(54).fill(0.25), [3, 2, 3, 3]);
  conv2d(x, w, opts).dispose();
  return [x, w];
}

describe('conv tuning records', () => {
  it('a record of this adapter and kernels gives later runs the choice untimed; one of another adapter or kernels gives nothing', async () => {
    resetChoices();
    const [x, w] = meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('tiled') });
    const record = exportConvTuning(engine);
    expect(record).toEqual({ device: deviceIdentity(engine), kernels: convKernelsFingerprint(engine), choices: { [KEY]: 'tiled' } });
    expect(record.device).toContain(engine.adapterInfo.description);

    resetChoices(); // as a new run starts
    expect(importConvTuning(engine, [{ ...record, device: 'another adapter' }, { ...record, kernels: '0000000000000000' }])).toBe(0);
    conv2d(x!, w!, opts).dispose();
    expect(hasPendingConvs(engine)).toBe(true); // timed as if nothing were saved

    // the matching record, taken while the convolution waits: it leaves the queue, its choice runs
    expect(importConvTuning(engine, [{ ...record, device: 'another adapter', choices: { [KEY]: 'plain' } }, record])).toBe(1);
    expect(hasPendingConvs(engine)).toBe(false);
    expect(conv2dKernels(x!, w!, opts).kernels).toBe('tiled');
    expect(await tuneConvs(engine)).toEqual([]);
    for (const t of [x!, w!]) t.dispose();
  });

  it('passes that chose apart are saved as a family each, and taken back so', async () => {
    resetChoices();
    const [x, w] = meetConv();
    convChoices(engine).pending.clear(); // chosen below instead
    convChoices(engine).chosen.set(KEY, { forward: 'auto', input: 'tiled', weight: 'plain' });
    convChoices(engine).chosen.set('another', { forward: 'auto', input: 'auto', weight: 'auto', weightKernel: 'rows' });
    // every pass on the tiled kernels, two of them with the 8 × 8 block: not one family name
    const tiles: ConvChoice = { ...allPasses('tiled'), tiles: { forward: '8x8', weight: '8x8' } };
    convChoices(engine).chosen.set('third', tiles);
    const record = exportConvTuning(engine);
    expect(record.choices).toEqual({ [KEY]: { forward: 'auto', input: 'tiled', weight: 'plain' }, another: { forward: 'auto', input: 'auto', weight: 'auto', weightKernel: 'rows' }, third: tiles });
    const text = JSON.stringify(mergeConvTuning(null, record));
    resetChoices();
    expect(importConvTuning(engine, parseConvTuning(text, 'saved').records)).toBe(3);
    expect(conv2dKernels(x!, w!, opts).passes).toMatchObject({ input: 'tiled', weight: 'plain' });
    expect(convChoices(engine).chosen.get('another')).toEqual({ forward: 'auto', input: 'auto', weight: 'auto', weightKernel: 'rows' });
    expect(convChoices(engine).chosen.get('third')).toEqual(tiles);
    // taken back for the test convolution: its passes run those blocks
    convChoices(engine).chosen.set(KEY, tiles);
    expect(conv2dKernels(x!, w!, opts).tiles).toEqual({ forward: '8x8', input: '4x4', weight: '8x8' });
    for (const t of [x!, w!]) t.dispose();
  });

  it('taking choices moves the choices version (which retakes captured steps) only when a choice changes', () => {
    resetChoices();
    const record = (choices: ConvTuningRecord['choices']): ConvTuningRecord => ({ device: deviceIdentity(engine), kernels: convKernelsFingerprint(engine), choices });
    const version = () => convChoicesVersion(engine);
    const v0 = version();
    expect(importConvTuning(engine, [record({ [KEY]: 'tiled', other: { forward: 'auto', input: 'plain', weight: 'auto', weightKernel: 'rows' } })])).toBe(2);
    const v1 = version();
    expect(v1).toBeGreaterThan(v0);
    // the same choices again (one spelled per pass): nothing a capture ran changes
    expect(importConvTuning(engine, [record({ [KEY]: { forward: 'tiled', input: 'tiled', weight: 'tiled' }, other: { forward: 'auto', input: 'plain', weight: 'auto', weightKernel: 'rows' } })])).toBe(2);
    expect(version()).toBe(v1);
    // one pass of one convolution differs (the weight gradient's subgroup kernel): a new version
    expect(importConvTuning(engine, [record({ other: { forward: 'auto', input: 'plain', weight: 'auto', weightKernel: 'slide' } })])).toBe(1);
    const v2 = version();
    expect(v2).toBeGreaterThan(v1);
    // the tiled kernels' block of one pass differs; then the default block named: the same as before
    expect(importConvTuning(engine, [record({ [KEY]: { ...allPasses('tiled'), tiles: { input: '8x8' } } })])).toBe(1);
    const v3 = version();
    expect(v3).toBeGreaterThan(v2);
    expect(importConvTuning(engine, [record({ [KEY]: { ...allPasses('tiled'), tiles: { input: '8x8', weight: '4x4' } } })])).toBe(1);
    expect(version()).toBe(v3);
    resetChoices();
  });

  it("taking a choice for a waiting soft-size convolution releases the soft size's copy", () => {
    resetChoices();
    const x = Tensor.from(engine, new Float32Array(2 * 3 * 8 * 8).fill(1), [2, 3, 8, 8]);
    const w = Tensor.from(engine, new Float32Array(4 * 3 * 81).fill(0.1), [4, 3, 9, 9]);
    const v = parameter(engine, [4.6], [1]);
    conv2d(x, w, { size: 'fromSoftSize', softSize: v, variant: 'fastest' }).dispose();
    const [key] = [...convChoices(engine).pending.keys()];
    const live = engine.liveTensors;
    expect(importConvTuning(engine, [{ device: deviceIdentity(engine), kernels: convKernelsFingerprint(engine), choices: { [key!]: 'plain' } }])).toBe(1);
    expect(engine.liveTensors).toBe(live - 1);
    expect(hasPendingConvs(engine)).toBe(false);
    for (const t of [x, w, v]) t.dispose();
  });

  it('the kernels fingerprint follows the conv2d shader files and no others', async () => {
    const base = defaultShaderSource();
    const edited = (file: string) => (name: string) => base(name).then((code) => (name === file ? `${code}\n// edited\n` : code));
    const conv = await Engine.create({ shaderSource: edited('conv2d.wgsl') });
    const other = await Engine.create({ shaderSource: edited('elementwise.wgsl') });
    expect(convKernelsFingerprint(conv)).not.toBe(convKernelsFingerprint(engine));
    expect(convKernelsFingerprint(other)).toBe(convKernelsFingerprint(engine));
    expect(deviceIdentity(conv)).toBe(deviceIdentity(engine));
    conv.destroy();
    other.destroy();
  });

  it('merging keeps the records of other adapters and adds new choices to those of its own', () => {
    const a: ConvTuningRecord = { device: 'A', kernels: 'k1', choices: { p: 'auto', q: 'plain' } };
    const b: ConvTuningRecord = { device: 'B', kernels: 'k1', choices: { p: 'tiled' } };
    const merged = mergeConvTuning({ format: CONV_TUNING_FORMAT, records: [a, b] }, { device: 'A', kernels: 'k1', choices: { q: 'tiled', r: 'auto' } });
    expect(merged.format).toBe(CONV_TUNING_FORMAT);
    expect(merged.records).toEqual([b, { device: 'A', kernels: 'k1', choices: { p: 'auto', q: 'tiled', r: 'auto' } }]);
    // other kernels of the same adapter: a record of its own
    expect(mergeConvTuning(merged, { device: 'A', kernels: 'k2', choices: {} }).records).toHaveLength(3);
    expect(mergeConvTuning(null, a)).toEqual({ format: CONV_TUNING_FORMAT, records: [a] });
  });

  it('parsing names what is wrong with a file that is not a tuning file', () => {
    const good = {
      format: CONV_TUNING_FORMAT,
      records: [
        {
          device: 'A',
          kernels: 'k',
          choices: {
            p: 'plain',
            q: { forward: 'auto', input: 'tiled', weight: 'plain' },
            r: { forward: 'auto', input: 'auto', weight: 'auto', weightKernel: 'taps' },
            s: { forward: 'tiled', input: 'auto', weight: 'tiled', tiles: { weight: '8x8' } },
            t: { forward: 'auto', input: 'plain', weight: 'auto', winograd: { forward: true, weight: false } },
          },
        },
      ],
    };
    expect(parseConvTuning(JSON.stringify(good), 'f.json')).toEqual(good);
    const bad: [string, RegExp][] = [
      ['{"format":', /^f\.json: not valid JSON/],
      [JSON.stringify({ ...good, format: 'other' }), /^f\.json: format is not "effconv-conv-tuning-1"/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: {} }), /records is not a list/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ kernels: 'k', choices: {} }] }), /record 0 lacks its device or kernels/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: [] }] }), /record 0's choices are not an object/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: 'fastest' } }] }), /record 0 chose "fastest" for p; a choice is one of auto, plain, tiled, or one for each of forward, input, weight/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto' } } }] }), /record 0 chose \{"forward":"auto","input":"auto"\} for p/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'fast' } } }] }), /record 0 chose .* for p/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'auto', extra: 'auto' } } }] }), /record 0 chose .* for p/],
      ['null', /format is not/],
      // a weight kernel is one of auto's subgroup kernels, so only with weight 'auto'
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'plain', weightKernel: 'taps' } } }] }), /record 0 chose .* for p; .*a weightKernel taps, rows or slide where weight is auto/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'auto', weightKernel: 'fast' } } }] }), /record 0 chose .* for p/],
      // tiles: a block per pass on the tiled kernels
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'tiled', weight: 'tiled', tiles: { forward: '8x8' } } } }] }), /record 0 chose .* for p; .*tiles \{ pass: 4x4 or 8x8 \} for passes on tiled/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'tiled', input: 'tiled', weight: 'tiled', tiles: { forward: '16x16' } } } }] }), /record 0 chose .* for p/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'tiled', input: 'tiled', weight: 'tiled', tiles: { backward: '8x8' } } } }] }), /record 0 chose .* for p/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'tiled', input: 'tiled', weight: 'tiled', tiles: ['8x8'] } } }] }), /record 0 chose .* for p/],
      // winograd: true or false per pass on auto
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'tiled', input: 'auto', weight: 'auto', winograd: { forward: true } } } }] }), /record 0 chose .* for p; .*winograd \{ pass: true or false \} for passes on auto/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'auto', winograd: { forward: 'yes' } } } }] }), /record 0 chose .* for p/],
      [JSON.stringify({ format: CONV_TUNING_FORMAT, records: [{ device: 'A', kernels: 'k', choices: { p: { forward: 'auto', input: 'auto', weight: 'auto', winograd: [true] } } }] }), /record 0 chose .* for p/],
    ];
    for (const [text, message] of bad) expect(() => parseConvTuning(text, 'f.json'), text).toThrow(message);
    expect(() => parseConvTuning('[', 'f.json')).toThrow(/move it away to time the convolutions again/);
  });

  it('onConvsTuned hears each tuning that chose for new convolutions, until stopped', async () => {
    resetChoices();
    let heard = 0;
    const stop = onConvsTuned(engine, () => heard++);
    await tuneConvs(engine); // nothing new: nothing to hear
    expect(heard).toBe(0);
    const tensors = meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('plain') });
    expect(heard).toBe(1);
    stop();
    resetChoices();
    meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('plain') });
    expect(heard).toBe(1);
    for (const t of tensors) t.dispose();
  });
});

describe('tuning files', () => {
  it('a run takes the choices saved for its adapter, saves new ones after each tuning, and keeps other records', async () => {
    resetChoices();
    const dir = mkdtempSync(join(tmpdir(), 'tuning-'));
    const file = join(dir, 'conv_tuning.json');
    const first = useConvTuningFile(engine, file);
    expect(first.said).toBe(`no tuning file yet; choices will be saved to ${file}`);
    expect(existsSync(file)).toBe(false); // nothing timed, nothing written
    const tensors = meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('plain') });
    first.stop();
    const saved = parseConvTuning(readFileSync(file, 'utf8'), file);
    expect(saved.records).toEqual([{ device: deviceIdentity(engine), kernels: convKernelsFingerprint(engine), choices: { [KEY]: 'plain' } }]);
    expect(readdirSync(dir)).toEqual(['conv_tuning.json']); // written through a temporary name, none left

    // another machine's record in the same file survives; this one's is taken
    const other: ConvTuningRecord = { device: 'another adapter', kernels: 'k', choices: { q: 'tiled' } };
    writeFileSync(file, JSON.stringify({ ...saved, records: [other, ...saved.records] }));
    resetChoices();
    const second = useConvTuningFile(engine, file);
    expect(second.said).toBe(`choices for 1 convolution read from ${file} (those are not timed again)`);
    meetConv();
    expect(hasPendingConvs(engine)).toBe(false);
    // a new convolution is timed and added beside the taken one
    const x = Tensor.from(engine, new Float32Array(16).fill(1), [1, 1, 4, 4]);
    const w = Tensor.from(engine, new Float32Array(9).fill(1), [1, 1, 3, 3]);
    conv2d(x, w, opts).dispose();
    await tuneConvs(engine, { reps: 1, measure: favour('auto') });
    second.stop();
    const after = parseConvTuning(readFileSync(file, 'utf8'), file);
    expect(after.records[0]).toEqual(other);
    expect(Object.keys(after.records[1]!.choices)).toEqual([KEY, '[1, 1, 4, 4] * [1, 1, 3, 3] size 3 k_min 1 stride 1 pad 1']);

    // a file of other adapters only: nothing taken, and it says so
    writeFileSync(file, JSON.stringify({ format: CONV_TUNING_FORMAT, records: [other] }));
    resetChoices();
    const third = useConvTuningFile(engine, file);
    third.stop();
    expect(third.said).toBe(`${file} holds no choices for this adapter (${deviceIdentity(engine)}) and these kernels; they are timed and added`);
    for (const t of [...tensors, x, w]) t.dispose();
  });

  it('a tuning file that cannot be written is warned about once, and the run goes on', async () => {
    resetChoices();
    const dir = mkdtempSync(join(tmpdir(), 'tuning-'));
    const file = join(dir, 'no-such-folder', 'conv_tuning.json');
    const warnings: string[] = [];
    const { stop } = useConvTuningFile(engine, file, (line) => warnings.push(line));
    const tensors = meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('plain') });
    const x = Tensor.from(engine, new Float32Array(16).fill(1), [1, 1, 4, 4]);
    const w = Tensor.from(engine, new Float32Array(9).fill(1), [1, 1, 3, 3]);
    conv2d(x, w, opts).dispose();
    await tuneConvs(engine, { reps: 1, measure: favour('plain') });
    stop();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^could not save the kernel choices to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(.*ENOENT.*\\); a later run times them again$`));
    expect(convChoices(engine).chosen.get(KEY)).toEqual(allPasses('plain')); // chosen all the same
    for (const t of [...tensors, x, w]) t.dispose();
  });

  it('a corrupt tuning file stops the run before anything is timed, and is left as it was', async () => {
    resetChoices();
    const dir = mkdtempSync(join(tmpdir(), 'tuning-'));
    const file = join(dir, 'conv_tuning.json');
    writeFileSync(file, '{"format": "effconv-conv-tuning-1", "records": [');
    expect(() => useConvTuningFile(engine, file)).toThrow(/conv_tuning\.json: not valid JSON/);
    expect(() => saveConvTuning(engine, file)).toThrow(/not valid JSON/);
    expect(readFileSync(file, 'utf8')).toBe('{"format": "effconv-conv-tuning-1", "records": [');
    // and the failed start left no listener behind to write it later
    const tensors = meetConv();
    await tuneConvs(engine, { reps: 1, measure: favour('auto') });
    expect(readFileSync(file, 'utf8')).toBe('{"format": "effconv-conv-tuning-1", "records": [');
    for (const t of tensors) t.dispose();
  });
});
