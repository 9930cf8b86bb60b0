// Reads the safetensors format (layout in ./safetensors-encode.ts) and refuses anything it cannot
// vouch for. Each check below names the invariant it protects; every refusal is a CheckpointError
// that names the file, the tensor when there is one, what was expected and what was found, and
// the next step. Files written by other tools carry no Weft digests and load with the structural
// checks only.

import { CheckpointError } from "./checkpoint-error.js";
import { byOffset, dataDigest, headerDigest, type TensorIndexEntry } from "./integrity.js";
import {
  DATA_SHA256_KEY,
  FORMAT_VERSION,
  FORMAT_VERSION_KEY,
  HEADER_SHA256_KEY,
  METADATA_HEADER_KEY,
} from "./metadata-keys.js";
import {
  DTYPE_INFO,
  arrayFromLittleEndian,
  elementCount,
  isSafetensorsDtype,
  isValidShape,
  type NamedArray,
} from "./named-array.js";

/** A decoded checkpoint. `source` is the file (or buffer label) it came from, for messages. */
export interface Checkpoint {
  tensors: Record<string, NamedArray>;
  metadata: Record<string, string>;
  source: string;
}

/** The reference implementation refuses headers above 100 MB; so do we (a damaged length field). */
const MAX_HEADER_BYTES = 100_000_000;

const RESTORE = "restore an earlier checkpoint";

type Refuse = (problem: string, tensor?: string) => CheckpointError;

/**
 * Decodes a safetensors file image. `source` (a path, usually) is quoted in every error message.
 *
 * @example Decoding a file image
 * ```ts
 * const bytes = encodeSafetensors({ n: { dtype: "I32", shape: [2], data: new Int32Array([4, 5]) } });
 * const { tensors } = decodeSafetensors(bytes, "in-memory");
 * assert.deepEqual(tensors.n.data, new Int32Array([4, 5]));
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, source = "(in-memory buffer)"): Checkpoint {
  const refuse: Refuse = (problem, tensor) =>
    new CheckpointError(`cannot load checkpoint ${source}: ${problem}`, tensor === undefined ? { source } : { source, tensor });

  const dataStart = 8 + readHeaderLength(bytes, refuse);
  const { index, metadata } = readHeader(bytes.subarray(8, dataStart), refuse);
  const data = bytes.subarray(dataStart);
  checkLayout(index, data.length, refuse);
  checkDigests(index, metadata, data, refuse);

  const tensors = Object.fromEntries(
    index.map((t): [string, NamedArray] => [
      t.name,
      { dtype: t.dtype, shape: t.shape, data: arrayFromLittleEndian(t.dtype, data.subarray(t.begin, t.end)) },
    ]),
  );
  return { tensors, metadata, source };
}

/** Invariant: the 8-byte length prefix points inside the file. */
function readHeaderLength(bytes: Uint8Array, refuse: Refuse): number {
  if (bytes.length < 8) {
    throw refuse(
      `the file is ${bytes.length} bytes, too short to hold the 8-byte header length; ` +
        `it is truncated or not a safetensors file: re-save it or ${RESTORE}`,
    );
  }
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const available = bytes.length - 8;
  if (declared > BigInt(available)) {
    throw refuse(
      `the file is truncated: its header length field says ${declared} bytes of header, ` +
        `but only ${available} bytes follow it (or this is not a safetensors file); re-save it or ${RESTORE}`,
    );
  }
  const length = Number(declared);
  if (length > MAX_HEADER_BYTES) {
    throw refuse(`the header length field says ${length} bytes, above the format's ${MAX_HEADER_BYTES}-byte limit; ` +
      `the first 8 bytes are damaged: ${RESTORE}`);
  }
  return length;
}

/** Invariant: the header is a JSON object of string metadata and well-formed tensor entries. */
function readHeader(
  headerBytes: Uint8Array,
  refuse: Refuse,
): { index: TensorIndexEntry[]; metadata: Record<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw refuse(
      `the ${headerBytes.length}-byte header is not valid UTF-8 JSON (${(error as Error).message}); ` +
        `the file is damaged or not a safetensors file: ${RESTORE}`,
    );
  }
  if (!isPlainObject(parsed)) {
    throw refuse(`the header is ${describe(parsed)}, expected a JSON object of tensor entries; the file is damaged: ${RESTORE}`);
  }

  const metadata: Record<string, string> = {};
  const index: TensorIndexEntry[] = [];
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === METADATA_HEADER_KEY) {
      readMetadata(entry, metadata, refuse);
    } else {
      index.push(readTensorEntry(name, entry, refuse));
    }
  }
  return { index, metadata };
}

function readMetadata(entry: unknown, into: Record<string, string>, refuse: Refuse): void {
  if (!isPlainObject(entry)) {
    throw refuse(`"${METADATA_HEADER_KEY}" is ${describe(entry)}, expected an object of strings; the header is damaged: ${RESTORE}`);
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") {
      throw refuse(`metadata entry "${key}" is ${describe(value)}, expected a string; the header is damaged: ${RESTORE}`);
    }
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

function readTensorEntry(name: string, entry: unknown, refuse: Refuse): TensorIndexEntry {
  const damaged = `the header is damaged: ${RESTORE}`;
  if (!isPlainObject(entry)) {
    throw refuse(`tensor "${name}": header entry is ${describe(entry)}, expected {dtype, shape, data_offsets}; ${damaged}`, name);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSafetensorsDtype(dtype)) {
    throw refuse(
      `tensor "${name}": dtype ${JSON.stringify(dtype)} is not one Weft reads (${Object.keys(DTYPE_INFO).join(", ")}); ` +
        `convert the tensor before saving (in PyTorch: tensor.float()), or if this is a Weft file, ${RESTORE}`,
      name,
    );
  }
  if (!isValidShape(shape)) {
    throw refuse(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers; ${damaged}`, name);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !Number.isSafeInteger(offsets[0]) || !Number.isSafeInteger(offsets[1]) ||
    offsets[0] < 0 || offsets[1] < offsets[0]
  ) {
    throw refuse(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end; ${damaged}`, name);
  }
  const [begin, end] = offsets as [number, number];
  const needed = elementCount(shape) * DTYPE_INFO[dtype].bytes;
  if (end - begin !== needed) {
    throw refuse(
      `tensor "${name}": shape [${shape.join(", ")}] of ${dtype} needs ${needed} bytes, ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin}; ${damaged}`,
      name,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** Invariant: tensors tile the data section exactly: in range, no overlap, no gap, nothing after. */
function checkLayout(index: readonly TensorIndexEntry[], dataLength: number, refuse: Refuse): void {
  const ordered = [...index].sort(byOffset);
  const last = ordered.at(-1);
  const described = last?.end ?? 0;
  if (described > dataLength) {
    throw refuse(
      `the file is truncated: the header says ${described} bytes of data (tensor "${last!.name}" ends there), ` +
        `the file has ${dataLength}; re-save it or ${RESTORE}`,
      last!.name,
    );
  }
  let previous: TensorIndexEntry | undefined;
  for (const t of ordered) {
    const previousEnd = previous?.end ?? 0;
    if (previous !== undefined && t.begin < previousEnd) {
      throw refuse(
        `tensor "${t.name}" (bytes [${t.begin}, ${t.end})) overlaps tensor "${previous.name}" ` +
          `(bytes [${previous.begin}, ${previous.end})); the header is damaged: ${RESTORE}`,
        t.name,
      );
    }
    if (t.begin > previousEnd) {
      throw refuse(
        `tensor "${t.name}" starts at byte ${t.begin} of the data section, expected ${previousEnd} ` +
          `(the format packs tensors without gaps); the header is damaged: ${RESTORE}`,
        t.name,
      );
    }
    previous = t;
  }
  if (dataLength > described) {
    throw refuse(
      `the data section has ${dataLength} bytes but the header describes ${described}: ` +
        `${dataLength - described} bytes belong to no tensor; the file or its header length field is damaged: ${RESTORE}`,
    );
  }
}

/** Invariant: a Weft file's bytes are the ones it was written with (Note [checkpoint metadata keys]). */
function checkDigests(
  index: readonly TensorIndexEntry[],
  metadata: Record<string, string>,
  data: Uint8Array,
  refuse: Refuse,
): void {
  const version = metadata[FORMAT_VERSION_KEY];
  if (version !== undefined && version !== FORMAT_VERSION) {
    throw refuse(
      `it was written in Weft checkpoint format version ${JSON.stringify(version)}; ` +
        `this Weft reads version ${FORMAT_VERSION}: upgrade Weft to load it`,
    );
  }
  const weftKeys = [FORMAT_VERSION_KEY, DATA_SHA256_KEY, HEADER_SHA256_KEY];
  const rewritten = `if another tool rewrote the file on purpose, delete ${weftKeys.join(", ")} from its metadata`;
  // Weft writes all three keys or (another tool) none. Accepting a file with only some would let
  // one damaged key name (weft.header_sha256 -> veft.header_sha256) switch its own check off.
  const present = weftKeys.filter((key) => metadata[key] !== undefined);
  if (present.length > 0 && present.length < weftKeys.length) {
    const missing = weftKeys.filter((key) => metadata[key] === undefined);
    throw refuse(
      `its metadata has ${present.join(", ")} but not ${missing.join(", ")}; Weft writes all of them, ` +
        `so the header is damaged: ${RESTORE} (${rewritten})`,
    );
  }
  const expectedHeader = metadata[HEADER_SHA256_KEY];
  if (expectedHeader !== undefined) {
    const actual = headerDigest(index, metadata);
    if (actual !== expectedHeader) {
      throw refuse(
        `header checksum mismatch: ${HEADER_SHA256_KEY} is ${expectedHeader}, the header hashes to ${actual}; ` +
          `tensor names, dtypes, shapes, offsets or metadata changed after the file was written: ${RESTORE} (${rewritten})`,
      );
    }
  }
  const expectedData = metadata[DATA_SHA256_KEY];
  if (expectedData !== undefined) {
    const actual = dataDigest([data]);
    if (actual !== expectedData) {
      throw refuse(
        `data checksum mismatch: ${DATA_SHA256_KEY} is ${expectedData}, the ${data.length} bytes of tensor data hash to ${actual}; ` +
          `the data was corrupted after the file was written (disk or copy error): ${RESTORE} (${rewritten})`,
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
