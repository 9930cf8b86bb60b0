// Files a `weft train mnist --workers N` job leaves in its run folder besides the metrics.

/** Written by rank 0: the training result and the parameter digest. */
export const RESULT_FILE = "result.json";

/** Written by every other rank: its parameter digest, to compare with rank 0's. */
export const digestFile = (rank: number): string => `digest-${rank}.txt`;
