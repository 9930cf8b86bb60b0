// `weft compare`'s grid: every combination of the --grid values becomes one `weft train` argument
// list, checked against weft train's own option table before anything runs; bad input is one
// line naming the flag and what it accepts, with exit status 2.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { planComparison, type ComparePlan } from "../../src/cli/compare-grid.js";
import { cpuCount } from "../../src/cli/worker-count.js";
import { UsageError } from "../../src/cli/options.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
/** How long a weft command may take before it counts as hung: a deadline for a hang, not a measure of speed. */
const HANG_MS = 600_000;

function plan(argv: string[]): ComparePlan {
  const p = planComparison(["--out", "/tmp/weft-compare-never-written", ...argv]);
  assert.notEqual(p, "help");
  return p as ComparePlan;
}

test("two --grid flags make every combination, first key slowest, each a full weft train argument list", () => {
  const p = plan(["mnist", "--grid", "lr=0.001,0.002", "--grid=seed=1,2,3", "--set", "max-steps=5", "--", "--epochs", "1"]);
  assert.deepEqual(p.keys, ["lr", "seed"]);
  assert.deepEqual(p.configs.map((c) => c.label), [
    "lr=0.001 seed=1", "lr=0.001 seed=2", "lr=0.001 seed=3", "lr=0.002 seed=1", "lr=0.002 seed=2", "lr=0.002 seed=3",
  ]);
  const first = p.configs[0]!;
  assert.equal(first.id, "1-lr-0.001-seed-1");
  assert.deepEqual(first.argv, ["mnist", "--lr", "0.001", "--seed", "1", "--max-steps", "5", "--epochs", "1", "--eval-every", "1", "--run-dir", first.runDir, "--json"]);
  assert.equal(first.runDir, "/tmp/weft-compare-never-written/runs/1-lr-0.001-seed-1");
  // What the report shows: the same, with the run folder relative to the report folder.
  assert.deepEqual(first.reportArgv, ["mnist", "--lr", "0.001", "--seed", "1", "--max-steps", "5", "--epochs", "1", "--eval-every", "1", "--run-dir", "runs/1-lr-0.001-seed-1", "--json"]);
  assert.equal(p.parallel, 1);
  assert.equal(p.timeLimitS, 1200);
});

test("a flag in the grid takes true and false; --set KEY alone sets a flag; an explicit --eval-every is kept", () => {
  const p = plan(["mnist", "--grid", "oversubscribe=true,false", "--set", "eval-every=2"]);
  assert.deepEqual(p.configs.map((c) => c.argv.slice(1, 4)), [["--oversubscribe", "--eval-every", "2"], ["--eval-every", "2", "--run-dir"]]);
  assert.ok(!p.configs[0]!.argv.includes("1"), "compare added no --eval-every 1 of its own");
  assert.deepEqual(plan(["mnist", "--set", "oversubscribe"]).configs[0]!.argv.slice(1, 2), ["--oversubscribe"]);
});

test("--config reads the grid, explicit configurations and shared flags from JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-grid-"));
  try {
    const file = join(dir, "grid.json");
    writeFileSync(file, JSON.stringify({ recipe: "mnist", configs: [{ strategy: "single" }, { strategy: "ddp", workers: 2 }], grid: { lr: [0.001, 0.002] }, set: { "max-steps": 3 } }));
    const p = planComparison(["--config", file, "--out", join(dir, "out")]) as ComparePlan;
    assert.deepEqual(p.keys, ["strategy", "workers", "lr"]);
    assert.deepEqual(p.configs.map((c) => c.label), ["strategy=single lr=0.001", "strategy=single lr=0.002", "strategy=ddp workers=2 lr=0.001", "strategy=ddp workers=2 lr=0.002"]);
    assert.deepEqual(p.configs.map((c) => c.workers), [1, 1, 2, 2]);
    assert.deepEqual(p.configs[2]!.argv.slice(0, 9), ["mnist", "--strategy", "ddp", "--workers", "2", "--lr", "0.001", "--max-steps", "3"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const refused: [string[], RegExp][] = [
  [["mnist", "--grid", "stratgy=single,ddp"], /^weft compare: --grid stratgy=single,ddp: weft train mnist has no option --stratgy; its options are --epochs, --max-steps, .*--strategy/],
  [["mnist", "--grid", "strategy=single,magic"], /^weft compare: --grid strategy=single,magic: --strategy must be one of single, ddp.*, got "magic"$/],
  [["mnist", "--grid", "workers=1,0"], /^weft compare: --grid workers=1,0: --workers must be an integer >= 1, got "0"$/],
  [["mnist", "--grid", "lr=0.1,abc"], /--grid lr=0.1,abc: --lr must be a number above 0, got "abc"/],
  [["mnist", "--grid", "lr=0.1,0.1"], /--grid lr=0.1,0.1: the value 0.1 is listed twice/],
  [["mnist", "--grid", "lr=0.1,"], /--grid lr=0.1, has an empty value/],
  [["mnist", "--grid", "lr"], /--grid lr has no values; write --grid lr=V1,V2/],
  [["mnist", "--grid"], /--grid needs a value \(KEY=V1,V2\)/],
  [["mnist", "--grid", "oversubscribe=yes"], /--oversubscribe is a flag: its values are true and false, got "yes"/],
  [["mnist", "--grid", "json=true,false"], /--grid json=true,false: --json cannot be chosen here: compare sets --json itself/],
  [["mnist", "--set", "run-dir=/tmp/x"], /--run-dir cannot be chosen here: compare gives each configuration its own run folder/],
  [["mnist", "--grid", "lr=0.1,0.2", "--set", "lr=0.3"], /--lr is given in both --grid lr=0.1,0.2 and --set lr=0.3; give it once/],
  [["mnist", "--set", "batch=0"], /--set batch=0: --batch must be an integer from 1 to \d+, got "0"/],
  [["mnist", "--grid", "lr=0.1,0.2", "--", "--lr", "0.3"], /configuration 1 \(lr=0.1\): weft train mnist: --lr is given twice/],
  [["mnist", "--", "--bogus"], /configuration 1 \(default\): weft train mnist: unknown option --bogus/],
  [["mnist", "--grid", "workers=1000"], /configuration 1 \(workers=1000\): --workers 1000 is more than 2 workers per CPU/],
  [["nope", "--grid", "lr=0.1"], /unknown recipe "nope"; the recipes are mnist/],
  [["--grid", "lr=0.1"], /which recipe\?/],
  [["mnist", "--parallel", "0"], /--parallel must be an integer >= 1, got "0"/],
  [["mnist", "--time-limit", "-3"], /--time-limit must be a number above 0, at most 604800, got "-3"/],
  // Past 2^31-1 ms a timer fires at once: a week is the most.
  [["mnist", "--time-limit", "604801"], /^weft compare: --time-limit must be a number above 0, at most 604800, got "604801"$/],
  [["mnist", "--time-limit", "2200000"], /--time-limit must be a number above 0, at most 604800, got "2200000"/],
  // What weft train refuses after parsing (its checkTrainValues), refused here for the configuration, before anything runs.
  [["mnist", "--grid", "workers=1,2", "--set", "strategy=single"], /^weft compare: configuration 2 \(workers=2\): weft train: --strategy single runs on one worker, not 2; use --strategy ddp or /],
  [["mnist", "--grid", "strategy=ps,ddp", "--set", "workers=2", "--set", "mode=async"], /^weft compare: configuration 2 \(strategy=ddp\): weft train: --mode is an option of --strategy ps, not of ddp$/],
  [["mnist", "--grid", "lr=0.1,0.2", "--set", "checkpoint-every=5"], /^weft compare: configuration 1 \(lr=0.1\): weft train: --checkpoint-every needs --checkpoint-dir DIR \(or --checkpoint PATH\)$/],
  [["mnist", "--grid", "seed=1,2", "--set", "slow-rank=3", "--set", "slowdown=2"], /^weft compare: configuration 1 \(seed=1\): weft train: --slow-rank 3 is not a worker; the workers are 0..0$/],
  [["mnist", "--grid", "slowdown=2,3"], /^weft compare: configuration 1 \(slowdown=2\): weft train: --slow-rank R and --slowdown F go together/],
  [["mnist", "--set", "strategy=ps", "--set", "workers=2", "--grid", "mode=sync,ssp"], /^weft compare: configuration 2 \(mode=ssp\): weft train: --mode ssp needs --staleness S/],
  [["mnist", "--set", "checkpoint=/no/such/folder/ckpt.safetensors"], /^weft compare: configuration 1 \(default\): weft train: --checkpoint \/no\/such\/folder\/ckpt.safetensors: the folder \/no\/such\/folder does not exist/],
  [["mnist", "--config", "/no/such/grid.json"], /--config \/no\/such\/grid.json: no such file/],
];

for (const [argv, message] of refused) {
  test(`weft compare ${argv.join(" ")} is refused in one line`, () => {
    assert.throws(() => planComparison(["--out", "/tmp/weft-compare-never-written", ...argv]), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, message);
      assert.equal(err.message.split("\n").length, 1);
      return true;
    });
  });
}

test("--parallel that would put more than 2 processes per CPU at once is refused, naming the sum, unless every configuration oversubscribes", () => {
  const most = 2 * cpuCount(); // what weft train allows one configuration
  const argv = ["mnist", "--grid", "seed=1,2,3", "--set", `workers=${most}`, "--parallel", "2"];
  assert.equal(plan(argv.slice(0, -2)).configs.length, 3, "one at a time is fine");
  assert.throws(() => plan(argv), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, new RegExp(`^weft compare: --parallel 2 may run ${2 * most} processes at once \\(${most} \\+ ${most}\\), more than 2 per CPU .*lower --parallel, or add --set oversubscribe`));
    return true;
  });
  assert.equal(plan([...argv, "--set", "oversubscribe"]).processesAtOnce, 2 * most);
  assert.equal(plan(["mnist", "--grid", "seed=1,2", "--parallel", "5"]).parallel, 2, "capped at the configurations there are");
});

test("a parameter server's servers count as processes: a configuration weft train would refuse for them is refused, and --parallel budgets them", () => {
  const cpus = cpuCount();
  const most = 2 * cpus; // the processes weft train allows one job
  // --workers most is allowed on its own, but with a server the job is most + 1 processes.
  assert.equal(plan(["mnist", "--set", `workers=${most}`]).configs[0]!.processes, most);
  assert.throws(() => plan(["mnist", "--grid", "seed=1,2", "--set", "strategy=ps", "--set", `workers=${most}`]), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, new RegExp(`^weft compare: configuration 1 \\(seed=1\\): --workers ${most} with --strategy ps \\(${most + 1} processes\\) ${most + 1} is more than 2 workers per CPU`));
    return true;
  });
  // Two configurations of `cpus` workers and one server: `most` workers in all, but `most + 2` processes.
  const argv = ["mnist", "--grid", "seed=1,2", "--set", "strategy=ps", "--set", `workers=${cpus}`, "--parallel", "2"];
  assert.deepEqual(plan(argv.slice(0, -2)).configs.map((c) => [c.workers, c.processes]), [[cpus, cpus + 1], [cpus, cpus + 1]]);
  assert.throws(() => plan(argv), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, new RegExp(`^weft compare: --parallel 2 may run ${most + 2} processes at once \\(${cpus + 1} \\+ ${cpus + 1}\\), more than 2 per CPU `));
    return true;
  });
  assert.equal(plan([...argv, "--set", "servers=1", "--set", "oversubscribe"]).processesAtOnce, most + 2);
});

test("the command line: a grid that names an unknown option is one line on stderr and exit status 2", () => {
  const run = spawnSync(process.execPath, [weft, "compare", "mnist", "--grid", "colour=red,blue"], { cwd: root, encoding: "utf8", timeout: HANG_MS });
  assert.equal(run.status, 2, run.stderr);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /^weft compare: --grid colour=red,blue: weft train mnist has no option --colour; its options are --epochs, /);
  assert.equal(run.stdout, "");
  const help = spawnSync(process.execPath, [weft, "compare", "--help"], { cwd: root, encoding: "utf8", timeout: HANG_MS });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: weft compare <recipe> --grid KEY=V1,V2/);
  assert.match(help.stdout, /--time-limit N +seconds a configuration may run .*\(at most a week\)/);
  assert.match(spawnSync(process.execPath, [weft, "--help"], { encoding: "utf8", timeout: HANG_MS }).stdout, /weft compare <recipe> --grid KEY=V1,V2/);
});
