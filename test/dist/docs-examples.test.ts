// Runs every example of docs/distributed.md: a fenced js block preceded by
// `<!-- example: inline -->` runs as a script, one preceded by `<!-- example: launch N -->` runs as
// the worker of an N-process job started by the launcher. `from "weft"` is pointed at the
// communication layer's entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchJob } from "../../src/dist/launch/launcher.js";
import { generateSecret } from "../../src/dist/secret.js";

const docPath = fileURLToPath(new URL("../../../docs/distributed.md", import.meta.url));
const entry = new URL("../../src/dist/index.js", import.meta.url).href;
const examples = [...readFileSync(docPath, "utf8").matchAll(/<!-- example: (inline|launch (\d+)) -->\n```js\n([\s\S]*?)```/g)].map((m, i) => ({
  name: `example ${i + 1} (${m[1]})`,
  nproc: m[2] === undefined ? 0 : Number(m[2]),
  code: m[3]!.replaceAll('from "weft"', `from "${entry}"`),
}));

test("docs/distributed.md has runnable examples", () => {
  assert.ok(examples.length >= 4, `found ${examples.length}`);
});

for (const ex of examples) {
  test(`docs/distributed.md ${ex.name} runs`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-doc-"));
    try {
      const file = join(dir, "example.mjs");
      writeFileSync(file, ex.code);
      if (ex.nproc === 0) {
        const r = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 20_000 });
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        return;
      }
      const lines: string[] = [];
      const result = await launchJob({
        nproc: ex.nproc, nnodes: 1, nodeRank: 0, rdzvHost: "127.0.0.1", rdzvPort: 0, secret: generateSecret(),
        script: file, args: [], runDir: join(dir, "run"), graceMs: 1000, liveMetrics: false,
        onLine: (rank, _s, line) => lines.push(`[${rank}] ${line}`), log: (m) => lines.push(m),
      });
      assert.equal(result.exitCode, 0, lines.join("\n"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
