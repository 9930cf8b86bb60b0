// The Kubernetes objects of a Weft job (docs/kubernetes.md): a Secret holding the job secret, a
// headless Service that gives every pod a DNS name, and an Indexed Job of N pods, each running
// one `weft launch` node of one worker. Printed as YAML by `weft k8s`, applied as they are.
//
// Note [one launcher per pod]
// Each pod runs `weft launch --nproc 1 --nnodes N --node-rank <its index>`, the way a pod of
// Kubeflow's PyTorchJob runs torchrun, rather than the worker script with WEFT_RANK set by the
// manifest. A worker that finds WEFT_RANK / WEFT_WORLD_SIZE takes itself for a launcher's worker
// and leaves the rendezvous store to that launcher (rendezvous/scheduler-env.ts, storeServedBy),
// so with no launcher nobody would serve it. Through the launcher the worker gets exactly the
// WEFT_* environment the issue asks of a pod (WEFT_RANK = the completion index, WEFT_WORLD_SIZE =
// N, WEFT_LOCAL_WORLD_SIZE = 1, WEFT_MASTER_ADDR = <job>-0.<service>, WEFT_MASTER_PORT), node 0's
// launcher serves the store (or etcd does), and elastic training (--min/--max, joining after a
// restart) works as it does on machines.
//
// Note [restart policy]
// A fixed-size job cannot take a worker back: its collectives are sized for N ranks from the
// first step. So a pod that fails ends the job at once (restartPolicy Never, backoffLimit 0, and
// a podFailurePolicy that fails the Job on a non-zero exit, which also stops the other pods
// instead of leaving them blocked in a collective). An elastic job (--min) goes on without a lost
// worker and takes a restarted one back: restartPolicy OnFailure restarts the container in its
// pod (same name, same DNS record), and the restarted launcher starts with --join because a file
// in the pod's emptyDir, which outlives its containers, says it ran before. backoffLimit bounds
// the restarts of the whole job to one per worker.
import { stringify } from "yaml";

/** What `weft k8s` was asked for, checked (k8s-checks.ts, the command). */
export interface K8sJob {
  /** The Job's name; the Service is named the same, the Secret `<name>-secret`. */
  name: string;
  workers: number;
  image: string;
  /** The job secret (at least 16 characters), stored in the Secret only. */
  secret: string;
  /** The script each worker runs, inside the image, and its arguments. */
  script: string[];
  /** etcd endpoints (HOST:PORT) to meet through instead of the first pod's store. */
  etcd?: string[];
  /** Kubernetes quantities, requested and limited alike: "2", "500m"; "4Gi". */
  cpu: string;
  memory: string;
  /** Elastic: go on while at least min workers are left; take in at most max. */
  elastic?: { min: number; max: number };
  /** The port of the first pod's store. Default 29500. */
  port?: number;
}

export const DEFAULT_STORE_PORT = 29500;
/** Seconds a node waits for the store: pods start minutes apart while their images are pulled. */
const RDZV_TIMEOUT_S = 300;
/** Seconds a pod waits for the first pod's name to resolve (the Service's DNS record appears when that pod has an address). */
const DNS_WAIT_S = 300;
const CONTAINER = "worker";
const MARK_DIR = "/var/run/weft";
const INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
/** Set by the Job controller on its pods: unique to this Job object, so a re-applied job never meets an old one's etcd keys. */
const JOB_UID_LABEL = "metadata.labels['batch.kubernetes.io/controller-uid']";

type Manifest = Record<string, unknown>;

/**
 * The Secret, the headless Service and the Indexed Job of `job`, in the order to apply them.
 *
 * @example Two workers meeting through the first pod
 * ```ts
 * const [secret, service, job] = k8sManifests({
 *   name: "mnist", workers: 2, image: "weft:0.1.0", secret: "a job secret of 32 characters...", script: ["train.js"], cpu: "1", memory: "2Gi",
 * }) as any[];
 * assert.equal(secret.stringData.secret, "a job secret of 32 characters...");
 * assert.equal(service.spec.clusterIP, "None");
 * assert.deepEqual([job.spec.completionMode, job.spec.parallelism, job.spec.template.spec.subdomain], ["Indexed", 2, "mnist"]);
 * assert.ok(job.spec.template.spec.containers[0].args.includes("mnist-0.mnist:29500"));
 * ```
 */
export function k8sManifests(job: K8sJob): Manifest[] {
  const labels = { "app.kubernetes.io/name": "weft", "app.kubernetes.io/instance": job.name };
  const secretName = `${job.name}-secret`;
  const port = job.port ?? DEFAULT_STORE_PORT;
  const storeHost = `${job.name}-0.${job.name}`;
  const secret = {
    apiVersion: "v1", kind: "Secret",
    metadata: { name: secretName, labels },
    type: "Opaque",
    stringData: { secret: job.secret },
  };
  const service = {
    apiVersion: "v1", kind: "Service",
    metadata: { name: job.name, labels },
    spec: {
      clusterIP: "None",
      // A pod's record must exist before it is Ready: the others look it up while it starts.
      publishNotReadyAddresses: true,
      selector: labels,
      ports: [{ name: "rdzv", port, targetPort: port }],
    },
  };
  const env: Manifest[] = [
    { name: "WEFT_NODE_RANK", valueFrom: { fieldRef: { fieldPath: INDEX_ANNOTATION } } },
    { name: "WEFT_JOB_SECRET", valueFrom: { secretKeyRef: { name: secretName, key: "secret" } } },
    ...(job.etcd ? [{ name: "WEFT_JOB_UID", valueFrom: { fieldRef: { fieldPath: JOB_UID_LABEL } } }] : []),
  ];
  const launchArgs = [
    "--nproc", "1", "--nnodes", String(job.workers), "--node-rank", "$(WEFT_NODE_RANK)",
    ...(job.etcd ? ["--rdzv", `etcd://${job.etcd.join(",")}`, "--rdzv-id", "$(WEFT_JOB_UID)"] : ["--rdzv", `${storeHost}:${port}`]),
    "--rdzv-timeout", String(RDZV_TIMEOUT_S),
    ...(job.elastic ? ["--min", String(job.elastic.min), "--max", String(job.elastic.max)] : []),
    "--", ...job.script,
  ];
  const container = {
    name: CONTAINER,
    image: job.image,
    command: ["sh", "-c", entryScript(job, storeHost), "weft-k8s"],
    args: launchArgs,
    env,
    ports: [{ name: "rdzv", containerPort: port }],
    resources: { requests: { cpu: job.cpu, memory: job.memory }, limits: { cpu: job.cpu, memory: job.memory } },
    ...(job.elastic ? { volumeMounts: [{ name: "restarts", mountPath: MARK_DIR }] } : {}),
  };
  // Note [restart policy]
  const failure = job.elastic
    ? { backoffLimit: job.workers }
    : { backoffLimit: 0, podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: CONTAINER, operator: "NotIn", values: [0] } }] } };
  const indexedJob = {
    apiVersion: "batch/v1", kind: "Job",
    metadata: { name: job.name, labels },
    spec: {
      completionMode: "Indexed",
      completions: job.workers,
      parallelism: job.workers,
      ...failure,
      template: {
        metadata: { labels },
        spec: {
          // With the Service's name as subdomain, pod i is reachable as <name>-i.<name>.
          subdomain: job.name,
          restartPolicy: job.elastic ? "OnFailure" : "Never",
          containers: [container],
          ...(job.elastic ? { volumes: [{ name: "restarts", emptyDir: {} }] } : {}),
        },
      },
    },
  };
  return [secret, service, indexedJob];
}

/**
 * The shell line before `weft launch` (its arguments are the container's args, "$@"): an elastic
 * pod's restarted container joins the running job (Note [restart policy]), and without etcd every
 * pod first waits for the first pod's name to resolve, since a launcher that cannot resolve the
 * store's host gives up at once.
 */
function entryScript(job: K8sJob, storeHost: string): string {
  const steps: string[] = [];
  if (job.elastic) steps.push(`if [ -e ${MARK_DIR}/started ]; then set -- --join "$@"; fi; touch ${MARK_DIR}/started`);
  if (!job.etcd) {
    steps.push(
      `i=0; until getent hosts ${storeHost} >/dev/null; do i=$((i+1)); if [ $i -ge ${DNS_WAIT_S} ]; then ` +
        `echo "weft k8s: ${storeHost} did not resolve within ${DNS_WAIT_S} s: check that the headless Service ${job.name} exists in this namespace and that pod ${job.name}-0 is running" >&2; exit 1; fi; sleep 1; done`,
    );
  }
  steps.push(`exec node dist/src/cli/main.js launch "$@"`);
  return steps.join("; ");
}

/** The manifests as one YAML stream, documents separated by `---`, as `kubectl apply -f` reads it. */
export function renderManifests(manifests: readonly Manifest[]): string {
  // lineWidth 0: the entry script stays one line instead of being folded. No aliases: the labels
  // object is shared in memory, but a reader of the YAML should see each use written out.
  return manifests.map((m) => stringify(m, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}
