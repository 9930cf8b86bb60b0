// The few protocol-buffer encodings an event file needs (tensorboard-events.ts), and nothing else:
// varints (int64 steps, lengths, field keys), fixed64 (a double), fixed32 (a float) and
// length-delimited fields (strings, nested messages). Fields are written in the order they are
// added, and a caller adds them in field-number order, which is the order protobuf's own
// serializers use, so a file is byte for byte what TensorFlow's writer would produce.

/** Protobuf wire types (the low three bits of a field's key). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const UTF8 = new TextEncoder();

/**
 * Builds one protobuf message field by field.
 *
 * @example A message { 1: double 0.5, 2: int64 300, 3: string "hi" }
 * ```ts
 * const bytes = new ProtoWriter().double(1, 0.5).int64(2, 300).string(3, "hi").finish();
 * assert.deepEqual([...bytes], [0x09, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0x10, 0xac, 0x02, 0x1a, 2, 0x68, 0x69]);
 * ```
 */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  /** A 64-bit floating-point field (protobuf `double`). */
  double(field: number, value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    return this.key(field, FIXED64).push(bytes);
  }

  /** A 32-bit floating-point field (protobuf `float`): the value is rounded to float32. */
  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.key(field, FIXED32).push(bytes);
  }

  /** A signed 64-bit integer field (protobuf `int64`): a negative value takes ten bytes, as in protobuf. */
  int64(field: number, value: number | bigint): this {
    if (typeof value === "number" && !Number.isSafeInteger(value)) throw new RangeError(`an int64 field needs a safe integer, got ${value}`);
    return this.key(field, VARINT).varint(BigInt.asUintN(64, BigInt(value)));
  }

  /** A UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, UTF8.encode(value));
  }

  /** A length-delimited field: bytes, or a nested message's encoding. */
  bytes(field: number, value: Uint8Array): this {
    return this.key(field, LENGTH_DELIMITED).varint(BigInt(value.length)).push(value);
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) out.set(part, at), (at += part.length);
    return out;
  }

  private key(field: number, wireType: number): this {
    return this.varint((BigInt(field) << 3n) | BigInt(wireType));
  }

  // Seven bits a byte, least significant group first, the high bit set on every byte but the last.
  private varint(value: bigint): this {
    const bytes: number[] = [];
    let rest = value;
    do {
      const low = Number(rest & 0x7fn);
      rest >>= 7n;
      bytes.push(rest === 0n ? low : low | 0x80);
    } while (rest !== 0n);
    return this.push(Uint8Array.from(bytes));
  }

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }
}
