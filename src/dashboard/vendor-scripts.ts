// The charting library the page draws with, served from this package's own dependencies (Vega and
// Vega-Lite, the same versions the compare report renders with), so the page works offline and
// asks nothing of a CDN. Their packages export only their entry modules, so the browser builds
// beside them are found from where those entries resolve.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The browser builds the page loads, by the path it asks for them under. */
export const VENDOR_FILES: Readonly<Record<string, { pkg: string; file: string }>> = {
  "/vendor/vega.min.js": { pkg: "vega", file: "vega.min.js" },
  "/vendor/vega-lite.min.js": { pkg: "vega-lite", file: "vega-lite.min.js" },
};

const cache = new Map<string, Buffer>();

/** The bytes of one vendor script (read once); throws a one-line error when the package is not installed. */
export function vendorScript(path: string): Buffer | undefined {
  const v = VENDOR_FILES[path];
  if (!v) return undefined;
  let bytes = cache.get(path);
  if (!bytes) {
    try {
      bytes = readFileSync(join(dirname(fileURLToPath(import.meta.resolve(v.pkg))), v.file));
    } catch (err) {
      throw new Error(`the dashboard cannot find ${v.pkg}'s browser build ${v.file} (${(err as Error).message}); reinstall weft's dependencies (npm install)`);
    }
    cache.set(path, bytes);
  }
  return bytes;
}
