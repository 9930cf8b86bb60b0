#!/usr/bin/env node
// Enforces the layering of src/ (docs: ../shared/STYLE.md "Layout shows the layers"): every
// folder imports only from folders below it, nobody imports an entry (index.ts) from underneath
// it, no two files import each other through any chain, and src/distributed/ holds folders only.
//
//   node scripts/check-layers.mjs            checks ./src
//   node scripts/check-layers.mjs --root DIR checks DIR/src (the tests build throwaway trees)
//
// Exit 0 when clean, 1 with one line per violation (both files, both layers, what to do), 2 when
// the tree cannot be read. Plain Node, no dependency: `npm test` runs this before tsc, so it must
// not need a build, and a small lexer (below the tables) is all it takes to find import paths.
//
// What counts as an import: `import ... from "p"`, `import "p"`, `export ... from "p"`,
// `import x = require("p")` and `import("p")` with a literal path, including `import type` and
// type positions (`typeof import("p")`). Type-only imports count on purpose: a type from a higher
// layer couples the lower one to it just as surely, and it is how a real import starts.
// `new URL("./worker.js", import.meta.url)` (worker and child-process entry files) is not an
// import and is not checked.
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { join, relative, dirname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

// The top-level folders of src/, bottom to top. A file may import its own layer and any layer
// listed before it. Files directly in src/ (index.ts, launch.ts) are the package entries: they
// may import anything, and nothing inside a folder may import them.
const TOP_LAYERS = [
  ["util", "leaf helpers with no Weft imports (seeded RNG)"],
  ["metrics", "quality measures on plain arrays (accuracy, F1, PR-AUC, mAP, Dice), checked by hand-worked examples"],
  ["backend", "kernel table and its reference and native implementations"],
  ["tensor", "Tensor, autograd and the differentiable ops built on the backend"],
  ["nn", "modules and layers built from tensor ops"],
  ["optim", "optimizers and schedules over nn parameters"],
  ["data", "datasets, samplers and the loader"],
  ["checkpoint", "safetensors files and their integrity checks"],
  ["models", "reference models built from nn (MNIST CNN, tiny GPT)"],
  ["distributed", "process groups, collectives, strategies (sub-layered below)"],
  ["train", "the training loop (fit), the recipe contract, training state on disk, option specs"],
  ["recipes", "the training recipes (one per task), written against train/'s recipe contract"],
  ["bench", "benchmarks of models and collectives"],
  ["report", "weft compare's report (table, CSV/JSON, charts, the HTML page) and weft export's formats (CSV, JSON lines, TensorBoard)"],
  ["dashboard", "the live page of a job or a run folder: its server, the folder's tail and the page"],
  ["cluster", "integrations with users' schedulers: the Kubernetes manifests of a job (weft k8s)"],
  ["cli", "the `weft` command: one argument parser, dispatch to the layers below"],
];

// Inside src/distributed/, bottom to top. src/distributed/index.ts is its entry: it may import
// anything inside distributed/ and nothing inside distributed/ may import it.
const DIST_LAYERS = [
  ["base", "errors, logging, retry, shared buffers, the native addon loader"],
  ["compression", "wire dtypes and their converters (bf16/f16)"],
  ["wire", "frames, connections, listeners and authentication on a socket"],
  ["rendezvous", "the store that ranks meet through, and the worker environment"],
  ["transport", "point-to-point byte transport (in-process, TCP)"],
  ["collectives", "all-reduce, broadcast, all-gather... over a transport"],
  ["executors", "where collectives run: comm thread, shared memory"],
  ["group", "ProcessGroup and how a worker creates one"],
  ["metrics", "per-step metrics written and summarised"],
  ["diagnostics", "the ranks' flight records merged into one account of a stuck or failed job (weft diagnose)"],
  ["launch", "the launcher that starts and watches ranks"],
  ["tensor-parallel", "Megatron-style tensor-parallel layers and GPT: autograd operators over a group's inline all-reduce"],
  ["strategies", "DDP and other ways to train with a group"],
  ["elastic", "membership generations: re-forming the group when workers are lost or join, and handing the state on"],
];

const TOP_RANK = new Map(TOP_LAYERS.map(([name], i) => [name, i]));
const DIST_RANK = new Map(DIST_LAYERS.map(([name], i) => [name, i]));

// ---------------------------------------------------------------------------------------------
// Finding import paths. A regular expression over raw text would be fooled by comments (the JSDoc
// examples show `import ... from "weft"`) and by strings holding `//`, so this walks the text
// once, skipping comments and string, template and regex bodies, and keeps identifier,
// punctuation and string tokens. Template `${...}` parts are lexed as code.

const KEYWORDS_BEFORE_EXPRESSION = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else",
  "yield", "await",
]);

/** @returns {{ t: "id" | "str" | "punct", v: string, line: number }[]} */
function tokenize(text) {
  const tokens = [];
  const braceStack = []; // one entry per open `{`: true when it opened a template `${`
  let i = 0;
  let line = 1;
  const n = text.length;
  const prevAllowsRegex = () => {
    const p = tokens[tokens.length - 1];
    if (!p) return true;
    if (p.t === "str") return false;
    if (p.t === "id") return KEYWORDS_BEFORE_EXPRESSION.has(p.v);
    return !(p.v === ")" || p.v === "]" || p.v === "}");
  };
  // Reads a template body from i (just past "`" or "}") up to "`" or "${".
  const readTemplate = () => {
    while (i < n) {
      const c = text[i];
      if (c === "\\") { i += 2; continue; }
      if (c === "\n") line++;
      if (c === "`") { i++; tokens.push({ t: "str", v: "`template`", line }); return; }
      if (c === "$" && text[i + 1] === "{") { i += 2; braceStack.push(true); return; }
      i++;
    }
  };
  while (i < n) {
    const c = text[i];
    if (c === "\n") { line++; i++; continue; }
    if (c === " " || c === "\t" || c === "\r") { i++; continue; }
    if (c === "/" && text[i + 1] === "/") { while (i < n && text[i] !== "\n") i++; continue; }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (text[k] === "\n") line++;
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = line;
      let v = "";
      i++;
      while (i < n && text[i] !== c && text[i] !== "\n") {
        if (text[i] === "\\") { v += text[i + 1] ?? ""; i += 2; continue; }
        v += text[i++];
      }
      i++;
      tokens.push({ t: "str", v, line: start });
      continue;
    }
    if (c === "`") { i++; readTemplate(); continue; }
    if (c === "/" && prevAllowsRegex()) {
      let inClass = false;
      i++;
      while (i < n && text[i] !== "\n") {
        const d = text[i];
        if (d === "\\") { i += 2; continue; }
        if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < n && /[a-z]/i.test(text[i])) i++;
      tokens.push({ t: "str", v: "/regex/", line });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(text[j])) j++;
      tokens.push({ t: "id", v: text.slice(i, j), line });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(text[j])) j++;
      tokens.push({ t: "id", v: text.slice(i, j), line });
      i = j;
      continue;
    }
    if (c === "{") braceStack.push(false);
    if (c === "}" && braceStack.length > 0 && braceStack.pop()) { i++; readTemplate(); continue; }
    tokens.push({ t: "punct", v: c, line });
    i++;
  }
  return tokens;
}

/** Every module path a file names in an import or re-export, with its line. */
export function importsOf(text) {
  const tk = tokenize(text);
  const found = [];
  const at = (k) => tk[k] ?? { t: "eof", v: "", line: 0 };
  const isPunct = (k, v) => at(k).t === "punct" && at(k).v === v;
  const isId = (k, v) => at(k).t === "id" && at(k).v === v;
  // From k, skips a `{ ... }` group or one token, until `from "p"`; gives up at `;` or another
  // statement keyword (then the statement was `export const ...` or similar).
  const findFrom = (k) => {
    for (let steps = 0; k < tk.length && steps < 400; steps++) {
      if (isPunct(k, "{")) {
        let depth = 0;
        for (; k < tk.length; k++) {
          if (isPunct(k, "{")) depth++;
          if (isPunct(k, "}") && --depth === 0) break;
        }
        k++;
        continue;
      }
      if (isId(k, "from") && at(k + 1).t === "str") return at(k + 1);
      if (isPunct(k, ";") || isPunct(k, "=") || isPunct(k, "(")) return null;
      if (at(k).t === "str") return null;
      k++;
    }
    return null;
  };
  for (let k = 0; k < tk.length; k++) {
    const afterDot = isPunct(k - 1, ".");
    if (isId(k, "import") && !afterDot) {
      if (isPunct(k + 1, "(")) {
        if (at(k + 2).t === "str" && (isPunct(k + 3, ")") || isPunct(k + 3, ","))) found.push({ path: at(k + 2).v, line: at(k).line, kind: "import()" });
        continue;
      }
      if (isPunct(k + 1, ".")) continue; // import.meta
      if (at(k + 1).t === "str") { found.push({ path: at(k + 1).v, line: at(k).line, kind: "import" }); continue; }
      // import x = require("p")
      let j = k + 1;
      if (isId(j, "type")) j++;
      if (at(j).t === "id" && isPunct(j + 1, "=") && isId(j + 2, "require") && isPunct(j + 3, "(") && at(j + 4).t === "str") {
        found.push({ path: at(j + 4).v, line: at(k).line, kind: "import =" });
        continue;
      }
      const from = findFrom(k + 1);
      if (from) found.push({ path: from.v, line: at(k).line, kind: "import" });
    } else if (isId(k, "export") && !afterDot) {
      let j = k + 1;
      if (isId(j, "type")) j++;
      if (!(isPunct(j, "*") || isPunct(j, "{"))) continue;
      const from = findFrom(j);
      if (from) found.push({ path: from.v, line: at(k).line, kind: "export from" });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Where a file sits in the layers.

/**
 * @returns {{ layer: string, rank: number, sub?: string, subRank?: number, entry?: "src" | "distributed", loose?: boolean, unknown?: boolean }}
 */
function placeOf(relPath) {
  const parts = relPath.split("/"); // "src/..." with forward slashes
  if (parts.length === 2) return { layer: "src entry", rank: Infinity, entry: "src" };
  const top = parts[1];
  const rank = TOP_RANK.get(top);
  if (rank === undefined) return { layer: top, rank: -1, unknown: true };
  if (top !== "distributed") return { layer: top, rank };
  if (parts.length === 3) {
    if (parts[2] === "index.ts") return { layer: "distributed", rank, sub: "distributed entry", subRank: Infinity, entry: "distributed" };
    return { layer: "distributed", rank, sub: "(loose file)", subRank: -1, loose: true };
  }
  const subRank = DIST_RANK.get(parts[2]);
  if (subRank === undefined) return { layer: "distributed", rank, sub: parts[2], subRank: -1, unknown: true };
  return { layer: "distributed", rank, sub: parts[2], subRank };
}

const layerName = (p) => (p.sub ? `distributed/${p.sub}` : p.layer);

// ---------------------------------------------------------------------------------------------
// Resolving a path to a file under root.

function listTs(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return listTs(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

const isFile = (p) => existsSync(p) && statSync(p).isFile();

/** The .ts file a relative specifier names (NodeNext: "./x.js" means ./x.ts), or null. */
function resolveRelative(fromFile, spec) {
  const base = resolve(dirname(fromFile), spec);
  const candidates = [base.replace(/\.(m|c)?js$/, (m) => m.replace("js", "ts")), `${base}.ts`, join(base, "index.ts"), base];
  for (const c of candidates) if (c.endsWith(".ts") && isFile(c)) return c;
  return isFile(base) ? "non-ts" : null;
}

/** The package's own name and its exports, so `import "weft"` from inside src/ is seen as an import of src/index.ts. */
function readPackageSelf(root) {
  const file = join(root, "package.json");
  if (!isFile(file)) return null;
  const pkg = JSON.parse(readFileSync(file, "utf8"));
  const targets = new Map();
  for (const [key, value] of Object.entries(pkg.exports ?? {})) {
    const target = typeof value === "string" ? value : value?.default;
    if (typeof target !== "string") continue;
    const ts = join(root, target.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts"));
    targets.set(key === "." ? pkg.name : `${pkg.name}/${key.replace(/^\.\//, "")}`, ts);
  }
  return { name: pkg.name, targets };
}

// ---------------------------------------------------------------------------------------------
// Cycles: Tarjan's strongly connected components, then one concrete cycle per component so the
// report names files a reader can open, in import order.

function findCycles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], components = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) components.push(comp);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  // A shortest cycle through the component's first file (breadth-first inside the component).
  return components.map((comp) => {
    const inComp = new Set(comp);
    const start = [...comp].sort()[0];
    const prev = new Map([[start, null]]);
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift();
      for (const w of [...(graph.get(v) ?? [])].sort()) {
        if (w === start) {
          const path = [start];
          for (let u = v; u !== start; u = prev.get(u)) path.splice(1, 0, u);
          return [...path, start];
        }
        if (inComp.has(w) && !prev.has(w)) { prev.set(w, v); queue.push(w); }
      }
    }
    return [start, start];
  });
}

// ---------------------------------------------------------------------------------------------

/** A violation: its rule, the files it names, and its line of text. */
const v = (rule, files, text) => ({ rule, files, text });

/** Checks root/src; returns the violations and counts. */
export function checkLayers(root) {
  const srcDir = join(root, "src");
  const rel = (p) => relative(root, p).split(sep).join("/");
  const self = readPackageSelf(root);
  const violations = [];
  const graph = new Map();
  const files = listTs(srcDir).sort();
  let importCount = 0;
  for (const file of files) {
    const from = rel(file);
    const fp = placeOf(from);
    graph.set(from, graph.get(from) ?? new Set());
    if (fp.unknown) {
      violations.push(v("unknown-folder", [from], `${from}: folder "${fp.sub ?? fp.layer}" is not in the layer table: add it to ${fp.sub ? "DIST_LAYERS" : "TOP_LAYERS"} in scripts/check-layers.mjs at the height it belongs, or move the file into an existing layer`));
    }
    if (fp.loose) {
      violations.push(v("loose", [from], `${from}: a loose file at the top of src/distributed/ (only index.ts may sit there): move it into the sub-folder of the concern it serves (${DIST_LAYERS.map(([d]) => d).join(", ")})`));
    }
    for (const imp of importsOf(readFileSync(file, "utf8"))) {
      let target;
      if (imp.path.startsWith(".")) {
        target = resolveRelative(file, imp.path);
        if (target === "non-ts") continue; // a JSON or other data file: not a module of the layers
        if (target === null) {
          violations.push(v("unresolved", [from], `${from}:${imp.line}: ${imp.kind} "${imp.path}" resolves to no .ts file: fix the path (NodeNext wants "./x.js" for x.ts)`));
          continue;
        }
      } else if (self && (imp.path === self.name || imp.path.startsWith(`${self.name}/`))) {
        target = self.targets.get(imp.path);
        if (!target || !isFile(target)) {
          violations.push(v("unresolved", [from], `${from}:${imp.line}: ${imp.kind} "${imp.path}" names this package from inside it and is not one of its entries: import the module by its relative path`));
          continue;
        }
      } else continue; // node: built-ins and dependencies sit below every layer
      importCount++;
      const to = rel(target);
      if (!to.startsWith("src/")) {
        violations.push(v("outside", [from, to], `${from}:${imp.line} (${layerName(fp)}) imports ${to}, outside src/: the published package holds src/ only; move what it needs into src/`));
        continue;
      }
      graph.get(from).add(to);
      const tp = placeOf(to);
      const line = `${from}:${imp.line} (${layerName(fp)}) imports ${to} (${layerName(tp)})`;
      // (b) an entry imported from underneath it: src/*.ts from any folder, src/distributed/index.ts
      // from inside distributed/, a folder's index.ts from inside that folder.
      if (tp.entry === "src" && !fp.entry) {
        violations.push(v("entry", [from, to], `${line}: a package entry imported from inside src/: import the module that defines the name, not the entry`));
        continue;
      }
      if (tp.entry === "distributed" && fp.layer === "distributed" && !fp.entry) {
        violations.push(v("entry", [from, to], `${line}: src/distributed/index.ts imported from inside distributed/: import the module that defines the name`));
        continue;
      }
      if (to.endsWith("/index.ts") && !tp.entry && from.startsWith(to.slice(0, -"index.ts".length)) && from !== to) {
        violations.push(v("entry", [from, to], `${line}: a folder's index.ts imported from inside that folder: import the sibling module directly (the index is for the layers above)`));
        continue;
      }
      if (fp.entry === "src" || tp.unknown || fp.unknown) continue;
      // (a) upward imports, between top-level layers and between distributed's sub-layers.
      if (tp.rank > fp.rank) {
        violations.push(v("upward", [from, to], `${line}: ${tp.layer} sits above ${fp.layer}: move the shared piece down to ${fp.layer} or below, or pass it in from ${tp.layer}`));
      } else if (fp.layer === "distributed" && tp.layer === "distributed" && !fp.entry && tp.subRank > fp.subRank && !tp.loose && !fp.loose) {
        violations.push(v("upward", [from, to], `${line}: distributed/${tp.sub} sits above distributed/${fp.sub}: move the shared piece down to distributed/${fp.sub} or below, or pass it in from distributed/${tp.sub}`));
      }
    }
  }
  // (c) cycles between files.
  for (const cycle of findCycles(graph)) {
    violations.push(v("cycle", [...new Set(cycle)].sort(), `import cycle: ${cycle.join(" -> ")}: break it by moving what both need into a module that neither imports back, or by passing it in`));
  }
  return { violations, fileCount: files.length, importCount };
}

function main() {
  const args = process.argv.slice(2);
  let root = process.cwd();
  for (let k = 0; k < args.length; k++) {
    if (args[k] === "--root" && args[k + 1]) root = resolve(args[++k]);
    else if (args[k].startsWith("--root=")) root = resolve(args[k].slice("--root=".length));
    else {
      console.error(`check-layers: unknown argument "${args[k]}": the only option is --root DIR (a folder holding src/)`);
      process.exit(2);
    }
  }
  if (!existsSync(join(root, "src"))) {
    console.error(`check-layers: ${join(root, "src")} does not exist: run from the repository root or pass --root DIR`);
    process.exit(2);
  }
  const { violations, fileCount, importCount } = checkLayers(root);
  for (const x of violations) console.error(x.text);
  const failing = violations;
  const summary = `check-layers: ${fileCount} files, ${importCount} imports inside src/, ${failing.length} violation(s)`;
  if (failing.length > 0) {
    console.error(`${summary}. The layers (bottom to top) are listed at the top of scripts/check-layers.mjs.`);
    process.exit(1);
  }
  console.log(summary);
}

// Run as a script (not when a test imports importsOf/checkLayers).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
