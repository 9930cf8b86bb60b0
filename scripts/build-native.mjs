#!/usr/bin/env node
// Builds the native kernels with node-gyp (run by `npm ci` as the install script).
// A failed build must not fail the install: Weft then runs on the reference backend, and the
// reason is kept in build/native-build-error.txt so that Weft can say, once, why and how to fix it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const errorFile = `${root}build/native-build-error.txt`;
const addon = `${root}build/Release/weft.node`;

// `npx weft` in a fresh checkout installs the project into npx's cache, which runs this script a
// second time right after `npm ci`: skip the build when the addon is newer than every source.
function newestSource(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, e) => {
    const path = join(dir, e.name);
    return Math.max(newest, e.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }, 0);
}
if (!process.argv.includes("--force") && existsSync(addon)) {
  const sources = Math.max(newestSource(`${root}native`), statSync(`${root}binding.gyp`).mtimeMs);
  if (statSync(addon).mtimeMs > sources) {
    console.log("weft: native kernels are up to date (build/Release/weft.node)");
    process.exit(0);
  }
}
// npm tells its scripts where its bundled node-gyp is; run directly, go through npm to learn it.
if (!process.env.npm_config_node_gyp) {
  const viaNpm = spawnSync("npm", ["run", "--silent", "build:native", "--", ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
  process.exit(viaNpm.status ?? 1);
}
const gyp = [process.execPath, [process.env.npm_config_node_gyp]];
const jobs = process.env.JOBS ?? "max";
const result = spawnSync(gyp[0], [...gyp[1], "rebuild", `--jobs=${jobs}`], {
  cwd: root,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
});
if (result.status === 0) {
  rmSync(errorFile, { force: true });
  console.log("weft: native kernels built (build/Release/weft.node)");
} else {
  const output = `${result.stdout ?? ""}\n${result.stderr ?? ""}${result.error ? `\n${result.error}` : ""}`;
  const tail = output.trim().split("\n").slice(-40).join("\n");
  mkdirSync(`${root}build`, { recursive: true });
  writeFileSync(errorFile, tail + "\n");
  console.warn(
    "weft: the native kernels did not build, so Weft will use the slower reference backend.\n" +
      "      Install python3, make and g++, then run `npm run build:native`. Last lines:\n" +
      tail.split("\n").slice(-10).map((l) => `      ${l}`).join("\n"),
  );
}
