// Saving and loading checkpoint files: safetensors encoding plus an atomic write, and a load that
// checks everything ./safetensors-decode.ts checks.

import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "./atomic-write.js";
import { CheckpointError } from "./checkpoint-error.js";
import type { NamedArray } from "./named-array.js";
import { decodeSafetensors, type Checkpoint } from "./safetensors-decode.js";
import { encodeSafetensors } from "./safetensors-encode.js";

/**
 * Saves tensors and metadata to `path` (conventionally `*.safetensors`) atomically: a crash
 * leaves the previous file intact. Metadata conventions: Note [checkpoint metadata keys].
 *
 * @example Save and load
 * ```ts
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
 * const path = join(dir, "step-100.safetensors");
 * await saveCheckpoint(path, { w: { dtype: "F32", shape: [1], data: new Float32Array([3]) } }, { "weft.step": "100" });
 * const ckpt = await loadCheckpoint(path);
 * assert.equal(ckpt.metadata["weft.step"], "100");
 * rmSync(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  try {
    await writeFileAtomic(path, bytes);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT" ? `the directory ${dirname(path)} does not exist: create it first`
      : code === "ENOSPC" ? "the disk is full: free space or save elsewhere; the previous checkpoint is intact"
      : `${(error as Error).message}; the previous checkpoint, if any, is intact`;
    throw new Error(`cannot save checkpoint ${path} (${bytes.length} bytes): ${hint}`, { cause: error });
  }
}

/** Loads and verifies a checkpoint; throws CheckpointError for a missing or damaged file. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === "ENOENT" ? "no such file: check the path" : `${(error as Error).message}`;
    throw new CheckpointError(`cannot load checkpoint ${path}: ${hint}`, { source: path });
  }
  return decodeSafetensors(bytes, path);
}
