// Challenge-response authentication: the first bytes on every connection (peer links and the
// store alike). Both sides prove they hold the per-job secret without sending it:
//
//   client -> server   HELLO(client)  = "WFTA" | version u16 | role u16 | nonceC (32 random bytes)
//   server -> client   HELLO(server)  = "WFTA" | version u16 | role u16 | nonceS
//                      proofS = HMAC-SHA256(secret, "weft-auth-v1 server" | nonceC | nonceS)
//   client -> server   proofC = HMAC-SHA256(secret, "weft-auth-v1 client" | nonceS | nonceC)
//
// Each side checks the other's proof with crypto.timingSafeEqual. Fresh nonces on both sides stop
// replay, and the role label in the MAC stops a stranger from reflecting the server's own proof
// back at it. Every message has a fixed size, so nothing a stranger sends can make us allocate;
// the whole exchange has a deadline so a silent stranger cannot hold a connection open.
// This authenticates, it does not encrypt: across untrusted networks run Weft inside a tunnel.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ByteConsumer } from "./byte-consumer.js";
import { AuthError } from "../base/errors.js";

const AUTH_MAGIC = 0x41544657; // "WFTA" little-endian
const AUTH_VERSION = 1;
const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
export const AUTH_HELLO_BYTES = 8 + NONCE_BYTES;
const ROLE_CODE = { client: 1, server: 2 } as const;

export type AuthRole = keyof typeof ROLE_CODE;

/** The handshake did not finish within its deadline (a silent or slow stranger, or a frozen peer). */
export class HandshakeDeadlineError extends AuthError {
  override name = "HandshakeDeadlineError";
}

function encodeHello(role: AuthRole, nonce: Buffer): Buffer {
  const b = Buffer.alloc(AUTH_HELLO_BYTES);
  b.writeUInt32LE(AUTH_MAGIC, 0);
  b.writeUInt16LE(AUTH_VERSION, 4);
  b.writeUInt16LE(ROLE_CODE[role], 6);
  nonce.copy(b, 8);
  return b;
}

function decodeHello(b: Uint8Array, expectRole: AuthRole): Buffer {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (buf.readUInt32LE(0) !== AUTH_MAGIC) throw new AuthError("peer did not start with a Weft authentication hello");
  const version = buf.readUInt16LE(4);
  if (version !== AUTH_VERSION) throw new AuthError(`peer speaks authentication version ${version}, expected ${AUTH_VERSION}`);
  if (buf.readUInt16LE(6) !== ROLE_CODE[expectRole]) throw new AuthError(`peer did not announce itself as the ${expectRole}`);
  return Buffer.from(buf.subarray(8, 8 + NONCE_BYTES));
}

function proof(secret: Buffer, role: AuthRole, theirNonce: Buffer, ownNonce: Buffer): Buffer {
  return createHmac("sha256", secret).update(`weft-auth-v1 ${role}`).update(theirNonce).update(ownNonce).digest();
}

function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}

/**
 * One side of the handshake, as a ByteConsumer: it only ever lends a buffer of exactly the bytes
 * it still expects, so it never reads past the handshake into the first frame.
 */
export class Handshake implements ByteConsumer {
  private readonly nonce = randomBytes(NONCE_BYTES);
  private expect: Uint8Array;
  private filled = 0;
  private step = 0;
  private peerNonce: Buffer = Buffer.alloc(0);

  constructor(
    private readonly role: AuthRole,
    private readonly secret: Buffer,
    private readonly write: (bytes: Buffer) => void,
    private readonly done: (err?: AuthError) => void,
  ) {
    // client waits for server hello + proof; server waits for the client hello.
    this.expect = new Uint8Array(role === "client" ? AUTH_HELLO_BYTES + PROOF_BYTES : AUTH_HELLO_BYTES);
  }

  /** The client speaks first. */
  start(): void {
    if (this.role === "client") this.write(encodeHello("client", this.nonce));
  }

  nextBuffer(): Uint8Array {
    return this.expect.subarray(this.filled);
  }

  advance(n: number): boolean {
    this.filled += n;
    if (this.filled < this.expect.length) return true;
    try {
      this.onMessage(this.expect);
    } catch (err) {
      this.done(err instanceof AuthError ? err : new AuthError(String(err)));
    }
    return true;
  }

  private onMessage(msg: Uint8Array): void {
    if (this.role === "server" && this.step === 0) {
      this.peerNonce = decodeHello(msg, "client");
      // State first, then the write: a transport may deliver the answer before write() returns.
      this.expect = new Uint8Array(PROOF_BYTES);
      this.filled = 0;
      this.step = 1;
      this.write(Buffer.concat([encodeHello("server", this.nonce), proof(this.secret, "server", this.peerNonce, this.nonce)]));
    } else if (this.role === "server") {
      const expected = proof(this.secret, "client", this.nonce, this.peerNonce);
      if (!proofMatches(expected, msg)) throw new AuthError("client could not prove it holds the job secret");
      this.done();
    } else {
      this.peerNonce = decodeHello(msg.subarray(0, AUTH_HELLO_BYTES), "server");
      const expected = proof(this.secret, "server", this.nonce, this.peerNonce);
      if (!proofMatches(expected, msg.subarray(AUTH_HELLO_BYTES))) {
        throw new AuthError("server could not prove it holds the job secret");
      }
      this.write(proof(this.secret, "client", this.peerNonce, this.nonce));
      this.done();
    }
  }
}
