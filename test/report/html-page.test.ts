// The report page in a real browser: Debian's Chromium, driven by playwright-core (which downloads
// no browser of its own), opens report.html from file:// with the network cut off, and the page
// must load without asking for anything, show the table's rows and one drawn curve per
// configuration in every chart, and make a screenshot. No Chromium is a failure, not a skip: CI
// installs it (.ci/run), and a report nobody has seen render is not tested.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { writeReport } from "../../src/report/write-report.js";
import { sampleComparison } from "./sample-comparison.js";

/** Where Debian puts its Chromium; WEFT_CHROMIUM overrides it. */
const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";

test("report.html opens offline in Chromium: no request leaves the file, the table has a row and each chart a drawn curve per configuration", async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\` (.ci/run does this), or set WEFT_CHROMIUM to a Chromium binary`,
  );
  const dir = mkdtempSync(join(tmpdir(), "weft-report-page-"));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    const comparison = sampleComparison();
    const report = await writeReport(dir, comparison);
    const labels = comparison.configs.map((r) => r.label);

    const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
    const attempted: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:")) return route.continue();
      attempted.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    const response = await page.goto(pathToFileURL(report.html).href, { waitUntil: "load" });
    assert.ok(response === null || response.ok(), "the page loads");

    assert.deepEqual(attempted, [], "no request to the network was attempted");
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "every request the page made is the file itself");
    assert.deepEqual(problems, [], "no errors in the console");
    assert.equal(await page.title(), "weft compare mnist");

    // The table: one row per configuration, in grid order, with its status.
    const rows = page.locator("table.results tbody tr");
    assert.equal(await rows.count(), labels.length);
    assert.deepEqual(await rows.locator("td:first-child").allInnerTexts(), labels);
    assert.deepEqual(await page.locator("table.results tbody tr td.status-timed-out").allInnerTexts(), ["timed out"]);

    // Each chart: one line per configuration, really laid out (a box with a size), and a legend naming each.
    const charts = page.locator("figure.chart");
    assert.equal(await charts.count(), 4);
    for (let i = 0; i < 4; i++) {
      const chart = charts.nth(i);
      const id = await chart.getAttribute("data-chart");
      const lines = chart.locator('path[aria-roledescription="line mark"]');
      assert.equal(await lines.count(), labels.length, `${id}: one curve per configuration`);
      const names = await lines.evaluateAll((ps) => ps.map((p) => p.getAttribute("aria-label")));
      assert.deepEqual(names, labels.map((l) => `configuration: ${l}`), id!);
      for (let j = 0; j < labels.length; j++) {
        const box = await lines.nth(j).boundingBox();
        assert.ok(box && box.width + box.height > 20, `${id}: curve ${j + 1} is drawn (${JSON.stringify(box)})`);
      }
      const legend = await chart.locator("g.role-legend text").allTextContents();
      for (const l of labels) assert.ok(legend.includes(l), `${id}: the legend names ${l} (it has ${legend.join(" | ")})`);
    }

    const png = join(dir, "report.png");
    await page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    assert.equal(bytes.subarray(1, 4).toString("latin1"), "PNG");
    assert.ok(bytes.length > 20_000, `a screenshot of a page with charts (${bytes.length} bytes)`);
    await context.close();
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
