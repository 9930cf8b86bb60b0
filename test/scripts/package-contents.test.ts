// What `npm publish` would ship, read from `npm pack --dry-run --json` in the repository root:
// the compiled library, the CLI, and everything `npm install` needs to build the addon, and none
// of the tests, benchmarks or their compiled copies. --ignore-scripts skips `prepare` (a full tsc
// run): `npm test` has just built dist/, and the file list does not depend on rebuilding it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../../", import.meta.url));

function packedPaths(): string[] {
  // npm on Windows is npm.cmd; this project builds on Linux and macOS only, so "npm" suffices.
  const run = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repo, encoding: "utf8" });
  assert.equal(run.status, 0, `npm pack --dry-run failed (is npm on PATH?): ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { files: { path: string }[] }[];
  return report[0]!.files.map((f) => f.path);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [relative(repo, join(dir, e.name)).split(sep).join("/")],
  );
}

test("the published package holds no tests or benchmarks, and holds the library, the CLI and the native build inputs", () => {
  const packed = packedPaths();
  const set = new Set(packed);
  const forbidden = ["dist/test/", "test/", "bench/", "dist/bench/"];
  const leaked = packed.filter((p) => forbidden.some((prefix) => p.startsWith(prefix)));
  assert.deepEqual(leaked, [], `these would be published; narrow "files" in package.json: ${leaked.join(", ")}`);

  const required = [
    "package.json", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/launch.js", "dist/src/cli/main.js",
    "binding.gyp", "scripts/build-native.mjs", "scripts/native-sources.mjs",
  ];
  // Every C++ source and header: `npm install` compiles the addon from them on the user's machine.
  const native = walk(join(repo, "native")).filter((p) => /\.(cc|h|inc)$/.test(p));
  assert.ok(native.some((p) => p.endsWith("addon.cc")), "native/addon.cc is missing from the checkout itself");
  const missing = [...required, ...native].filter((p) => !set.has(p));
  assert.deepEqual(missing, [], `these would be missing from the package; add them to "files" in package.json (or run tsc first): ${missing.join(", ")}`);
});
