// What every full-accuracy run does: `weft train <recipe> ...args --json` as a user runs it,
// failing with the command's stderr if it does not end well, and the result line, printed (the
// figures a run is quoted by) and parsed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

export function trainRecipe(recipe: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const run = spawnSync(process.execPath, [weft, "train", recipe, ...args, "--json"], { cwd: root, env, encoding: "utf8", timeout: timeoutMs });
  assert.equal(run.status, 0, `weft train ${recipe} failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  console.log(JSON.stringify(r));
  return r;
}
