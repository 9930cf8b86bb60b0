// How the launcher starts a worker script: .js/.mjs/.cjs with this Node, .ts/.mts/.cts with this
// Node and tsx, anything else executed directly. Node workers also load worker-preload.ts (Note
// [one line per failed job] in fatal-report.ts).
//
// Why tsx for TypeScript: Node 20 cannot strip types itself, and users write their training
// scripts in TypeScript. tsx (esbuild underneath, shipped as a prebuilt binary inside a registry
// package) transpiles each file as it is loaded, resolves `./model.js` to `./model.ts` as tsc's
// NodeNext style expects, handles ESM and CommonJS and the tsconfig's paths, and runs inside the
// worker's own process (`--import`), so a rank stays one process. The alternative, a
// module.register() hook over TypeScript's transpileModule, starts about as slowly (both add
// 0.3-0.5 s to a worker's start here), but would make the 23 MB compiler a runtime dependency and
// re-implement tsx's resolution rules by hand. Neither type-checks: `npx tsc --noEmit` does that.

/** The program and leading arguments for `script` (its own arguments follow). */
export interface WorkerCommand {
  file: string;
  args: string[];
}

const PRELOAD = new URL("./worker-preload.js", import.meta.url).href;

/** tsx's loader as a file URL, resolved from this package so the user's project need not install it. */
function tsxLoader(): string {
  try {
    return import.meta.resolve("tsx");
  } catch (err) {
    throw new Error(`cannot run a TypeScript worker: the tsx package is missing (${(err as Error).message}); reinstall weft, or compile the script and launch the .js`);
  }
}

/**
 * The command that runs `script`.
 *
 * @example A TypeScript script runs through tsx, a shell script directly
 * ```ts
 * assert.ok(workerCommand("train.ts").args.includes("train.ts"));
 * assert.deepEqual(workerCommand("./run.sh"), { file: "./run.sh", args: [] });
 * ```
 */
export function workerCommand(script: string): WorkerCommand {
  if (/\.(c|m)?js$/.test(script)) return { file: process.execPath, args: ["--import", PRELOAD, script] };
  if (/\.(c|m)?ts$/.test(script)) return { file: process.execPath, args: ["--import", PRELOAD, "--import", tsxLoader(), script] };
  return { file: script, args: [] };
}

/**
 * Node's own flags for a worker bound to `cpus` (null: not bound). On one CPU, V8's parallel and
 * concurrent garbage collection runs its helper threads on the core the training loop needs:
 * measured on MNIST with two workers bound to a core each, the helpers took 4.4 s of CPU for every
 * 9.4 s of the main thread, and `--single-threaded-gc`, which has the main thread collect alone,
 * raised the two workers from 3,164-3,716 to 4,419-5,219 samples/s (BENCHMARKS.md, data-parallel
 * MNIST). With more CPUs each, the helpers have cores of their own and stay.
 *
 * @example
 * ```ts
 * assert.deepEqual(nodeFlagsFor(workerCommand("train.js"), [3]), ["--single-threaded-gc"]);
 * assert.deepEqual(nodeFlagsFor(workerCommand("train.js"), [2, 3]), []);
 * assert.deepEqual(nodeFlagsFor(workerCommand("./run.sh"), [3]), []);
 * ```
 */
export function nodeFlagsFor(command: WorkerCommand, cpus: readonly number[] | null | undefined): string[] {
  return command.file === process.execPath && cpus?.length === 1 ? ["--single-threaded-gc"] : [];
}
