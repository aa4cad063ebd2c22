/**
 * The bench's command line, checked before any work: a bad value is a one-line error (exit 2), and
 * an --out the results cannot be written to fails now rather than after a run of many minutes.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONV_VARIANTS, type ConvVariantName } from '../src/gpu/conv_variant.js';

export const SECTIONS = ['peak', 'loads', 'conv', 'tiled', 'masked', 'matmul', 'gru', 'mask', 'bn', 'e2e'] as const;
export type Section = (typeof SECTIONS)[number];

export const BENCH_USAGE = `usage: npm run bench -- [--only ${SECTIONS.join(',')}] [--reps N (≥ 5 recommended)] [--no-peer] [--profile (e2e: time per kernel)] [--conv-kernels ${CONV_VARIANTS.join('|')} (default auto)] [--repeat N (conv passes per timed run, default 1; the masked section at least 8)] [--out FILE]`;

export class BenchUsageError extends Error {}

export interface BenchOptions {
  help: boolean;
  /** The sections asked for with --only, or null for the default set. */
  only: Section[] | null;
  reps: number;
  peer: boolean;
  profile: boolean;
  convKernels: ConvVariantName;
  /** --repeat: each timed run of a conv pass (effconv's and the peer's) encodes this many back to back; times are per pass. */
  repeat: number;
  /** --out: the JSON file (the markdown beside it as .md), or null for bench/results/. */
  out: string | null;
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { only: { type: 'string' }, reps: { type: 'string', default: '5' }, 'no-peer': { type: 'boolean' }, profile: { type: 'boolean' }, 'conv-kernels': { type: 'string', default: 'auto' }, repeat: { type: 'string', default: '1' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const only = values.only === undefined ? null : values.only.split(',').map((s) => s.trim());
  for (const s of only ?? []) if (!(SECTIONS as readonly string[]).includes(s)) throw new BenchUsageError(`--only: unknown section "${s}" (${SECTIONS.join(', ')})`);
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new BenchUsageError(`--reps must be a positive integer, got "${values.reps}"`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new BenchUsageError(`--repeat must be a positive integer, got "${values.repeat}"`);
  const convKernels = values['conv-kernels']!;
  if (!(CONV_VARIANTS as readonly string[]).includes(convKernels)) throw new BenchUsageError(`--conv-kernels must be one of ${CONV_VARIANTS.join(', ')}, got "${convKernels}"`);
  const out = values.out ?? null;
  if (out !== null) {
    if (!out.endsWith('.json')) throw new BenchUsageError(`--out ${out}: give a .json file (the markdown goes beside it as .md)`);
    if (existsSync(out) && statSync(out).isDirectory()) throw new BenchUsageError(`--out ${out} is a folder`);
    if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new BenchUsageError(`--out ${out}: its folder ${dirname(out)} does not exist`);
  }
  return { help: values.help === true, only: only as Section[] | null, reps, peer: values['no-peer'] !== true, profile: values.profile === true, convKernels: convKernels as ConvVariantName, repeat, out };
}

export const PAIRED_USAGE = "usage: node dist/bench/paired_trees.js --old DIR [--new DIR] [--pairs N] [--only conv,e2e] [--new-first]   (DIR: a built tree's dist/src; --new-first: load the new tree and create its engine first)";

export interface PairedOptions {
  help: boolean;
  /** The built trees' dist/src folders, resolved: [before, after] (after: null for this tree's). */
  old: string | null;
  new: string | null;
  pairs: number;
  only: ('conv' | 'e2e')[];
  /** Load the new tree and create its engine before the old one's (the order favours the first on lavapipe). */
  newFirst: boolean;
}

/** bench/paired_trees.ts's command line; the folders are checked to hold a built tree's index.js. */
export function parsePairedOptions(argv: string[]): PairedOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { old: { type: 'string' }, new: { type: 'string' }, pairs: { type: 'string', default: '9' }, only: { type: 'string', default: 'conv,e2e' }, 'new-first': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  if (values.help) return { help: true, old: null, new: null, pairs: 0, only: [], newFirst: false };
  if (values.old === undefined) throw new BenchUsageError('--old is required');
  const pairs = Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < 1) throw new BenchUsageError(`--pairs must be a positive integer, got "${values.pairs}"`);
  const only = values.only!.split(',').map((s) => s.trim());
  for (const s of only) if (s !== 'conv' && s !== 'e2e') throw new BenchUsageError(`--only: unknown section "${s}" (conv, e2e)`);
  const dirs = [values.old, values.new ?? null].map((d) => (d === null ? null : resolve(d)));
  for (const d of dirs) if (d !== null && !existsSync(join(d, 'index.js'))) throw new BenchUsageError(`${d} holds no index.js: give a built tree's dist/src`);
  return { help: false, old: dirs[0]!, new: dirs[1]!, pairs, only: only as ('conv' | 'e2e')[], newFirst: values['new-first'] === true };
}

export const SWEEP_USAGE = 'usage: node dist/bench/tiled_sweep.js [--reps N (default 5)] [--repeat N (passes per timed run, default 8)] [--candidates NAME,… (default all: TILED_CANDIDATES)] [--out FILE.json]';

export interface SweepOptions {
  help: boolean;
  reps: number;
  repeat: number;
  /** Names of TILED_CANDIDATES to time; null: all. */
  candidates: string[] | null;
  out: string | null;
}

/** bench/tiled_sweep.ts's command line; `known` are the candidates' names. */
export function parseSweepOptions(argv: string[], known: readonly string[]): SweepOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { reps: { type: 'string', default: '5' }, repeat: { type: 'string', default: '8' }, candidates: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  if (values.help) return { help: true, reps: 0, repeat: 0, candidates: null, out: null };
  const count = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${name} must be a positive integer, got "${v}"`);
    return n;
  };
  const candidates = values.candidates === undefined ? null : values.candidates.split(',').map((s) => s.trim());
  for (const c of candidates ?? []) if (!known.includes(c)) throw new BenchUsageError(`--candidates: unknown candidate "${c}" (${known.join(', ')})`);
  return { help: false, reps: count('reps', values.reps!), repeat: count('repeat', values.repeat!), candidates, out: values.out ?? null };
}

export const WINOGRAD_PAIRS_USAGE = 'usage: node dist/bench/winograd_pairs.js [--pairs N (default 7)] [--sizes 3,5] [--shapes NxCinxHxCout,… (default: the bench rows\' shapes and fmnist-6\'s and cifar-8\'s layers)]';

/** The shapes winograd_pairs times by default: N × Cin × H (= W) → Cout — the bench's conv rows, fmnist-6's layers at batch 128, cifar-8's smaller planes. */
export const WINOGRAD_PAIRS_SHAPES: readonly (readonly [number, number, number, number])[] = [
  [32, 32, 32, 64], [32, 64, 16, 128], [32, 64, 16, 64], [32, 32, 32, 32], [32, 64, 8, 128], [32, 128, 8, 128],
  [128, 16, 14, 32], [128, 32, 14, 32], [128, 32, 7, 64], [128, 64, 7, 64],
];

export interface WinogradPairsOptions {
  help: boolean;
  pairs: number;
  sizes: (3 | 5)[];
  shapes: (readonly [number, number, number, number])[];
}

/** bench/winograd_pairs.ts's command line. */
export function parseWinogradPairsOptions(argv: string[]): WinogradPairsOptions {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { pairs: { type: 'string', default: '7' }, sizes: { type: 'string', default: '3,5' }, shapes: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  if (values.help) return { help: true, pairs: 0, sizes: [], shapes: [] };
  const pairs = Number(values.pairs);
  if (!Number.isInteger(pairs) || pairs < 1) throw new BenchUsageError(`--pairs must be a positive integer, got "${values.pairs}"`);
  const sizes = values.sizes!.split(',').map((v) => v.trim());
  for (const v of sizes) if (v !== '3' && v !== '5') throw new BenchUsageError(`--sizes: the Winograd kernels serve 3 and 5, got "${v}"`);
  const shapes = values.shapes === undefined ? [...WINOGRAD_PAIRS_SHAPES] : values.shapes.split(',').map((text) => {
    const dims = text.trim().split('x').map(Number);
    if (dims.length !== 4 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new BenchUsageError(`--shapes: "${text}" is not NxCinxHxCout (four positive integers, e.g. 32x32x32x64)`);
    return dims as unknown as readonly [number, number, number, number];
  });
  return { help: false, pairs, sizes: sizes.map(Number) as (3 | 5)[], shapes };
}

/** A bench script's command line: a usage error prints it with the usage and exits 2; --help prints the usage and exits 0. */
export function commandLine<T extends { help: boolean }>(name: string, parse: (argv: string[]) => T, usage: string): T {
  let options: T;
  try {
    options = parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    console.error(`${name}: ${e.message}\n${usage}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(usage);
    process.exit(0);
  }
  return options;
}
