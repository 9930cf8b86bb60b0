// `weft k8s --workers N --image IMAGE [options] -- script [args]`: prints the Kubernetes manifests
// of a job of N workers (cluster/k8s-manifests.ts) for `kubectl apply -f -`. It talks to no
// cluster: everything it needs is on its command line, and a bad value is one line here rather
// than an object the API server refuses later.
import { generateSecret, readSecretFile } from "../distributed/wire/secret.js";
import { parseRendezvousUrl } from "../distributed/rendezvous/connect-store.js";
import { checkImage, checkJobName, checkResources } from "../cluster/k8s-checks.js";
import { DEFAULT_STORE_PORT, k8sManifests, renderManifests, type K8sJob } from "../cluster/k8s-manifests.js";
import type { OptionTable } from "../train/option-spec.js";
import { describeOptions, parseCommandLine, UsageError } from "./options.js";

const COMMAND = "weft k8s";

const K8S_OPTIONS = {
  workers: { type: "int", min: 1, help: "pods in the job, one worker each (required)" },
  image: { type: "string", placeholder: "IMAGE", help: "the image the pods run: Weft built in its working directory, and the script (required)" },
  name: { type: "string", placeholder: "NAME", default: "weft", help: "the Job's and the Service's name; pods are NAME-0, NAME-1, ..." },
  etcd: { type: "string", placeholder: "HOST:PORT,...", help: "meet through this etcd cluster instead of the first pod's store (a lost first pod then does not end an elastic job)" },
  port: { type: "int", min: 1, max: 65535, default: DEFAULT_STORE_PORT, help: "the port of the first pod's store" },
  cpu: { type: "string", placeholder: "CORES", default: "1", help: "CPU cores requested and limited per pod (2, 0.5, 500m)" },
  memory: { type: "string", placeholder: "BYTES", default: "2Gi", help: "memory requested and limited per pod (4Gi, 512Mi)" },
  min: { type: "int", min: 1, help: "elastic: go on while at least this many workers are left" },
  max: { type: "int", min: 1, help: "elastic: the most workers the job takes in (default --workers)" },
  "secret-file": { type: "string", placeholder: "PATH", help: "put this job secret (the file's first line) in the Secret; default a new random one" },
  help: { type: "flag", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const USAGE = `usage: ${COMMAND} --workers N --image IMAGE [options] -- script [script args...]

Prints a Secret (the job secret), a headless Service and an Indexed Job of N pods as YAML, to
apply as they are: weft k8s ... | kubectl apply -f -  (docs/kubernetes.md). Each pod runs one
weft launch node of one worker; the script is a path inside the image.

options:
${describeOptions(K8S_OPTIONS)}`;

function fail(message: string): never {
  throw new UsageError(`${COMMAND}: ${message}`);
}

/** The job `argv` asks for; throws a one-line UsageError for anything wrong; undefined for --help. */
export function parseK8sArgs(argv: string[]): K8sJob | undefined {
  const { values: v, rest } = parseCommandLine(argv, K8S_OPTIONS, { command: COMMAND, positionals: ["script"], stopAtPositional: true });
  if (v.help) return undefined;
  if (v.workers === undefined) fail("--workers N is required (the number of pods, one worker each)");
  if (v.image === undefined) fail("--image IMAGE is required (an image with Weft built in its working directory)");
  const [script, ...args] = rest;
  if (script === undefined) fail("no script: end the command with -- script [args], a path inside the image (weft k8s --help)");
  if (script === "node") fail("give the script itself after --, without node: weft launch runs it with node");
  if (script === "train") {
    fail("weft train runs all its workers on one machine; give a script that calls initProcessGroup() (docs/your-own-script.md), which each pod's weft launch starts");
  }
  try {
    checkJobName(v.name, v.workers);
    checkImage(v.image);
    checkResources(v.cpu, v.memory);
  } catch (err) {
    fail((err as Error).message);
  }
  if (v.max !== undefined && v.min === undefined) fail("--max needs --min (together they make the job elastic)");
  if (v.min !== undefined && v.min > v.workers) fail(`--min ${v.min} is more than --workers ${v.workers}: the job could never start`);
  const max = v.max ?? v.workers;
  if (v.min !== undefined && max < v.workers) fail(`--max ${max} is below --workers ${v.workers}: every pod's worker must fit in`);
  const etcd = v.etcd === undefined ? undefined : etcdEndpoints(v.etcd);
  return {
    name: v.name, workers: v.workers, image: v.image, secret: jobSecret(v["secret-file"]), script: [script, ...args],
    cpu: v.cpu, memory: v.memory, port: v.port,
    ...(etcd ? { etcd } : {}),
    ...(v.min === undefined ? {} : { elastic: { min: v.min, max } }),
  };
}

/** --etcd as HOST:PORT endpoints; "etcd://" in front is allowed, as --rdzv writes it. */
function etcdEndpoints(value: string): string[] {
  const url = value.startsWith("etcd://") ? value : `etcd://${value}`;
  try {
    const where = parseRendezvousUrl(url);
    if (where.kind === "etcd") return where.endpoints;
  } catch {
    // Said below in the flag's own words.
  }
  return fail(`--etcd needs HOST:PORT endpoints separated by commas (e.g. etcd-0.etcd:2379,etcd-1.etcd:2379), got "${value}"`);
}

function jobSecret(file: string | undefined): string {
  if (file === undefined) return generateSecret();
  try {
    return readSecretFile(file, (m) => process.stderr.write(`${COMMAND}: ${m}\n`));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(`--secret-file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
}

/** Runs `weft k8s <argv>`: prints the manifests and returns the exit code. */
export function runK8sCommand(argv: string[]): number {
  const job = parseK8sArgs(argv);
  if (job === undefined) {
    console.log(USAGE);
    return 0;
  }
  process.stdout.write(renderManifests(k8sManifests(job)));
  return 0;
}
