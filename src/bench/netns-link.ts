// Two "machines" joined by one link of a chosen speed: network namespaces at the ends of a veth
// pair, each end's egress capped by a token bucket (`tc qdisc ... tbf`), so a job between them
// crosses a link like a slow network's, in both directions, on one host. `weft bench compression`
// runs one job end per namespace.
//
// Why a veth pair and no bridge: two machines need one cable, and a cap on each end is then the
// whole link (nothing else queues). Why tbf: it is what this kernel offers for a rate (no netem);
// burst 64 KiB and latency 100 ms hold 100 Mbit/s and 1 Gbit/s to within 5% of their rate, as
// measured here with one TCP stream (95.8 and 951.7 Mbit/s).
//
// Note [namespaces are removed]: a namespace outlives the process that made it, so the link is
// removed on every way out: remove() deletes both namespaces (their veth ends and qdiscs go with
// them), and until then an exit handler does it too, so an error or a signal that ends the
// process leaves nothing behind. The caller stops what runs inside first: the kernel frees a
// deleted namespace only once its last process has gone.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** The addresses of the two ends, the same in every link: each lives in its own namespaces, so links never clash. */
export const LINK_ADDRESSES = ["10.77.0.1", "10.77.0.2"] as const;

/** A link's speed: a tc rate ("100mbit", "1gbit"), or undefined for no cap (the veth's own speed). */
export type LinkRate = string | undefined;

export interface NetnsLink {
  /** The namespace of each end (`ip netns exec NAME ...` runs a program on that machine). */
  readonly namespaces: readonly [string, string];
  /** Each end's address. */
  readonly addresses: readonly [string, string];
  /** The veth device at each end, inside its namespace. */
  readonly devices: readonly [string, string];
  readonly rate: LinkRate;
  /** Deletes both namespaces; safe to call twice. */
  remove(): void;
}

/**
 * Why links cannot be made here (one line saying what is missing), or undefined.
 *
 * @example
 * ```ts
 * const problem = netnsLinkProblem();
 * assert.ok(problem === undefined || /needs/.test(problem));
 * ```
 */
export function netnsLinkProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces (ip netns) and cap links (tc): run it as root";
  if (spawnSync("ip", ["-V"]).status !== 0) return "needs `ip` (iproute2) to create network namespaces: install iproute2";
  if (spawnSync("tc", ["-V"]).status !== 0) return "needs `tc` (iproute2) to cap the link's rate: install iproute2";
  return undefined;
}

/**
 * The tc rate of a link name: "unlimited" is no cap; `<n>kbit`, `<n>mbit`, `<n>gbit` are caps.
 * Throws a RangeError naming the name and the forms when it is neither.
 *
 * @example
 * ```ts
 * assert.equal(linkRate("100mbit"), "100mbit");
 * assert.equal(linkRate("unlimited"), undefined);
 * assert.throws(() => linkRate("fast"), /"fast" is not a link speed/);
 * ```
 */
export function linkRate(name: string): LinkRate {
  if (name === "unlimited") return undefined;
  if (!/^[1-9]\d*(\.\d+)?(kbit|mbit|gbit)$/.test(name)) {
    throw new RangeError(`"${name}" is not a link speed: write unlimited or a rate such as 100mbit, 1gbit, 500kbit`);
  }
  return name;
}

/**
 * The link's rate in megabits per second, for the report (undefined: no cap).
 *
 * @example
 * ```ts
 * assert.deepEqual([linkMbit("1gbit"), linkMbit("100mbit"), linkMbit("500kbit"), linkMbit(undefined)], [1000, 100, 0.5, undefined]);
 * ```
 */
export function linkMbit(rate: LinkRate): number | undefined {
  if (rate === undefined) return undefined;
  const scale = { kbit: 1e-3, mbit: 1, gbit: 1e3 } as const;
  const unit = rate.slice(-4) as keyof typeof scale;
  return Number(rate.slice(0, -4)) * scale[unit];
}

function run(program: string, args: string[]): void {
  const r = spawnSync(program, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${program} ${args.join(" ")} failed: ${(r.stderr || r.error?.message || "").trim()}`);
}

/**
 * Makes the two namespaces, the veth between them (addresses LINK_ADDRESSES), and with a rate a
 * tbf qdisc on both ends. Names carry a random id (`weft-link-<id>-0`), so links made at once do
 * not meet; everything named with it is gone after remove() (Note [namespaces are removed]).
 *
 * @example A 100 Mbit/s link, made and removed (as root)
 * ```ts
 * if (netnsLinkProblem() === undefined) {
 *   const link = createNetnsLink("100mbit");
 *   const { spawnSync } = await import("node:child_process");
 *   const qdisc = spawnSync("tc", ["-n", link.namespaces[0], "qdisc", "show", "dev", link.devices[0]], { encoding: "utf8" });
 *   assert.match(qdisc.stdout, /tbf .*rate 100Mbit/);
 *   link.remove();
 *   assert.ok(!spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(link.namespaces[0]));
 * }
 * ```
 */
export function createNetnsLink(rate: LinkRate): NetnsLink {
  const id = randomBytes(3).toString("hex");
  const namespaces = [`weft-link-${id}-0`, `weft-link-${id}-1`] as const;
  // Interface names have at most 15 characters.
  const devices = [`wlk${id}a`, `wlk${id}b`] as const;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    process.off("exit", remove);
    for (const ns of namespaces) spawnSync("ip", ["netns", "del", ns]);
    // A veth made but not yet moved into a namespace would stay in this one.
    spawnSync("ip", ["link", "del", devices[0]], { stdio: "ignore" });
  };
  process.on("exit", remove);
  try {
    for (const ns of namespaces) run("ip", ["netns", "add", ns]);
    run("ip", ["link", "add", devices[0], "type", "veth", "peer", "name", devices[1]]);
    for (const i of [0, 1] as const) {
      const [ns, dev] = [namespaces[i], devices[i]];
      run("ip", ["link", "set", dev, "netns", ns]);
      run("ip", ["-n", ns, "addr", "add", `${LINK_ADDRESSES[i]}/24`, "dev", dev]);
      run("ip", ["-n", ns, "link", "set", dev, "up"]);
      run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      if (rate !== undefined) run("tc", ["-n", ns, "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "64kb", "latency", "100ms"]);
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { namespaces, addresses: LINK_ADDRESSES, devices, rate, remove };
}
