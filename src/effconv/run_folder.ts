/** A run folder: config, per-step trajectory (CSV), metrics (JSON lines), results, checkpoints. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a file through a temporary name and a rename, so readers never see half of it. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export class RunFolder {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    mkdirSync(join(dir, 'plots'), { recursive: true });
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  exists(name: string): boolean {
    return existsSync(this.path(name));
  }

  writeJson(name: string, value: unknown): void {
    writeAtomic(this.path(name), `${JSON.stringify(value, null, 2)}\n`);
  }

  readJson<T>(name: string): T {
    return JSON.parse(readFileSync(this.path(name), 'utf8')) as T;
  }

  writeText(name: string, text: string): void {
    writeAtomic(this.path(name), text);
  }

  appendMetric(record: Record<string, unknown>): void {
    appendFileSync(this.path('metrics.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  /** Drops metric lines of `stage` after `step` (what a resumed stage will log again). */
  truncateMetrics(stage: string, step: number): void {
    if (!this.exists('metrics.jsonl')) return;
    const keep = readFileSync(this.path('metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => {
        if (!l) return false;
        const r = JSON.parse(l) as { stage?: string; step?: number };
        return r.stage !== stage || (r.step ?? 0) <= step;
      });
    this.writeText('metrics.jsonl', keep.map((l) => `${l}\n`).join(''));
  }
}

/** A CSV file with a fixed header, appended row by row; can be cut back to a step on resume. */
export class CsvLog {
  constructor(readonly file: string, readonly header: string[]) {
    if (!existsSync(file)) writeFileSync(file, `${header.join(',')}\n`);
  }

  append(rows: (string | number)[][]): void {
    if (rows.length) appendFileSync(this.file, rows.map((r) => `${r.join(',')}\n`).join(''));
  }

  /** Keeps the header and rows whose first column (the step) is ≤ step. */
  truncate(step: number): void {
    const lines = readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
    const kept = [lines[0]!, ...lines.slice(1).filter((l) => Number(l.split(',')[0]) <= step)];
    writeAtomic(this.file, kept.map((l) => `${l}\n`).join(''));
  }

  rows(): number[][] {
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(1)
      .map((l) => l.split(',').map(Number));
  }
}
