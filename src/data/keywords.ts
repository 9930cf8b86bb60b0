// Spoken keywords for keyword spotting: one-word clips in the layout of Google's Speech Commands
// data set (<word>/<speaker>_nohash_<n>.wav, 16 kHz 16-bit PCM, with a testing_list.txt), either
// a real folder of recordings a deployment points loadKeywordFolder() at, or SYNTHETIC speech that
// generateKeywordClips() makes on first use with the espeak-ng speech synthesizer (resampled to
// 16 kHz by sox) and caches. The synthetic clips are what the `keywords` recipe trains on by
// default: formant-synthesized voices, not people. They vary by accent, voice, speed and pitch,
// which is a fair test of generalising across speakers that the model never heard, but they have
// none of a real recording's room, microphone, breath and co-articulation: a model trained on
// them is a starting point for real speech, not a product (docs/recipes/keywords.md).
//
// Note [keyword clips]
// The words are Speech Commands' twenty core commands (KEYWORDS). A generated set is the product
// of its plan (SpeechPlan): for each word, accent and voice of the training side, `trainTakes`
// clips; for each word, accent and voice of the test side, `testTakes` clips. Each clip draws its
// speaking rate (words per minute, espeak-ng -s) and pitch (0-99, -p) uniformly from the plan's
// ranges with Rng(plan.seed) forked by the clip's position in the plan, so the same plan gives
// the same clips on every machine. A voice is an espeak-ng accent ("en-gb-scotland") and a voice
// variant ("m3", "f2"), written `accent+variant`, the clip's speaker in the file name.
//
// Note [held-out accents]
// The test side's accents AND voice variants are both absent from the training side: the
// default plan trains on six accents x 24 voice variants and tests on two other accents
// (en-gb-scotland, en-029 Caribbean) spoken by four other variants, so every test clip is an
// accent and a voice the model never heard. The split is written into the folder as
// testing_list.txt, Speech Commands' own mechanism, so a generated folder and a downloaded one
// are split by the same code (keywordSplit).
//
// Note [clip to window]
// Every clip becomes a window of exactly one second (16,000 samples at 16 kHz) the same way,
// generated or recorded: samples whose magnitude stays below 2% of the clip's peak are trimmed
// from both ends (the synthesizer's lead-in and tail silence; a recording's quiet), the rest is
// scaled to a peak of 0.5 (speakers and microphones differ in level; the log-mel features
// would otherwise carry the level as a constant offset), and placed in the middle of the window,
// zero-padded, or cut to its middle second if it is longer. The trimmed word's mean square is
// kept: it is the "signal power" that noise is scaled against (Note [noise at an SNR]).
//
// Note [noise at an SNR]
// Noise is mixed at a signal-to-noise ratio of S dB as x + n, where the noise n over the whole
// window has mean square P_speech 10^(-S/10), P_speech being the mean square of the trimmed word
// (not of the window, whose zero padding would make any noise look quieter than it sounds).
// White noise is independent standard normal samples; pink noise (power falling about 3 dB
// per octave, closer to the rumble of rooms and crowds, and harder on speech's low formants) is
// white noise through Paul Kellet's "economy" filter (three first-order low-pass sections plus
// a direct term, summed), rescaled to mean square 1. The noise is seeded, so an evaluation under
// noise is the same on every run.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Rng } from "../util/rng.js";
import type { LabeledSample } from "./collate-labeled.js";
import type { Dataset } from "./dataset.js";
import { readWav } from "./wav.js";

/** Speech Commands' twenty core command words, in class order (Note [keyword clips]). */
export const KEYWORDS = [
  "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
] as const;

/** Every clip is resampled to this rate (Hz). */
export const KEYWORD_SAMPLE_RATE = 16000;
/** Samples in a clip's window: one second (Note [clip to window]). */
export const KEYWORD_WINDOW = 16000;
/** Magnitude, relative to the clip's peak, below which its ends are trimmed. */
export const TRIM_THRESHOLD = 0.02;
/** Peak a clip is scaled to. */
export const CLIP_PEAK = 0.5;

/** How a synthetic set is made (Note [keyword clips], Note [held-out accents]). */
export interface SpeechPlan {
  words: readonly string[];
  trainAccents: readonly string[];
  testAccents: readonly string[];
  /** espeak-ng voice variants ("m3"); "" is the accent's own voice. */
  trainVariants: readonly string[];
  testVariants: readonly string[];
  /** Clips per word, accent and variant. */
  trainTakes: number;
  testTakes: number;
  /** Speaking rate range, words per minute, inclusive. */
  speed: readonly [number, number];
  /** Pitch range (espeak-ng's 0..99), inclusive. */
  pitch: readonly [number, number];
  seed: number;
}

/** The default plan: 2,880 training clips and 480 test clips. */
export const DEFAULT_SPEECH_PLAN: SpeechPlan = {
  words: KEYWORDS,
  // Eight of espeak-ng's English accents: six heard in training, two only in the test.
  trainAccents: ["en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"],
  testAccents: ["en-gb-scotland", "en-029"],
  // espeak-ng's voice variants: its own voice, numbered male and female ones, Klatt-synthesizer
  // ones and named ones (each a different pitch range, formant scaling, breathiness); the
  // robotic, whispered and croaking variants are left out.
  trainVariants: [
    "", "m1", "m2", "m3", "m4", "m5", "m8", "f1", "f2", "f3", "klatt", "klatt3",
    "Alex", "Andy", "Annie", "aunty", "belinda", "david", "ed", "iven", "paul", "robert", "steph", "travis",
  ],
  testVariants: ["m6", "m7", "f4", "f5"],
  trainTakes: 1,
  testTakes: 3,
  speed: [120, 210],
  pitch: [25, 75],
  seed: 15,
};

/** One clip of a plan. */
export interface ClipSpec {
  word: string;
  accent: string;
  variant: string;
  speed: number;
  pitch: number;
  test: boolean;
  /** Where it lives in the folder: <word>/<accent>+<variant>_nohash_<take>.wav. */
  file: string;
}

/** The espeak-ng -v argument for an accent and variant. */
export const voiceName = (accent: string, variant: string): string => (variant === "" ? accent : `${accent}+${variant}`);

/** Checks a plan: words and voices non-empty and file-name safe, sides disjoint, ranges sound. */
export function checkSpeechPlan(plan: SpeechPlan): void {
  const safe = /^[a-z0-9][a-z0-9_-]*$/i;
  for (const [what, list] of [["words", plan.words], ["trainAccents", plan.trainAccents], ["testAccents", plan.testAccents]] as const) {
    if (list.length === 0) throw new RangeError(`speech plan: ${what} is empty: give at least one`);
    for (const w of list) if (!safe.test(w)) throw new RangeError(`speech plan: ${what} entry ${JSON.stringify(w)} must be letters, digits, - or _`);
  }
  for (const [what, list] of [["trainVariants", plan.trainVariants], ["testVariants", plan.testVariants]] as const) {
    if (list.length === 0) throw new RangeError(`speech plan: ${what} is empty: give at least one ("" is the accent's own voice)`);
    for (const v of list) if (v !== "" && !safe.test(v)) throw new RangeError(`speech plan: ${what} entry ${JSON.stringify(v)} must be letters, digits, - or _`);
  }
  const both = plan.testAccents.filter((a) => plan.trainAccents.includes(a));
  if (both.length > 0) throw new RangeError(`speech plan: accent ${both[0]} is on both the training and the test side: held-out accents must be held out`);
  const bothVoices = plan.testVariants.filter((v) => plan.trainVariants.includes(v));
  if (bothVoices.length > 0) throw new RangeError(`speech plan: voice variant ${JSON.stringify(bothVoices[0])} is on both sides: held-out voices must be held out`);
  for (const [what, n] of [["trainTakes", plan.trainTakes], ["testTakes", plan.testTakes]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`speech plan: ${what} ${n} must be a positive integer`);
  }
  const [s0, s1] = plan.speed, [p0, p1] = plan.pitch;
  if (!(Number.isInteger(s0) && Number.isInteger(s1) && s0 >= 80 && s0 <= s1 && s1 <= 450)) throw new RangeError(`speech plan: speed range [${s0}, ${s1}] must be integers with 80 <= low <= high <= 450 (words per minute)`);
  if (!(Number.isInteger(p0) && Number.isInteger(p1) && p0 >= 0 && p0 <= p1 && p1 <= 99)) throw new RangeError(`speech plan: pitch range [${p0}, ${p1}] must be integers with 0 <= low <= high <= 99`);
}

/**
 * Every clip of a plan, in a fixed order (side, word, accent, variant, take), with its drawn speed
 * and pitch (Note [keyword clips]).
 *
 * @example The default plan: 2,880 training clips, 480 test clips, nothing shared
 * ```ts
 * const clips = planClips(DEFAULT_SPEECH_PLAN);
 * assert.equal(clips.filter((c) => !c.test).length, 2880);
 * assert.equal(clips.filter((c) => c.test).length, 480);
 * assert.equal(clips[0].file, "yes/en-us_nohash_0.wav");
 * ```
 */
export function planClips(plan: SpeechPlan): ClipSpec[] {
  checkSpeechPlan(plan);
  const rng = new Rng(plan.seed);
  const out: ClipSpec[] = [];
  for (const test of [false, true]) {
    const [accents, variants, takes] = test ? [plan.testAccents, plan.testVariants, plan.testTakes] : [plan.trainAccents, plan.trainVariants, plan.trainTakes];
    for (const word of plan.words) {
      for (const accent of accents) {
        for (const variant of variants) {
          for (let take = 0; take < takes; take++) {
            const draw = rng.fork(out.length);
            const speed = plan.speed[0] + draw.int(plan.speed[1] - plan.speed[0] + 1);
            const pitch = plan.pitch[0] + draw.int(plan.pitch[1] - plan.pitch[0] + 1);
            out.push({ word, accent, variant, speed, pitch, test, file: `${word}/${voiceName(accent, variant)}_nohash_${take}.wav` });
          }
        }
      }
    }
  }
  return out;
}

/** Bump when the way clips are made changes, so old caches are not read as new ones. */
const GENERATOR_VERSION = 1;

/** A short key for a plan: the cache folder's name (the version and a hash of every parameter). */
export function planKey(plan: SpeechPlan): string {
  const hash = createHash("sha256").update(JSON.stringify({ v: GENERATOR_VERSION, sr: KEYWORD_SAMPLE_RATE, ...plan })).digest("hex");
  return `v${GENERATOR_VERSION}-${plan.trainAccents.length + plan.testAccents.length}accents-${hash.slice(0, 12)}`;
}

/** Where Weft caches what it generates: $WEFT_CACHE, or ~/.cache/weft. */
export function weftCacheDir(): string {
  return process.env.WEFT_CACHE ?? join(homedir(), ".cache", "weft");
}

/** A speech tool is missing from this machine. */
export class MissingToolError extends Error {
  override readonly name = "MissingToolError";
}

/** Throws MissingToolError, one line naming the Debian package, unless espeak-ng and sox run. */
export function checkSpeechTools(): void {
  for (const [tool, args] of [["espeak-ng", ["--version"]], ["sox", ["--version"]]] as const) {
    const run = spawnSync(tool, args, { encoding: "utf8" });
    if (run.error || run.status !== 0) {
      throw new MissingToolError(`generating the keyword clips needs \`${tool}\`, which did not run (${run.error?.message ?? `exit ${run.status}`}): install the Debian package ${tool} (apt-get install ${tool}), or pass --data DIR with recorded clips`);
    }
  }
}

/**
 * Throws unless espeak-ng knows every accent and voice variant of `plan`: asked for a voice it
 * lacks, espeak-ng quietly speaks in its default voice instead, which would mislabel the clips.
 */
export function checkSpeechVoices(plan: SpeechPlan): void {
  const column = (args: string[], index: number): string[] => {
    const run = spawnSync("espeak-ng", args, { encoding: "utf8" });
    return (run.stdout ?? "").split("\n").slice(1).map((l) => l.trim().split(/\s+/)[index] ?? "").filter(Boolean);
  };
  const languages = new Set(column(["--voices"], 1));
  const listed = spawnSync("espeak-ng", ["--voices=variant"], { encoding: "utf8" }).stdout ?? "";
  const variants = new Set([...listed.matchAll(/!v\/(\S+)/g)].map((m) => m[1]!));
  for (const accent of [...plan.trainAccents, ...plan.testAccents]) {
    if (!languages.has(accent)) throw new RangeError(`speech plan: espeak-ng has no accent ${accent}: choose one that \`espeak-ng --voices=en\` lists`);
  }
  for (const variant of [...plan.trainVariants, ...plan.testVariants]) {
    if (variant !== "" && !variants.has(variant)) throw new RangeError(`speech plan: espeak-ng has no voice variant ${variant}: choose one that \`espeak-ng --voices=variant\` lists (its file name, e.g. m3)`);
  }
}

/** Sleeps the thread (the generator's waiters have nothing else to do). */
const sleepMs = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface GenerateOptions {
  /** Folder to generate under (default: weftCacheDir()/keywords). */
  cacheDir?: string;
  /** espeak-ng processes at once (default 2: this project's machines have two cores). */
  concurrency?: number;
  /** Give up waiting for another process generating the same plan after this long (default 15 min). */
  waitMs?: number;
}

/**
 * The folder of a plan's clips (Speech Commands layout, Note [held-out accents]), generated with
 * espeak-ng and sox if it is not cached yet. Processes that ask at once (the workers of a job)
 * generate once: the first takes a lock file, the others wait for the finished folder, which
 * appears by an atomic rename only when every clip is written.
 *
 * @param plan what to generate (Note [keyword clips])
 * @returns the folder's path
 */
export function generateKeywordClips(plan: SpeechPlan = DEFAULT_SPEECH_PLAN, o: GenerateOptions = {}): string {
  const root = o.cacheDir ?? join(weftCacheDir(), "keywords");
  const dir = join(root, planKey(plan));
  const done = (): boolean => existsSync(join(dir, "plan.json"));
  if (done()) return dir;
  const clips = planClips(plan);
  checkSpeechTools();
  checkSpeechVoices(plan);
  mkdirSync(root, { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + (o.waitMs ?? 15 * 60_000);
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    if (done()) return dir;
    // The holder may have died; a lock whose process is gone is taken over.
    const holder = Number(readFileSync(lock, "utf8") || NaN);
    if (Number.isInteger(holder) && !alive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`generating keyword clips: process ${holder} has held ${lock} for too long: if it is gone, delete the lock file`);
    sleepMs(250);
  }
  try {
    if (done()) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    for (const word of plan.words) mkdirSync(join(tmp, word), { recursive: true });
    const jobs = clips.map((c) => ({ voice: voiceName(c.accent, c.variant), speed: c.speed, pitch: c.pitch, word: c.word, out: join(tmp, c.file) }));
    writeFileSync(join(tmp, "jobs.json"), JSON.stringify(jobs));
    // The synthesizer runs in a child process that keeps `concurrency` espeak-ng | sox pipelines
    // going at once; this function stays synchronous, as a recipe's data() is.
    const entry = fileURLToPath(new URL("./keywords-generate.js", import.meta.url));
    const run = spawnSync(process.execPath, [entry, join(tmp, "jobs.json"), String(o.concurrency ?? 2)], { encoding: "utf8", maxBuffer: 16 << 20 });
    if (run.status !== 0) {
      throw new Error(`generating ${jobs.length} keyword clips into ${tmp} failed: ${(run.stderr || run.error?.message || `exit ${run.status}`).trim().split("\n").pop()}`);
    }
    rmSync(join(tmp, "jobs.json"));
    writeFileSync(join(tmp, "testing_list.txt"), clips.filter((c) => c.test).map((c) => c.file).join("\n") + "\n");
    writeFileSync(join(tmp, "README.txt"),
      "Synthetic speech made by espeak-ng (formant synthesis) and resampled to 16 kHz by sox,\n" +
      "for Weft's keywords recipe. The voices are not people. plan.json says how it was made.\n");
    writeFileSync(join(tmp, "plan.json"), JSON.stringify({ version: GENERATOR_VERSION, sampleRate: KEYWORD_SAMPLE_RATE, plan, clips }, null, 1));
    renameSync(tmp, dir);
    return dir;
  } finally {
    rmSync(lock, { force: true });
  }
}

/** One clip read from a folder. */
export interface KeywordClip {
  /** Class index into the folder's words. */
  label: number;
  /** Path relative to the folder (<word>/<file>.wav). */
  file: string;
  /** Speech Commands' speaker id: the file name before "_nohash_". */
  speaker: string;
  /** The one-second window (Note [clip to window]). */
  samples: Float32Array;
  /** Mean square of the trimmed word (Note [noise at an SNR]). */
  speechPower: number;
}

export interface KeywordFolder {
  words: readonly string[];
  train: KeywordClip[];
  test: KeywordClip[];
}

/** A clip cut to its window (Note [clip to window]) and the trimmed word's mean square. */
export interface FittedClip {
  samples: Float32Array;
  speechPower: number;
}

/**
 * Trims a clip's quiet ends, scales it to a peak of CLIP_PEAK and centres it in a window of
 * `length` samples (Note [clip to window]).
 *
 * @example A short burst lands in the middle of the window
 * ```ts
 * const { samples, speechPower } = fitClip(Float32Array.of(0, 0, 1, -1, 0), 6);
 * assert.deepEqual([...samples], [0, 0, 0.5, -0.5, 0, 0]);
 * assert.equal(speechPower, 0.25);
 * ```
 */
export function fitClip(clip: Float32Array, length = KEYWORD_WINDOW): FittedClip {
  let peak = 0;
  for (const s of clip) peak = Math.max(peak, Math.abs(s));
  const out = new Float32Array(length);
  if (peak === 0) return { samples: out, speechPower: 0 };
  const threshold = TRIM_THRESHOLD * peak;
  let start = 0, end = clip.length;
  while (Math.abs(clip[start]!) < threshold) start++;
  while (Math.abs(clip[end - 1]!) < threshold) end--;
  const scale = CLIP_PEAK / peak;
  let take = end - start;
  if (take > length) {
    start += Math.floor((take - length) / 2);
    take = length;
  }
  const at = Math.floor((length - take) / 2);
  let power = 0;
  for (let i = 0; i < take; i++) {
    const s = clip[start + i]! * scale;
    out[at + i] = s;
    power += s * s;
  }
  return { samples: out, speechPower: power / take };
}

/**
 * Which side a Speech Commands file is on, by the lists in its folder: "test" if testing_list.txt
 * names it, "validation" if validation_list.txt does (left out of training, as in the data set's
 * own protocol), "train" otherwise. Without a testing_list.txt, a speaker goes to the test side
 * when the first 8 hex digits of the SHA-1 of its id, mod 100, fall below `testPercent` (all of a
 * speaker's clips on one side, as Speech Commands' which_set does).
 */
export function keywordSplit(dir: string, testPercent = 10): (file: string, speaker: string) => "train" | "test" | "validation" {
  const list = (name: string): Set<string> | undefined => {
    const path = join(dir, name);
    return existsSync(path) ? new Set(readFileSync(path, "utf8").split("\n").map((l) => l.trim()).filter(Boolean)) : undefined;
  };
  const testing = list("testing_list.txt"), validation = list("validation_list.txt");
  return (file, speaker) => {
    if (testing) return testing.has(file) ? "test" : validation?.has(file) ? "validation" : "train";
    const h = parseInt(createHash("sha1").update(speaker).digest("hex").slice(0, 8), 16);
    return h % 100 < testPercent ? "test" : "train";
  };
}

export interface LoadFolderOptions {
  /** The words to read, in class order (default KEYWORDS); other folders (e.g. _background_noise_) are ignored. */
  words?: readonly string[];
  /** Without a testing_list.txt, the share of speakers put on the test side (default 10%). */
  testPercent?: number;
}

/**
 * Reads a folder of labelled 16 kHz 16-bit PCM WAV clips in Speech Commands' layout
 * (<word>/<speaker>_nohash_<n>.wav), split by keywordSplit, each cut to its window
 * (Note [clip to window]). This is how a deployment trains on recorded speech: point it at the
 * unpacked speech_commands_v0.02 folder, or any folder laid out the same way.
 *
 * @param dir the folder
 * @returns the clips of each side, in file-name order
 */
export function loadKeywordFolder(dir: string, o: LoadFolderOptions = {}): KeywordFolder {
  const words = o.words ?? KEYWORDS;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`reading keyword clips: ${dir} is not a folder: give a folder of <word>/<clip>.wav files`);
  const side = keywordSplit(dir, o.testPercent);
  const folder: KeywordFolder = { words, train: [], test: [] };
  words.forEach((word, label) => {
    const wordDir = join(dir, word);
    if (!existsSync(wordDir)) throw new Error(`reading keyword clips: ${dir} has no folder ${word}/: every word needs <word>/<clip>.wav files (or choose the words that are there)`);
    for (const name of readdirSync(wordDir).filter((f) => f.endsWith(".wav")).sort()) {
      const file = `${word}/${name}`;
      const speaker = basename(name, ".wav").replace(/_nohash_.*$/, "");
      const where = side(file, speaker);
      if (where === "validation") continue;
      const wav = readWav(readFileSync(join(wordDir, name)), join(dir, file));
      if (wav.sampleRate !== KEYWORD_SAMPLE_RATE) {
        throw new Error(`reading ${join(dir, file)}: ${wav.sampleRate} Hz, the recipe reads ${KEYWORD_SAMPLE_RATE} Hz: resample with \`sox in.wav -r ${KEYWORD_SAMPLE_RATE} out.wav\``);
      }
      const { samples, speechPower } = fitClip(wav.samples);
      folder[where].push({ label, file, speaker, samples, speechPower });
    }
  });
  if (folder.train.length === 0 || folder.test.length === 0) {
    throw new Error(`reading keyword clips: ${dir} gave ${folder.train.length} training and ${folder.test.length} test clips: both sides need clips (check testing_list.txt)`);
  }
  return folder;
}

/** The clips of one side as a data set of one-second windows and their labels. */
export class KeywordClips implements Dataset<LabeledSample & { speechPower: number }> {
  readonly length: number;
  constructor(readonly clips: readonly KeywordClip[]) {
    this.length = clips.length;
  }
  get(index: number): LabeledSample & { speechPower: number } {
    const c = this.clips[index];
    if (!c) throw new RangeError(`index ${index} is outside this data set of ${this.length} clips`);
    return { x: c.samples, y: c.label, speechPower: c.speechPower };
  }
}

/** Noise colours (Note [noise at an SNR]). */
export type NoiseColor = "white" | "pink";

/**
 * `length` samples of seeded noise with mean square 1 (Note [noise at an SNR]).
 *
 * @example
 * ```ts
 * const n = noise(4000, "pink", new Rng(1));
 * assert.ok(Math.abs(n.reduce((s, x) => s + x * x, 0) / n.length - 1) < 1e-9);
 * ```
 */
export function noise(length: number, color: NoiseColor, rng: Rng): Float64Array {
  const out = new Float64Array(length);
  let b0 = 0, b1 = 0, b2 = 0;
  for (let i = 0; i < length; i++) {
    const w = rng.normal();
    if (color === "white") out[i] = w;
    else {
      // Paul Kellet's economy pink filter.
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      out[i] = b0 + b1 + b2 + w * 0.1848;
    }
  }
  let power = 0;
  for (const x of out) power += x * x;
  const scale = power > 0 ? Math.sqrt(length / power) : 0;
  for (let i = 0; i < length; i++) out[i]! *= scale;
  return out;
}

/**
 * `clip` with noise mixed in at `snrDb` relative to `speechPower` (Note [noise at an SNR]), into
 * `out` (a fresh array when omitted; it may be `clip` itself).
 *
 * @example At 10 dB the noise has a tenth of the speech's power
 * ```ts
 * const clip = new Float32Array(1000);
 * const noisy = mixNoise(clip, 0.25, 10, "white", new Rng(3));
 * assert.ok(Math.abs(noisy.reduce((s, x) => s + x * x, 0) / 1000 - 0.025) < 1e-6);
 * ```
 */
export function mixNoise(clip: Float32Array, speechPower: number, snrDb: number, color: NoiseColor, rng: Rng, out: Float32Array = new Float32Array(clip.length)): Float32Array {
  const n = noise(clip.length, color, rng);
  const gain = Math.sqrt(speechPower * 10 ** (-snrDb / 10));
  for (let i = 0; i < clip.length; i++) out[i] = clip[i]! + gain * n[i]!;
  return out;
}
