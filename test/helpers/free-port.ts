// A loopback TCP port that was free a moment ago: the kernel picks one, and it is closed again for
// the caller's server to take. Another process could take it meanwhile; tests accept that risk.
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}
