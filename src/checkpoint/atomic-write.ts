// Writes a file so that a crash at any moment leaves either the old file or the new one under the
// real name, never a mixture or a prefix.
//
// The sequence and why each step is there:
// 1. write to a temporary file in the SAME directory (rename is only atomic within a file system);
// 2. fsync the temporary file, so its bytes are on disk before its name can point at them
//    (otherwise a power cut after the rename can leave the real name on an empty file);
// 3. rename over the target: POSIX makes the switch atomic;
// 4. fsync the directory, so the rename itself survives a power cut.
// If the process dies between 1 and 3 a ".<name>.tmp-*" file is left behind; it is never read and
// can be deleted.

import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** The temporary name for `path`: hidden, beside it, unique per process and call. */
export function temporaryNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * The file name a temporary name (temporaryNameFor's) was made for, or undefined when `fileName`
 * is not one: how a folder's leftovers from killed writes are recognised and removed.
 */
export function temporaryTargetOf(fileName: string): string | undefined {
  return /^\.(.+)\.tmp-\d+-[0-9a-f]{8}$/.exec(fileName)?.[1];
}

/** Writes `bytes` to `path` atomically and durably (see the sequence above). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = temporaryNameFor(path);
  try {
    const file = await open(temporary, "wx");
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync; its rename is already durable enough (MoveFileEx).
  if (process.platform === "win32") return;
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
