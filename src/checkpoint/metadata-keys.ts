// Note [checkpoint metadata keys]
// Safetensors metadata is a flat map of strings to strings. Weft's entries all start with "weft."
// so they never collide with what other tools write:
//   weft.format_version  "1"; written by the encoder. A reader refuses a version it does not know.
//   weft.sha256          SHA-256 (hex) of the data section; written by the encoder, checked on load.
//   weft.header_sha256   SHA-256 (hex) of the tensor index and the other metadata entries in a
//                        canonical form (see ./integrity.ts); written by the encoder, checked on load.
//   weft.step            the optimizer step count, as a decimal integer; provided by the caller.
//   weft.config          the run's configuration as a JSON string; provided by the caller.
// A file has all three of the encoder's keys or none (written by another tool: it loads with the
// structural checks only); one with some but not all is refused, so that a single damaged key
// name cannot switch a check off.
// Optimizer state is stored as tensors named "optim.<parameter name>.<state name>" (for Adam:
// optim.fc1.weight.exp_avg, optim.fc1.weight.exp_avg_sq), either in the model's file or in a
// companion file; the optimizer decides which.

/** The safetensors header key that holds metadata; no tensor may have this name. */
export const METADATA_HEADER_KEY = "__metadata__";

export const FORMAT_VERSION_KEY = "weft.format_version";
export const FORMAT_VERSION = "1";
export const DATA_SHA256_KEY = "weft.sha256";
export const HEADER_SHA256_KEY = "weft.header_sha256";
export const STEP_KEY = "weft.step";
export const CONFIG_KEY = "weft.config";

/** Prefix of optimizer-state tensor names (Note [checkpoint metadata keys]). */
export const OPTIMIZER_STATE_PREFIX = "optim.";
