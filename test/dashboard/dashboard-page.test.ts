// The live dashboard in a real browser, during a real job: `weft train mnist --workers 2` with
// --dashboard 0 and rank 1 slowed five times, the page opened in Debian's Chromium (driven by
// playwright-core, which downloads no browser) with every request that leaves 127.0.0.1 aborted.
// The page must draw both workers' curves and keep adding points, name worker 1 the straggler
// within 10 steps, and, once worker 1 is killed (its pid read from the page), show its death and
// the job's failure on the membership timeline. The screenshot the docs show is saved under
// docs/images/ when WEFT_UPDATE_SCREENSHOT=1, else in a temporary folder. No Chromium is a
// failure, not a skip (as for the report page: CI installs it).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { StragglerTracker } from "../../src/distributed/metrics/straggler.js";

const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

/** Polls `check` until it returns a value (not undefined), or fails naming `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const drawn = (page: Page, rank: number): Promise<number> =>
  page.evaluate((r) => (window as unknown as { weftDashboard: { drawn(r: number): Promise<number> } }).weftDashboard.drawn(r), rank);

test("the dashboard of a 2-worker MNIST job: curves that grow, the slowed rank named straggler, a killed worker on the timeline", { timeout: 150_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\` (.ci/run does this), or set WEFT_CHROMIUM to a Chromium binary`);
  const dir = mkdtempSync(join(tmpdir(), "weft-dashboard-page-"));
  // Enough steps that the job is still training when worker 1 is killed (it never reaches the end).
  const job = spawn(process.execPath, [weft, "train", "mnist", "--workers", "2", "--net", "small", "--max-steps", "5000", "--slow-rank", "1", "--slowdown", "5", "--run-dir", "runs/mnist-2-workers", "--dashboard", "0"], {
    // Run from the temporary folder, as a user runs from theirs: the page (and the screenshot
    // the docs show) names the run folder as typed, not by a path of the machine that made it.
    cwd: dir, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  job.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  job.stdout.resume();
  const exited = new Promise<number | null>((resolve) => job.on("close", (code) => resolve(code)));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    const url = await until("the dashboard's address on stderr", async () => /weft train: dashboard at (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(stderr)?.[1], 30_000);

    const context = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    const outside: string[] = [];
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith("http://127.0.0.1:")) return route.continue();
      outside.push(u);
      return route.abort();
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(url, { waitUntil: "load" });

    // Both curves have points, and a second later more of them.
    const first = await until("points of both workers", async () => {
      const counts = [await drawn(page, 0), await drawn(page, 1)];
      return counts.every((n) => n >= 3) ? counts : undefined;
    });
    const later = await until("both curves to gain points", async () => {
      const counts = [await drawn(page, 0), await drawn(page, 1)];
      return counts.every((n, r) => n > first[r]!) ? counts : undefined;
    });
    assert.ok(later[0]! > first[0]! && later[1]! > first[1]!, `points at two moments: ${first} then ${later}`);
    assert.ok((await page.locator("#chart-loss svg path").count()) > 0, "the loss chart is drawn");

    // The slowed rank is named, from a step within the first 10.
    await until("worker 1 named straggler", async () => ((await page.locator("#straggler").getAttribute("data-rank")) === "1" ? true : undefined));
    // The timeline is newest first: its last "is the straggler" entry is when worker 1 was first named.
    const from = Number(await page.locator('#timeline li[data-kind="straggler"][data-rank="1"]', { hasText: "is the straggler from step" }).last().getAttribute("data-step"));
    assert.ok(from >= 1 && from <= 10, `worker 1 is named straggler from step ${from}, not within 10 steps`);
    assert.equal(await page.locator("#ranking tbody tr").first().getAttribute("data-rank"), "1", "worker 1 leads the ranking");

    // A few dozen steps make curves worth a screenshot.
    await until("40 points of each worker", async () => ((await drawn(page, 0)) >= 40 && (await drawn(page, 1)) >= 40 ? true : undefined), 40_000);

    // Kill worker 1 by the pid the page shows; the page shows its end and the job's.
    const pid = Number(await page.locator('#workers tbody tr[data-rank="1"]').getAttribute("data-pid"));
    assert.ok(pid > 0, "the page shows worker 1's pid");
    process.kill(pid, "SIGKILL");
    await until("worker 1's death on the timeline", async () => ((await page.locator('#timeline li[data-kind="failed"][data-rank="1"]').count()) > 0 ? true : undefined));
    assert.match(await page.locator('#timeline li[data-kind="failed"][data-rank="1"]').first().innerText(), /worker 1 \(pid \d+\) exited with signal SIGKILL/);
    await until("the job's failure on the page", async () => ((await page.locator("#status").innerText()).startsWith("job failed") ? true : undefined));
    assert.match(await page.locator("#timeline").innerText(), /the job failed \(exit code 137\)/);

    const shots = process.env.WEFT_UPDATE_SCREENSHOT === "1" ? join(root, "docs/images") : dir;
    await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: true });

    assert.deepEqual(outside, [], "the page asked for nothing outside 127.0.0.1");
    assert.deepEqual(problems, [], "no errors in the console");
    assert.equal(await exited, 1, "weft train fails with the job");

    // The step the page names worker 1 from is the step the straggler score names it from, given
    // the same lines (the run folder's): the page shows the score, not a guess of its own.
    const lines = [0, 1]
      .flatMap((rank) => readFileSync(join(dir, "runs/mnist-2-workers", `rank-${rank}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { rank: number; step: number; event?: string; wait_for?: Record<string, number> }))
      .filter((l) => l.event === undefined && l.wait_for !== undefined)
      .sort((a, b) => a.step - b.step || a.rank - b.rank);
    const tracker = new StragglerTracker();
    const namedAt = lines.find((l) => (tracker.add(l.rank, l.step, l.wait_for!), tracker.straggler()?.rank === 1))?.step;
    assert.equal(from, namedAt, "the page and the score agree on the step");
  } catch (err) {
    // What the job said is most of the story when the page did not show what it should.
    (err as Error).message += `\nweft train's stderr:\n${stderr.slice(-3000)}`;
    throw err;
  } finally {
    await browser.close();
    if (job.exitCode === null) job.kill("SIGINT");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
