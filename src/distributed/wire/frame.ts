// Frames: the unit of everything Weft sends over a connection after authentication.
//
// Layout (little-endian, FRAME_HEADER_BYTES = 32, then `payloadBytes` bytes of payload):
//
//   offset  size  field
//   0       4     magic         0x54464557, the bytes "WEFT"
//   4       1     version       FRAME_VERSION; a peer speaking another version is refused
//   5       1     type          FrameType
//   6       2     flags         type-specific; unknown bits are rejected
//   8       4     seq           collective sequence number, p2p message number or store request id
//   12      4     tag           which frame of the operation this is (see collectives/segments.ts)
//   16      4     payloadBytes  length of the payload that follows
//   20      12    aux[0..2]     three type-specific u32 words (e.g. p2p user tag and element count)
//
// Note [validate before allocating]: the header is parsed out of a fixed, preallocated staging
// buffer, and magic, version, type, flags and the payload length (against a per-type limit) are
// all checked before a single byte is allocated for the payload. A stranger or a corrupt stream
// therefore cannot make us allocate 4 GiB by sending 32 bytes; the connection is closed instead.
import { FrameError } from "../base/errors.js";

export const FRAME_MAGIC = 0x54464557;
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;

export const FrameType = {
  /** First frame after authentication: who the sender is (JSON, small). */
  Hello: 1,
  /** A segment of collective data. */
  Data: 2,
  /** "I have started operation `seq`", with its descriptor (see collectives/descriptor.ts). */
  Arrive: 3,
  /** "Operation `seq` failed here", with a serialized error (JSON, small). */
  Abort: 4,
  /** Store request / response (see rendezvous/store-protocol.ts). */
  StoreRequest: 5,
  StoreResponse: 6,
  /** A segment of a point-to-point message. */
  P2P: 7,
  /**
   * "I am alive", with no payload: link upkeep, sent by the comm thread on every link it writes
   * to (transport/link-watch.ts). Never handed to the engine and never counted as traffic
   * (Note [heartbeats are not traffic]).
   */
  Heartbeat: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));
const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/**
 * Flags of Data and P2P frames: the element type on the wire (bits 0-1): 0 float32, 1 bf16,
 * 2 f16 (compression/wire-dtype.ts). The receiver checks it against the type it expects.
 */
export const WIRE_FLAG_MASK = 0x3;

export interface FrameHeader {
  type: FrameType;
  flags: number;
  seq: number;
  tag: number;
  payloadBytes: number;
  aux0: number;
  aux1: number;
  aux2: number;
}

/** Largest payload accepted per frame type; anything above is a protocol error. */
export interface FrameLimits {
  /** Data and P2P frames (collective segments). */
  maxDataBytes: number;
  /** Store requests and responses (keys + values). */
  maxStoreBytes: number;
  /** Hello, Arrive, Abort, Heartbeat: small control messages. */
  maxControlBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxDataBytes: 64 << 20,
  maxStoreBytes: 4 << 20,
  maxControlBytes: 16 << 10,
};

/**
 * Note [heartbeats are not traffic]: a Heartbeat's 32 bytes are counted neither when sent
 * (connection.ts) nor when received (frame-reader.ts), so ProcessGroup.traffic() stays what the
 * operations moved: the byte counts of an idle group do not grow, and a test can still hold an
 * all-reduce's bytes to the ring's formula exactly.
 */
export function isUpkeep(type: FrameType): boolean {
  return type === FrameType.Heartbeat;
}

export function frameTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `unknown(${type})`;
}

function payloadLimit(type: FrameType, limits: FrameLimits): number {
  switch (type) {
    case FrameType.Data:
    case FrameType.P2P:
      return limits.maxDataBytes;
    case FrameType.StoreRequest:
    case FrameType.StoreResponse:
      return limits.maxStoreBytes;
    default:
      return limits.maxControlBytes;
  }
}

function allowedFlags(type: FrameType): number {
  return type === FrameType.Data || type === FrameType.P2P ? WIRE_FLAG_MASK : 0;
}

/** Writes a header into `out` at `offset` (out must have FRAME_HEADER_BYTES there). */
export function encodeHeader(h: Partial<FrameHeader> & { type: FrameType }, out: Uint8Array, offset = 0): void {
  const v = new DataView(out.buffer, out.byteOffset + offset, FRAME_HEADER_BYTES);
  v.setUint32(0, FRAME_MAGIC, true);
  v.setUint8(4, FRAME_VERSION);
  v.setUint8(5, h.type);
  v.setUint16(6, h.flags ?? 0, true);
  v.setUint32(8, h.seq ?? 0, true);
  v.setUint32(12, h.tag ?? 0, true);
  v.setUint32(16, h.payloadBytes ?? 0, true);
  v.setUint32(20, h.aux0 ?? 0, true);
  v.setUint32(24, h.aux1 ?? 0, true);
  v.setUint32(28, h.aux2 ?? 0, true);
}

/**
 * Parses and validates the header at `bytes[offset..offset+32)`. Throws FrameError naming the
 * broken field; allocates nothing (Note [validate before allocating]).
 */
export function decodeHeader(bytes: Uint8Array, offset: number, limits: FrameLimits): FrameHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_BYTES);
  const magic = v.getUint32(0, true);
  if (magic !== FRAME_MAGIC) {
    throw new FrameError(`bad frame magic 0x${magic.toString(16)} (expected 0x${FRAME_MAGIC.toString(16)}): not a Weft peer or a corrupt stream`);
  }
  const version = v.getUint8(4);
  if (version !== FRAME_VERSION) {
    throw new FrameError(`peer speaks frame version ${version}, this build speaks ${FRAME_VERSION}: run the same Weft version on every rank`);
  }
  const type = v.getUint8(5);
  if (!KNOWN_TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
  const flags = v.getUint16(6, true);
  if ((flags & ~allowedFlags(type as FrameType)) !== 0) {
    throw new FrameError(`frame type ${frameTypeName(type)} has unknown flags 0x${flags.toString(16)}`);
  }
  const payloadBytes = v.getUint32(16, true);
  const limit = payloadLimit(type as FrameType, limits);
  if (payloadBytes > limit) {
    throw new FrameError(`${frameTypeName(type)} frame announces ${payloadBytes} payload bytes, above the limit of ${limit}`);
  }
  return {
    type: type as FrameType,
    flags,
    seq: v.getUint32(8, true),
    tag: v.getUint32(12, true),
    payloadBytes,
    aux0: v.getUint32(20, true),
    aux1: v.getUint32(24, true),
    aux2: v.getUint32(28, true),
  };
}
