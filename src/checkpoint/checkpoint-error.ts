// The one error type the checkpoint code throws, so callers can tell "this file is bad" (restore
// an earlier checkpoint) apart from bugs and I/O failures they may want to retry.

/** Where a checkpoint problem was found: the file (or buffer label) and, when it applies, the tensor. */
export interface CheckpointErrorSite {
  source: string;
  tensor?: string;
}

/**
 * A checkpoint was refused: it is malformed, corrupted, or does not match what the caller expected.
 * The message names the file, the tensor when there is one, what was expected versus found, and
 * what to do next.
 */
export class CheckpointError extends Error {
  readonly source: string;
  readonly tensor: string | undefined;

  constructor(message: string, site: CheckpointErrorSite) {
    super(message);
    this.name = "CheckpointError";
    this.source = site.source;
    this.tensor = site.tensor;
  }
}
