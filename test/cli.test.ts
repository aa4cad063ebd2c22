/** The effconv command: help, bad input before any work, and a tiny end-to-end run folder. */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { feasibleRange, resolveBudget } from '../src/effconv/budget.js';
import { readSafetensors, writeSafetensors } from '../src/effconv/checkpoint.js';
import { runConfig, RUN_OPTIONS } from '../src/cli/run_options.js';
import { describeChoice, type ConvChoice } from '../src/ops/conv_choices.js';
import { parseConvTuning } from '../src/ops/conv_tuning_record.js';
import { getGpu } from '../src/gpu/device.js';

const run = promisify(execFile);
const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;

async function effconv(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 120_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('effconv CLI', () => {
  it('--help lists the commands and options', async () => {
    const r = await effconv('--help');
    expect(r.code).toBe(0);
    for (const w of ['search', 'train', 'eval', 'demo', 'info', 'kernels', '--budget', '--resume', '--spec', '--conv-kernels']) expect(r.out).toContain(w);
  });

  it('info names the adapter, its features and the subgroup size the kernels are chosen by', async () => {
    const r = await effconv('info');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^adapter +\S/m);
    expect(r.out).toMatch(/^features +\S/m);
    // what the adapter itself reports, asked here in this process
    const adapter = (await (await getGpu()).requestAdapter())!;
    const info = (adapter as GPUAdapter & { info: { subgroupMinSize?: number; subgroupMaxSize?: number } }).info;
    const fixed = adapter.features.has('subgroups') && info.subgroupMinSize === info.subgroupMaxSize;
    expect(r.out).toMatch(fixed ? new RegExp(`^subgroups +${info.subgroupMinSize} lanes: the subgroup kernels`, 'm') : /^subgroups +none of one fixed size/m);
    // conv2d's 'auto' rules: the CPU ones on a CPU adapter (the kind line says which it is)
    expect(r.out).toMatch(/^kind +CPU implementation/m.test(r.out) ? /^conv 'auto' +the CPU rules/m : /^conv 'auto' +the GPU rules/m);
  });

  it("each backbone's default budget is feasible: the preset's, or a fraction of the all-9×9 network for a spec", () => {
    const cases: [string[], number][] = [
      [[], 100_000],
      [['--preset', 'cifar-8', '--dataset', 'cifar10'], 1_500_000],
    ];
    for (const [args, budget] of cases) {
      const cfg = runConfig(parseArgs({ args, options: RUN_OPTIONS, strict: true }).values);
      expect(cfg.budget).toBe(budget);
      expect(resolveBudget(cfg.backbone, cfg, cfg.budget)).toBe(budget);
    }
    const dir = mkdtempSync(join(tmpdir(), 'budget-'));
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ input: [3, 32, 32], classes: 10, layers: [{ out: 64 }, { out: 256 }, { out: 512 }] }));
    const cfg = runConfig(parseArgs({ args: ['--spec', spec, '--dataset', 'cifar10'], options: RUN_OPTIONS, strict: true }).values);
    expect(cfg.budget).toBe(0.15);
    const [lo, hi] = feasibleRange(cfg.backbone, cfg);
    expect(resolveBudget(cfg.backbone, cfg, cfg.budget)).toBeCloseTo(0.15 * hi);
    expect(lo).toBeLessThan(0.15 * hi);
  });

  it('an infeasible budget fails before loading anything, giving the range', async () => {
    const r = await effconv('search', '--budget', '1000', '--out', join(tmpdir(), 'never'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/budget 1,000 parameters is outside the feasible range 9,050 \(all 1×1\) … 645,210 \(all 9×9\) of fmnist-6/);
  });

  it('a missing dataset names the files expected; a corrupt one names file and byte', async () => {
    const missing = await effconv('search', '--data', '/nonexistent/fm', '--out', mkdtempSync(join(tmpdir(), 'run-')));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/dataset not found: expected \/nonexistent\/fm\/train-images-idx3-ubyte\[\.gz\]/);
    const dir = mkdtempSync(join(tmpdir(), 'bad-'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 0));
    const corrupt = await effconv('search', '--data', dir, '--out', mkdtempSync(join(tmpdir(), 'run-')));
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/train-images-idx3-ubyte: bad magic at byte 0/);
    expect(corrupt.out).not.toMatch(/search: \d+ steps/); // nothing started
  });

  it('rejects bad option values with usage errors', async () => {
    expect((await effconv('search', '--batch', '0')).err).toMatch(/--batch must be a positive integer/);
    expect((await effconv('search', '--k-max', '8')).err).toMatch(/--k-max must be an odd integer/);
    expect((await effconv('search', '--log-every', '10', '--checkpoint-every', '15')).err).toMatch(/--checkpoint-every must be a positive multiple of --log-every \(10\)/);
    expect((await effconv('train', '--sizes', '3,3')).err).toMatch(/--sizes has 2 values but fmnist-6 has 6 conv layers/);
    expect((await effconv('frobnicate')).err).toMatch(/unknown command "frobnicate"/);
    expect((await effconv('search', '--conv-kernels', 'fast')).err).toMatch(/--conv-kernels must be one of auto, plain, subgroups, tiled, fastest, got "fast"/);
    const noRun = join(mkdtempSync(join(tmpdir(), 'no-run-')), 'run');
    const noFastest = await effconv('search', '--tuning-file', join(tmpdir(), 'never-written.json'), '--out', noRun);
    expect(noFastest.code).toBe(2);
    expect(noFastest.err).toMatch(/--tuning-file keeps the choices of --conv-kernels fastest; this run's kernels are auto/);
    expect(existsSync(noRun)).toBe(false); // before any run folder is made
    expect((await effconv('search', '--conv-kernels', 'fastest', '--tuning-reps', '0', '--out', noRun)).err).toMatch(/--tuning-reps must be a positive integer, got "0"/);
    expect((await effconv('search', '--tuning-reps', '5', '--out', noRun)).err).toMatch(/--tuning-reps sets the timing of --conv-kernels fastest; this run's kernels are auto/);
    expect(existsSync(noRun)).toBe(false);
    const notTuning = join(tmpdir(), `not-a-tuning-file-${process.pid}.json`);
    writeFileSync(notTuning, '{"format": "something else"}');
    const corrupt = await effconv('search', '--conv-kernels', 'fastest', '--tuning-file', notTuning, '--out', noRun);
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toContain(`effconv: ${notTuning}: format is not "effconv-conv-tuning-1" (not a tuning file of this effconv; move it away to time the convolutions again)`);
    expect(existsSync(noRun)).toBe(false);
    expect(readFileSync(notTuning, 'utf8')).toBe('{"format": "something else"}');
    // a path that cannot hold a tuning file fails before the run folder, not after the timing
    const folderAsFile = await effconv('search', '--conv-kernels', 'fastest', '--tuning-file', tmpdir(), '--out', noRun);
    expect(folderAsFile.err).toContain(`effconv: ${tmpdir()}: is a folder; give a file path for the tuning file`);
    const inMissing = join(tmpdir(), `no-such-folder-${process.pid}`, 't.json');
    expect((await effconv('search', '--conv-kernels', 'fastest', '--tuning-file', inMissing, '--out', noRun)).err).toContain(`effconv: ${inMissing}: its folder ${join(tmpdir(), `no-such-folder-${process.pid}`)} does not exist`);
    const kernels = await effconv('kernels', '--tuning-file', inMissing);
    expect(kernels.code).toBe(1);
    expect(kernels.err).toContain(`${inMissing}: its folder`);
    expect(kernels.err).not.toMatch(/^timing/m);
    expect(existsSync(noRun)).toBe(false);
    expect((await effconv('search', '--spec', join(tmpdir(), 'no-such-spec.json'), '--out', noRun)).err).toContain(`effconv: --spec ${join(tmpdir(), 'no-such-spec.json')}: no such file`);
    expect((await effconv('search', '--train-limit', '0', '--out', noRun)).err).toMatch(/--train-limit must be a positive integer, got "0"/);
    // too few images for a batch: found when the data is prepared, before the run folder is made
    const few = await effconv('search', '--dataset', 'mnist-json', '--train-limit', '100', '--validation', '0.5', '--batch', '64', '--out', noRun);
    expect(few.code).toBe(1);
    expect(few.err).toContain('effconv: batch size 64 exceeds the 50 training images left after the training limit and the validation split');
    expect(existsSync(noRun)).toBe(false);
    // an option a command does not take is an error, not ignored
    expect((await effconv('search', '--sizes', '3,3,3,3,3,3', '--out', noRun)).err).toMatch(/effconv search does not take --sizes \(see effconv --help\)/);
    expect((await effconv('train', '--sizes', '3,3,3,3,3,3', '--budget', '5000', '--search-epochs', '2', '--out', noRun)).err).toMatch(/effconv train does not take --budget, --search-epochs/);
    expect((await effconv('eval', '--run', noRun, '--epochs', '2')).err).toMatch(/effconv eval does not take --epochs/);
    expect((await effconv('info', '--seed', '1')).code).toBe(2);
    expect(existsSync(noRun)).toBe(false);
    // eval of a folder that is not there leaves it not there
    expect((await effconv('eval', '--run', noRun)).err).toMatch(/--run .*: no results\.json \(not a finished run folder\)/);
    expect(existsSync(noRun)).toBe(false);
  });

  it('kernels times a search and a final step with each kernel family and names the fastest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernels-'));
    const spec = join(dir, 'spec.json');
    // 7 classes: no dataset has them, and the kernels command needs none (random data)
    writeFileSync(spec, JSON.stringify({ name: 'tiny16', input: [1, 16, 16], classes: 7, layers: [{ out: 4 }, { out: 8, pool: 'max' }] }));
    const r = await effconv('kernels', '--spec', spec, '--budget', '0.5', '--k-max', '5', '--batch', '8', '--reps', '1');
    expect(r.err).not.toMatch(/effconv:/);
    expect(r.code).toBe(0);
    const rows = [...r.out.matchAll(/^\| (auto|plain|tiled|fastest) \| ([\d.]+) \((\d+) images\/s\) \| ([\d.]+) \((\d+) images\/s\) \|$/gm)];
    expect(rows.map((m) => m[1])).toEqual(['auto', 'plain', 'tiled', 'fastest']);
    // 'fastest': a row per convolution of the two steps (2 layers each); each pass's chosen family
    // the one with the least time at that pass ("forward + input gradient + weight gradient = sum")
    const tuned = [...r.out.matchAll(/^\| (\[[^|]+) \| ([^|]+) \((subgroups|plain)\) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]+) \|$/gm)];
    expect(tuned).toHaveLength(4);
    const families = ['auto', 'plain', 'tiled'] as const;
    for (const m of tuned) {
      const passMs = (cell: string) => {
        const [passes, total] = cell.includes('=') ? cell.split('=') : [cell, cell];
        const each = passes!.split('+').map(Number);
        if (each.some(Number.isNaN)) return null; // not timed: the reason
        expect(each.reduce((a, b) => a + b, 0), m[0]).toBeCloseTo(Number(total), 1);
        return each;
      };
      // the tiled kernels' 8 × 8 block: "1.20 + – + 3.40" ("–": not timed at that pass), or empty
      const tile8 = m[6]!.trim() ? m[6]!.trim().split(' + ').map((c) => (c === '–' ? Infinity : Number(c))) : null;
      const cells = { auto: passMs(m[2]!), plain: passMs(m[4]!), tiled: passMs(m[5]!), 'tiled (8x8)': tile8 };
      // the passes timed: the forward, then the gradients the key names
      const key = m[1]!.trim();
      const passes = [0, ...(/ dx( dw)?$/.test(key) ? [1] : []), ...(key.endsWith(' dw') ? [2] : [])];
      expect(cells.auto, m[0]).toHaveLength(passes.length);
      // auto's other subgroup weight-gradient kernels, "taps 0.49, slide 0.58": the weight pass may take one
      const others: Record<string, number> = Object.fromEntries(m[7]!.trim() ? m[7]!.trim().split(', ').map((e) => [e.split(' ')[0], Number(e.split(' ')[1])]) : []);
      // 'auto' with the other Winograd setting than its rule's, "with 1.20 + – + without 3.40" ("–": not timed at that pass), or empty
      const winograd = m[8]!.trim() ? m[8]!.trim().split(' + ').map((c) => (c === '–' ? Infinity : Number(c.split(' ')[1]))) : null;
      const chosen = m[9]!.trim();
      // a pass's family, "(8x8)" for the tiled kernels' other block, "(Winograd)" / "(direct)" for auto's other Winograd setting
      const family = '(\\w+(?: \\(8x8\\))?)(?: \\((?:Winograd|direct)\\))?';
      const marked = (pass: string) => new RegExp(`${pass} \\w+ \\((?:Winograd|direct)\\)`).test(chosen);
      const perPass = [...families, 'tiled (8x8)'].includes(chosen)
        ? [chosen, chosen, chosen]
        : chosen.match(new RegExp(`^forward ${family}, input gradient ${family}, weight gradient ${family}(?: \\((taps|rows|slide)\\))?$`))!.slice(1);
      const otherWinograd = [marked('forward'), marked('input gradient'), marked('weight gradient')];
      for (const [i, pass] of passes.entries()) {
        const times = [...families, 'tiled (8x8)' as const].map((f) => cells[f]?.[i] ?? Infinity);
        if (pass === 2) times.push(...Object.values(others));
        if (winograd) times.push(winograd[i]!);
        const time = otherWinograd[pass] ? winograd![i] : pass === 2 && perPass[3] ? others[perPass[3]] : cells[perPass[pass] as keyof typeof cells]![i];
        expect(time, `${m[0]} pass ${pass}`).toBe(Math.min(...times));
      }
    }
    for (const m of rows) expect(Number(m[2]) > 0 && Number(m[4]) > 0, m[0]).toBe(true);
    // the named family is the one with the least search + final time in the table ('fastest'
    // left out where it chose auto everywhere: then it runs the same kernels)
    const sameAsAuto = tuned.every((m) => m[9]!.trim() === 'auto'); // the chosen column
    const best = rows.filter((m) => !(sameAsAuto && m[1] === 'fastest')).reduce((a, b) => (Number(b[2]) + Number(b[4]) < Number(a[2]) + Number(a[4]) ? b : a));
    expect(r.out).toContain(`fastest here (search + final step): --conv-kernels ${best[1]}${sameAsAuto ? " ('fastest' chose auto for every convolution)" : ''}`);
    expect((await effconv('kernels', '--reps', '0')).err).toMatch(/--reps must be a positive integer, got "0"/);
    expect((await effconv('kernels', '--families', 'auto,fast')).err).toMatch(/--families must be a comma list of auto, plain, tiled, fastest, got "auto,fast"/);
    // only the families asked for; 'fastest' alone is named even where it chose auto everywhere
    // --tuning-file: the choices of its 'fastest' row saved for a later run (the 4 convolutions timed)
    const tuningFile = join(dir, 'tuning.json');
    const one = await effconv('kernels', '--spec', spec, '--budget', '0.5', '--k-max', '5', '--batch', '8', '--reps', '1', '--families', 'fastest', '--tuning-file', tuningFile);
    expect(one.code).toBe(0);
    const tunedOne = [...one.out.matchAll(/^\| (\[[^|]+) \| .* \| ([^|]+) \|$/gm)];
    expect(tunedOne).toHaveLength(4);
    const saved = parseConvTuning(readFileSync(tuningFile, 'utf8'), tuningFile);
    expect(saved.records).toHaveLength(1);
    // each saved choice said as the table says it (a pass's tiled block or Winograd setting too)
    const said = (c: string | ConvChoice) => (typeof c === 'string' ? c : describeChoice(c));
    expect(Object.fromEntries(Object.entries(saved.records[0]!.choices).map(([k, c]) => [k, said(c)]))).toEqual(Object.fromEntries(tunedOne.map((m) => [m[1]!.trim(), m[2]!.trim()])));
    expect(one.out).toContain(`these choices are saved in ${tuningFile}`);
    expect((await effconv('kernels', '--families', 'auto', '--tuning-file', tuningFile)).err).toMatch(/--tuning-file saves the choices of 'fastest'; --families leaves it out/);
    expect([...one.out.matchAll(/^\| (auto|plain|tiled|fastest) \| [\d.]+ /gm)].map((m) => m[1])).toEqual(['fastest']);
    expect(one.out).toMatch(/fastest here \(search \+ final step\): --conv-kernels fastest$/m);
  });

  it('a tiny search + final training writes the whole run folder; eval reads its checkpoints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiny-run-'));
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 'tiny28', input: [1, 28, 28], classes: 10, layers: [{ out: 4, stride: 2 }, { out: 8, pool: 'max' }, { out: 8 }] }));
    const out = join(dir, 'run');
    const args = ['--spec', spec, '--dataset', 'mnist-json', '--budget', '1200', '--k-max', '7', '--batch', '32', '--train-limit', '256', '--test-limit', '100'];
    // on the kernels each convolution times fastest at (after) its stage's first step
    const r = await effconv('search', ...args, '--search-epochs', '1', '--epochs', '1', '--log-every', '4', '--checkpoint-every', '4', '--out', out, '--conv-kernels', 'fastest', '--tuning-reps', '2');
    expect(r.err).not.toMatch(/effconv:/);
    expect(r.code).toBe(0);
    const tunedSearch = /^search {2}kernels: timing auto, plain, tiled on 3 convolutions \(2 runs each after a warm-up\)…\nsearch {2}kernels: 3 convolutions timed in [\d.]+ s, fastest kernels: (.+)$/m.exec(r.err);
    expect(tunedSearch, r.err).not.toBeNull();
    // each choice (one family, or a pass's own in parentheses, as on a GPU) with its count: 3 in all
    const counts = [...tunedSearch![1]!.matchAll(/(?:auto|plain|tiled|\)) (\d+)(?=, |$)/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(r.err).toMatch(/^train:effconv {2}kernels: \d convolutions timed in/m);
    // the evaluation's convolutions (no gradients, batch 100 of the 100 test images) after its first batch
    expect(r.err).toMatch(/^train:effconv {2}kernels \(evaluation\): timing auto, plain, tiled on 3 convolutions \(2 runs each after a warm-up\)…$/m);
    for (const f of ['config.json', 'sizes.json', 'trajectory.csv', 'metrics.jsonl', 'summary.md', 'results.json', 'plots/kernel_sizes.svg', 'plots/masks.svg', 'plots/train_loss.svg', 'plots/accuracy.svg', 'checkpoints/search.safetensors', 'checkpoints/final-0.safetensors', 'checkpoints/final-1.safetensors']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const sizes = JSON.parse(readFileSync(join(out, 'sizes.json'), 'utf8')) as { sizes: number[]; deviation: number };
    expect(Math.abs(sizes.deviation)).toBeLessThanOrEqual(0.02);
    const csv = readFileSync(join(out, 'trajectory.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,v1,v2,v3,s1,s2,s3,class_loss,param_loss,soft_parameters,parameters');
    expect(csv).toHaveLength(1 + 8); // one row per search step (256 / 32 = 8)
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\| effconv \|.*\| all-3x3 \(width-matched\) \|/s);
    expect(readFileSync(join(out, 'plots/kernel_sizes.svg'), 'utf8')).toMatch(/^<svg /);
    // every choice saved in the run folder (a record of this adapter), and its kernels kept for eval and --resume
    const timed = [...r.err.matchAll(/kernels(?: \(evaluation\))?: (\d+) convolutions? timed in/g)].reduce((n, m) => n + Number(m[1]), 0);
    const tuning = parseConvTuning(readFileSync(join(out, 'conv_tuning.json'), 'utf8'), 'conv_tuning.json');
    expect(tuning.records).toHaveLength(1);
    expect(Object.keys(tuning.records[0]!.choices)).toHaveLength(timed);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).convKernels).toBe('fastest');
    // eval runs the run's kernels ('fastest') and takes every choice from the folder: nothing timed
    const ev = await effconv('eval', '--run', out);
    expect(ev.code).toBe(0);
    expect(ev.err).toContain(`kernels: choices for ${timed} convolutions read from ${join(out, 'conv_tuning.json')} (those are not timed again)`);
    expect(ev.err).not.toMatch(/timing auto/);
    expect(ev.out).toMatch(/effconv: sizes \[.*\], .* test accuracy \d+\.\d+ %/);
    // a finished run is not overwritten by a new one, nor changed by --resume with other settings
    const resultsBefore = readFileSync(join(out, 'results.json'), 'utf8');
    const again = await effconv('search', ...args, '--out', out);
    expect(again.code).toBe(2);
    expect(again.err).toContain(`effconv: --out ${out} already holds a run (its config.json); give another --out, or continue that run with --resume ${out}`);
    const changed = await effconv('search', '--resume', out, '--budget', '900', '--epochs', '3');
    expect(changed.code).toBe(2);
    expect(changed.err).toContain(`--resume continues ${out} as its config.json sets it up; --budget, --epochs cannot change that`);
    expect(readFileSync(join(out, 'results.json'), 'utf8')).toBe(resultsBefore);
    // train: the given sizes (not a search), and accuracy named by the split it is on
    const trainArgs = args.filter((a, i) => a !== '--budget' && args[i - 1] !== '--budget'); // train has no budget: its sizes set the parameters
    const trained = await effconv('train', ...trainArgs, '--sizes', '3,1,3', '--epochs', '1', '--validation', '0.25', '--baselines', 'none', '--log-every', '2', '--checkpoint-every', '2', '--out', join(dir, 'train'));
    expect(trained.err).not.toMatch(/effconv:/);
    expect(trained.out).toMatch(/^sizes \[3, 1, 3\] as given: [\d,]+ parameters/m);
    expect(trained.out).not.toMatch(/searched sizes/);
    expect(trained.out).toMatch(/^\| model \| sizes \| parameters \| validation accuracy \| s\/epoch \|$/m);
    expect(trained.out).toContain(`run folder: ${join(dir, 'train')}`);
    expect(trained.out).not.toMatch(/run as code/);
    // --no-replay runs every step as code: the same trajectory and accuracy (replays compute bit for bit what the code does)
    const asCode = await effconv('train', ...trainArgs, '--sizes', '3,1,3', '--epochs', '1', '--validation', '0.25', '--baselines', 'none', '--log-every', '2', '--checkpoint-every', '2', '--out', join(dir, 'train-as-code'), '--no-replay');
    expect(asCode.code).toBe(0);
    expect(asCode.out).toMatch(/^steps: every training step run as code \(no replay of captured steps\)$/m);
    const losses = (folder: string) => readFileSync(join(folder, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"loss"')).map((l) => JSON.parse(l).loss as number);
    expect(losses(join(dir, 'train-as-code'))).toEqual(losses(join(dir, 'train')));
    expect(losses(join(dir, 'train')).length).toBeGreaterThan(2);
    const accuracy = (out: string) => out.match(/\| ([\d.]+ %) \| [\d.]+ \|$/m)?.[1];
    expect(accuracy(asCode.out)).toBe(accuracy(trained.out));
  }, 180_000);
});

describe('checkpoints', () => {
  it('round-trip safetensors with metadata; a truncated file is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'a.safetensors');
    writeSafetensors(file, { w: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }, b: { shape: [1], data: Float32Array.of(-1) } }, { step: '7' });
    const back = readSafetensors(file);
    expect(back.metadata.step).toBe('7');
    expect(Array.from(back.tensors.w!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.w!.shape).toEqual([2, 3]);
    // the header layout other readers expect: u64 length, JSON with dtype/shape/data_offsets
    const bytes = readFileSync(file);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()) as Record<string, { data_offsets: number[] }>;
    expect(header.b!.data_offsets).toEqual([0, 4]);
    expect(header.w!.data_offsets).toEqual([4, 28]);
    writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    expect(() => readSafetensors(file)).toThrow(/checkpoint .*a\.safetensors: tensor w: data \[4, 28\) does not fit/);
  });
});
