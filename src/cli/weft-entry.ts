// How a command starts `weft` again as a child (weft compare and weft chaos run `weft train`
// children, so they train through the same door a user does).
import { fileURLToPath } from "node:url";

/** The program and arguments that run this `weft` (the built main.js, or main.ts under tsx). */
export function weftEntry(): string[] {
  const ts = import.meta.url.endsWith(".ts");
  const main = fileURLToPath(new URL(ts ? "./main.ts" : "./main.js", import.meta.url));
  return ts ? ["--import", import.meta.resolve("tsx"), main] : [main];
}
