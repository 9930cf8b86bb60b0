// The manifests `weft k8s` prints, validated offline against Kubernetes' own OpenAPI schemas
// (kubernetes-models' classes, generated from them), and the same validator shown to refuse a
// broken Job. No cluster runs here (docs/kubernetes.md), so this, and the check that each pod's
// command line is one `weft launch` accepts, is what stands between a user and `kubectl apply`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { parseLaunchArgs } from "../../src/cli/launch-args.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

// Parsed YAML, inspected by path: the schemas, not the types, are what checks it.
type Obj = Record<string, any>;

/** Validates one object with the schema of its apiVersion/kind; throws what the schema refuses. */
function validate(o: Obj): void {
  const key = `${o.apiVersion}/${o.kind}`;
  switch (key) {
    case "v1/Secret":
      return new Secret(o).validate();
    case "v1/Service":
      return new Service(o).validate();
    case "batch/v1/Job":
      return new Job(o).validate();
    default:
      throw new Error(`no schema for ${key}: weft k8s printed an object this test does not know`);
  }
}

/** Runs `weft k8s args` and parses its YAML stream. */
function k8s(args: string[]): Obj[] {
  const r = spawnSync(process.execPath, [main, "k8s", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs) assert.deepEqual(d.errors, [], "the YAML parses");
  return docs.map((d) => d.toJS() as Obj);
}

function byKind(objs: Obj[]): { secret: Obj; service: Obj; job: Obj } {
  assert.deepEqual(objs.map((o) => o.kind), ["Secret", "Service", "Job"]);
  return { secret: objs[0]!, service: objs[1]!, job: objs[2]! };
}

/** The container's args with the values Kubernetes substitutes for $(VAR), then `--join` if asked. */
function podArgs(job: Obj, index: number): string[] {
  const c = job.spec.template.spec.containers[0];
  return (c.args as string[]).map((a) => a.replace("$(WEFT_NODE_RANK)", String(index)).replace("$(WEFT_JOB_UID)", "4f1c2a9e-0b7d-4d21-9d55-0a1b2c3d4e5f"));
}

const IMAGE = "registry.example.com/team/weft:0.1.0";

test("a fixed job of 3 workers: every object validates, and the pods find each other through the headless Service", () => {
  const { secret, service, job } = byKind(k8s(["--workers", "3", "--image", IMAGE, "--name", "mnist", "--cpu", "2", "--memory", "4Gi", "--", "train.js", "--lr", "0.1"]));
  for (const o of [secret, service, job]) validate(o);
  assert.equal(service.spec.clusterIP, "None");
  assert.equal(service.metadata.name, "mnist");
  assert.equal(job.spec.completionMode, "Indexed");
  assert.equal(job.spec.completions, 3);
  assert.equal(job.spec.parallelism, 3);
  const pod = job.spec.template.spec;
  assert.equal(pod.subdomain, "mnist", "pods are reachable as mnist-<index>.mnist");
  assert.deepEqual(service.spec.selector, job.spec.template.metadata.labels, "the Service selects the Job's pods");
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(job.spec.backoffLimit, 0);
  assert.deepEqual(job.spec.podFailurePolicy.rules, [{ action: "FailJob", onExitCodes: { containerName: "worker", operator: "NotIn", values: [0] } }]);
  const c = pod.containers[0];
  assert.equal(c.image, IMAGE);
  assert.deepEqual(c.resources, { requests: { cpu: "2", memory: "4Gi" }, limits: { cpu: "2", memory: "4Gi" } });
  const env = new Map((c.env as Obj[]).map((e) => [e.name, e]));
  assert.equal(env.get("WEFT_NODE_RANK")!.valueFrom.fieldRef.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  assert.deepEqual(env.get("WEFT_JOB_SECRET")!.valueFrom.secretKeyRef, { name: "mnist-secret", key: "secret" });
  assert.equal(secret.metadata.name, "mnist-secret");
  const value = secret.stringData.secret as string;
  assert.match(value, /^[0-9a-f]{64}$/, "a random secret of 32 bytes");
  assert.ok(!JSON.stringify(job).includes(value), "the secret is not written into the pod spec");
  assert.match(c.command[2], /getent hosts mnist-0\.mnist/, "a pod waits for the first pod's name before launching");

  // What each pod runs is one node of a weft launch job whose node 0 serves the store at mnist-0.mnist.
  for (const index of [0, 2]) {
    const o = parseLaunchArgs(podArgs(job, index), { WEFT_JOB_SECRET: value })!;
    assert.deepEqual([o.nproc, o.nnodes, o.nodeRank, o.rdzvHost, o.rdzvPort], [1, 3, index, "mnist-0.mnist", 29500]);
    assert.deepEqual([o.script, o.args], ["train.js", ["--lr", "0.1"]]);
    assert.equal(o.secret, value);
  }
});

test("with --etcd and --min the job is elastic: etcd rendezvous, OnFailure restarts that join, and every object validates", () => {
  const { secret, service, job } = byKind(k8s(["--workers", "4", "--image", "weft:dev", "--etcd", "etcd-0.etcd:2379,etcd-1.etcd:2379,etcd-2.etcd:2379", "--min", "2", "--", "gpt.js"]));
  for (const o of [secret, service, job]) validate(o);
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, "OnFailure");
  assert.equal(job.spec.backoffLimit, 4);
  assert.equal(job.spec.podFailurePolicy, undefined, "a lost worker does not fail an elastic job");
  const c = pod.containers[0];
  assert.ok(!c.command[2].includes("getent"), "with etcd no pod waits for the first one");
  assert.match(c.command[2], /set -- --join "\$@"/);
  assert.deepEqual(c.volumeMounts, [{ name: "restarts", mountPath: "/var/run/weft" }]);
  assert.deepEqual(pod.volumes, [{ name: "restarts", emptyDir: {} }]);
  const uid = (c.env as Obj[]).find((e) => e.name === "WEFT_JOB_UID");
  assert.equal(uid!.valueFrom.fieldRef.fieldPath, "metadata.labels['batch.kubernetes.io/controller-uid']");
  for (const join of [false, true]) {
    const o = parseLaunchArgs([...(join ? ["--join"] : []), ...podArgs(job, 3)], { WEFT_JOB_SECRET: secret.stringData.secret })!;
    assert.deepEqual(o.etcd, { endpoints: ["etcd-0.etcd:2379", "etcd-1.etcd:2379", "etcd-2.etcd:2379"], jobId: "4f1c2a9e-0b7d-4d21-9d55-0a1b2c3d4e5f" });
    assert.deepEqual([o.nnodes, o.nodeRank, o.elastic?.min, o.elastic?.max], [4, 3, 2, 4]);
    assert.equal(Boolean(o.join), join);
  }
});

test("the same validator refuses a Job with a wrong field type or a pod template with no container", () => {
  const { job } = byKind(k8s(["--workers", "2", "--image", IMAGE, "--", "train.js"]));
  validate(job); // the original passes, so what fails below is the one change
  const wrongType = structuredClone(job);
  wrongType.spec.parallelism = "two";
  assert.throws(() => validate(wrongType), /parallelism must be integer/);
  const noContainer = structuredClone(job);
  delete noContainer.spec.template.spec.containers;
  assert.throws(() => validate(noContainer), /must have required property 'containers'|required property containers/);
  const badEnv = structuredClone(job);
  badEnv.spec.template.spec.containers[0].env[0].valueFrom.fieldRef = "metadata.annotations";
  assert.throws(() => validate(badEnv), /fieldRef must be object/);
});
