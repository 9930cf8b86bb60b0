#!/usr/bin/env node
// Lists the C++ sources under native/ for one target of binding.gyp, by file-name suffix:
// `scalar`, `avx2fma` and `avx512` get the per-ISA kernel files, `avx512bf16` and `amx` the bf16
// GEMM's hardware paths; `common` gets everything else (bindings, dispatch, CPU detection). Paths are relative to the project root, as gyp wants.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const kind = process.argv[2];
const isas = ["scalar", "avx2fma", "avx512", "avx512bf16", "amx"];
if (kind !== "common" && !isas.includes(kind)) {
  console.error(`native-sources: expected one of common, ${isas.join(", ")}; got ${kind}`);
  process.exit(2);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".cc") ? [join(dir, e.name)] : [],
  );
}

const isaOf = (file) => isas.find((isa) => file.endsWith(`-${isa}.cc`)) ?? "common";
const files = walk(join(root, "native"))
  .filter((f) => isaOf(f) === kind)
  .map((f) => relative(root, f))
  .sort();
console.log(files.join(" "));
