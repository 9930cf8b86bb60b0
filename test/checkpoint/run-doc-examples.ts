// Runs the ```ts blocks of a Markdown document, so documented examples are tested as written.
// Blocks are plain JavaScript apart from their file type (no type annotations), import Weft as
// "weft" and assert with node:assert; "weft" is pointed at the module that the document covers.

import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The code of every ```ts block in `markdown`. */
export function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

/** Runs each ```ts block of the document at `docUrl` with "weft" resolved to `moduleUrl`; returns how many ran. */
export async function runDocExamples(docUrl: URL, moduleUrl: URL): Promise<number> {
  const blocks = typescriptBlocks(readFileSync(docUrl, "utf8"));
  const dir = await mkdtemp(join(tmpdir(), "weft-doc-"));
  try {
    for (const [i, code] of blocks.entries()) {
      const file = join(dir, `example-${i}.mjs`);
      await writeFile(file, code.replaceAll(/from "weft";/g, `from ${JSON.stringify(moduleUrl.href)};`));
      await import(pathToFileURL(file).href);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return blocks.length;
}
