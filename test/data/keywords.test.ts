// Keyword clips (src/data/keywords.ts): the plan and its fixed, seeded split (Note [keyword
// clips], Note [held-out accents]), a clip cut to its window by hand (Note [clip to window]),
// noise at an exact SNR (Note [noise at an SNR]), generation with espeak-ng and sox into a cached
// Speech Commands folder read back by the deployment loader, and the errors for missing tools,
// unknown voices and malformed folders.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkSpeechPlan, checkSpeechTools, checkSpeechVoices, DEFAULT_SPEECH_PLAN, fitClip, generateKeywordClips, keywordSplit, KEYWORDS,
  loadKeywordFolder, MissingToolError, mixNoise, noise, planClips, planKey, type SpeechPlan,
} from "../../src/data/keywords.js";
import { encodeWav, readWav } from "../../src/data/wav.js";
import { Rng } from "../../src/util/rng.js";

/** Two words, every accent, one voice a side, one take: 16 clips, a couple of seconds to make. */
const TINY: SpeechPlan = { ...DEFAULT_SPEECH_PLAN, words: ["yes", "no"], trainVariants: ["m1"], testVariants: ["f4"], trainTakes: 1, testTakes: 1 };

test("the default plan: twenty words, 2,880 training and 480 test clips, held-out accents and voices on the test side only", () => {
  assert.equal(KEYWORDS.length, 20);
  const clips = planClips(DEFAULT_SPEECH_PLAN);
  const train = clips.filter((c) => !c.test), testSide = clips.filter((c) => c.test);
  assert.equal(train.length, 20 * 6 * 24 * 1);
  assert.equal(testSide.length, 20 * 2 * 4 * 3);
  const trainAccents = new Set(train.map((c) => c.accent)), testAccents = new Set(testSide.map((c) => c.accent));
  assert.deepEqual([...testAccents].sort(), ["en-029", "en-gb-scotland"]);
  assert.equal([...testAccents].filter((a) => trainAccents.has(a)).length, 0);
  const trainVoices = new Set(train.map((c) => c.variant));
  assert.equal(testSide.filter((c) => trainVoices.has(c.variant)).length, 0, "a test clip's voice variant is also trained on");
  assert.equal(new Set(clips.map((c) => c.file)).size, clips.length, "two clips share a file");
  for (const c of clips) {
    assert.ok(c.speed >= 120 && c.speed <= 210 && c.pitch >= 25 && c.pitch <= 75, `${c.file}: speed ${c.speed}, pitch ${c.pitch}`);
    assert.equal(c.file, `${c.word}/${c.variant ? `${c.accent}+${c.variant}` : c.accent}_nohash_${c.file.match(/_(\d+)\.wav$/)![1]}.wav`);
  }
  // Every class is on both sides, equally often.
  for (const w of KEYWORDS) assert.deepEqual([train.filter((c) => c.word === w).length, testSide.filter((c) => c.word === w).length], [144, 24]);
});

test("the split is fixed and seeded: the same plan gives the same clips, another seed other speeds and pitches", () => {
  const a = planClips(DEFAULT_SPEECH_PLAN), b = planClips({ ...DEFAULT_SPEECH_PLAN });
  assert.deepEqual(a, b);
  const c = planClips({ ...DEFAULT_SPEECH_PLAN, seed: 16 });
  assert.deepEqual(c.map((x) => [x.file, x.test]), a.map((x) => [x.file, x.test]), "the seed moves no clip across the split");
  assert.ok(c.filter((x, i) => x.speed !== a[i]!.speed).length > a.length / 2);
  // Speeds cover their range (both ends reachable).
  const speeds = a.map((x) => x.speed);
  assert.equal(Math.min(...speeds), 120);
  assert.equal(Math.max(...speeds), 210);
  assert.notEqual(planKey(TINY), planKey(DEFAULT_SPEECH_PLAN));
  assert.equal(planKey({ ...DEFAULT_SPEECH_PLAN }), planKey(DEFAULT_SPEECH_PLAN));
  assert.match(planKey(DEFAULT_SPEECH_PLAN), /^v1-8accents-[0-9a-f]{12}$/);
});

test("a plan whose held-out accents or voices are trained on is refused", () => {
  assert.throws(() => checkSpeechPlan({ ...DEFAULT_SPEECH_PLAN, testAccents: ["en-us"] }), /accent en-us is on both the training and the test side/);
  assert.throws(() => checkSpeechPlan({ ...DEFAULT_SPEECH_PLAN, testVariants: ["m1"] }), /voice variant "m1" is on both sides/);
  assert.throws(() => checkSpeechPlan({ ...DEFAULT_SPEECH_PLAN, words: ["yes", "a b"] }), /"a b" must be letters, digits/);
  assert.throws(() => checkSpeechPlan({ ...DEFAULT_SPEECH_PLAN, speed: [300, 200] }), /speed range \[300, 200\]/);
  assert.throws(() => checkSpeechPlan({ ...DEFAULT_SPEECH_PLAN, trainTakes: 0 }), /trainTakes 0/);
});

test("a clip to its window by hand: trimmed at 2% of the peak, scaled to 0.5, centred", () => {
  // Peak 0.8; |x| < 0.016 is trimmed from the ends (the 0.01 inside stays).
  const { samples, speechPower } = fitClip(Float32Array.of(0, 0.01, 0.4, 0.01, -0.8, 0.2, 0.001), 8);
  // Kept: 0.4, 0.01, -0.8, 0.2, scaled by 0.5 / 0.8 = 0.625: 0.25, 0.00625, -0.5, 0.125; placed at floor((8 - 4) / 2) = 2.
  const expected = [0, 0, 0.25, 0.00625, -0.5, 0.125, 0, 0];
  samples.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-7, `sample ${i}: ${v} vs ${expected[i]}`));
  assert.ok(Math.abs(speechPower - (0.25 ** 2 + 0.00625 ** 2 + 0.5 ** 2 + 0.125 ** 2) / 4) < 1e-9);
  // Longer than the window: its middle is kept.
  const long = fitClip(Float32Array.of(1, 2, 3, 4, 5, 6).map((v) => v / 6), 2);
  assert.deepEqual([...long.samples].map((v) => Math.round(v * 1e6) / 1e6), [0.25, 0.333333]);
  assert.deepEqual(fitClip(new Float32Array(5), 3), { samples: new Float32Array(3), speechPower: 0 });
});

test("noise is mixed at the SNR exactly, seeded, and pink noise has its power at low frequencies", () => {
  const clip = fitClip(Float32Array.from({ length: 8000 }, (_, n) => Math.sin(n / 5))).samples;
  const power = 0.5 * 0.5 / 2; // a sine of peak 0.5
  for (const color of ["white", "pink"] as const) {
    const noisy = mixNoise(clip, power, 10, color, new Rng(4));
    let p = 0;
    for (let i = 0; i < clip.length; i++) p += (noisy[i]! - clip[i]!) ** 2;
    // The noise's mean square is exactly P / 10 (float32 rounding of the mixed samples aside).
    assert.ok(Math.abs(p / clip.length / (power / 10) - 1) < 1e-4, `${color}: noise power ${p / clip.length}`);
    assert.deepEqual(mixNoise(clip, power, 10, color, new Rng(4)), noisy);
    assert.notDeepEqual(mixNoise(clip, power, 10, color, new Rng(5)), noisy);
  }
  // A first difference removes low frequencies: white noise's difference has twice its power, pink noise's far less.
  const diffPower = (x: Float64Array): number => { let s = 0; for (let i = 1; i < x.length; i++) s += (x[i]! - x[i - 1]!) ** 2; return s / (x.length - 1); };
  const white = diffPower(noise(16000, "white", new Rng(1))), pink = diffPower(noise(16000, "pink", new Rng(1)));
  assert.ok(Math.abs(white - 2) < 0.1, `white noise's difference power ${white}`);
  assert.ok(pink < 0.5, `pink noise's difference power ${pink}`);
});

test("the split of a folder: testing_list.txt when present, else all of a speaker's clips on one side by hash", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-kw-split-"));
  try {
    const hashed = keywordSplit(dir);
    const speakers = Array.from({ length: 400 }, (_, i) => `speaker${i}`);
    const testShare = speakers.filter((s) => hashed(`yes/${s}_nohash_0.wav`, s) === "test").length / speakers.length;
    assert.ok(testShare > 0.05 && testShare < 0.15, `test share ${testShare}`);
    // The side depends on the speaker only.
    for (const s of speakers.slice(0, 20)) assert.equal(hashed(`no/${s}_nohash_3.wav`, s), hashed(`yes/${s}_nohash_0.wav`, s));
    writeFileSync(join(dir, "testing_list.txt"), "yes/a_nohash_0.wav\n");
    writeFileSync(join(dir, "validation_list.txt"), "yes/b_nohash_0.wav\n");
    const listed = keywordSplit(dir);
    assert.deepEqual(["a", "b", "c"].map((s) => listed(`yes/${s}_nohash_0.wav`, s)), ["test", "validation", "train"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a recorded folder in Speech Commands' layout loads, other folders ignored, wrong rates refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-kw-folder-"));
  try {
    const tone = (hz: number, rate = 16000): Uint8Array => encodeWav(Float32Array.from({ length: rate / 2 }, (_, n) => 0.3 * Math.sin((2 * Math.PI * hz * n) / rate)), rate);
    for (const w of ["yes", "no", "_background_noise_"]) mkdirSync(join(dir, w));
    writeFileSync(join(dir, "yes", "a_nohash_0.wav"), tone(300));
    writeFileSync(join(dir, "yes", "b_nohash_0.wav"), tone(400));
    writeFileSync(join(dir, "no", "a_nohash_1.wav"), tone(500));
    writeFileSync(join(dir, "_background_noise_", "hum.wav"), tone(50));
    writeFileSync(join(dir, "testing_list.txt"), "yes/b_nohash_0.wav\n");
    const f = loadKeywordFolder(dir, { words: ["yes", "no"] });
    assert.deepEqual(f.train.map((c) => [c.file, c.label, c.speaker]), [["yes/a_nohash_0.wav", 0, "a"], ["no/a_nohash_1.wav", 1, "a"]]);
    assert.deepEqual(f.test.map((c) => c.file), ["yes/b_nohash_0.wav"]);
    assert.equal(f.test[0]!.samples.length, 16000);
    assert.throws(() => loadKeywordFolder(dir, { words: ["yes", "left"] }), /has no folder left\//);
    writeFileSync(join(dir, "no", "c_nohash_0.wav"), tone(500, 8000));
    assert.throws(() => loadKeywordFolder(dir, { words: ["yes", "no"] }), /8000 Hz, the recipe reads 16000 Hz: resample with `sox/);
    assert.throws(() => loadKeywordFolder(join(dir, "missing")), /is not a folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("generation: a cached Speech Commands folder of 16 kHz clips, split by accent, made once even when two processes ask at once", async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "weft-kw-gen-"));
  try {
    // Two processes at once: one generates, the other waits for the finished folder.
    const module = fileURLToPath(new URL("../../src/data/keywords.js", import.meta.url));
    const script = `import { generateKeywordClips } from ${JSON.stringify(module)};\nconsole.log(generateKeywordClips(JSON.parse(process.argv[1]), { cacheDir: process.argv[2] }));`;
    const runOne = (): Promise<{ code: number | null; out: string; err: string }> => new Promise((resolve) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(TINY), cacheDir], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      child.stdout.on("data", (d: Buffer) => { out += d; });
      child.stderr.on("data", (d: Buffer) => { err += d; });
      child.on("close", (code) => resolve({ code, out: out.trim(), err }));
    });
    const [a, b] = await Promise.all([runOne(), runOne()]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.equal(a.out, b.out);
    const dir = a.out;
    assert.equal(dir, join(cacheDir, planKey(TINY)));
    assert.ok(!existsSync(`${dir}.lock`), "the lock is released");
    const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as { clips: { file: string; test: boolean }[] };
    assert.equal(plan.clips.length, 16);
    const testing = readFileSync(join(dir, "testing_list.txt"), "utf8").trim().split("\n");
    assert.deepEqual(testing, plan.clips.filter((c) => c.test).map((c) => c.file));
    assert.deepEqual(testing, ["yes/en-gb-scotland+f4_nohash_0.wav", "yes/en-029+f4_nohash_0.wav", "no/en-gb-scotland+f4_nohash_0.wav", "no/en-029+f4_nohash_0.wav"]);
    const clip = readWav(readFileSync(join(dir, "yes", "en-us+m1_nohash_0.wav")));
    assert.equal(clip.sampleRate, 16000);
    assert.ok(clip.samples.length > 4000 && clip.samples.length < 24000, `"yes" lasts ${clip.samples.length / 16000} s`);
    // Cached: asking again returns at once and rewrites nothing.
    const before = statSync(join(dir, "plan.json")).mtimeMs;
    assert.equal(generateKeywordClips(TINY, { cacheDir }), dir);
    assert.equal(statSync(join(dir, "plan.json")).mtimeMs, before);
    // The deployment loader reads it: twelve training clips, four test clips of held-out accents.
    const f = loadKeywordFolder(dir, { words: TINY.words });
    assert.equal(f.train.length, 12);
    assert.deepEqual(f.test.map((c) => c.speaker).sort(), ["en-029+f4", "en-029+f4", "en-gb-scotland+f4", "en-gb-scotland+f4"]);
    for (const c of [...f.train, ...f.test]) {
      assert.equal(c.samples.length, 16000);
      const peak = c.samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(Math.abs(peak - 0.5) < 1e-6 && c.speechPower > 1e-4, `${c.file}: peak ${peak}, power ${c.speechPower}`);
    }
    // "yes" and "no" do not sound alike: the clips differ.
    assert.notDeepEqual(f.train[0]!.samples, f.train[6]!.samples);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

test("a missing espeak-ng or sox is one line naming the Debian package; an unknown voice is refused", () => {
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    assert.throws(() => checkSpeechTools(), (e: Error) => e instanceof MissingToolError && !e.message.includes("\n") && /install the Debian package espeak-ng \(apt-get install espeak-ng\)/.test(e.message));
  } finally {
    process.env.PATH = path;
  }
  checkSpeechTools();
  assert.throws(() => checkSpeechVoices({ ...TINY, testAccents: ["en-xx"] }), /espeak-ng has no accent en-xx/);
  assert.throws(() => checkSpeechVoices({ ...TINY, testVariants: ["nobody"] }), /no voice variant nobody/);
  checkSpeechVoices(DEFAULT_SPEECH_PLAN);
});
