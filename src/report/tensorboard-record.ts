// TFRecord framing, the container of TensorFlow's event files: each record is
//
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
//
// The CRCs are "masked" (rotated right by 15 bits, plus a constant) because, in TensorFlow's
// words, computing the CRC of a string that itself holds CRCs is problematic: masking keeps a
// record's checksum from colliding with checksums embedded in its data.
import { crc32c } from "./crc32c.js";

const MASK_DELTA = 0xa282ead8;

/** The masked CRC-32C TFRecord stores: ((crc >>> 15) | (crc << 17)) + 0xa282ead8, modulo 2^32. */
function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}

/**
 * One TFRecord: `data` with its length and both checksums around it.
 *
 * @example An empty record is its 8 length bytes, their CRC, and the CRC of nothing
 * ```ts
 * const record = tfRecord(new Uint8Array(0));
 * assert.equal(record.length, 16);
 * assert.deepEqual([...record.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
 * const view = new DataView(record.buffer);
 * assert.equal(view.getUint32(12, true), 0xa282ead8, "the CRC of no bytes is 0, and masking 0 adds the constant");
 * ```
 */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}
