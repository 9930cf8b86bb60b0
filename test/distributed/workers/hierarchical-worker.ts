// A rank of the hierarchical all-reduce tests (test/distributed/hierarchical*.test.ts). Its place
// comes from the launcher (two network namespaces, `weft launch --nnodes 2 --nproc 2` in each) or,
// on one machine, from the machine layout given as its second argument (`2,2`: machine 0 holds
// ranks 0-1, machine 1 ranks 2-3), so that the hierarchy's logic can be tested on loopback too.
// Prints JSON lines: {"check":name,...}.
//
//   node hierarchical-worker.js <scenario> [<ranks per machine, comma-separated> [<kill: the victim's rank>]]
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { initProcessGroup, type InitProcessGroupOptions } from "../../../src/distributed/group/init.js";
import { HierarchicalProcessGroup } from "../../../src/distributed/group/hierarchical-group.js";
import { sharedFloat32Array } from "../../../src/distributed/base/shared-buffer.js";
import { flightRecorder } from "../../../src/distributed/group/flight-recorder.js";
import { DistributedDataParallel } from "../../../src/distributed/strategies/ddp.js";
import { SGD } from "../../../src/optim/index.js";
import { orderSensitiveInputs } from "../helpers/reference-sum.js";
import { reportError } from "../helpers/report-error.js";
import { flatParameters, toyModel, toyTask } from "../helpers/toy-training.js";
import { DDP_LR, DDP_SEED, DDP_STEPS, HIERARCHY_CASES, HIERARCHY_SMALL_BYTES, LINK_BYTES, LINK_ROUNDS } from "../helpers/hierarchical-cases.js";

const [scenario, layout] = process.argv.slice(2);

/** The overrides that place this rank on a simulated machine of `layout` (the launcher's rank numbering: machine by machine). */
function placeOf(rank: number, counts: number[]): InitProcessGroupOptions {
  let first = 0;
  for (const [node, n] of counts.entries()) {
    if (rank < first + n) return { nodeRank: node, localRank: rank - first, localWorldSize: n };
    first += n;
  }
  throw new Error(`rank ${rank} is past the layout ${counts.join(",")}`);
}

const place = layout ? placeOf(Number(process.env.WEFT_RANK), layout.split(",").map(Number)) : {};
// "optout": the last rank alone asks for the flat group.
const optOut = scenario === "optout" && Number(process.env.WEFT_RANK) === Number(process.env.WEFT_WORLD_SIZE) - 1 ? { hierarchical: false } : {};
const pg = await initProcessGroup({ ...place, ...optOut, smallMessageBytes: HIERARCHY_SMALL_BYTES, timeoutMs: 60_000, connectTimeoutMs: 120_000 });
const { rank, worldSize: w } = pg;
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ rank, ...o })}\n`);
const hash = (a: Float32Array): string => createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
out({ check: "group", hierarchical: pg instanceof HierarchicalProcessGroup, machines: pg instanceof HierarchicalProcessGroup ? pg.machines : null, transport: pg.transport });

/** Bytes this machine has sent on its interfaces other than loopback (inside a namespace: its veth). */
function txBytes(): number {
  return readdirSync("/sys/class/net").filter((d) => d !== "lo").reduce((sum, d) => sum + Number(readFileSync(`/sys/class/net/${d}/statistics/tx_bytes`, "utf8")), 0);
}

for (const part of scenario!.split("+")) await run(part);
await pg.destroy();

async function run(part: string): Promise<void> {
  switch (part) {
    case "bitwise": {
      for (const c of HIERARCHY_CASES) {
        const mine = orderSensitiveInputs(w, c.count, c.seed)[rank]!;
        // Shared buffers and ordinary ones (copied to the comm thread and back) alike.
        const buf = c.shared ? sharedFloat32Array(c.count) : new Float32Array(c.count);
        buf.set(mine);
        await pg.allReduce(buf, { op: c.op });
        out({ check: `${c.count} ${c.op}`, hash: hash(buf) });
      }
      // What the flight recorder says ran: the hierarchy, and its parts under their own groups.
      const algorithms = flightRecorder.records().filter((r) => r.op === "all-reduce").map((r) => `${r.group} ${r.algorithm}`);
      out({ check: "flight", algorithms: [...new Set(algorithms)] });
      // The other collectives still work (on the flat group).
      const gathered = new Float32Array(w);
      await pg.allGather(Float32Array.of(rank), gathered);
      const root = Float32Array.of(rank === 1 ? 42 : 0);
      await pg.broadcast(root, 1);
      await pg.barrier();
      out({ check: "others", gathered: [...gathered], broadcast: root[0] });
      break;
    }
    case "ddp": {
      // SGD over the toy task, each rank on its own batches; the digest and the parameters at the end.
      const model = toyModel(DDP_SEED + rank); // different on purpose: set-up broadcasts rank 0's
      const ddp = await DistributedDataParallel.create(model, pg, { bucketBytes: 256 });
      const opt = new SGD(model.parameters(), { lr: DDP_LR });
      const { lossOf } = toyTask(DDP_SEED);
      for (let t = 0; t < DDP_STEPS; t++) {
        opt.zeroGrad();
        lossOf(model, rank, t).backward();
        await ddp.finishGradients();
        opt.step();
      }
      out({ check: "ddp", digest: ddp.parameterDigest(), params: [...flatParameters(model)] });
      break;
    }
    case "kill": {
      // The victim (the third argument) dies between two all-reduces; the others report the second.
      const victim = Number(process.argv[4]);
      const buf = sharedFloat32Array(100_000).fill(1);
      await pg.allReduce(buf);
      await pg.barrier();
      if (rank === victim) process.kill(process.pid, "SIGKILL");
      const t0 = performance.now();
      await reportError(out, "kill", pg.allReduce(buf, { timeoutMs: 30_000 }), t0);
      break;
    }
    case "link": {
      // The hierarchical group against a flat one of the same ranks, alternately: the bytes each
      // machine sends across its link during one all-reduce of LINK_BYTES, and its time.
      const flat = await initProcessGroup({ hierarchical: false, timeoutMs: 60_000, connectTimeoutMs: 120_000 });
      const buf = sharedFloat32Array(LINK_BYTES / 4).fill(1e-3);
      const reportsLink = process.env.WEFT_LOCAL_RANK === "0"; // both ranks of a machine share its link
      for (let round = 0; round < LINK_ROUNDS; round++) {
        for (const [kind, g] of [["hierarchical", pg], ["flat", flat]] as const) {
          if (round === 0) {
            await g.allReduce(buf, { op: "avg" }); // warm-up: staging, sockets' windows
            await g.barrier(); // once everyone is here, nothing of the warm-up is left on the wire
          }
          // Read before the barrier: the other rank of the machine may start sending as soon as it leaves it.
          const before = reportsLink ? txBytes() : 0;
          await g.barrier();
          const t0 = performance.now();
          await g.allReduce(buf, { op: "avg" });
          const ms = performance.now() - t0;
          await g.barrier();
          if (reportsLink) out({ check: "link", kind, round, txBytes: txBytes() - before, ms });
        }
      }
      await flat.destroy();
      break;
    }
    case "group":
    case "optout":
      break;
    default:
      throw new Error(`unknown scenario ${part}`);
  }
}
