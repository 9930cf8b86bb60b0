// The SpamAssassin corpus as the spam recipe reads it: headers stripped but the Subject, MIME
// decoded (Note [spam headers]), tokens (Note [spam tokens]), and the fixed stratified split with
// copies kept on one side (Note [spam split]).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  buildSpamVocabulary, decodeHeaderWords, decodeQuotedPrintable, emailText, emailTokens, encodeTokens,
  loadSpamAssassin, readSpamAssassinFolder, spamAssassinPackageFolder, splitSpamCorpus, tokenizeMessages, UNKNOWN_ID, type RawMessage,
} from "../../src/data/spam-assassin.js";

test("the split is fixed: 4,836 training and 1,210 test messages, 31% spam on each side, the same on every call", () => {
  const c = loadSpamAssassin();
  const spamIn = (ms: { label: number }[]) => ms.filter((m) => m.label === 1).length;
  assert.deepEqual([c.train.length, spamIn(c.train), c.test.length, spamIn(c.test)], [4836, 1520, 1210, 376]);
  assert.equal(c.train.length + c.test.length, 6046);
  assert.equal(spamIn(c.train) + spamIn(c.test), 1896);
  assert.equal(c.duplicates, 119);
  // Seeded, not random: the first test messages are always these.
  assert.deepEqual(c.test.slice(0, 3).map((m) => m.name.slice(0, 16)), ["easy-ham-1/00001", "easy-ham-1/00002", "easy-ham-1/00012"]);
  const names = new Set(c.train.map((m) => m.name));
  assert.ok(c.test.every((m) => !names.has(m.name)), "a message is on both sides");
});

test("the tokens read back from the cache are the ones the messages give now", () => {
  const c = loadSpamAssassin();
  const byName = new Map([...c.train, ...c.test].map((m) => [m.name, m]));
  // Every 100th message, stripped and tokenized afresh.
  const fresh = tokenizeMessages(readSpamAssassinFolder(spamAssassinPackageFolder()).filter((_m, i) => i % 100 === 0));
  assert.equal(fresh.length, 61);
  for (const m of fresh) assert.deepEqual(byName.get(m.name), m, m.name);
});

test("no message text is on both sides of the split, copies included", () => {
  const c = loadSpamAssassin();
  const key = (m: { tokens: string[] }) => m.tokens.join(" ");
  const trainTexts = new Set(c.train.map(key));
  const shared = c.test.filter((m) => trainTexts.has(key(m)));
  assert.deepEqual(shared.map((m) => m.name), []);
});

test("a real message loses its headers but keeps its Subject", () => {
  const c = loadSpamAssassin();
  const m = [...c.train, ...c.test].find((x) => x.name.startsWith("spam-1/00001."))!;
  assert.deepEqual(m.tokens.slice(0, 8), ["s_life", "s_insurance", "s_why", "s_pay", "s_more", "!", "doctype", "html"]);
  // Its Received:, Return-Path: and From: lines named web.de, webnote.net and korea.com.
  for (const word of ["webnote", "korea", "fetchmail", "postfix", "phobos"]) assert.ok(!m.tokens.includes(word), `${word} came through from the headers`);
});

test("emailText strips headers (folded ones too), decodes the Subject's encoded words and a quoted-printable body", () => {
  const raw = [
    "From spammer@example.com  Thu Aug 22 13:17:22 2002",
    "Received: from relay.example.com",
    "\tby mx.example.org with ESMTP",
    "Subject: =?iso-8859-1?Q?Gr=FCezi?=",
    "  friend",
    "X-Spam-Status: Yes",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Save 50=25 to=",
    "day",
  ].join("\r\n");
  assert.deepEqual(emailText(raw), { subject: "Gr\u00fcezi friend", body: "Save 50% today" });
  assert.equal(decodeQuotedPrintable("=41=62c=\n"), "Abc");
  assert.equal(decodeHeaderWords("plain =?utf-8?B?V2lu?= =?utf-8?Q?_now?="), "plain Win now");
});

test("a multipart body: text parts decoded, their own headers dropped, attachments dropped", () => {
  const raw = [
    "Subject: hello",
    'Content-Type: multipart/mixed; boundary="XYZ"',
    "",
    "This is the preamble.",
    "--XYZ",
    "Content-Type: text/plain",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("cheap pills").toString("base64"),
    "--XYZ",
    "Content-Type: image/gif",
    "Content-Transfer-Encoding: base64",
    "",
    "R0lGODlhAQABAAAAACw=",
    "--XYZ",
    "",
    "a part without headers",
    "--XYZ--",
    "epilogue",
  ].join("\n");
  const e = emailText(raw);
  assert.equal(e.subject, "hello");
  assert.equal(e.body, "cheap pills\na part without headers");
});

test("emailTokens: lower case, the Subject prefixed s_, $ and ! kept, runs over 24 characters dropped", () => {
  const long = "a".repeat(25);
  assert.deepEqual(emailTokens({ subject: "Re: Hi!", body: `Don't PAY $5 ${long} ok_go` }), ["s_re", "s_hi", "s_!", "don't", "pay", "$", "5", "ok", "go"]);
});

test("the vocabulary counts messages, not occurrences, and breaks ties by code order; unknown tokens map to id 1", () => {
  const v = buildSpamVocabulary([["b", "b", "b", "z"], ["a", "z"], ["a", "c"]], { maxSize: 10, minCount: 2 });
  // df: a 2, z 2, b 1, c 1: only a and z reach 2; tied, so code order.
  assert.deepEqual([...v.ids], [["a", 2], ["z", 3]]);
  assert.equal(v.size, 4);
  assert.deepEqual([...encodeTokens(["z", "q", "a", "a"], v, 3)], [3, UNKNOWN_ID, 2]);
  assert.deepEqual([...encodeTokens([], v, 3)], [UNKNOWN_ID]);
});

test("splitSpamCorpus is stratified and seeded", () => {
  const raw: RawMessage[] = Array.from({ length: 50 }, (_, i) => ({ name: `m${i}`, label: i < 20 ? 1 : 0, raw: `\nmessage ${i}` }));
  const messages = tokenizeMessages(raw);
  const a = splitSpamCorpus(messages, { seed: 3, testFraction: 0.2 });
  assert.deepEqual([a.test.filter((m) => m.label === 1).length, a.test.filter((m) => m.label === 0).length], [4, 6]);
  assert.deepEqual(splitSpamCorpus(messages, { seed: 3, testFraction: 0.2 }).test.map((m) => m.name), a.test.map((m) => m.name));
  assert.notDeepEqual(splitSpamCorpus(messages, { seed: 4, testFraction: 0.2 }).test.map((m) => m.name), a.test.map((m) => m.name));
  assert.throws(() => splitSpamCorpus(messages, { testFraction: 1 }), /testFraction 1 must lie strictly between 0 and 1/);
});

test("readSpamAssassinFolder reads the public corpus's layout: spam folders are spam, cmds files skipped", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-spam-"));
  try {
    for (const [group, files] of [["easy_ham", ["0001.abc", "0002.def", "cmds"]], ["spam_2", ["0001.123"]]] as const) {
      mkdirSync(join(dir, group));
      for (const f of files) writeFileSync(join(dir, group, f), `Subject: ${group} ${f}\n\nbody\n`);
    }
    const messages = readSpamAssassinFolder(dir);
    assert.deepEqual(messages.map((m) => [m.name, m.label]), [["easy_ham/0001.abc", 0], ["easy_ham/0002.def", 0], ["spam_2/0001.123", 1]]);
    assert.throws(() => readSpamAssassinFolder(join(dir, "missing")), /is not a folder: point it at the unpacked corpus/);
    assert.throws(() => readSpamAssassinFolder(join(dir, "easy_ham")), /not both ham and spam/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
