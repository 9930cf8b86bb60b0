// Where the communication layer reports what it refused or lost. Refusals (a stranger without the
// secret, a malformed frame) are logged rather than thrown: the job goes on.

export type Logger = (message: string) => void;

/** Writes `weft dist: <message>` to stderr. */
export const stderrLogger: Logger = (message) => {
  process.stderr.write(`weft dist: ${message}\n`);
};
