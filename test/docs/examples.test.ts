// Every ```ts example in README.md and docs/*.md runs, so the docs cannot drift from the code.
// An example imports from "weft" (rewritten to this checkout's build) and may use `assert`.
// Each runs in its own process, in a fresh temporary directory, with a deadline.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const entry = pathToFileURL(join(root, "dist/src/index.js")).href;

function examplesIn(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const files = [join(root, "README.md"), ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(root, "docs", f))]
  .filter((f) => existsSync(f));

for (const file of files) {
  examplesIn(file).forEach((source, i) => {
    test(`${file.slice(root.length)} example ${i + 1} runs`, () => {
      const dir = mkdtempSync(join(tmpdir(), "weft-doc-"));
      try {
        const withAssert = /from "node:assert/.test(source) ? source : `import assert from "node:assert/strict";\n${source}`;
        const js = ts.transpileModule(withAssert.replaceAll(/from "weft"/g, `from "${entry}"`), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        writeFileSync(join(dir, "example.mjs"), js);
        const run = spawnSync(process.execPath, ["example.mjs"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
        assert.equal(run.status, 0, `example failed:\n${source}\n--- stderr ---\n${run.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
