// `weft bench compression` end to end on a tiny GPT: two hooks over one 100 Mbit/s link between
// two network namespaces. The lines carry every field; PowerSGD's bytes per step sit below DDP's
// by the ratio the parameter shapes give (docs/compression.md, Bytes per step), counted here from
// the model's own shapes; the links (namespaces, veths, qdiscs) are gone afterwards, also after a
// SIGINT in the middle of a run. Needs root and iproute2 (CI runs as root and installs it).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { netnsLinkProblem } from "../../src/bench/netns-link.js";
import { TEXT_VOCAB_SIZE } from "../../src/data/index.js";
import { TinyGpt } from "../../src/models/tiny-gpt.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
const skip = netnsLinkProblem();

const MODEL = { layers: 1, dim: 32, heads: 4, context: 16 };
const RECIPE_FLAGS = ["--", "--layers", "1", "--dim", "32", "--context", "16", "--windows", "256", "--val-windows", "16", "--ngram-order", "1"];
const TINY = ["--links", "100mbit", "--steps", "5", "--batch", "4", ...RECIPE_FLAGS];

/** Every namespace, link and qdisc name of this host and its namespaces that a bench link would use. */
function benchLeftovers(): string[] {
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith("weft-link-"));
  const links = spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout.split("\n").filter((l) => /\bwlk[0-9a-f]{6}[ab]\b/.test(l));
  const qdiscs = spawnSync("tc", ["qdisc", "show"], { encoding: "utf8" }).stdout.split("\n").filter((l) => /\bwlk[0-9a-f]{6}[ab]\b/.test(l));
  return [...namespaces, ...links, ...qdiscs];
}

/** Floats per step and rank of DDP and of PowerSGD rank r, from the parameters' shapes alone. */
function floatsPerStep(r: number): { ddp: number; powersgd: number } {
  const model = new TinyGpt({ vocab: TEXT_VOCAB_SIZE, ...MODEL });
  let ddp = 0;
  let powersgd = 0;
  for (const p of model.parameters()) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const rows = p.shape.length >= 2 ? p.shape[0]! : 1;
    const cols = size / rows;
    ddp += size;
    powersgd += r * (rows + cols) < size ? r * (rows + cols) : size;
  }
  return { ddp, powersgd };
}

test("weft bench compression refuses a bad hook, link or recipe flag in one line", () => {
  const cases: [string[], RegExp][] = [
    [["--hooks", "none,zip"], /^weft bench compression: --hooks must be none, bf16, powersgd:R\[:W\]\[:bf16\] .* got "zip"$/],
    [["--hooks", "none,none"], /^weft bench compression: --hooks names none twice/],
    [["--links", "fast"], /^weft bench compression: --links: "fast" is not a link speed: write unlimited or a rate such as 100mbit/],
    [["--steps", "0"], /^weft bench compression: --steps must be an integer >= 1, got "0"$/],
    [["--", "--dim", "x"], /^weft bench compression --recipe gpt-text --: --dim must be an integer from 4 to 4096, got "x"$/],
  ];
  for (const [args, message] of cases) {
    const run = spawnSync(process.execPath, [weft, "bench", "compression", ...args], { cwd: root, encoding: "utf8" });
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    assert.match(run.stderr.trimEnd(), message);
  }
});

test("PowerSGD rank 4 sends the formula's fraction of DDP's bytes over a capped link, and the links are removed", { skip }, () => {
  const before = benchLeftovers();
  const run = spawnSync(process.execPath, [weft, "bench", "compression", "--hooks", "none,powersgd:4", ...TINY], { cwd: root, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.hook), ["none", "powersgd:4"]);
  for (const l of lines) {
    assert.deepEqual([l.bench, l.recipe, l.link, l.link_mbit, l.workers, l.steps, l.transport, l.replicas_identical], ["compression", "gpt-text", "100mbit", 100, 2, 5, "tcp", true]);
    for (const k of ["bytes_per_step", "step_ms_median", "wait_ms_median", "wall_s", "train_loss", "value"]) assert.ok(Number.isFinite(l[k]) && (l[k] as number) >= 0, `${k}: ${l[k]}`);
    assert.equal(l.metric, "val_loss");
  }
  const [ddp, psgd] = lines.map((l) => l.bytes_per_step as number) as [number, number];
  const floats = floatsPerStep(4);
  // Two ranks: the ring (or recursive doubling) sends each rank's whole buffer once; frames add headers.
  assert.ok(Math.abs(ddp / (4 * floats.ddp) - 1) < 0.01, `DDP sent ${ddp} bytes a step, 4 x ${floats.ddp} floats expected`);
  const expected = floats.ddp / floats.powersgd;
  assert.ok(expected > 4, `the tiny model compresses ${expected}x: make it wider`);
  assert.ok(Math.abs(ddp / psgd / expected - 1) < 0.05, `PowerSGD sent ${psgd} bytes a step against DDP's ${ddp}: ${(ddp / psgd).toFixed(3)}x, the formula ${expected.toFixed(3)}x`);
  assert.match(run.stderr, /link +hook +bytes\/step .*\n100mbit +none .*\n100mbit +powersgd:4 /);
  assert.deepEqual(benchLeftovers(), before);
});

test("a SIGINT in the middle of a run stops it and removes the link", { skip }, async () => {
  const before = benchLeftovers();
  const child = spawn(process.execPath, [weft, "bench", "compression", "--hooks", "none", "--links", "100mbit", "--steps", "100000", "--batch", "4", ...RECIPE_FLAGS], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d));
  // Training has started once rank 0's run folder has a metrics line: wait for the link and a moment more.
  const deadline = Date.now() + 60_000;
  while (benchLeftovers().length === before.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(benchLeftovers().length > before.length, `the bench made no link: ${err}`);
  await new Promise((r) => setTimeout(r, 1500));
  child.kill("SIGINT");
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 130, err);
  assert.match(err, /SIGINT: stopping the runs and removing the links/);
  assert.deepEqual(benchLeftovers(), before);
});
