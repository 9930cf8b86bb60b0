// Checkpoints: safetensors files with Weft's integrity digests and metadata conventions.

export { CheckpointError, type CheckpointErrorSite } from "./checkpoint-error.js";
export { temporaryTargetOf } from "./atomic-write.js";
export { loadCheckpoint, saveCheckpoint } from "./checkpoint-file.js";
export { expectTensor, type TensorSource } from "./expect-tensor.js";
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, toFloat32 } from "./half-float.js";
export {
  CONFIG_KEY,
  DATA_SHA256_KEY,
  FORMAT_VERSION,
  FORMAT_VERSION_KEY,
  HEADER_SHA256_KEY,
  OPTIMIZER_STATE_PREFIX,
  STEP_KEY,
} from "./metadata-keys.js";
export { type NamedArray, type SafetensorsDtype } from "./named-array.js";
export { decodeSafetensors, type Checkpoint } from "./safetensors-decode.js";
export { encodeSafetensors } from "./safetensors-encode.js";
