// Writes the safetensors format (https://github.com/huggingface/safetensors, "Format"):
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   UTF-8 JSON: {"__metadata__": {string: string}, "<name>": {"dtype", "shape",
//             "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8
//   rest      the data section: every tensor's little-endian bytes, packed with no gaps;
//             offsets count from the first byte after the header
// Files written here load in PyTorch / Hugging Face tools (safetensors.torch.load_file).

import { CheckpointError } from "./checkpoint-error.js";
import { dataDigest, headerDigest, type TensorIndexEntry } from "./integrity.js";
import {
  DATA_SHA256_KEY,
  FORMAT_VERSION,
  FORMAT_VERSION_KEY,
  HEADER_SHA256_KEY,
  METADATA_HEADER_KEY,
} from "./metadata-keys.js";
import {
  DTYPE_INFO,
  dataMatchesDtype,
  elementCount,
  isSafetensorsDtype,
  isValidShape,
  littleEndianBytes,
  type NamedArray,
} from "./named-array.js";

/** Label used in error messages for data that is not (yet) a file. */
const ENCODE_SOURCE = "(being encoded)";

/**
 * Encodes tensors and string metadata as one safetensors file image. Weft's own entries
 * (`weft.format_version`, `weft.sha256`, `weft.header_sha256`) are added to the metadata; values
 * passed in for those keys are replaced. Tensors are laid out widest element first so that every
 * tensor starts at a multiple of its element size (the data section starts 8-aligned): readers
 * that map the file can then view tensors in place.
 *
 * @example Round trip
 * ```ts
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { "weft.step": "7" });
 * assert.deepEqual(decodeSafetensors(bytes).tensors.w.data, new Float32Array([1, 2]));
 * ```
 */
export function encodeSafetensors(tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): Buffer {
  const named = Object.entries(tensors);
  named.forEach(([name, array]) => validateForEncoding(name, array));
  // Stable sort: tensors of equal element size keep the caller's order.
  named.sort(([, a], [, b]) => DTYPE_INFO[b.dtype].bytes - DTYPE_INFO[a.dtype].bytes);

  const index: TensorIndexEntry[] = [];
  let offset = 0;
  for (const [name, array] of named) {
    const end = offset + array.data.byteLength;
    index.push({ name, dtype: array.dtype, shape: [...array.shape], begin: offset, end });
    offset = end;
  }
  // Hash the tensors piece by piece and copy each once, straight into the file image: a large
  // checkpoint is never held twice (as a data section and again as the file).
  const pieces = named.map(([, array]) => littleEndianBytes(array));
  const fullMetadata = completeMetadata(metadata, index, pieces);
  const headerText = headerJson(index, fullMetadata);
  const headerBytes = Buffer.byteLength(headerText, "utf8");
  const paddedLength = Math.ceil(headerBytes / 8) * 8;
  const dataStart = 8 + paddedLength;

  const file = Buffer.allocUnsafe(dataStart + offset);
  file.writeBigUInt64LE(BigInt(paddedLength), 0);
  file.write(headerText, 8, "utf8");
  file.fill(0x20, 8 + headerBytes, dataStart); // the format pads the header with spaces
  pieces.forEach((bytes, i) => file.set(bytes, dataStart + index[i].begin));
  return file;
}

function validateForEncoding(name: string, array: NamedArray): void {
  const site = { source: ENCODE_SOURCE, tensor: name };
  if (name === METADATA_HEADER_KEY) {
    throw new CheckpointError(`cannot save a tensor named "${METADATA_HEADER_KEY}": the format reserves that key; rename it`, site);
  }
  if (!isSafetensorsDtype(array.dtype)) {
    throw new CheckpointError(
      `cannot save tensor "${name}": dtype ${String(array.dtype)} is not one of ${Object.keys(DTYPE_INFO).join(", ")}`,
      site,
    );
  }
  if (!dataMatchesDtype(array.dtype, array.data)) {
    throw new CheckpointError(
      `cannot save tensor "${name}": dtype ${array.dtype} needs its data in a ${DTYPE_INFO[array.dtype].arrayName}, ` +
        `got a ${array.data.constructor.name}; convert it first (half-float.ts has F32 <-> F16/BF16)`,
      site,
    );
  }
  if (!isValidShape(array.shape)) {
    throw new CheckpointError(
      `cannot save tensor "${name}": shape ${JSON.stringify(array.shape)} is not a list of non-negative integers`,
      site,
    );
  }
  const expected = elementCount(array.shape);
  if (array.data.length !== expected) {
    throw new CheckpointError(
      `cannot save tensor "${name}": shape [${array.shape.join(", ")}] has ${expected} elements ` +
        `but its data holds ${array.data.length}; pass the tensor's own shape`,
      site,
    );
  }
}

function completeMetadata(
  metadata: Record<string, string>,
  index: readonly TensorIndexEntry[],
  dataPieces: readonly Uint8Array[],
): Record<string, string> {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new CheckpointError(
        `cannot save metadata "${key}": the format only stores strings, got ${typeof value}; ` +
          `encode it first (String(step), JSON.stringify(config))`,
        { source: ENCODE_SOURCE },
      );
    }
  }
  const full: Record<string, string> = { ...metadata, [FORMAT_VERSION_KEY]: FORMAT_VERSION };
  full[DATA_SHA256_KEY] = dataDigest(dataPieces);
  full[HEADER_SHA256_KEY] = headerDigest(index, full);
  return full;
}

/**
 * The header JSON, built by hand rather than through one JSON.stringify of an object: JavaScript
 * objects list integer-like keys ("0", "1") first, which would break the promise that header order
 * is data order.
 */
function headerJson(index: readonly TensorIndexEntry[], metadata: Record<string, string>): string {
  const parts = [`${JSON.stringify(METADATA_HEADER_KEY)}:${JSON.stringify(metadata)}`];
  for (const t of index) {
    parts.push(
      `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] })}`,
    );
  }
  return `{${parts.join(",")}}`;
}
