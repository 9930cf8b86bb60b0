// The detect-digits recipe: through the `weft` command on a budget of a few steps (one process, and
// two workers under ZeRO stage 1), its options refused in one line, the detector head's targets
// decoded back to the very boxes they came from, its loss by hand, its layer stack against its
// loss, and the canvas shift that keeps every box true.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CANVAS_PIXELS, CANVAS_SIDE, composeTrainCanvases, loadDetectDigits } from "../../src/data/detect-digits.js";
import { loadMnist } from "../../src/data/mnist.js";
import { iou, meanAveragePrecision } from "../../src/metrics/detection.js";
import { BACKGROUND, decodeDetections, detectorLoss, detectorTargets, DETECTOR_CHANNELS, DETECTOR_CLASSES } from "../../src/models/digit-detector.js";
import { layerStackProblem, manualSeed, runLayerStack } from "../../src/nn/index.js";
import { inkBlobBaseline, inkBlobs } from "../../src/recipes/detect-digits-baseline.js";
import { baselineMap50, collateCanvases, detectDigits, groundTruths, shiftCanvas, splitCanvases } from "../../src/recipes/detect-digits.js";
import { Tensor } from "../../src/tensor/index.js";
import type { RecipeSettings } from "../../src/train/recipe.js";
import { Rng } from "../../src/util/rng.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");
// The runs composite into a cache of their own, not the user's.
const cache = mkdtempSync(join(tmpdir(), "weft-detect-digits-recipe-"));
after(() => rmSync(cache, { recursive: true, force: true }));

function train(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [weft, "train", "detect-digits", ...args], { cwd: root, encoding: "utf8", timeout: 300_000, env: { ...process.env, WEFT_CACHE: cache } });
}

function lastJson(run: { status: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  assert.equal(run.status, 0, `weft train detect-digits failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

function checkResult(r: Record<string, unknown>): void {
  assert.equal(r.recipe, "detect-digits");
  assert.equal(r.metric, "test_map50");
  assert.equal(r.value, r.test_map50);
  for (const key of ["test_map50", "test_recall50", "baseline_map50", ...Array.from({ length: 10 }, (_, c) => `test_ap50_${c}`)]) {
    const v = r[key] as number;
    assert.ok(typeof v === "number" && v >= 0 && v <= 1, `${key} ${v}`);
  }
}

test("weft train detect-digits --max-steps 3 --json ends with metric test_map50 and its value", () => {
  const r = lastJson(train(["--max-steps", "3", "--canvases", "64", "--test-canvases", "100", "--json"]));
  checkResult(r);
  assert.equal(r.strategy, "single");
  assert.equal(r.steps, 3);
  // The baseline learns nothing from the run: on the first 100 test canvases it scores the same
  // as in process (on all 815 it is the 0.659 of docs/recipes/detect-digits.md).
  const first = loadDetectDigits({ trainCanvases: 1, cacheDir: cache }).test.prefix(100);
  assert.equal(first.boxCount, 261);
  assert.equal(r.baseline_map50, baselineMap50(first));
});

test("weft train detect-digits --workers 2 --strategy zero --stage 1: two workers, the same result line", () => {
  const r = lastJson(train(["--workers", "2", "--strategy", "zero", "--stage", "1", "--max-steps", "3", "--canvases", "64", "--test-canvases", "20", "--json"]));
  try {
    checkResult(r);
    assert.equal(r.strategy, "zero");
    assert.equal(r.workers, 2);
    assert.equal(r.steps, 3);
  } finally {
    if (typeof r.run_dir === "string") rmSync(r.run_dir, { recursive: true, force: true });
  }
});

test("bad options are refused in one line that names them", () => {
  for (const [args, pattern, status] of [
    [["--width", "0"], /--width must be an integer from 1 to 256, got "0"/, 2],
    [["--box-weight", "0"], /--box-weight must be a number above 0/, 2],
    [["--shift", "-1"], /--shift must be an integer from 0 to 96/, 2],
    [["--test-canvases", "0"], /--test-canvases must be an integer/, 2],
    [["--mnist-idx", cache, "--max-steps", "1"], /has neither train-images-idx3-ubyte nor train-images-idx3-ubyte\.gz: pass the folder holding MNIST's four IDX files/, 1],
  ] as const) {
    const run = train([...args]);
    assert.equal(run.status, status, `${args.join(" ")}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, pattern);
  }
});

test("targets written as a network's output decode back to the true boxes: mAP 1 but for centres that share a cell", () => {
  const canvases = loadDetectDigits({ trainCanvases: 1, cacheDir: cache }).test;
  const boxes = Array.from({ length: canvases.length }, (_, i) => canvases.get(i).boxes);
  const t = detectorTargets(boxes, CANVAS_SIDE);
  const g = t.grid, cells = g * g;
  // A confident output: logit 20 for each cell's class, raw box numbers where a box is centred.
  const out = new Float32Array(canvases.length * DETECTOR_CHANNELS * cells);
  for (let k = 0; k < canvases.length; k++) {
    for (let cell = 0; cell < cells; cell++) {
      out[(k * DETECTOR_CHANNELS + t.classes[k * cells + cell]!) * cells + cell] = 20;
      for (let c = 0; c < 4; c++) out[(k * DETECTOR_CHANNELS + DETECTOR_CLASSES + 1 + c) * cells + cell] = t.box[(k * 4 + c) * cells + cell]!;
    }
  }
  const detections = decodeDetections(out, [canvases.length, DETECTOR_CHANNELS, g, g]);
  assert.equal(detections.length, t.count);
  const truths = groundTruths(canvases);
  const shared = truths.length - t.count; // centres in a cell already taken: never targets, so missed
  assert.ok(shared < 20, `${shared} digits share a cell`);
  for (const d of detections) {
    const match = truths.find((x) => x.image === d.image && x.cls === d.cls && Math.abs(x.box.x0 - d.box.x0) < 1e-3 && Math.abs(x.box.y1 - d.box.y1) < 1e-3);
    assert.ok(match, `detection ${JSON.stringify(d)} matches no truth`);
  }
  const r = meanAveragePrecision(truths, detections, { classes: DETECTOR_CLASSES });
  assert.equal(r.truePositives.reduce((a, b) => a + b, 0), t.count);
  for (let c = 0; c < DETECTOR_CLASSES; c++) {
    // Every detection is a hit, so AP is the class's recall.
    assert.ok(Math.abs(r.perClass[c]! - r.truePositives[c]! / r.truths[c]!) < 1e-12, `class ${c}`);
  }
  if (shared === 0) assert.equal(r.map, 1);
});

test("the detector loss by hand: all-zero output against one box", () => {
  // Zero logits: each cell's 11-way cross-entropy is ln 11, for all cells and for the one positive.
  // Box targets at cell (1, 2): tx = ty = 0.5, tw = 0, th = ln(8 / 16); L1 to zeros, mean of 4.
  const t = detectorTargets([[{ cls: 4, x0: 12, y0: 8, x1: 28, y1: 16 }]], 96);
  assert.equal(t.classes.filter((c) => c === BACKGROUND).length, 143);
  const out = new Tensor(new Float32Array(DETECTOR_CHANNELS * 144), [1, DETECTOR_CHANNELS, 12, 12]);
  const box = (0.5 + 0.5 + 0 + Math.log(2)) / 4;
  assert.ok(Math.abs(detectorLoss(out, t, 1).item() - (2 * Math.log(11) + box)) < 1e-5);
  assert.ok(Math.abs(detectorLoss(out, t, 3).item() - (2 * Math.log(11) + 3 * box)) < 1e-5);
  // No box at all: only the all-cells term.
  assert.ok(Math.abs(detectorLoss(out, detectorTargets([[]], 96)).item() - Math.log(11)) < 1e-5);
});

/** The recipe's settings with its defaults, some options changed. */
function settings(options: Record<string, number> = {}): RecipeSettings {
  const defaults = Object.fromEntries(Object.entries(detectDigits.options).map(([k, o]) => [k, "default" in o ? o.default : undefined]));
  return { ...detectDigits.defaults, options: { ...defaults, ...options } };
}

test("the layer stack computes the recipe's loss bit for bit; split micro-batches keep their targets", () => {
  const s = settings({ width: 4 });
  manualSeed(5);
  const model = detectDigits.model(s);
  const canvases = composeTrainCanvases(loadMnist().train, 4, 2);
  const samples = [0, 1, 2, 3].map((i) => canvases.get(i));
  const rng = new Rng(0);
  const batch = collateCanvases(4, 2)(samples, { epoch: 0, batch: 0, indices: Int32Array.of(0, 1, 2, 3), sampleRng: (k) => rng.fork(k) });
  const stack = detectDigits.layers!(model, s);
  assert.equal(layerStackProblem(model, stack), undefined);
  assert.equal(runLayerStack(stack, batch).item(), detectDigits.loss(model, batch).item());
  const halves = splitCanvases(batch, 2);
  assert.deepEqual(halves.map((h) => detectDigits.samplesIn(h)), [2, 2]);
  assert.deepEqual([...halves[1]!.targets.classes], [...batch.targets.classes.subarray(2 * 144)]);
  assert.equal(halves[0]!.targets.count + halves[1]!.targets.count, batch.targets.count);
});

test("the shift moves pixels and boxes together and never pushes a box off the canvas", () => {
  const canvases = composeTrainCanvases(loadMnist().train, 40, 8);
  const still = new Float32Array(CANVAS_PIXELS), moved = new Float32Array(CANVAS_PIXELS);
  let movedAny = false;
  for (let i = 0; i < canvases.length; i++) {
    const canvas = canvases.get(i);
    const boxes0 = shiftCanvas(canvas, still, 0);
    assert.deepEqual(boxes0, canvas.boxes);
    const boxes = shiftCanvas(canvas, moved, 8, new Rng(i));
    const dx = boxes[0]!.x0 - canvas.boxes[0]!.x0, dy = boxes[0]!.y0 - canvas.boxes[0]!.y0;
    assert.ok(Math.abs(dx) <= 8 && Math.abs(dy) <= 8);
    movedAny ||= dx !== 0 || dy !== 0;
    boxes.forEach((b, k) => {
      assert.ok(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= CANVAS_SIDE && b.y1 <= CANVAS_SIDE, `canvas ${i} box ${k} pushed off`);
      assert.deepEqual([b.x0 - canvas.boxes[k]!.x0, b.y0 - canvas.boxes[k]!.y0], [dx, dy]);
      for (let y = b.y0; y < b.y1; y++) for (let x = b.x0; x < b.x1; x++) assert.equal(moved[y * CANVAS_SIDE + x], still[(y - dy) * CANVAS_SIDE + x - dx]);
    });
  }
  assert.ok(movedAny);
  assert.throws(() => shiftCanvas(canvases.get(0), moved, 3), /needs a generator/);
});

test("the ink-blob baseline: boxes of clear, unbroken digits are their truths; overlapping digits become one blob", () => {
  const canvases = composeTrainCanvases(loadMnist().train, 60, 4);
  let clear = 0, found = 0, merged = 0;
  for (let i = 0; i < canvases.length; i++) {
    const { pixels, boxes } = canvases.get(i);
    const blobs = inkBlobs(pixels, CANVAS_SIDE);
    boxes.forEach((b, k) => {
      const overlaps = boxes.some((o, j) => j !== k && o.x0 < b.x1 && b.x0 < o.x1 && o.y0 < b.y1 && b.y0 < o.y1);
      const best = Math.max(0, ...blobs.map((blob) => iou(blob, b)));
      if (!overlaps) {
        clear++;
        if (best > 0.5) found++;
      } else if (blobs.some((blob) => blob.x0 <= b.x0 && blob.y0 <= b.y0 && blob.x1 >= b.x1 && blob.y1 >= b.y1 && iou(blob, b) < 1)) {
        merged++;
      }
    });
  }
  // A clear digit is found unless its strokes break apart (rare in MNIST); most overlapping ones are merged away.
  assert.ok(found / clear > 0.95, `${found} of ${clear} clear digits found`);
  assert.ok(merged > 0);
  const detections = inkBlobBaseline({ length: 3, get: (i) => canvases.get(i) });
  for (const d of detections) assert.ok(d.score > 0 && d.score <= 1 && d.image < 3);
  assert.ok(Math.max(...detections.map((d) => d.score)) > 0.5);
});
