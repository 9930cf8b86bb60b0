// `weft bench`: every flag of every bench is checked (one line, exit 2, naming the flag and what
// it accepts), an unknown bench lists the benches, and each bench runs on a tiny budget.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[]) {
  return spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

const refused: [string[], RegExp][] = [
  [["bench"], /^weft bench: which bench\? the benches are mnist-cnn, gpt-tiny, allreduce/],
  [["bench", "resnet"], /^weft bench: unknown bench "resnet"; the benches are mnist-cnn, gpt-tiny, allreduce, compression$/],
  [["bench", "mnist-cnn", "--steps", "0"], /^weft bench mnist-cnn: --steps must be an integer >= 1, got "0"$/],
  [["bench", "mnist-cnn", "--steps", "1.5"], /^weft bench mnist-cnn: --steps must be an integer >= 1, got "1\.5"$/],
  [["bench", "mnist-cnn", "--batch", "-1"], /^weft bench mnist-cnn: --batch must be an integer from 1 to 65536, got "-1"$/],
  [["bench", "gpt-tiny", "--warmup", "x"], /^weft bench gpt-tiny: --warmup must be an integer >= 0, got "x"$/],
  [["bench", "gpt-tiny", "--bogus"], /^weft bench gpt-tiny: unknown option --bogus; known: --steps, --warmup, --batch, --profile, --precision, --json, --help$/],
  [["bench", "mnist-cnn", "fast"], /^weft bench mnist-cnn: unexpected argument "fast"/],
  [["bench", "allreduce", "--bogus"], /^weft bench allreduce: unknown option --bogus; known: --workers, --sizes, .*--json, --help$/],
  [["bench", "allreduce", "--workers", "1"], /^weft bench allreduce: --workers must be an integer >= 2, got "1"$/],
  [["bench", "allreduce", "--workers", "1000"], /^weft bench allreduce: --workers 1000 is more than 2 workers per CPU .* pass --oversubscribe/],
  [["bench", "allreduce", "--sizes", "4096,6"], /^weft bench allreduce: --sizes: "6" is not a positive multiple of 4 bytes/],
  [["bench", "allreduce", "--sizes", "4096,,8"], /^weft bench allreduce: --sizes: "" is not a positive multiple of 4 bytes/],
  [["bench", "allreduce", "--iters", "0"], /^weft bench allreduce: --iters must be an integer >= 5, got "0"$/],
  [["bench", "allreduce", "--transport", "udp"], /^weft bench allreduce: --transport must be one of shm, tcp, got "udp"$/],
  [["bench", "allreduce", "--wire", "f64"], /^weft bench allreduce: --wire must be one of f32, bf16, f16, got "f64"$/],
  [["bench", "allreduce", "--segment-bytes", "6"], /^weft bench allreduce: --segment-bytes must be a multiple of 4, got 6$/],
  [["bench", "allreduce", "--segment-bytes", "1073741824"], /^weft bench allreduce: --segment-bytes must be an integer from 4 to 67108864/],
];

for (const [args, message] of refused) {
  test(`weft ${args.join(" ")} is refused in one line with exit status 2`, () => {
    const run = weftRun(args);
    assert.equal(run.status, 2, run.stderr);
    const lines = run.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, message);
    assert.equal(run.stdout, "");
  });
}

test("weft bench --help lists the benches, and each bench's --help its options", () => {
  const all = weftRun(["bench", "--help"]);
  assert.equal(all.status, 0);
  assert.match(all.stdout, /mnist-cnn .*\n.*gpt-tiny .*\n.*allreduce /);
  const one = weftRun(["bench", "allreduce", "-h"]);
  assert.equal(one.status, 0);
  assert.match(one.stdout, /--transport shm\|tcp +shared memory, or TCP over loopback \(default shm\)/);
});

test("weft bench mnist-cnn --json runs on a tiny budget and prints one JSON line", () => {
  const run = weftRun(["bench", "mnist-cnn", "--steps", "1", "--warmup", "0", "--batch", "2", "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual([result.bench, result.batch, result.steps], ["mnist-cnn", 2, 1]);
});

test("weft bench allreduce --json runs its workers with the checked options and prints a line per size", () => {
  const run = weftRun(["bench", "allreduce", "--json", "--sizes", "4096,65536", "--iters", "5", "--budget-mib", "1", "--wire", "bf16"]);
  assert.equal(run.status, 0, run.stderr);
  const rows = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((r) => [r.bench, r.bytes, r.workers, r.wire, r.iters]), [["allreduce", 4096, 2, "bf16", 5], ["allreduce", 65536, 2, "bf16", 5]]);
});

test("weft bench gpt-tiny --precision bf16-anywhere multiplies in bf16 and says so on its line", () => {
  const run = weftRun(["bench", "gpt-tiny", "--steps", "1", "--warmup", "0", "--batch", "2", "--precision", "bf16-anywhere"]);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(result.precision, "bf16");
  assert.match(String(result.bf16_path), /^(emulated|avx512bf16|amx)$/);
  const plain = JSON.parse(weftRun(["bench", "gpt-tiny", "--steps", "1", "--warmup", "0", "--batch", "2"]).stdout) as Record<string, unknown>;
  assert.equal(plain.precision, "f32");
});
