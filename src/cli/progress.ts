/** Progress on long work: a redrawn line with ETA on a TTY, one line every `every` steps otherwise. */
export class Progress {
  private readonly start = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly every = 50,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!stream.isTTY;
  }

  /** `done` steps finished; `extra` is appended (running loss, images/s...). */
  update(done: number, extra = ''): void {
    if (!this.tty && done % this.every !== 0 && done !== this.total) return;
    const elapsed = (Date.now() - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const pct = ((100 * done) / this.total).toFixed(0).padStart(3);
    const line = `${this.label} ${pct}% ${done}/${this.total}  ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}  ${extra}`;
    if (this.tty) this.stream.write(`\r${line.padEnd(100).slice(0, Math.max(100, line.length))}${done === this.total ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}

export function fmtTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
