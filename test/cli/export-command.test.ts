// `weft export` end to end on a real run folder: `weft train mnist --workers 2 --max-steps 4
// --eval-every 1` writes it (a few seconds), and every format's output is checked against the
// rank files it came from, read here line by line (the rows docs/export.md's rules give,
// test/report/metrics-export-check.ts), TensorBoard's through protobuf's Python runtime. Then bad
// input, each refused in one line with exit status 2 and nothing written, and docs/export.md's
// example, run as the page shows it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeEventFiles, expectedEvents, expectedRows, parseCsv, type Row } from "../report/metrics-export-check.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const WEFT = join(root, "dist/src/cli/main.js");

function weft(args: string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let run: string;
/** Each rank's rows, from its file, in the documented order: by step, then kind, then rank. */
let rows: Row[];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "weft-export-cli-"));
  run = join(dir, "run");
  const train = weft(["train", "mnist", "--workers", "2", "--net", "small", "--max-steps", "4", "--eval-every", "1", "--run-dir", run, "--json"]);
  assert.equal(train.status, 0, train.stderr);
  const byRank = [0, 1].map((rank) =>
    expectedRows(rank, readFileSync(join(run, `rank-${rank}.jsonl`), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)),
  );
  const kindOrder = (r: Row): number => (r.kind === "step" ? 0 : 1);
  rows = byRank.flat().sort((a, b) => (a.step as number) - (b.step as number) || kindOrder(a) - kindOrder(b) || (a.rank as number) - (b.rank as number));
  assert.deepEqual(rows.filter((r) => r.kind === "step").map((r) => [r.step, r.rank]), [1, 2, 3, 4].flatMap((s) => [[s, 0], [s, 1]]), "4 steps of 2 ranks");
  assert.ok(rows.some((r) => r.kind === "eval" && r.rank === 0 && typeof r.test_accuracy === "number"), "rank 0 evaluated");
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("csv and jsonl of a real 2-worker run: every step and eval line of both rank files, value for value, into RUN_DIR/export by default", () => {
  const csv = weft(["export", run, "--format", "csv"]);
  assert.equal(csv.status, 0, csv.stderr);
  const csvPath = join(run, "export", "metrics.csv");
  assert.equal(csv.stdout, `weft export: wrote ${rows.length} rows (ranks 0, 1; steps 1 to 4; 1 evaluation) to ${csvPath}\n`);
  const [header, ...cells] = parseCsv(readFileSync(csvPath, "utf8"));
  assert.deepEqual(header!.slice(0, 6), ["kind", "rank", "step", "epoch", "time", "wall_s"]);
  assert.deepEqual(
    cells.map((line) => Object.fromEntries(line.flatMap((c, i) => (c === "" ? [] : [[header![i]!, c]])))),
    rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]))),
  );

  const jsonl = weft(["export", run, "--format", "jsonl"]);
  assert.equal(jsonl.status, 0, jsonl.stderr);
  const lines = readFileSync(join(run, "export", "metrics.jsonl"), "utf8").trimEnd().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l) as Row), rows);
});

test("tensorboard of a real 2-worker run: a run per rank, its steps' scalars and rank 0's evaluation as protobuf's Python runtime reads them", () => {
  const out = join(dir, "tb");
  const r = weft(["export", run, "--format", "tensorboard", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `weft export: wrote 2 event files (ranks 0, 1; steps 1 to 4; 1 evaluation) to ${out}: tensorboard --logdir ${out}\n`);
  const files = [0, 1].map((rank) => join(out, `rank-${rank}`, readdirSync(join(out, `rank-${rank}`))[0]!));
  const decoded = decodeEventFiles(files);
  for (const [rank, path] of files.entries()) {
    const events = expectedEvents(rows.filter((row) => row.rank === rank));
    assert.equal(path, join(out, `rank-${rank}`, `events.out.tfevents.${Math.floor(events[0]!.wall_time)}.weft`));
    assert.deepEqual(decoded[path], events);
  }
  assert.ok(decoded[files[0]!]!.some((e) => e.values?.["eval/test_accuracy"] !== undefined), "rank 0's run shows its evaluation");
  assert.ok(decoded[files[1]!]!.every((e) => e.values?.["wait_for/0"] !== undefined || e.file_version), "rank 1's run shows how long it waited for rank 0");
});

test("bad input is one line and exit status 2, and writes nothing", () => {
  const empty = join(dir, "not-a-run");
  mkdirSync(empty);
  writeFileSync(join(empty, "rank-0.log"), "");
  const report = join(dir, "compare-report");
  mkdirSync(report);
  writeFileSync(join(report, "results.json"), "{}");
  writeFileSync(join(dir, "a-file"), "");
  const mine = join(dir, "mine");
  mkdirSync(mine);
  writeFileSync(join(mine, "notes.txt"), "keep me");
  const snapshot = (): string[][] => [dir, run, empty, mine, report].map((d) => readdirSync(d).sort());
  const before = snapshot();
  for (const [args, message] of [
    [["export", join(dir, "missing"), "--format", "csv"], /missing is not a folder; give a run folder/],
    [["export", empty, "--format", "csv"], /not-a-run holds no rank-<r>\.jsonl, so no metrics/],
    [["export", report, "--format", "csv"], /compare-report holds no rank-<r>\.jsonl, so no metrics; a weft compare report holds its configurations' runs: export one of their folders/],
    [["export", run, "--format", "xml"], /--format must be one of csv, jsonl, tensorboard, got "xml"/],
    [["export", run], /which format\? add --format csv, jsonl or tensorboard/],
    [["export", run, "--format", "csv", "--out", join(dir, "a-file", "m.csv")], /cannot write .*a-file\/m\.csv: part of the path is a file, not a folder/],
    [["export", run, "--format", "jsonl", "--out", join(dir, "nowhere", "m.jsonl")], /cannot write .*nowhere\/m\.jsonl: its folder does not exist/],
    [["export", run, "--format", "tensorboard", "--out", mine], /will not replace .*mine: it holds notes\.txt, which no export wrote/],
  ] as const) {
    const r = weft([...args]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^weft export: [^\n]+\n$/, `one line for ${args.join(" ")}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
  assert.deepEqual(snapshot(), before, "no folder gained or lost a file");
  assert.equal(readFileSync(join(mine, "notes.txt"), "utf8"), "keep me");
});

test("docs/export.md's example prints the line and writes the CSV the page shows", () => {
  const doc = readFileSync(join(root, "docs/export.md"), "utf8");
  const block = (label: string): string => {
    const m = new RegExp(`<!-- export example: ${label.replaceAll(".", "\\.")} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(doc);
    assert.ok(m, `docs/export.md has the example's ${label}`);
    return m[1]!;
  };
  const work = join(dir, "doc-example");
  mkdirSync(join(work, "run"), { recursive: true });
  for (const file of ["run/rank-0.jsonl", "run/rank-1.jsonl"]) writeFileSync(join(work, file), block(file));
  const [command, printed] = block("command").trimEnd().split("\n");
  assert.match(command!, /^weft export /);
  const r = weft(command!.split(" ").slice(1), work);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(`# ${r.stdout}`, `${printed}\n`);
  assert.equal(readFileSync(join(work, "metrics.csv"), "utf8"), block("metrics.csv").replaceAll("\n", "\r\n"));
});
