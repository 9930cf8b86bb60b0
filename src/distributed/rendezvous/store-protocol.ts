// Wire format of store requests and responses (carried in StoreRequest / StoreResponse frames; the
// frame's `seq` is the request id so a client may have several requests in flight).
//
// Request payload: op u8 | reserved u8 | keyCount u16 | timeoutMs u32 | delta f64
//                  then keyCount × (length u16 | UTF-8 bytes), then the value (the rest).
// Response: frame aux0 = StoreStatus; payload = the value (get), the counter as f64 (add),
//           1 byte existed (delete), or a UTF-8 message (error, timeout).
import { FrameError } from "../base/errors.js";

export const StoreOp = { Set: 1, Get: 2, Add: 3, Wait: 4, Delete: 5 } as const;
export type StoreOp = (typeof StoreOp)[keyof typeof StoreOp];

export const StoreStatus = { Ok: 0, Timeout: 1, Error: 2 } as const;
export type StoreStatus = (typeof StoreStatus)[keyof typeof StoreStatus];

export const MAX_KEY_BYTES = 1024;
export const MAX_KEYS_PER_REQUEST = 1024;
const FIXED_BYTES = 16;

export interface StoreRequest {
  op: StoreOp;
  keys: string[];
  timeoutMs: number;
  delta: number;
  value: Uint8Array;
}

export function encodeStoreRequest(r: StoreRequest): Buffer {
  const keys = r.keys.map((k) => Buffer.from(k, "utf8"));
  for (const k of keys) {
    if (k.length > MAX_KEY_BYTES) throw new RangeError(`store key of ${k.length} bytes is above the limit of ${MAX_KEY_BYTES}`);
  }
  if (keys.length > MAX_KEYS_PER_REQUEST) throw new RangeError(`${keys.length} keys in one store request, above ${MAX_KEYS_PER_REQUEST}`);
  const out = Buffer.alloc(FIXED_BYTES + keys.reduce((n, k) => n + 2 + k.length, 0) + r.value.length);
  out.writeUInt8(r.op, 0);
  out.writeUInt16LE(keys.length, 2);
  out.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(r.timeoutMs))), 4);
  out.writeDoubleLE(r.delta, 8);
  let off = FIXED_BYTES;
  for (const k of keys) {
    out.writeUInt16LE(k.length, off);
    k.copy(out, off + 2);
    off += 2 + k.length;
  }
  out.set(r.value, off);
  return out;
}

/** Parses a request, throwing FrameError on anything malformed (the server then drops the client). */
export function decodeStoreRequest(payload: Uint8Array): StoreRequest {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (b.length < FIXED_BYTES) throw new FrameError(`store request of ${b.length} bytes is shorter than its ${FIXED_BYTES}-byte header`);
  const op = b.readUInt8(0);
  if (!Object.values(StoreOp).includes(op as StoreOp)) throw new FrameError(`unknown store op ${op}`);
  const keyCount = b.readUInt16LE(2);
  if (keyCount > MAX_KEYS_PER_REQUEST) throw new FrameError(`store request names ${keyCount} keys, above ${MAX_KEYS_PER_REQUEST}`);
  const keys: string[] = [];
  let off = FIXED_BYTES;
  for (let i = 0; i < keyCount; i++) {
    if (off + 2 > b.length) throw new FrameError("store request ends inside its key list");
    const len = b.readUInt16LE(off);
    if (len > MAX_KEY_BYTES || off + 2 + len > b.length) throw new FrameError(`store key length ${len} runs past the request`);
    keys.push(b.toString("utf8", off + 2, off + 2 + len));
    off += 2 + len;
  }
  return { op: op as StoreOp, keys, timeoutMs: b.readUInt32LE(4), delta: b.readDoubleLE(8), value: Buffer.from(b.subarray(off)) };
}
