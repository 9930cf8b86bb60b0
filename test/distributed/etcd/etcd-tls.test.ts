// EtcdStore against an etcd that trusts nobody by default, as docs/rendezvous.md says to run it on
// a network you do not trust: TLS with client certificates, then etcd's own users on top. A
// client without the right certificate or password is refused by its deadline, in one line.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Etcd3 } from "etcd3";
import { EtcdStore, type EtcdStoreOptions } from "../../../src/distributed/rendezvous/etcd-store.js";
import { StoreError } from "../../../src/distributed/base/errors.js";
import { EtcdCluster, etcdMissing, makeTlsFiles, opensslMissing, type EtcdTlsFiles } from "../helpers/etcd-cluster.js";

const missing = etcdMissing() ?? opensslMissing();
const certDir = mkdtempSync(join(tmpdir(), "weft-etcd-tls-"));
let files: EtcdTlsFiles | undefined;
let cluster: EtcdCluster | undefined;
const stores: EtcdStore[] = [];
const prefix = `weft-test/${randomBytes(4).toString("hex")}/`;

before(async () => {
  if (missing !== undefined) return;
  files = makeTlsFiles(certDir);
  cluster = await EtcdCluster.start(1, { tls: files });
});
after(async () => {
  for (const s of stores) s.close();
  await cluster?.close();
  rmSync(certDir, { recursive: true, force: true });
});

const clientTls = (): NonNullable<EtcdStoreOptions["tls"]> => ({
  ca: readFileSync(files!.caFile), cert: readFileSync(files!.clientCertFile), key: readFileSync(files!.clientKeyFile),
});

async function connect(extra: Partial<EtcdStoreOptions>): Promise<EtcdStore> {
  const s = await EtcdStore.connect({ endpoints: cluster!.endpoints, prefix, timeoutMs: 3000, connectTimeoutMs: 3000, ...extra });
  stores.push(s);
  return s;
}

/** `call` fails with a one-line StoreError matching `pattern` within `limitMs`. */
async function refused(call: Promise<unknown>, pattern: RegExp, limitMs: number): Promise<void> {
  const t0 = Date.now();
  const err = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes("\n"), err.message);
  assert.ok(Date.now() - t0 < limitMs, `took ${Date.now() - t0} ms`);
}

test("over TLS with a client certificate the store works; without one it is refused by the deadline", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const store = await connect({ tls: clientTls() });
  await store.set("tls/k", "v");
  assert.equal(await store.getString("tls/k"), "v");
  // etcd drops a TLS handshake without a client certificate, and plain HTTP/2 on its TLS port,
  // which from here looks like a member that does not answer.
  await refused(connect({ tls: { ca: clientTls().ca }, connectTimeoutMs: 1500 }), /did not answer within 1500 ms/, 4000);
  await refused(connect({ connectTimeoutMs: 1500 }), /did not answer within 1500 ms/, 4000);
});

test("with etcd's users enabled, the right password works and a wrong one is refused at once", async (t) => {
  if (missing !== undefined) return t.skip(missing);
  const tls = clientTls();
  const admin = new Etcd3({ hosts: cluster!.endpoints.map((e) => `https://${e}`), credentials: { rootCertificate: tls.ca, certChain: tls.cert!, privateKey: tls.key! } });
  try {
    const root = await admin.user("root").create("root-pw");
    await root.addRole("root");
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
  const store = await connect({ tls, auth: { username: "root", password: "root-pw" } });
  await store.set("auth/k", "v");
  assert.equal(await store.getString("auth/k"), "v");
  await refused(connect({ tls, auth: { username: "root", password: "wrong" } }), /etcd refused it: .*authentication failed/, 2000);
});
