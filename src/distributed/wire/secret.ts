// The per-job secret: where it comes from and how it is checked.
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { AuthError } from "../base/errors.js";

/** Shortest secret accepted: 16 characters (128 bits if random hex/base64, enough for an HMAC key). */
export const MIN_SECRET_CHARS = 16;

/** A fresh random secret for a single-machine job (64 hex characters). */
export function generateSecret(): string {
  return randomBytes(32).toString("hex");
}

/** Turns the secret text into the HMAC key, refusing ones too short to mean anything. */
export function secretKey(secret: string): Buffer {
  const trimmed = secret.trim();
  if (trimmed.length < MIN_SECRET_CHARS) {
    throw new AuthError(
      `the job secret has ${trimmed.length} characters, fewer than ${MIN_SECRET_CHARS}: ` +
        `generate one with \`openssl rand -hex 32\``,
    );
  }
  return Buffer.from(trimmed, "utf8");
}

/**
 * Reads a secret file (like an ssh key: the first line is the secret). Warns through `warn` when
 * the file is readable by group or others, since anyone who reads it can join the job.
 */
export function readSecretFile(path: string, warn: (msg: string) => void = () => {}): string {
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) {
    warn(`secret file ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const secret = readFileSync(path, "utf8").split("\n")[0]!.trim();
  secretKey(secret); // validate early, with the file name in the stack
  return secret;
}
