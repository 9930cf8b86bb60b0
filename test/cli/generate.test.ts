// `weft generate`: rebuilds a gpt-text model from a checkpoint that weft train wrote and writes
// from it, the same text generateText writes from the same parameters; a checkpoint of a recipe
// that does not write text, or a path that holds none, is refused in one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { TinyGpt } from "../../src/models/tiny-gpt.js";
import { generateText, gptText } from "../../src/recipes/gpt-text.js";
import { loadTrainingCheckpoint } from "../../src/train/training-checkpoint.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const dir = mkdtempSync(join(tmpdir(), "weft-generate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
const model = ["--layers", "1", "--dim", "16", "--heads", "2", "--context", "16"];

test("weft generate writes from a gpt-text checkpoint what generateText writes from its parameters", async () => {
  const ck = join(dir, "gpt");
  const trained = run(["train", "gpt-text", "--max-steps", "4", ...model, "--val-windows", "8", "--checkpoint-dir", ck, "--json"]);
  assert.equal(trained.status, 0, trained.stderr);

  const greedy = run(["generate", ck, "--prompt", "Call me Ishmael", "--chars", "30", "--temperature", "0"]);
  assert.equal(greedy.status, 0, greedy.stderr);
  const settings = { ...gptText.defaults, options: { layers: 1, dim: 16, heads: 2, context: 16 } };
  const reference = gptText.model(settings) as TinyGpt;
  await loadTrainingCheckpoint(join(ck, "step-4.safetensors"), { model: reference });
  assert.equal(greedy.stdout, `Call me Ishmael${generateText(reference, "Call me Ishmael", 30, { temperature: 0 })}\n`);

  // Sampling is seeded: the same seed writes the same text, from the folder or its file.
  const a = run(["generate", ck, "--chars", "50", "--seed", "7"]);
  const b = run(["generate", join(ck, "step-4.safetensors"), "--chars", "50", "--seed", "7"]);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.equal(a.stdout, `Call me ${generateText(reference, "Call me ", 50, { temperature: 0.8, seed: 7 })}\n`);
});

test("weft generate refuses a checkpoint of a recipe that does not write text, and a folder with none", () => {
  const ck = join(dir, "mnist");
  const trained = run(["train", "mnist", "--max-steps", "1", "--checkpoint-dir", ck, "--json"]);
  assert.equal(trained.status, 0, trained.stderr);
  const refused = run(["generate", ck]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /is a checkpoint of recipe mnist, which does not write text; the recipes that do: gpt-text/);
  assert.equal(refused.stderr.trim().split("\n").length, 1);
  const empty = run(["generate", dir]);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /holds no checkpoint/);
  const missing = run(["generate", join(dir, "nothing-here")]);
  assert.match(missing.stderr, /does not exist; give a checkpoint file or a run's --checkpoint-dir/);
});
