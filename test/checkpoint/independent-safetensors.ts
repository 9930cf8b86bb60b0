// A second, deliberately separate implementation of the safetensors format, written only from its
// public description (8-byte little-endian header length, JSON header with dtype / shape /
// data_offsets relative to the end of the header, little-endian data). It shares no code with
// src/checkpoint, so agreement between the two is evidence that both follow the format, not
// that one copies the other's mistakes.

export type PlainValues = number[] | bigint[];

export interface PlainTensor {
  dtype: string;
  shape: number[];
  /** Numbers for float and I32 tensors, bigints for I64. F16/BF16 are given and returned as floats. */
  values: PlainValues;
}

const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

function readElement(view: DataView, at: number, dtype: string): number | bigint {
  switch (dtype) {
    case "F32":
      return view.getFloat32(at, true);
    case "I32":
      return view.getInt32(at, true);
    case "I64":
      return view.getBigInt64(at, true);
    case "BF16": {
      // bfloat16 is the high half of a float32.
      const scratch = new DataView(new ArrayBuffer(4));
      scratch.setUint32(0, view.getUint16(at, true) << 16);
      return scratch.getFloat32(0);
    }
    case "F16": {
      const h = view.getUint16(at, true);
      const sign = h >> 15 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      if (e === 0) return sign * Math.pow(2, -14) * (m / 1024);
      if (e === 31) return m ? NaN : sign * Infinity;
      return sign * Math.pow(2, e - 15) * (1 + m / 1024);
    }
    default:
      throw new Error(`independent reader: unknown dtype ${dtype}`);
  }
}

/** Parses a file image; returns tensors in name order plus metadata. */
export function independentRead(file: Uint8Array): {
  tensors: Record<string, PlainTensor>;
  metadata: Record<string, string>;
} {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const base = 8 + headerLength;
  const tensors: Record<string, PlainTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = ELEMENT_BYTES[dtype];
    const values: (number | bigint)[] = [];
    for (let at = data_offsets[0]; at < data_offsets[1]; at += size) values.push(readElement(view, base + at, dtype));
    tensors[name] = { dtype, shape, values: values as PlainValues };
  }
  return { tensors, metadata };
}

function writeElement(view: DataView, at: number, dtype: string, value: number | bigint): void {
  switch (dtype) {
    case "F32":
      return view.setFloat32(at, value as number, true);
    case "I32":
      return view.setInt32(at, value as number, true);
    case "I64":
      return view.setBigInt64(at, value as bigint, true);
    case "BF16": {
      // Only exactly representable values are written by the tests, so truncation is exact.
      const scratch = new DataView(new ArrayBuffer(4));
      scratch.setFloat32(0, value as number);
      return view.setUint16(at, scratch.getUint32(0) >>> 16, true);
    }
    default:
      throw new Error(`independent writer: dtype ${dtype} not supported`);
  }
}

/**
 * Writes tensors in the given order with the given offsets. By default data follows the list order,
 * but the HEADER lists them in reverse and is not padded: both are legal, and neither is what Weft
 * writes. An entry's `offsets` overrides its span and `dataLength` the data size (to build damaged files on purpose).
 */
export function independentWrite(
  entries: { name: string; tensor: PlainTensor; offsets?: [number, number] }[],
  metadata?: Record<string, string>,
  dataLength?: number,
): Uint8Array {
  let cursor = 0;
  const placed = entries.map(({ name, tensor, offsets }) => {
    const size = ELEMENT_BYTES[tensor.dtype] ?? 8;
    const span: [number, number] = offsets ?? [cursor, cursor + tensor.values.length * size];
    cursor = Math.max(cursor, span[1]);
    return { name, tensor, span };
  });
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  for (const { name, tensor, span } of [...placed].reverse()) {
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: span };
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const total = dataLength ?? cursor;
  const file = new Uint8Array(8 + headerBytes.length + total);
  const view = new DataView(file.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  file.set(headerBytes, 8);
  for (const { tensor, span } of placed) {
    const size = ELEMENT_BYTES[tensor.dtype] ?? 8;
    tensor.values.forEach((v, i) => {
      const at = span[0] + i * size;
      if (at + size <= total && ELEMENT_BYTES[tensor.dtype]) writeElement(view, 8 + headerBytes.length + at, tensor.dtype, v);
    });
  }
  return file;
}
