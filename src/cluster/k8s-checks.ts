// The checks of `weft k8s`'s values that Kubernetes itself would only refuse at `kubectl apply`
// time (or a kubelet at image pull time): the job's name, the image reference, the resource
// quantities. Each throws a one-line Error naming the flag and what it accepts, so a typo is
// caught where it was typed rather than on the cluster.

/** A DNS-1123 label: what a Job, a Service and a pod hostname must be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL_MAX = 63;

/**
 * Checks the job's name: the Job, the Service and the Secret (`<name>-secret`) are named after
 * it, and so is each pod's hostname, `<name>-<index>`, which must itself be a DNS label.
 */
export function checkJobName(name: string, workers: number): void {
  if (!DNS_LABEL.test(name)) {
    throw new Error(`--name "${name}" is not a DNS label: use lower-case letters, digits and "-", starting and ending with a letter or digit`);
  }
  const longest = `${name}-${workers - 1}`;
  if (longest.length > DNS_LABEL_MAX) {
    throw new Error(`--name "${name}" is too long: the last pod's hostname ${longest} has ${longest.length} characters, more than ${DNS_LABEL_MAX}; use a shorter name`);
  }
}

// An image reference as registries take it: [host[:port]/]path[:tag][@sha256:digest], the path
// in lower case (docker/distribution's reference grammar, without its rarely used corners).
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const HOST = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)";
const IMAGE = new RegExp(`^${HOST}?${COMPONENT}(?:/${COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`);

/** Checks an image reference ("registry.example.com:5000/team/weft:0.1.0", "weft@sha256:..."). */
export function checkImage(image: string): void {
  if (!IMAGE.test(image)) {
    throw new Error(`--image "${image}" is not an image reference: give [REGISTRY/]NAME[:TAG] with the name in lower case, e.g. registry.example.com/team/weft:0.1.0`);
  }
}

const CPU = /^(?:\d+(?:\.\d{1,3})?|\d+m)$/;
const MEMORY = /^\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/** Checks --cpu (cores: "2", "0.5", "500m") and --memory (bytes: "4Gi", "512Mi"), Kubernetes quantities. */
export function checkResources(cpu: string, memory: string): void {
  if (!CPU.test(cpu) || Number.parseFloat(cpu) === 0) throw new Error(`--cpu "${cpu}" is not a number of cores above 0: give e.g. 2, 0.5 or 500m`);
  if (!MEMORY.test(memory) || Number.parseFloat(memory) === 0) throw new Error(`--memory "${memory}" is not an amount of memory above 0: give e.g. 4Gi or 512Mi`);
}
