// `weft train` refuses bad input with one line on stderr and exit status 2, naming the flag and
// what it accepts; unknown names list what exists.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function weftRun(args: string[]) {
  return spawnSync(process.execPath, [weft, ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });
}

const refused: [string[], RegExp][] = [
  [["train", "mnist", "--epochs", "-1"], /--epochs must be an integer >= 1, got "-1"/],
  [["train", "mnist", "--epochs", "0.5"], /--epochs must be an integer >= 1, got "0.5"/],
  [["train", "mnist", "--epochs", "1.5"], /--epochs must be an integer >= 1, got "1.5"/],
  [["train", "mnist", "stray"], /unexpected argument "stray"/],
  [["train", "mnist", "--workers", "1000"], /--workers 1000 is more than 2 workers per CPU .* pass --oversubscribe/],
  [["train", "mnist", "--workers", "0"], /--workers must be an integer >= 1, got "0"/],
  [["train", "mnist", "--batch", "0"], /--batch must be an integer from 1 to \d+, got "0"/],
  [["train", "mnist", "--lr", "-1"], /--lr must be a number above 0, got "-1"/],
  [["train", "mnist", "--lr", "abc"], /--lr must be a number above 0, got "abc"/],
  [["train", "mnist", "--bogus"], /unknown option --bogus; known: --epochs, --max-steps/],
  [["train", "mnist", "--strategy", "magic"], /--strategy must be one of single, ddp\b.*, got "magic"/],
  [["train", "mnist", "--strategy", "single", "--workers", "2"], /--strategy single runs on one worker, not 2; use --strategy ddp/],
  [["train", "mnist", "--bucket-kb", "64"], /--bucket-kb is an option of --strategy ddp, not of single/],
  [["train", "mnist", "--checkpoint-every", "5"], /--checkpoint-every needs --checkpoint-dir DIR \(or --checkpoint PATH\)/],
  [["train", "mnist", "--checkpoint-seconds", "0"], /--checkpoint-seconds must be a number above 0, got "0"/],
  [["train", "mnist", "--checkpoint-seconds", "30"], /--checkpoint-seconds needs --checkpoint-dir DIR/],
  [["train", "mnist", "--resume"], /--resume needs --checkpoint-dir DIR \(or --checkpoint PATH\), the one the run being resumed wrote to/],
  [["train", "mnist", "--keep", "2", "--checkpoint", "/tmp/c.safetensors"], /--keep needs --checkpoint-dir DIR/],
  [["train", "mnist", "--keep", "0"], /--keep must be an integer >= 1, got "0"/],
  [["train", "mnist", "--checkpoint-dir", "/tmp/d", "--checkpoint", "/tmp/c.safetensors"], /--checkpoint-dir DIR and --checkpoint PATH are two places for the same checkpoints; give one/],
  [["train", "mnist", "--checkpoint-dir", "/dev/null/ckpt"], /--checkpoint-dir \/dev\/null\/ckpt: the folder .* cannot be created or is not writable \(ENOTDIR\); choose another/],
  [["train", "mnist", "--workers", "2", "--strategy", "ps", "--checkpoint-dir", "/tmp/d"], /--strategy ps writes its servers' shard files beside one checkpoint file: use --checkpoint PATH, not --checkpoint-dir/],
  [["train", "mnist", "--epochs"], /--epochs needs a value/],
  [["train", "nope"], /unknown recipe "nope"; the recipes are mnist/],
  [["train"], /which recipe\? the recipes are mnist/],
  [["frobnicate"], /unknown command "frobnicate"; the commands are train, compare, generate, chaos, bench, launch/],
  [["train", "--workers", "2", "mnist"], /put the recipe first: weft train mnist --workers 2/],
  [["train", "mnist", "--checkpoint", "/no/such/folder/ckpt.safetensors"], /--checkpoint .*: the folder \/no\/such\/folder does not exist or is not writable; create it first/],
  [["train", "mnist", "--checkpoint", "/tmp/weft-no-such-ckpt.safetensors", "--resume"], /--resume: the checkpoint \/tmp\/weft-no-such-ckpt\.safetensors does not exist; start without --resume/],
  [["train", "mnist", "--constructor", "1"], /unknown option --constructor/],
  [["train", "mnist", "--slowdown", "3"], /--slow-rank R and --slowdown F go together/],
  [["train", "mnist", "--slow-rank", "1", "--slowdown", "0.5", "--workers", "2"], /--slowdown must be a number >= 1, got "0.5"/],
  [["train", "mnist", "--slow-rank", "2", "--slowdown", "3", "--workers", "2"], /--slow-rank 2 is not a worker; the workers are 0..1/],
  [["train", "mnist", "--eval-every", "0"], /--eval-every must be an integer >= 1, got "0"/],
];

for (const [args, message] of refused) {
  test(`weft ${args.join(" ")} is refused in one line with exit status 2`, () => {
    const run = weftRun(args);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, `more than one line:\n${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /at .*\.js:\d+/, "no stack trace");
  });
}

test("docs/training.md shows what weft train --list prints, word for word", () => {
  const docs = readFileSync(join(root, "docs/training.md"), "utf8");
  const block = /`weft train --list` prints it:\n\n```\n([\s\S]*?)```/.exec(docs);
  assert.ok(block, "docs/training.md lost its weft train --list block");
  assert.equal(block[1], weftRun(["train", "--list"]).stdout);
});

test("weft train --list and --help show the recipes and strategies; --version the package's", () => {
  const list = weftRun(["train", "--list"]);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /^recipes:\n  mnist /m);
  // The use cases, one recipe each, in this order.
  const recipes = /^recipes:\n((?:  .*\n)*)/m.exec(list.stdout)![1]!.trim().split("\n").map((l) => l.trim().split(/\s+/)[0]);
  assert.deepEqual(recipes, ["mnist", "detect-digits", "spam", "gpt-text", "keywords", "fraud", "markets", "breast-cancer", "lesions"]);
  assert.match(list.stdout, /^strategies \(--strategy\):\n  single .*\n  ddp /m);
  const help = weftRun(["train", "mnist", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: weft train mnist \[options\]/);
  assert.match(help.stdout, /--epochs N +passes over the training data \(default 30\)/);
  assert.match(help.stdout, /--shift N +random shift/);
  const version = weftRun(["--version"]);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^weft \d+\.\d+\.\d+\n$/);
});
