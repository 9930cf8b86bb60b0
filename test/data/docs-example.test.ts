// Runs the example in docs/data.md as written.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runDocExamples } from "../checkpoint/run-doc-examples.js";

test("the example in docs/data.md runs and its assertions hold", async () => {
  // dist/test/data/ -> repository root is three levels up.
  const ran = await runDocExamples(
    new URL("../../../docs/data.md", import.meta.url),
    new URL("../../src/data/index.js", import.meta.url),
  );
  assert.equal(ran, 1);
});
