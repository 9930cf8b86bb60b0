// The check a model runs for each of its parameters when it restores from a checkpoint: the tensor
// is there, with the dtype and shape the model expects. A mismatch almost always means the model
// was built with a different configuration than the one that saved the file.

import { CheckpointError } from "./checkpoint-error.js";
import { CONFIG_KEY } from "./metadata-keys.js";
import type { NamedArray, SafetensorsDtype } from "./named-array.js";

/** What expectTensor needs from a checkpoint (a decoded or loaded one). */
export interface TensorSource {
  tensors: Record<string, NamedArray>;
  source?: string;
}

const LISTED_NAMES = 8;

/**
 * Returns the tensor `name`, or throws a CheckpointError saying what is missing or different.
 *
 * @example Checking a parameter before restoring it
 * ```ts
 * const ckpt = decodeSafetensors(encodeSafetensors({ b: { dtype: "F32", shape: [2], data: new Float32Array(2) } }));
 * assert.deepEqual(expectTensor(ckpt, "b", "F32", [2]).shape, [2]);
 * assert.throws(() => expectTensor(ckpt, "b", "F32", [3]), /has shape \[2\], expected \[3\]/);
 * ```
 */
export function expectTensor(
  checkpoint: TensorSource,
  name: string,
  dtype: SafetensorsDtype,
  shape: readonly number[],
): NamedArray {
  const source = checkpoint.source ?? "(in-memory checkpoint)";
  const site = { source, tensor: name };
  const sameConfig = `build the model with the configuration it was saved with (metadata ${CONFIG_KEY})`;
  if (!Object.prototype.hasOwnProperty.call(checkpoint.tensors, name)) {
    const names = Object.keys(checkpoint.tensors);
    const listed = names.slice(0, LISTED_NAMES).join(", ") + (names.length > LISTED_NAMES ? ", ..." : "");
    throw new CheckpointError(
      `checkpoint ${source} has no tensor "${name}"; it has ${names.length}: ${listed || "(none)"}; ` +
        `the model and the checkpoint disagree: ${sameConfig}`,
      site,
    );
  }
  const found = checkpoint.tensors[name];
  if (found.dtype !== dtype) {
    throw new CheckpointError(
      `tensor "${name}" in checkpoint ${source} is ${found.dtype}, expected ${dtype}; ` +
        `convert it after loading (half-float.ts: toFloat32) or save it as ${dtype}`,
      site,
    );
  }
  if (found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(
      `tensor "${name}" in checkpoint ${source} has shape [${found.shape.join(", ")}], expected [${shape.join(", ")}]; ` +
        sameConfig,
      site,
    );
  }
  return found;
}
