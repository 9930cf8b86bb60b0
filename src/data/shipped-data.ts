// Finds a table Weft ships in its data/ folder (data/README.md), from this module's place: the
// package root is the first folder above it that holds a package.json and data/<name>, whether
// the module runs from src/ or from dist/src/.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The path of data/<name> in the weft package; `reader` names the function that reads a user's own copy, for the error. */
export function shippedDataPath(name: string, reader: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "data", name);
    if (existsSync(candidate) && existsSync(join(dir, "package.json"))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`data/${name} was not found above the weft package's modules: reinstall weft, or read your own copy with ${reader}(path)`);
    dir = up;
  }
}
