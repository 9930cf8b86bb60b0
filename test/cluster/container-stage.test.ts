// The Dockerfile, checked without Docker (no test machine has a registry to build it from): its
// runtime stage copies only paths a built checkout has, each to the same place under the working
// directory as in the checkout (the addon and the data are found relative to the compiled code),
// and .dockerignore keeps the host's build outputs out without keeping out what the stage copies
// from the sources. The reader of the stage refuses what the container test could not reproduce.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readRuntimeStage } from "./container-helpers/runtime-stage.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
const stage = readRuntimeStage(dockerfile);
// What the build stage makes itself (npm ci, the native build, tsc), so the host's must stay out.
const BUILT_IN_STAGE = ["node_modules", "dist", "build"];

/** .dockerignore's patterns: plain top-level names (the file uses no wildcards for folders). */
const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

test("every path the Dockerfile's runtime stage copies exists in this built checkout", () => {
  assert.ok(stage.copies.length >= 4, `only ${stage.copies.length} COPY lines in the runtime stage`);
  for (const { source } of stage.copies) assert.ok(existsSync(join(root, source)), `the Dockerfile copies ${source}, which this checkout does not have (after npm ci and npm run build)`);
});

test("the image is laid out as the checkout under its working directory, and its entry point is weft's bin", () => {
  for (const { source, target } of stage.copies) assert.equal(target, `${stage.workdir}/${source}`, `COPY of ${source}`);
  const bin = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: { weft: string } }).bin.weft;
  assert.deepEqual(stage.entrypoint, ["node", bin]);
  assert.ok(stage.copies.some((c) => bin.startsWith(`${c.source}/`)), `no COPY brings ${bin}`);
  assert.ok(stage.copies.some((c) => c.source === "build/Release/weft.node"), "the native addon is not copied");
  assert.ok(stage.user !== undefined && stage.user !== "root", `the image runs as ${stage.user ?? "root"}`);
});

test(".dockerignore keeps the host's build outputs out and lets in what the runtime stage copies from the sources", () => {
  for (const name of BUILT_IN_STAGE) assert.ok(ignored.includes(name), `.dockerignore lets the host's ${name} into the build (it would replace the stage's own)`);
  for (const { source } of stage.copies) {
    const top = source.split("/")[0]!;
    if (!BUILT_IN_STAGE.includes(top)) assert.ok(!ignored.includes(top), `.dockerignore keeps out ${top}, which the runtime stage copies`);
  }
  // What the build stage compiles and builds from.
  for (const needed of ["src", "native", "scripts", "binding.gyp", "package.json", "package-lock.json", "tsconfig.json"]) assert.ok(!ignored.includes(needed), `.dockerignore keeps out ${needed}, which the build stage needs`);
});

test("the stage reader takes copies from the build stage's working directory and refuses what an imported image cannot reproduce", () => {
  const build = "FROM node:20-bookworm AS build\nWORKDIR /weft\nRUN npm ci\n";
  const read = (runtime: string): ReturnType<typeof readRuntimeStage> => readRuntimeStage(`${build}FROM node:20-bookworm-slim\n${runtime}`);
  const s = read('# a comment\nWORKDIR /app\nENV A=1\nCOPY --from=build /weft/dist/src ./dist/src\nCOPY --from=build /weft/data /opt/data\nUSER node\nENTRYPOINT ["node", \\\n  "x.js"]\n');
  assert.deepEqual(s, { base: "node:20-bookworm-slim", workdir: "/app", user: "node", env: ["A=1"], entrypoint: ["node", "x.js"], copies: [{ source: "dist/src", target: "/app/dist/src" }, { source: "data", target: "/opt/data" }] });
  assert.throws(() => read("RUN apt-get install -y sox\n"), /^Error: Dockerfile line 5: RUN in the runtime stage: the container test's image cannot reproduce it/);
  assert.throws(() => read("COPY --from=build /etc/passwd /etc/passwd\n"), /line 5: COPY --from=build \/etc\/passwd \/etc\/passwd: the runtime stage copies one path from the build stage's working directory per line/);
  assert.throws(() => read("COPY train.js .\n"), /line 5: COPY train\.js \.: the runtime stage copies one path/);
  assert.throws(() => read("ENV A=1 B=2\n"), /line 5: ENV A=1 B=2: write one NAME=value per ENV line/);
  assert.throws(() => readRuntimeStage("FROM node:20\nCOPY . .\n"), /has 1 FROM lines: expected a build stage and a runtime stage/);
});
