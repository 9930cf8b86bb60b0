// scripts/check-layers.mjs run on small throwaway trees: each rule is shown to fire on a tree that
// breaks it and to stay quiet on one that keeps it, then the real tree is checked as `npm test`
// does.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const script = join(repo, "scripts", "check-layers.mjs");

/** Writes files (path under the tree -> source) into a fresh temp dir and runs the checker on it. */
function check(files: Record<string, string>): { status: number | null; out: string; err: string } {
  const root = mkdtempSync(join(tmpdir(), "weft-layers-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const run = spawnSync(process.execPath, [script, "--root", root], { encoding: "utf8" });
    return { status: run.status, out: run.stdout, err: run.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// A tree that keeps every rule: each layer imports down, the entry imports anything, the
// distributed entry imports its sub-layers, a lazy import points down.
const clean: Record<string, string> = {
  "src/util/rng.ts": "export const seed = 1;\n",
  "src/tensor/tensor.ts": 'import { seed } from "../util/rng.js";\nexport const t = seed;\n',
  "src/tensor/index.ts": 'export { t } from "./tensor.js";\n',
  "src/nn/linear.ts": 'import type { t } from "../tensor/index.js";\nexport type L = typeof t;\n',
  "src/distributed/base/errors.ts": "export class E extends Error {}\n",
  "src/distributed/group/group.ts": 'import { E } from "../base/errors.js";\nexport const g = () => import("../base/errors.js").then(() => E);\n',
  "src/distributed/index.ts": 'export * from "./group/group.js";\n',
  "src/cli/main.ts": '// import { x } from "../../weft.js" in a comment is not an import\nconst url = "http://x//y";\nexport const m = () => import("../nn/linear.js");\n',
  "src/index.ts": 'export * from "./tensor/index.js";\nexport * from "./distributed/index.js";\n',
};

test("a tree that keeps the layers passes", () => {
  const r = check(clean);
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /0 violation\(s\)/);
});

test("an import from a higher layer fails and names both files and both layers", () => {
  const r = check({ ...clean, "src/util/rng.ts": 'import type { L } from "../nn/linear.js";\nexport const seed = 1;\n' });
  assert.equal(r.status, 1);
  assert.match(r.err, /src\/util\/rng\.ts:1 \(util\) imports src\/nn\/linear\.ts \(nn\): nn sits above util/);
});

test("an upward import between distributed's sub-layers fails", () => {
  const r = check({ ...clean, "src/distributed/base/errors.ts": 'import { g } from "../group/group.js";\nexport class E extends Error {}\nexport { g };\n' });
  assert.equal(r.status, 1);
  assert.match(r.err, /\(distributed\/base\) imports src\/distributed\/group\/group\.ts \(distributed\/group\): distributed\/group sits above distributed\/base/);
});

test("a lazy import() from a higher layer counts as an import", () => {
  const r = check({ ...clean, "src/tensor/tensor.ts": 'export const t = 1;\nexport const later = () => import("../cli/main.js");\n' });
  assert.equal(r.status, 1);
  assert.match(r.err, /src\/tensor\/tensor\.ts:2 \(tensor\) imports src\/cli\/main\.ts \(cli\)/);
});

test("an entry imported from underneath it fails", () => {
  const pkgEntry = check({ ...clean, "src/cli/main.ts": 'export * from "../index.js";\n' });
  assert.equal(pkgEntry.status, 1);
  assert.match(pkgEntry.err, /src\/cli\/main\.ts:1 \(cli\) imports src\/index\.ts \(src entry\): a package entry imported from inside src\//);
  const distEntry = check({ ...clean, "src/distributed/group/group.ts": 'import "../index.js";\nexport const g = 1;\n' });
  assert.equal(distEntry.status, 1);
  assert.match(distEntry.err, /src\/distributed\/index\.ts imported from inside distributed\//);
  const folderIndex = check({ ...clean, "src/tensor/ops.ts": 'import { t } from "./index.js";\nexport const o = t;\n' });
  assert.equal(folderIndex.status, 1);
  assert.match(folderIndex.err, /src\/tensor\/ops\.ts:1 \(tensor\) imports src\/tensor\/index\.ts \(tensor\): a folder's index\.ts imported from inside that folder/);
});

test("an import cycle fails and prints the cycle in import order", () => {
  const r = check({
    ...clean,
    "src/nn/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
    "src/nn/b.ts": 'import { c } from "./c.js";\nexport const b = () => c;\n',
    "src/nn/c.ts": 'import type { a } from "./a.js";\nexport const c = 1;\nexport type A = typeof a;\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.err, /import cycle: src\/nn\/a\.ts -> src\/nn\/b\.ts -> src\/nn\/c\.ts -> src\/nn\/a\.ts/);
});

test("a loose file at the top of src/distributed fails, and so does a folder missing from the table", () => {
  const r = check({ ...clean, "src/distributed/helpers.ts": "export const h = 1;\n", "src/extras/x.ts": "export const x = 1;\n" });
  assert.equal(r.status, 1);
  assert.match(r.err, /src\/distributed\/helpers\.ts: a loose file at the top of src\/distributed\//);
  assert.match(r.err, /src\/extras\/x\.ts: folder "extras" is not in the layer table/);
});

test("the repository's own tree passes the layer check", () => {
  const run = spawnSync(process.execPath, [script], { cwd: repo, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
});
