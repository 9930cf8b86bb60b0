// Workers that fail in the ways launch-command.test.ts checks (argument: the mode).
//   boom: every rank throws at the top level.
//   rank0-late: rank 1 says it started, waits, and on SIGTERM prints why it stops; rank 0 waits
//     until rank 1 is ready (a file in the run dir), then throws.
//   anything else: exits at once with status 0.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const mode = process.argv[2];
const rank = Number(process.env.WEFT_RANK);
const ready = join(process.env.WEFT_RUN_DIR!, "rank-1.ready");

if (mode === "boom") throw new Error("boom");

if (mode === "rank0-late") {
  console.log(`rank ${rank} started`);
  if (rank === 1) {
    process.on("SIGTERM", () => {
      console.error("rank 1 stopping: its peer failed");
      process.exit(0);
    });
    writeFileSync(ready, "");
    setInterval(() => {}, 1000);
  } else {
    while (!existsSync(ready)) await new Promise((r) => setTimeout(r, 20));
    throw new Error("rank 0 gave up");
  }
}
