// Every `@example` in the sources' doc comments runs, so an example cannot drift from the code
// it documents (Deno's `deno test --doc`). An example sees the public API ("weft"), its folder's
// index and the exports of its own module (for examples of internals such as the launcher's
// argument parser) as globals, may import from "weft", and may use `assert`. Each runs in its own process in a
// fresh temporary directory.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const entry = pathToFileURL(join(root, "dist/src/index.js")).href;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

interface DocExample {
  file: string;
  title: string;
  source: string;
}

/** The ```ts blocks after `@example` in doc comments, with the comment's ` * ` taken off. */
function examplesIn(file: string): DocExample[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/@example ?([^\n]*)\n((?:\s*\*[^\n]*\n)*?)\s*\*\s*```ts\n((?:\s*\*[^\n]*\n)*?)\s*\*\s*```/g)].map((m) => ({
    file,
    title: m[1]!.trim() || "example",
    source: m[3]!.split("\n").map((l) => l.replace(/^\s*\* ?/, "")).join("\n"),
  }));
}

function compile(ex: DocExample): string {
  const own = join(root, "dist", relative(root, ex.file)).replace(/\.ts$/, ".js");
  const folderIndex = join(dirname(own), "index.js");
  const scopes = [entry, ...(existsSync(folderIndex) ? [pathToFileURL(folderIndex).href] : []), pathToFileURL(own).href];
  const prelude = [
    `import assert from "node:assert/strict";`,
    ...scopes.map((url, i) => `import * as __scope${i} from "${url}";`),
    `Object.assign(globalThis, ${scopes.map((_, i) => `__scope${i}`).join(", ")});`,
  ].join("\n");
  const body = ex.source.replaceAll(/from "weft"/g, `from "${entry}"`);
  return ts.transpileModule(`${prelude}\n${body}`, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

const all = sources(join(root, "src")).flatMap(examplesIn);

test("the sources have doc examples to run", () => {
  assert.ok(all.length >= 10, `found only ${all.length}`);
});

for (const ex of all) {
  test(`${relative(root, ex.file)}: ${ex.title}`, () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-jsdoc-"));
    try {
      writeFileSync(join(dir, "example.mjs"), compile(ex));
      const run = spawnSync(process.execPath, ["example.mjs"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
      assert.equal(run.status, 0, `example failed:\n${ex.source}\n--- stderr ---\n${run.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
