// Every ```ts and ```js example in README.md and docs/*.md runs, so the docs cannot drift from the
// code. An example imports from "weft" or "weft/launch" (pointed at this checkout's build) and may use `assert`.
// Each runs in its own process, in a fresh temporary directory, with a deadline; an example
// preceded by `<!-- example: launch N -->` runs as the worker script of an N-process job started
// by the launcher; `<!-- example: launch N elastic -->` as an elastic one (--min 1, a failed worker
// does not stop the others).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { launchJob } from "../../src/distributed/launch/launcher.js";
import { generateSecret } from "../../src/distributed/wire/secret.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const entries: Record<string, string> = {
  weft: pathToFileURL(join(root, "dist/src/index.js")).href,
  "weft/launch": pathToFileURL(join(root, "dist/src/launch.js")).href,
};

interface Example {
  source: string;
  /** Workers to launch it on; 0 runs it as a plain script. */
  nproc: number;
  elastic: boolean;
}

function examplesIn(file: string): Example[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:<!-- example: (?:inline|launch (\d+)( elastic)?) -->\n)?```(?:ts|js)\n([\s\S]*?)```/g)].map((m) => ({
    source: m[3]!,
    nproc: m[1] === undefined ? 0 : Number(m[1]),
    elastic: m[2] !== undefined,
  }));
}

/** The example as an ES module: TypeScript stripped, "weft" resolved, assert imported. */
function compile(source: string): string {
  const withAssert = /from "node:assert/.test(source) ? source : `import assert from "node:assert/strict";\n${source}`;
  return ts.transpileModule(withAssert.replaceAll(/from "(weft(?:\/launch)?)"/g, (_m, name: string) => `from "${entries[name]}"`), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
}

const files = [join(root, "README.md"), ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(root, "docs", f))]
  .filter((f) => existsSync(f));

for (const file of files) {
  examplesIn(file).forEach((example, i) => {
    test(`${file.slice(root.length)} example ${i + 1} runs`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "weft-doc-"));
      try {
        writeFileSync(join(dir, "example.mjs"), compile(example.source));
        if (example.nproc === 0) {
          const run = spawnSync(process.execPath, ["example.mjs"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
          assert.equal(run.status, 0, `example failed:\n${example.source}\n--- stderr ---\n${run.stderr}`);
          return;
        }
        const lines: string[] = [];
        const job = await launchJob({
          nproc: example.nproc, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, secret: generateSecret(),
          script: join(dir, "example.mjs"), args: [], runDir: join(dir, "run"), graceMs: 1000, liveMetrics: false,
          onLine: (rank, _stream, line) => lines.push(`[${rank}] ${line}`), log: (m) => lines.push(m),
          ...(example.elastic ? { elastic: { min: 1, max: example.nproc, maxRestarts: 0 } } : {}),
        });
        assert.equal(job.exitCode, 0, `example failed:\n${example.source}\n--- output ---\n${lines.join("\n")}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
