// Turns a worker's output stream into whole lines, for the `[rank]` prefix and the log: a chunk
// from a pipe may end mid-line, and a line printed half by one chunk and half by the next must
// still come out once, whole.

export class LineSplitter {
  private partial = "";

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop()!;
    for (const line of parts) this.onLine(line);
  }

  /** Emits a last line that had no newline. */
  flush(): void {
    if (this.partial !== "") this.onLine(this.partial);
    this.partial = "";
  }
}
