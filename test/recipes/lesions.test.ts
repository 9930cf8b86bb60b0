// The lesions recipe: through the `weft` command on a budget of a few steps (one process, and two
// workers under local SGD), on the phantoms and on a real NIfTI scan; the phantom split fixed and
// seeded, with exact masks; the loss, the augmentation and the baseline by hand; bad options
// refused in one line. The full-accuracy runs are in test/full/lesions-accuracy.full.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { drawPhantom, LesionImages, loadLesionPhantoms, phantomAt, phantomCachePath, MAX_LESIONS } from "../../src/data/lesion-phantoms.js";
import { readNifti, writeNifti } from "../../src/data/nifti.js";
import { Tensor } from "../../src/tensor/index.js";
import {
  collateLesions, dihedral, dropSmallBlobs, lesions, SOFT_DICE_SMOOTH, softDiceLoss, thresholdMasks, tuneThreshold,
} from "../../src/recipes/lesions.js";
import { Rng } from "../../src/util/rng.js";
import { gradcheck, param } from "../tensor/gradcheck.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
// Phantoms are generated into a cache of this test's own, not the user's.
const cache = mkdtempSync(join(tmpdir(), "weft-lesions-cache-"));
process.env.WEFT_CACHE = cache;
after(() => rmSync(cache, { recursive: true, force: true }));

/** A small phantom set, so that each run generates (or reads) a few hundred images at most. */
const SMALL = ["--phantoms", "64", "--test-phantoms", "32"];

function train(args: string[]): { status: number | null; stderr: string; result?: Record<string, unknown> } {
  const run = spawnSync(process.execPath, [weft, "train", "lesions", ...args], { cwd: root, env: { ...process.env, WEFT_CACHE: cache }, encoding: "utf8", timeout: 300_000 });
  const last = run.stdout.trim().split("\n").pop();
  return { status: run.status, stderr: run.stderr, ...(run.status === 0 && last ? { result: JSON.parse(last) as Record<string, unknown> } : {}) };
}

test("weft train lesions --max-steps 3 --json ends with metric dice, beside IoU and both baselines", () => {
  const { status, stderr, result: r } = train(["--max-steps", "3", "--json", ...SMALL]);
  assert.equal(status, 0, `weft train lesions failed:\n${stderr}`);
  assert.equal(r!.recipe, "lesions");
  assert.equal(r!.metric, "dice");
  assert.equal(r!.value, r!.dice);
  assert.equal(r!.steps, 3);
  for (const key of ["dice", "iou", "pooled_dice", "threshold_dice", "empty_dice"]) {
    const v = r![key] as number;
    assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `${key} ${v}`);
  }
  assert.deepEqual([r!.train_images, r!.test_images], [64, 32]);
  // "No lesion anywhere" scores exactly the share of test phantoms without a lesion.
  const test32 = loadLesionPhantoms("test", 32);
  const empty = Array.from({ length: 32 }, (_, i) => test32.get(i).mask.every((v) => v === 0)).filter(Boolean).length;
  assert.equal(r!.empty_dice, empty / 32);
});

test("two workers under local SGD train the recipe a few steps and report the metric", () => {
  const { status, stderr, result: r } = train(["--workers", "2", "--strategy", "local-sgd", "--max-steps", "4", "--json", ...SMALL]);
  assert.equal(status, 0, `weft train lesions --workers 2 --strategy local-sgd failed:\n${stderr}`);
  try {
    assert.deepEqual([r!.workers, r!.strategy, r!.metric, r!.steps], [2, "local-sgd", "dice", 4]);
    assert.ok(Number.isFinite(r!.value as number));
  } finally {
    rmSync(r!.run_dir as string, { recursive: true, force: true });
  }
});

test("the recipe trains on a real NIfTI scan and a mask volume (nibabel's anatomical.nii)", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-lesions-nifti-"));
  try {
    // A mask of the scan's brightest voxels: not a lesion, but a structure with real anatomy's shape.
    const scan = readNifti(join(root, "test/fixtures/anatomical.nii"));
    const sorted = Float32Array.from(scan.data).sort();
    const level = sorted[Math.floor(sorted.length * 0.9)]!;
    writeNifti(join(dir, "bright.nii"), { dims: scan.dims, spacing: scan.spacing, data: Uint8Array.from(scan.data, (v) => (v > level ? 1 : 0)) });
    const { status, stderr, result: r } = train(["--image", join(root, "test/fixtures/anatomical.nii"), "--mask", join(dir, "bright.nii"), "--max-steps", "2", "--batch", "4", "--json"]);
    assert.equal(status, 0, `weft train lesions --image --mask failed:\n${stderr}`);
    // 25 axial slices of 41 x 33: the last 5 are the test set.
    assert.deepEqual([r!.train_images, r!.test_images, r!.steps], [20, 5, 2]);
    assert.ok(Number.isFinite(r!.dice as number));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad options are refused in one line that says what to do", () => {
  const cases: [string[], RegExp][] = [
    [["--image", "scan.nii"], /--image and --mask go together .*got only --image/],
    [["--image", "a.nii,b.nii", "--mask", "a-mask.nii"], /--image lists 2 volume\(s\) and --mask 1/],
    [["--image", join(cache, "missing.nii"), "--mask", join(cache, "missing-mask.nii")], /missing\.nii/],
    [["--width", "0"], /--width must be an integer from 1 to 256, got "0"/],
    [["--augment", "rotate"], /--augment/],
    [["--slice-axis", "3"], /--slice-axis must be an integer from 0 to 2/],
    [["--dice-weight", "-1"], /--dice-weight/],
  ];
  for (const [args, message] of cases) {
    const { status, stderr } = train([...args, "--max-steps", "1", ...SMALL]);
    assert.notEqual(status, 0, `${args.join(" ")} was accepted`);
    assert.equal(stderr.trim().split("\n").length, 1, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message);
  }
});

test("the phantom split is fixed and seeded: the same phantoms every time, the cache bit for bit, no image in both splits", () => {
  const a = loadLesionPhantoms("train", 40);
  // The cache file holds what the generator draws now, phantom by phantom.
  const file = readFileSync(phantomCachePath("train", 40));
  assert.equal(file.toString("latin1", 0, 8), "WEFTLSN1");
  for (const i of [0, 17, 39]) {
    const p = phantomAt("train", i);
    const s = a.get(i);
    assert.deepEqual(s.mask, p.mask);
    // Scaled for the model as (grey - 0.3) / 0.25.
    assert.ok(s.image.every((v, j) => Math.abs(v - (p.grey[j]! - 0.3) / 0.25) < 1e-5));
  }
  // A phantom does not depend on how many were asked for.
  assert.deepEqual(loadLesionPhantoms("train", 10).get(9).image, a.get(9).image);
  // Test phantoms come from a stream of their own: none equals any training phantom.
  const t = loadLesionPhantoms("test", 40);
  for (let i = 0; i < 40; i++) for (let j = 0; j < 40; j++) assert.notDeepEqual(t.get(i).image.subarray(0, 64), a.get(j).image.subarray(0, 64));
  // Pinned: the lesion counts of the first ten training phantoms and the lesion pixels of the
  // first six (changing the generator changes them, and must bump LESION_PHANTOM_VERSION).
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => phantomAt("train", i).lesions.length), [2, 1, 1, 0, 3, 1, 3, 1, 1, 1]);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => phantomAt("train", i).mask.reduce((a, b) => a + b, 0)), [111, 99, 71, 0, 259, 85]);
});

test("phantom masks are exact: 1 where a pixel's centre lies inside a lesion's ellipse, lesions inside the body", () => {
  const counts = new Array<number>(MAX_LESIONS + 1).fill(0);
  for (let seed = 0; seed < 60; seed++) {
    const p = drawPhantom(new Rng(seed));
    counts[p.lesions.length]!++;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const inside = p.lesions.some((e) => {
          const c = Math.cos(e.angle), s = Math.sin(e.angle), dx = x + 0.5 - e.cx, dy = y + 0.5 - e.cy;
          return ((dx * c + dy * s) / e.a) ** 2 + ((-dx * s + dy * c) / e.b) ** 2 <= 1;
        });
        assert.equal(p.mask[y * 64 + x], inside ? 1 : 0, `seed ${seed} pixel (${x}, ${y})`);
      }
    }
    for (const e of p.lesions) {
      assert.ok(e.a >= 2.5 && e.a <= 8 && e.b <= e.a && e.b >= e.a / 2, `semi-axes ${e.a}, ${e.b}`);
      assert.ok(Math.abs(e.contrast) >= 0.1 && Math.abs(e.contrast) <= 0.45, `contrast ${e.contrast}`);
      // Inside the image with room to spare (the body is inside the image).
      assert.ok(e.cx - e.a > 0 && e.cx + e.a < 64 && e.cy - e.a > 0 && e.cy + e.a < 64);
    }
  }
  // Every count from 0 to 3 occurs.
  assert.ok(counts.every((c) => c > 0), `lesion counts ${counts}`);
});

test("soft Dice by hand, and its gradient against finite differences (Note [BCE plus soft Dice])", () => {
  // Logits 0 and ln 3 give p = 1/2 and 3/4; the mask is [1, 0]:
  //   (2 * 1/2 + 1) / (1/2 + 3/4 + 1 + 1) = 2 / 3.25, so the loss is 1 - 8/13 = 5/13.
  const logits = new Tensor(Float32Array.of(0, Math.log(3)), [1, 1, 1, 2]);
  const target = new Tensor(Float32Array.of(1, 0), [1, 1, 1, 2]);
  assert.equal(SOFT_DICE_SMOOTH, 1);
  assert.ok(Math.abs(softDiceLoss(logits, target).item() - 5 / 13) < 1e-6);
  // Two images: the mean of each one's loss. Image 2 is empty, predicted p = 1/2 at both pixels:
  //   1 - 1 / (1 + 1) = 1/2.
  const two = softDiceLoss(new Tensor(Float32Array.of(0, Math.log(3), 0, 0), [2, 1, 1, 2]), new Tensor(Float32Array.of(1, 0, 0, 0), [2, 1, 1, 2]));
  assert.ok(Math.abs(two.item() - (5 / 13 + 1 / 2) / 2) < 1e-6);
  const rng = new Rng(11);
  const y = new Tensor(Float32Array.from({ length: 18 }, (_, i) => (i % 4 === 0 ? 1 : 0)), [2, 1, 3, 3]);
  gradcheck("softDiceLoss", (x) => softDiceLoss(x, y), [param([2, 1, 3, 3], rng)]);
});

test("the augmentation moves image and mask by the same one of 8 symmetries, each a permutation", () => {
  const source = Float32Array.from({ length: 9 }, (_, i) => i);
  const seen = new Set<string>();
  for (let t = 0; t < 8; t++) {
    const out = new Float32Array(9);
    dihedral(source, out, 3, 3, t);
    assert.deepEqual([...out].sort(), [...source], `symmetry ${t} is a permutation`);
    seen.add(out.join(","));
  }
  assert.equal(seen.size, 8);
  // By hand: 1 mirrors left-right, 2 top-bottom, 4 transposes.
  const moved = (t: number) => { const o = new Float32Array(9); dihedral(source, o, 3, 3, t); return [...o]; };
  assert.deepEqual(moved(1), [2, 1, 0, 5, 4, 3, 8, 7, 6]);
  assert.deepEqual(moved(2), [6, 7, 8, 3, 4, 5, 0, 1, 2]);
  assert.deepEqual(moved(4), [0, 3, 6, 1, 4, 7, 2, 5, 8]);
  // Through the collate: mask pixels stay on the image pixels they marked.
  const image = Float32Array.from({ length: 16 }, (_, i) => i), mask = Uint8Array.from({ length: 16 }, (_, i) => (i === 5 || i === 6 ? 1 : 0));
  const rngs = [3, 4, 5, 6].map((s) => new Rng(s));
  const b = collateLesions(true)([0, 1, 2, 3].map(() => ({ image, mask, height: 4, width: 4 })), { sampleRng: (i: number) => rngs[i]!, epoch: 0, batch: 0, indices: Int32Array.of(0, 1, 2, 3) });
  for (let k = 0; k < 4; k++) {
    const marked = [...b.y.subarray(16 * k, 16 * (k + 1))].flatMap((v, i) => (v === 1 ? [b.x[16 * k + i]] : [])).sort();
    assert.deepEqual(marked, [5, 6]);
  }
});

test("the baseline by hand: small blobs dropped, and its threshold tuned for the best Dice", () => {
  // Two blobs: 2 pixels (dropped at a minimum of 3) and 4 (kept); 4-connected, so the diagonal
  // pixel at (3, 3) is a blob of its own.
  const m = Uint8Array.from("##..." + "....." + "..##." + "..###" + ".....", (c) => (c === "#" ? 1 : 0));
  dropSmallBlobs(m, 5, 5, 3);
  assert.equal([...m].map((v) => (v ? "#" : ".")).join(""), "....." + "....." + "..##." + "..###" + ".....");
  // A set of flat images, each with one square of +2 on a body of 0 in air of -2: the deviation
  // inside the square is 2 minus the smoothing's loss, so thresholds past 1.9 miss it.
  const side = 32, p = side * side;
  const images = new Float32Array(4 * p).fill(-2), masks = new Uint8Array(4 * p);
  for (let k = 0; k < 4; k++) {
    for (let r = 4; r < 28; r++) for (let c = 4; c < 28; c++) images[k * p + r * side + c] = 0;
    for (let r = 12; r < 18; r++) for (let c = 12 + k; c < 18 + k; c++) { images[k * p + r * side + c] = 2; masks[k * p + r * side + c] = 1; }
  }
  const set = new LesionImages(images, masks, side, side);
  const t = tuneThreshold(set);
  assert.ok(t >= 0.3 && t <= 1.7, `threshold ${t}`);
  const predicted = thresholdMasks(set, t);
  let overlap = 0;
  for (let i = 0; i < predicted.length; i++) overlap += predicted[i]! & masks[i]!;
  assert.ok(overlap / 144 > 0.8, `the baseline finds ${overlap} of the 144 lesion pixels`);
  assert.equal([...thresholdMasks(set, 3)].filter(Boolean).length, 0, "past the deviation nothing is marked");
});

test("the recipe's defaults and options are the documented ones", () => {
  assert.deepEqual(lesions.defaults, { epochs: 20, batch: 16, lr: 3e-3, seed: 0 });
  assert.equal(lesions.metric.name, "dice");
  assert.equal(lesions.metric.higherIsBetter, true);
});
