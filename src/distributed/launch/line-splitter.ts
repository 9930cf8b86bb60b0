// Turns a worker's output stream into whole lines (for the `[rank]` prefix) and remembers the
// last few, which the launcher prints when that worker fails.

export class LineSplitter {
  private partial = "";
  private readonly recent: string[] = [];

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly keep = 20,
  ) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop()!;
    for (const line of parts) this.emit(line);
  }

  /** Emits a last line that had no newline. */
  flush(): void {
    if (this.partial !== "") this.emit(this.partial);
    this.partial = "";
  }

  /** The last lines seen, oldest first. */
  tail(): string[] {
    return [...this.recent];
  }

  private emit(line: string): void {
    this.recent.push(line);
    if (this.recent.length > this.keep) this.recent.shift();
    this.onLine(line);
  }
}
