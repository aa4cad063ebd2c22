/**
 * The machine's CPU as Linux's /proc/cpuinfo names it (Node only), for the bench's header and
 * JSON and `effconv info`: on a CPU adapter (lavapipe) every figure depends on it, and two hosts
 * that both call themselves "AMD EPYC" ran the same commit's 3×3 convolution 3.6× apart (a Zen 4
 * and a Zen 3: bench/HISTORY.md, 2026-12-03). Family and model tell such hosts apart; AVX-512
 * decides whether llvmpipe can use 16-lane vectors.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

export interface HostCpu {
  name: string;
  vendor: string | null;
  family: number | null;
  model: number | null;
  threads: number;
  /** null where the flags are unknown (no /proc/cpuinfo) */
  avx512: boolean | null;
}

/** The first processor's fields of a /proc/cpuinfo text; null fields where it lacks them. */
export function parseCpuinfo(text: string, threads: number): HostCpu {
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const field = (key: string): string | null => {
    const line = first.split('\n').find((l) => l.split(':')[0]!.trim() === key);
    return line === undefined ? null : line.slice(line.indexOf(':') + 1).trim();
  };
  const number = (key: string): number | null => {
    const v = field(key);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  };
  const flags = field('flags');
  return {
    name: field('model name') ?? 'unknown CPU',
    vendor: field('vendor_id'),
    family: number('cpu family'),
    model: number('model'),
    threads,
    avx512: flags === null ? null : flags.split(/\s+/).includes('avx512f'),
  };
}

/** This machine's CPU: /proc/cpuinfo where there is one, else what Node's os module knows. */
export function hostCpu(): HostCpu {
  const threads = availableParallelism();
  try {
    return parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'), threads);
  } catch {
    return { name: cpus()[0]?.model ?? 'unknown CPU', vendor: null, family: null, model: null, threads, avx512: null };
  }
}

/** One line: "AMD EPYC (AuthenticAMD family 25 model 1), 2 threads, AVX-512: no". */
export function describeHostCpu(c: HostCpu): string {
  const id = [c.vendor, c.family === null ? null : `family ${c.family}`, c.model === null ? null : `model ${c.model}`].filter((s) => s !== null);
  const avx = c.avx512 === null ? 'unknown' : c.avx512 ? 'yes' : 'no';
  return `${c.name}${id.length ? ` (${id.join(' ')})` : ''}, ${c.threads} thread${c.threads === 1 ? '' : 's'}, AVX-512: ${avx}`;
}
