// `weft k8s` as a user runs it: bad flags are one line and exit 2 with nothing on stdout, a
// --secret-file's secret is the one stored, and docs/kubernetes.md shows exactly what the
// command prints for its 2-worker example (apart from the secret, new on every run).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const main = join(root, "dist/src/cli/main.js");

function k8s(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [main, "k8s", ...args], { encoding: "utf8" });
}

/** The secret's line, whatever its value. */
const SECRET_LINE = /^( {2}secret: ).*$/m;

test("bad flags are refused in one line naming the flag, with exit status 2 and no manifest", () => {
  const cases: [string[], RegExp][] = [
    [["--workers", "0", "--image", "weft:1", "--", "t.js"], /^weft k8s: --workers must be an integer >= 1, got "0"$/],
    [["--workers", "2", "--image", "Team/Weft:1", "--", "t.js"], /^weft k8s: --image "Team\/Weft:1" is not an image reference: give \[REGISTRY\/\]NAME\[:TAG\]/],
    [["--workers", "2", "--image", "weft:1", "--min", "3", "--", "t.js"], /^weft k8s: --min 3 is more than --workers 2: the job could never start$/],
    [["--workers", "2", "--image", "weft:1", "--min", "1", "--max", "1", "--", "t.js"], /^weft k8s: --max 1 is below --workers 2/],
    [["--workers", "2", "--image", "weft:1"], /^weft k8s: no script: end the command with -- script \[args\]/],
    [["--image", "weft:1", "--", "t.js"], /^weft k8s: --workers N is required/],
    [["--workers", "2", "--image", "weft:1", "--name", "My_Job", "--", "t.js"], /^weft k8s: --name "My_Job" is not a DNS label/],
    [["--workers", "2", "--image", "weft:1", "--memory", "lots", "--", "t.js"], /^weft k8s: --memory "lots" is not an amount of memory/],
    [["--workers", "2", "--image", "weft:1", "--etcd", "etcd-0", "--", "t.js"], /^weft k8s: --etcd needs HOST:PORT endpoints/],
    [["--workers", "2", "--image", "weft:1", "--", "train", "mnist"], /^weft k8s: weft train runs all its workers on one machine/],
  ];
  for (const [args, message] of cases) {
    const r = k8s(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", `${args.join(" ")} prints no manifest`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message);
  }
});

test("--secret-file's secret is the one in the Secret; without it every run makes a new one", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-k8s-"));
  try {
    const file = join(dir, "secret");
    writeFileSync(file, "a job secret of more than sixteen characters\n", { mode: 0o600 });
    const r = k8s(["--workers", "2", "--image", "weft:1", "--secret-file", file, "--", "t.js"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(SECRET_LINE.exec(r.stdout)?.[0], "  secret: a job secret of more than sixteen characters");
    const [a, b] = [k8s(["--workers", "2", "--image", "weft:1", "--", "t.js"]), k8s(["--workers", "2", "--image", "weft:1", "--", "t.js"])];
    assert.notEqual(SECRET_LINE.exec(a.stdout)?.[0], SECRET_LINE.exec(b.stdout)?.[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("docs/kubernetes.md shows exactly what weft k8s prints for its 2-worker example", () => {
  const doc = readFileSync(join(root, "docs/kubernetes.md"), "utf8");
  const section = doc.slice(doc.indexOf("## The manifests of a job of 2 workers"));
  const command = /^`weft k8s (.+)`$/m.exec(section)?.[1];
  assert.ok(command, "the section names the command it shows");
  const shown = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(shown, "the section has the YAML");
  const r = k8s(command.split(" "));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, SECRET_LINE);
  assert.equal(shown.replace(SECRET_LINE, "$1S"), r.stdout.replace(SECRET_LINE, "$1S"));
});
