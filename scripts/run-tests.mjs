#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, which prints
// the closing pass/fail count. Arguments narrow the run to files whose path contains them.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".test.js") ? [join(dir, e.name)] : [],
  );
}
const filters = process.argv.slice(2);
const files = walk("dist/test")
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const run = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(run.status ?? 1);
