// CRC-32C (Castagnoli), the checksum TFRecord files frame every record with (tensorboard-record.ts).
// Not the zlib CRC-32 that node:zlib offers: same width, another polynomial (0x1EDC6F41, here in
// its reflected form 0x82F63B78, since the bits are taken least significant first). One table of
// 256 entries, one byte a step: an export writes a few megabytes at most, so the 8-table
// "slicing" variants would buy nothing a user could see.

const POLYNOMIAL_REFLECTED = 0x82f63b78;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL_REFLECTED : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

/**
 * The CRC-32C of `bytes`, as an unsigned 32-bit integer.
 *
 * @example The check value of the CRC catalogue
 * ```ts
 * assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
 * assert.equal(crc32c(new Uint8Array(0)), 0);
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
