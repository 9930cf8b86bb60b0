#!/usr/bin/env node
// A screenshot of a `weft compare` report page, as the docs show it: Debian's Chromium (or
// WEFT_CHROMIUM) driven by playwright-core, the page opened from file:// with the network cut off.
//
//   node scripts/report-screenshot.mjs runs/compare-.../report.html docs/images/compare-report.png
//
// Exit 0 with the PNG written, 1 when the page asked for anything but its own file, 2 on bad input.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [page, png, width = "1280"] = process.argv.slice(2);
const browserPath = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";
if (!page || !png || !existsSync(page)) {
  console.error("usage: node scripts/report-screenshot.mjs REPORT.html OUT.png [WIDTH]");
  process.exit(2);
}
if (!existsSync(browserPath)) {
  console.error(`report-screenshot: no Chromium at ${browserPath}; apt-get install -y chromium, or set WEFT_CHROMIUM`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: browserPath, headless: true });
try {
  const context = await browser.newContext({ offline: true, viewport: { width: Number(width), height: 900 }, deviceScaleFactor: 1 });
  const elsewhere = [];
  await context.route("**/*", (route) => (route.request().url().startsWith("file:") ? route.continue() : (elsewhere.push(route.request().url()), route.abort())));
  const tab = await context.newPage();
  await tab.goto(pathToFileURL(resolve(page)).href, { waitUntil: "load" });
  await tab.screenshot({ path: png, fullPage: true });
  if (elsewhere.length > 0) {
    console.error(`report-screenshot: the page asked for ${elsewhere.join(", ")}`);
    process.exitCode = 1;
  } else {
    console.log(`report-screenshot: ${png}`);
  }
} finally {
  await browser.close();
}
