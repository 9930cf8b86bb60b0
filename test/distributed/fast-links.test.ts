// The set-up of the calling thread's TCP links (executors/fast-links.ts), in one process on real
// loopback sockets: the job secret's handshake and the Hello pair ranks, a stranger without the
// secret and one that says nothing are refused and logged while the real peers still connect,
// and a peer of another group is refused.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { StoreTimeoutError } from "../../src/distributed/base/errors.js";
import { fastAddon } from "../../src/distributed/base/native-dist.js";
import { FastLinks, type FastLinksOptions } from "../../src/distributed/executors/fast-links.js";
import type { AddressBook } from "../../src/distributed/rendezvous/address-book.js";
import { generateSecret, secretKey } from "../../src/distributed/wire/secret.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An address book in memory, for links made in one process. */
function memoryBook(): AddressBook & { addresses: Map<number, string> } {
  const addresses = new Map<number, string>();
  return {
    addresses,
    publish: async (rank, address) => void addresses.set(rank, address),
    lookup: async (rank, timeoutMs) => {
      const end = Date.now() + timeoutMs;
      while (!addresses.has(rank)) {
        if (Date.now() > end) throw new StoreTimeoutError(`rank ${rank} published no address`);
        await sleep(2);
      }
      return addresses.get(rank)!;
    },
  };
}

function options(rank: number, book: AddressBook, secret: Buffer, log: string[], groupName = "pg-test"): FastLinksOptions {
  return { rank, worldSize: 2, secret, addresses: book, groupName, listenHost: "127.0.0.1", connectTimeoutMs: 10_000, handshakeTimeoutMs: 500, log: (m) => void log.push(m) };
}

/** Writes `bytes` on one end and reads them on the other, through the addon, as the collectives do. */
function carries(from: number, to: number): boolean {
  const addon = fastAddon!;
  const sent = Buffer.from([1, 2, 3, 4]);
  if (addon.fastWrite(from, sent) !== 4) return false;
  const got = Buffer.alloc(4);
  for (let tries = 0; tries < 1000; tries++) {
    if (addon.fastRead(to, got) === 4) return got.equals(sent);
  }
  return false;
}

const skip = fastAddon ? false : "the native addon is not built";

test("two ranks' fast links come up through the handshake; a stranger without the secret and a silent one are refused and logged, not waited for", { skip }, async () => {
  const secret = secretKey(generateSecret());
  const book = memoryBook();
  const log: string[] = [];
  const first = FastLinks.create(fastAddon!, options(0, book, secret, log));
  const address = await book.lookup(0, 5000);
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const strangers: Socket[] = [];
  // One sends bytes that are no handshake, one a well-formed hello it cannot back with a proof, one nothing at all.
  for (const bytes of [Buffer.from("GET / HTTP/1.1\r\n\r\n"), Buffer.concat([Buffer.from([0x57, 0x46, 0x54, 0x41, 1, 0, 1, 0]), Buffer.alloc(32, 7), Buffer.alloc(32, 9)]), Buffer.alloc(0)]) {
    const s = connect(port, host);
    s.on("error", () => {});
    if (bytes.length > 0) s.write(bytes);
    strangers.push(s);
  }
  await sleep(100);
  const [a, b] = await Promise.all([first, FastLinks.create(fastAddon!, options(1, book, secret, log))]);
  assert.ok(a && b, "a rank went without fast links");
  try {
    assert.equal(a.fds[0], -1);
    assert.equal(b.fds[1], -1);
    assert.ok(carries(a.fds[1]!, b.fds[0]!) && carries(b.fds[0]!, a.fds[1]!), "the links do not carry bytes both ways");
    // The half-sent and the silent stranger are refused at their handshake deadline (500 ms here).
    await sleep(800);
    const refusals = log.filter((l) => l.startsWith("rank 0: refused a fast-link connection: "));
    assert.equal(refusals.length, 3, log.join("\n"));
    assert.ok(refusals.some((l) => /client could not prove it holds the job secret/.test(l)), log.join("\n"));
    assert.equal(refusals.filter((l) => /did not finish the handshake in time/.test(l)).length, 2, log.join("\n"));
  } finally {
    a.close();
    b.close();
    for (const s of strangers) s.destroy();
  }
});

test("a rank of another group with the same secret is refused, and the set-up names the rank that never came", { skip }, async () => {
  const secret = secretKey(generateSecret());
  const book = memoryBook();
  const log: string[] = [];
  const waiting = FastLinks.create(fastAddon!, { ...options(0, book, secret, log), connectTimeoutMs: 1500 });
  const other = FastLinks.create(fastAddon!, { ...options(1, book, secret, log, "another-group"), connectTimeoutMs: 1500 });
  await Promise.all([
    assert.rejects(waiting, /fast links of pg-test: rank 0: rank 1 did not open its fast link within 1500 ms/),
    assert.rejects(other, /^Error: fast links of another-group: rank 0 at 127\.0\.0\.1:\d+: it is in group "pg-test" of 2 ranks, not "another-group" of 2$/),
  ]);
  assert.ok(log.some((l) => /refused a fast-link connection: it is in group "another-group"/.test(l)), log.join("\n"));
});

test("a rank that declines (no addon, or fastPath: false) leaves every rank without fast links, at once", { skip }, async () => {
  const book = memoryBook();
  const t0 = Date.now();
  const [links] = await Promise.all([FastLinks.create(fastAddon!, options(0, book, secretKey(generateSecret()), [])), FastLinks.decline({ rank: 1, addresses: book })]);
  assert.equal(links, undefined);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});
