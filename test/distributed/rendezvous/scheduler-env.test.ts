// The environment reader (rendezvous/scheduler-env.ts): which source wins, what each reads, and
// the one-line errors of a source only partly there. Slurm's real variables are checked by
// test/cluster/slurm.test.ts on a running cluster; here they are written out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readSchedulerEnv, slurmPort } from "../../../src/distributed/rendezvous/scheduler-env.js";
import { expandHostList, expandTasksPerNode } from "../../../src/distributed/rendezvous/host-list.js";

const SECRET = { WEFT_JOB_SECRET: "a secret of at least sixteen characters" };

/** The variables srun gives task 3 of `srun -n 4 -N 2` (as Slurm 22.05 sets them). */
const SLURM_TASK = {
  SLURM_JOB_ID: "4242", SLURM_STEP_ID: "0", SLURM_PROCID: "3", SLURM_NTASKS: "4", SLURM_STEP_NUM_TASKS: "4",
  SLURM_LOCALID: "1", SLURM_NODEID: "1", SLURM_TASKS_PER_NODE: "2(x2)", SLURM_STEP_TASKS_PER_NODE: "2(x2)",
  SLURM_JOB_NODELIST: "gpu[07-08]", SLURM_STEP_NODELIST: "gpu[07-08]",
};

test("host lists expand as Slurm writes them: ranges keep their padding, brackets multiply out", () => {
  assert.deepEqual(expandHostList("node[01-03,07],gpu5"), ["node01", "node02", "node03", "node07", "gpu5"]);
  assert.deepEqual(expandHostList("rack[1-2]-n[8-9]"), ["rack1-n8", "rack1-n9", "rack2-n8", "rack2-n9"]);
  assert.deepEqual(expandHostList("n[098-101]"), ["n098", "n099", "n100", "n101"]);
  assert.deepEqual(expandHostList("solo"), ["solo"]);
  assert.throws(() => expandHostList("node[01-03"), /host list "node\[01-03" has an unclosed "\["/);
  assert.throws(() => expandHostList("node[05-03]"), /the range 05-03, which runs backwards/);
  assert.throws(() => expandHostList("node[a-b]"), /not numbers and ranges/);
  assert.deepEqual(expandTasksPerNode("2(x3),1"), [2, 2, 2, 1]);
  assert.throws(() => expandTasksPerNode("2x3"), /tasks per node "2x3" is not Slurm's form/);
});

test("nothing names a rank: the script runs alone (undefined); Slurm's batch script, which has no step, is not a worker", () => {
  assert.equal(readSchedulerEnv({}), undefined);
  assert.equal(readSchedulerEnv({ SLURM_JOB_ID: "7", SLURM_PROCID: "0", SLURM_NTASKS: "2", ...SECRET }), undefined);
});

test("a Slurm task: ranks from SLURM_*, rank 0's node first in the node list, port from the job id, rank 0 serves the store", () => {
  const p = readSchedulerEnv({ ...SLURM_TASK, ...SECRET })!;
  assert.deepEqual(
    [p.source, p.rank, p.worldSize, p.localRank, p.localWorldSize, p.nodeRank, p.masterAddr, p.masterPort, p.storeServedBy, p.jobId],
    ["slurm", 3, 4, 1, 2, 1, "gpu07", slurmPort(4242), "rank 0", "slurm-4242"],
  );
  assert.equal(slurmPort(4242), 24242);
  assert.equal(slurmPort(123456), 23456);
  // Uneven nodes: the local world size is this node's count.
  const uneven = readSchedulerEnv({ ...SLURM_TASK, SLURM_STEP_TASKS_PER_NODE: "3,1", SLURM_PROCID: "3", SLURM_LOCALID: "0", ...SECRET })!;
  assert.equal(uneven.localWorldSize, 1);
});

test("WEFT_MASTER_ADDR / WEFT_MASTER_PORT override Slurm's address; options override everything, field by field", () => {
  const p = readSchedulerEnv({ ...SLURM_TASK, ...SECRET, WEFT_MASTER_PORT: "29400", WEFT_MASTER_ADDR: "login1" })!;
  assert.deepEqual([p.source, p.rank, p.masterAddr, p.masterPort], ["slurm", 3, "login1", 29400]);
  const o = readSchedulerEnv({ ...SLURM_TASK, ...SECRET }, { rank: 0, masterPort: 1234, secret: "another secret of sixteen+" })!;
  assert.deepEqual([o.source, o.rank, o.worldSize, o.masterAddr, o.masterPort, o.secret], ["slurm", 0, 4, "gpu07", 1234, "another secret of sixteen+"]);
  const alone = readSchedulerEnv({}, { rank: 1, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 5000, secret: SECRET.WEFT_JOB_SECRET })!;
  assert.deepEqual([alone.source, alone.rank, alone.worldSize, alone.storeServedBy], ["options", 1, 2, "rank 0"]);
  assert.throws(() => readSchedulerEnv({}, { rank: 1 }), /initProcessGroup was given rank but not worldSize: give both/);
});

test("WEFT_* wins over Slurm as a whole: a worker of `weft launch` inside an srun step keeps the launcher's ranks", () => {
  const env = { ...SLURM_TASK, ...SECRET, WEFT_RANK: "5", WEFT_WORLD_SIZE: "8", WEFT_LOCAL_RANK: "1", WEFT_LOCAL_WORLD_SIZE: "4", WEFT_NODE_RANK: "1", WEFT_MASTER_ADDR: "gpu07", WEFT_MASTER_PORT: "29500" };
  const p = readSchedulerEnv(env)!;
  assert.deepEqual([p.source, p.rank, p.worldSize, p.localRank, p.localWorldSize, p.nodeRank, p.masterPort, p.storeServedBy], ["weft", 5, 8, 1, 4, 1, 29500, "launcher"]);
});

test("PyTorch's variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT", () => {
  const p = readSchedulerEnv({ RANK: "1", WORLD_SIZE: "2", LOCAL_RANK: "1", LOCAL_WORLD_SIZE: "2", MASTER_ADDR: "10.0.0.1", MASTER_PORT: "29500", ...SECRET })!;
  assert.deepEqual([p.source, p.rank, p.worldSize, p.localRank, p.localWorldSize, p.masterAddr, p.masterPort, p.storeServedBy], ["torchrun", 1, 2, 1, 2, "10.0.0.1", 29500, "rank 0"]);
  // Slurm comes before them: a Slurm task with RANK left over from the user's shell keeps Slurm's rank.
  assert.equal(readSchedulerEnv({ ...SLURM_TASK, ...SECRET, RANK: "0", WORLD_SIZE: "1" })!.rank, 3);
});

test("a source only partly there is one line naming the variable and what to check", () => {
  const { SLURM_NTASKS: _a, SLURM_STEP_NUM_TASKS: _b, ...noTasks } = SLURM_TASK;
  assert.throws(() => readSchedulerEnv({ ...noTasks, ...SECRET }), /^Error: SLURM_STEP_NUM_TASKS \(or SLURM_NTASKS\) is not set: srun sets it for each task it starts: start the worker with srun \(one task per worker\), or set WEFT_WORLD_SIZE yourself$/);
  const { SLURM_JOB_NODELIST: _c, SLURM_STEP_NODELIST: _d, ...noNodes } = SLURM_TASK;
  assert.throws(() => readSchedulerEnv({ ...noNodes, ...SECRET }), /SLURM_STEP_NODELIST \(or SLURM_JOB_NODELIST\) is not set: .* or set WEFT_MASTER_ADDR yourself/);
  assert.equal(readSchedulerEnv({ ...noNodes, ...SECRET, WEFT_MASTER_ADDR: "gpu07" })!.masterAddr, "gpu07");
  assert.throws(() => readSchedulerEnv(SLURM_TASK), /^Error: WEFT_JOB_SECRET is not set: with no weft launch there is no launcher to make the job secret: export the same one to every task before srun/);
  assert.throws(() => readSchedulerEnv({ RANK: "0", WORLD_SIZE: "2", ...SECRET }), /^Error: MASTER_ADDR is not set: a worker given RANK\/WORLD_SIZE \(PyTorch's convention\) needs it too, or set WEFT_MASTER_ADDR$/);
  assert.throws(() => readSchedulerEnv({ WEFT_RANK: "0", ...SECRET }), /^Error: WEFT_WORLD_SIZE is not set: start this script with `weft launch/);
  assert.throws(() => readSchedulerEnv({ ...SLURM_TASK, ...SECRET, SLURM_PROCID: "x" }), /^Error: SLURM_PROCID=x is not a non-negative integer$/);
});

test("initWorker takes the reader's place and names a rank past the world size by its source", async () => {
  const { initWorker } = await import("../../../src/distributed/group/init.js");
  const w = initWorker({ ...SLURM_TASK, ...SECRET, SLURM_PROCID: "1" });
  assert.deepEqual([w.source, w.rank, w.worldSize, w.masterAddr, w.storeServedBy, w.jobId], ["slurm", 1, 4, "gpu07", "rank 0", "slurm-4242"]);
  assert.throws(() => initWorker({ ...SLURM_TASK, ...SECRET, SLURM_PROCID: "4" }), /^Error: rank 4 is not below the world size 4 \(read from the slurm environment\)/);
  assert.throws(() => initWorker({ ...SECRET, WEFT_RANK: "2", WEFT_WORLD_SIZE: "2", WEFT_MASTER_ADDR: "h", WEFT_MASTER_PORT: "1" }), /^Error: WEFT_RANK=2 is not below WEFT_WORLD_SIZE=2$/);
  assert.equal(initWorker({}).source, "alone");
});
