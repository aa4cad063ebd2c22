/**
 * The bench's command line, checked before any work: a bad value is a one-line error (exit 2), and
 * an --out the results cannot be written to fails now rather than after a run of many minutes.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { CONV_VARIANTS, type ConvVariantName } from '../src/gpu/conv_variant.js';

export const SECTIONS = ['peak', 'loads', 'conv', 'tiled', 'masked', 'matmul', 'gru', 'mask', 'e2e'] as const;
export type Section = (typeof SECTIONS)[number];

export const BENCH_USAGE = `usage: npm run bench -- [--only ${SECTIONS.join(',')}] [--reps N (≥ 5 recommended)] [--no-peer] [--profile (e2e: time per kernel)] [--conv-kernels ${CONV_VARIANTS.join('|')} (default auto)] [--out FILE]`;

export class BenchUsageError extends Error {}

export interface BenchOptions {
  help: boolean;
  /** The sections asked for with --only, or null for the default set. */
  only: Section[] | null;
  reps: number;
  peer: boolean;
  profile: boolean;
  convKernels: ConvVariantName;
  /** --out: the JSON file (the markdown beside it as .md), or null for bench/results/. */
  out: string | null;
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { only: { type: 'string' }, reps: { type: 'string', default: '5' }, 'no-peer': { type: 'boolean' }, profile: { type: 'boolean' }, 'conv-kernels': { type: 'string', default: 'auto' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const only = values.only === undefined ? null : values.only.split(',').map((s) => s.trim());
  for (const s of only ?? []) if (!(SECTIONS as readonly string[]).includes(s)) throw new BenchUsageError(`--only: unknown section "${s}" (${SECTIONS.join(', ')})`);
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new BenchUsageError(`--reps must be a positive integer, got "${values.reps}"`);
  const convKernels = values['conv-kernels']!;
  if (!(CONV_VARIANTS as readonly string[]).includes(convKernels)) throw new BenchUsageError(`--conv-kernels must be one of ${CONV_VARIANTS.join(', ')}, got "${convKernels}"`);
  const out = values.out ?? null;
  if (out !== null) {
    if (!out.endsWith('.json')) throw new BenchUsageError(`--out ${out}: give a .json file (the markdown goes beside it as .md)`);
    if (existsSync(out) && statSync(out).isDirectory()) throw new BenchUsageError(`--out ${out} is a folder`);
    if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) throw new BenchUsageError(`--out ${out}: its folder ${dirname(out)} does not exist`);
  }
  return { help: values.help === true, only: only as Section[] | null, reps, peer: values['no-peer'] !== true, profile: values.profile === true, convKernels: convKernels as ConvVariantName, out };
}
