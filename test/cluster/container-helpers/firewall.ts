// The host's packet-filter state a Docker daemon changes (its iptables and ip6tables rules, the
// tables it creates, IPv4 forwarding), saved before the daemon starts and put back after it
// stops. Docker adds DOCKER* chains, NAT rules and a FORWARD policy of DROP; put back means the
// same rules, policies and tables as before, and same() says whether that holds.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FAMILIES = [
  { save: "iptables-save", restore: "iptables-restore", nft: "ip" },
  { save: "ip6tables-save", restore: "ip6tables-restore", nft: "ip6" },
] as const;

const FORWARDING = "/proc/sys/net/ipv4/ip_forward";

/** Each table's built-in chains: restore() sets their policies back to ACCEPT before loading the saved rules. */
const BUILT_IN: Record<string, string[]> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
  security: ["INPUT", "FORWARD", "OUTPUT"],
};

export interface FirewallState {
  rules: string[];
  forwarding: string | undefined;
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
}

export function saveFirewall(): FirewallState {
  return {
    rules: FAMILIES.map((f) => run(f.save, [])),
    forwarding: existsSync(FORWARDING) ? readFileSync(FORWARDING, "utf8").trim() : undefined,
  };
}

/** The tables a save lists. */
function tablesOf(saved: string): string[] {
  return saved.split("\n").filter((l) => l.startsWith("*")).map((l) => l.slice(1));
}

/** A save without its comments and packet counters, and without tables that hold nothing (an nftables-backed save lists those). */
export function normalized(saved: string): string {
  const out: string[] = [];
  for (const block of saved.split(/^COMMIT$/m)) {
    const lines = block.split("\n").map((l) => l.replace(/ \[\d+:\d+\]$/, "")).filter((l) => l && !l.startsWith("#"));
    const table = lines.find((l) => l.startsWith("*"))?.slice(1);
    if (!table) continue;
    const empty = lines.every((l) => l.startsWith("*") || (l.startsWith(":") && l.endsWith(" ACCEPT") && (BUILT_IN[table] ?? []).includes(l.slice(1, -" ACCEPT".length))));
    if (!empty) out.push(lines.join("\n"));
  }
  return out.join("\nCOMMIT\n");
}

/** Puts the saved state back: flushes every table now present, reloads the saved rules, removes the tables that were not there. */
export function restoreFirewall(before: FirewallState): void {
  const errors: string[] = [];
  FAMILIES.forEach((f, i) => {
    try {
      const saved = before.rules[i]!;
      const had = new Set(tablesOf(saved));
      const now = tablesOf(run(f.save, []));
      // A restore of a table flushes it and deletes its own chains; empty ACCEPT sections reset the policies too.
      const reset = now.map((t) => [`*${t}`, ...(BUILT_IN[t] ?? []).map((c) => `:${c} ACCEPT [0:0]`), "COMMIT"].join("\n")).join("\n");
      if (reset) run(f.restore, [], `${reset}\n`);
      if (saved.trim()) run(f.restore, [], saved);
      // With the nftables backend an emptied table stays listed; one that did not exist before is deleted.
      if (/nf_tables/.test(run(f.save.replace("-save", ""), ["-V"]))) {
        for (const t of now.filter((t) => !had.has(t))) spawnSync("nft", ["delete", "table", f.nft, t]);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  if (before.forwarding !== undefined) writeFileSync(FORWARDING, `${before.forwarding}\n`);
  if (errors.length) throw new Error(`restoring the firewall: ${errors.join("; ")}`);
}

/** Differences between the saved state and the host's now, or an empty list. */
export function firewallChanges(before: FirewallState): string[] {
  const now = saveFirewall();
  const changes: string[] = [];
  FAMILIES.forEach((f, i) => {
    if (normalized(before.rules[i]!) !== normalized(now.rules[i]!)) changes.push(`${f.save}:\n${normalized(now.rules[i]!)}\n(before:\n${normalized(before.rules[i]!)})`);
  });
  if (before.forwarding !== now.forwarding) changes.push(`${FORWARDING} is ${now.forwarding}, was ${before.forwarding}`);
  return changes;
}
