// Runs the example in docs/checkpoints.md as written.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runDocExamples } from "./run-doc-examples.js";

test("the example in docs/checkpoints.md runs and its assertions hold", async () => {
  // dist/test/checkpoint/ -> repository root is three levels up.
  const ran = await runDocExamples(
    new URL("../../../docs/checkpoints.md", import.meta.url),
    new URL("../../src/checkpoint/index.js", import.meta.url),
  );
  assert.equal(ran, 1);
});
