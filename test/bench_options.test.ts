/** bench/options.ts: the bench's command line, checked before any work. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchOptions, parsePairedOptions, parseSweepOptions, parseWinogradPairsOptions, WINOGRAD_PAIRS_SHAPES } from '../bench/options.js';

describe('bench options', () => {
  it('defaults, and the values given', () => {
    expect(parseBenchOptions([])).toEqual({ help: false, only: null, reps: 5, peer: true, profile: false, convKernels: 'auto', repeat: 1, out: null });
    const dir = mkdtempSync(join(tmpdir(), 'bench-out-'));
    const out = join(dir, 'r.json');
    expect(parseBenchOptions(['--only', 'conv,e2e', '--reps', '3', '--no-peer', '--profile', '--conv-kernels', 'fastest', '--repeat', '8', '--out', out])).toEqual({ help: false, only: ['conv', 'e2e'], reps: 3, peer: false, profile: true, convKernels: 'fastest', repeat: 8, out });
  });

  it('a bad value is a usage error naming it, before any work', () => {
    const bad = (args: string[], message: RegExp) => {
      expect(() => parseBenchOptions(args)).toThrow(BenchUsageError);
      expect(() => parseBenchOptions(args)).toThrow(message);
    };
    bad(['--only', 'conv,foo'], /--only: unknown section "foo" \(peak, loads, conv/);
    bad(['--reps', '0'], /--reps must be a positive integer, got "0"/);
    bad(['--reps', 'x'], /--reps must be a positive integer, got "x"/);
    bad(['--conv-kernels', 'nope'], /--conv-kernels must be one of auto, plain, subgroups, tiled, fastest, got "nope"/);
    bad(['--repeat', '0'], /--repeat must be a positive integer, got "0"/);
    bad(['--bogus'], /Unknown option '--bogus'/);
    // an --out the results could not be written to fails now, not after the run
    bad(['--out', join(tmpdir(), `no-such-folder-${process.pid}`, 'r.json')], /its folder .* does not exist/);
    bad(['--out', tmpdir()], /give a \.json file/);
    bad(['--out', join(tmpdir(), 'r.txt')], /give a \.json file \(the markdown goes beside it as \.md\)/);
  });

  it('paired_trees: --old names a built tree, the rest checked too', () => {
    const tree = mkdtempSync(join(tmpdir(), 'tree-'));
    writeFileSync(join(tree, 'index.js'), '');
    expect(parsePairedOptions(['--old', tree])).toEqual({ help: false, old: tree, new: null, pairs: 9, only: ['conv', 'e2e'], newFirst: false });
    expect(parsePairedOptions(['--old', tree, '--new-first'])).toMatchObject({ newFirst: true });
    expect(parsePairedOptions(['--old', tree, '--new', tree, '--pairs', '3', '--only', 'e2e'])).toMatchObject({ new: tree, pairs: 3, only: ['e2e'] });
    const bad = (args: string[], message: RegExp) => expect(() => parsePairedOptions(args)).toThrow(message);
    bad([], /--old is required/);
    bad(['--old', tmpdir()], /holds no index\.js: give a built tree's dist\/src/);
    bad(['--old', tree, '--pairs', '0'], /--pairs must be a positive integer, got "0"/);
    bad(['--old', tree, '--only', 'conv,gru'], /--only: unknown section "gru" \(conv, e2e\)/);
  });

  it('tiled_sweep: defaults, the candidates named, bad values refused', () => {
    const known = ['4x4', '8x8-pf'];
    expect(parseSweepOptions([], known)).toEqual({ help: false, reps: 5, repeat: 8, candidates: null, out: null });
    expect(parseSweepOptions(['--reps', '3', '--repeat', '2', '--candidates', '8x8-pf, 4x4', '--out', 'x.json'], known)).toEqual({ help: false, reps: 3, repeat: 2, candidates: ['8x8-pf', '4x4'], out: 'x.json' });
    const bad = (args: string[], message: RegExp) => expect(() => parseSweepOptions(args, known)).toThrow(message);
    bad(['--candidates', '4x4,9x9'], /--candidates: unknown candidate "9x9" \(4x4, 8x8-pf\)/);
    bad(['--repeat', '0'], /--repeat must be a positive integer, got "0"/);
    bad(['--reps', '1.5'], /--reps must be a positive integer, got "1.5"/);
  });

  it('winograd_pairs: pairs, window sizes and shapes, checked', () => {
    expect(parseWinogradPairsOptions([])).toEqual({ help: false, pairs: 7, sizes: [3, 5], shapes: [...WINOGRAD_PAIRS_SHAPES] });
    expect(parseWinogradPairsOptions(['--pairs', '3', '--sizes', '5', '--shapes', '32x32x32x64, 128x64x7x64'])).toEqual({ help: false, pairs: 3, sizes: [5], shapes: [[32, 32, 32, 64], [128, 64, 7, 64]] });
    const bad = (args: string[], message: RegExp) => expect(() => parseWinogradPairsOptions(args)).toThrow(message);
    bad(['--pairs', '0'], /--pairs must be a positive integer, got "0"/);
    bad(['--sizes', '3,7'], /--sizes: the Winograd kernels serve 3 and 5, got "7"/);
    bad(['--shapes', '32x32x32'], /--shapes: "32x32x32" is not NxCinxHxCout/);
    bad(['--shapes', '32x0x32x64'], /is not NxCinxHxCout/);
  });
});
