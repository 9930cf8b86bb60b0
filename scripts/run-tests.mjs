#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, which prints
// the closing pass/fail count. Arguments narrow the run to files whose path contains them.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".test.js") ? [join(dir, e.name)] : [],
  );
}
const filters = process.argv.slice(2);
const compiled = walk("dist/test")
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
// tsc never deletes outputs: a test whose source was removed or renamed would still run from an
// old dist/ (and fail, or pass on code that no longer exists). Run only tests that have a source.
const sourceOf = (f) => f.replace(/^dist[\\/]/, "").replace(/\.js$/, ".ts");
const stale = compiled.filter((f) => !existsSync(sourceOf(f)));
for (const f of stale) console.log(`run-tests: skipping ${f}: ${sourceOf(f)} no longer exists (delete dist/ to clear old outputs)`);
const files = compiled.filter((f) => !stale.includes(f));
// A test that hangs fails by name after this long instead of holding the run until CI kills it;
// no test comes near it, even on a loaded machine. The flag arrived during Node 20: ask this node.
const timeout = spawnSync(process.execPath, ["--test-timeout=1", "-e", ""]).status === 0 ? ["--test-timeout=600000"] : [];
const run = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...timeout, ...files], { stdio: "inherit" });
process.exit(run.status ?? 1);
