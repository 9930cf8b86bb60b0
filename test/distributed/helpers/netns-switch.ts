// "Machines" for tests: network namespaces joined by a bridge in a namespace of its own (the
// switch), so one machine's link can be cut (its port on the switch set down) while the others
// still reach each other. Needs root and iproute2. Names are unique per call; remove() deletes
// every namespace (and with them the veth pairs and the bridge), and is safe to call twice.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

function ip(...args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr || r.error?.message}`);
}

/** Why namespaces cannot be made here, or undefined. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("ip", ["-V"]).status !== 0) return "needs iproute2 (`ip`)";
  return undefined;
}

export interface Machines {
  /** Namespace of machine i. */
  ns: string[];
  /** Address of machine i. */
  addr: string[];
  /** Cuts machine i off (its switch port goes down), or restores it. */
  cut(i: number): void;
  restore(i: number): void;
  remove(): void;
  /** Whether any namespace of this set is still listed. */
  leftBehind(): boolean;
}

export function makeMachines(count: number): Machines {
  const id = randomBytes(3).toString("hex");
  const sw = `weft-sw-${id}`;
  const ns = Array.from({ length: count }, (_, i) => `weft-m${i}-${id}`);
  const net = `10.${200 + (parseInt(id, 16) % 50)}.${parseInt(id.slice(2), 16) % 250}`;
  const addr = ns.map((_, i) => `${net}.${i + 1}`);
  const port = (i: number) => `wsp${i}${id}`;
  const removeAll = (): void => {
    for (const n of [...ns, sw]) spawnSync("ip", ["netns", "del", n]);
  };
  try {
    ip("netns", "add", sw);
    ip("-n", sw, "link", "add", "br0", "type", "bridge");
    ip("-n", sw, "link", "set", "br0", "up");
    ns.forEach((n, i) => {
      ip("netns", "add", n);
      const inside = `wsn${i}${id}`;
      ip("link", "add", inside, "type", "veth", "peer", "name", port(i));
      ip("link", "set", inside, "netns", n);
      ip("link", "set", port(i), "netns", sw);
      ip("-n", sw, "link", "set", port(i), "master", "br0");
      ip("-n", sw, "link", "set", port(i), "up");
      ip("-n", n, "addr", "add", `${addr[i]}/24`, "dev", inside);
      ip("-n", n, "link", "set", inside, "up");
      ip("-n", n, "link", "set", "lo", "up");
    });
  } catch (err) {
    removeAll();
    throw err;
  }
  return {
    ns, addr,
    cut: (i) => ip("-n", sw, "link", "set", port(i), "down"),
    restore: (i) => ip("-n", sw, "link", "set", port(i), "up"),
    remove: removeAll,
    leftBehind: () => spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(id),
  };
}

/**
 * Runs `weft launch <args>` inside namespace `ns` (test/distributed/helpers/run-launch-cli.ts)
 * and resolves with its exit code and everything it printed. A hung launcher is killed after
 * 180 s: a job here takes seconds, more on a loaded machine.
 */
export function launchInNamespace(ns: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const cli = fileURLToPath(new URL("./run-launch-cli.js", import.meta.url));
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  return new Promise((resolve) => child.on("close", (code) => (clearTimeout(timer), resolve({ code, out }))));
}
