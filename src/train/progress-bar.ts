// A one-line progress bar on stderr, redrawn in place on a terminal and silent elsewhere (logs and
// pipes get the final summary instead of hundreds of carriage returns).

export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private lastDraw = 0;
  private drawn = false;
  private ended = false;

  constructor(private readonly label: string, private readonly total: number) {}

  /** Redraws at most ten times a second (and always at the end). */
  update(done: number, fields: Record<string, string | number>): void {
    if (!this.tty || this.ended) return;
    const now = performance.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((width * Math.min(done, this.total)) / this.total);
    const info = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join("  ");
    process.stderr.write(`\r${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${this.total}  ${info}\x1b[K`);
    this.drawn = true;
    if (done >= this.total) this.finish();
  }

  /** Ends the bar's line (also when training stopped early), so what follows starts on its own line. */
  finish(): void {
    if (this.drawn && !this.ended) process.stderr.write("\n");
    this.ended = true;
  }
}
