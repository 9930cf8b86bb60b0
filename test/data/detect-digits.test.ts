// The detect-digits canvases (Note [digit canvases], Note [digit canvas cache]): which digits go
// where, boxes that are the ink's, the fixed and seeded split, the cache, the normalization
// constants, and the loader for the public MNIST IDX files.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  CANVAS_PIXELS, CANVAS_SIDE, composeHeldOutCanvases, composeTrainCanvases, DETECT_DIGITS_MEAN, DETECT_DIGITS_STD, INK_THRESHOLD, MAX_BOX_COVER,
  loadDetectDigits, loadDetectDigitsFromIdx, MAX_DIGITS_PER_CANVAS, readMnistIdx, type DigitCanvases,
} from "../../src/data/detect-digits.js";
import { loadMnist, MNIST_PIXELS } from "../../src/data/mnist.js";

const digest = (c: DigitCanvases): string =>
  createHash("sha256").update(c.pixels).update(new Uint8Array(c.boxes.buffer, c.boxes.byteOffset, c.boxes.byteLength)).update(c.classes).update(new Uint8Array(c.sources.buffer, c.sources.byteOffset, c.sources.byteLength)).digest("hex");

/** A temporary cache folder for the test's own files. */
function withCache<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "weft-detect-digits-"));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("test canvases use each of the 2,000 held-out digits exactly once, 1 to 4 per canvas, and their classes", () => {
  const { test: split } = loadMnist();
  const canvases = composeHeldOutCanvases(split, 5);
  assert.equal(canvases.boxCount, 2000);
  assert.deepEqual([...canvases.sources].sort((a, b) => a - b), Array.from({ length: 2000 }, (_, i) => i));
  for (let b = 0; b < canvases.boxCount; b++) assert.equal(canvases.classes[b], split.labels[canvases.sources[b]!]);
  for (let i = 0; i < canvases.length; i++) {
    const k = canvases.boxStart[i + 1]! - canvases.boxStart[i]!;
    assert.ok(k >= 1 && k <= MAX_DIGITS_PER_CANVAS, `canvas ${i} holds ${k} digits`);
  }
});

test("the recipe's split is fixed: train canvases draw training digits only, the test canvases are pinned by digest", () => {
  withCache((dir) => {
    const { train, test: held } = loadDetectDigits({ trainCanvases: 300, cacheDir: dir });
    assert.equal(train.length, 300);
    assert.ok(train.sources.every((s) => s >= 0 && s < 8000));
    const labels = loadMnist().train.labels;
    for (let b = 0; b < train.boxCount; b++) assert.equal(train.classes[b], labels[train.sources[b]!]);
    // Changing Note [digit canvases] changes every reported mAP: bump DETECT_DIGITS_VERSION and this digest together.
    assert.equal(held.length, 815);
    assert.equal(digest(held), "65515a5fbc5a4d69d12b1a83a990020bf6d0e497e0277167ce7c2f761fe33352");
  });
});

test("canvas i depends on (seed, i) only: a smaller set is a prefix of a larger one; another seed gives other canvases", () => {
  const { train } = loadMnist();
  const small = composeTrainCanvases(train, 5, 3), large = composeTrainCanvases(train, 12, 3);
  assert.deepEqual(small.pixels, large.pixels.subarray(0, 5 * CANVAS_PIXELS));
  assert.deepEqual(small.boxes, large.boxes.subarray(0, small.boxes.length));
  assert.deepEqual(composeTrainCanvases(train, 5, 3).pixels, small.pixels);
  assert.notDeepEqual(composeTrainCanvases(train, 5, 4).pixels, small.pixels);
});

test("each box is its digit's ink: ink on all four edges, none just outside; no box covers a quarter of another", () => {
  const canvases = composeTrainCanvases(loadMnist().train, 200, 9);
  // Bytes of ink: a value >= INK_THRESHOLD rounds to at least this; anything below it to at most this.
  const ink = Math.round(INK_THRESHOLD * 255);
  let checkedRings = 0, overlapping = 0;
  for (let i = 0; i < canvases.length; i++) {
    const { pixels, boxes } = canvases.get(i);
    const at = (x: number, y: number): number => (x >= 0 && x < CANVAS_SIDE && y >= 0 && y < CANVAS_SIDE ? pixels[y * CANVAS_SIDE + x]! : 0);
    boxes.forEach((b, k) => {
      assert.ok(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= CANVAS_SIDE && b.y1 <= CANVAS_SIDE && b.x1 > b.x0 && b.y1 > b.y0, `canvas ${i} box ${k} is outside`);
      const row = (y: number): number[] => Array.from({ length: b.x1 - b.x0 }, (_, d) => at(b.x0 + d, y));
      const column = (x: number): number[] => Array.from({ length: b.y1 - b.y0 }, (_, d) => at(x, b.y0 + d));
      for (const [edge, values] of [["top", row(b.y0)], ["bottom", row(b.y1 - 1)], ["left", column(b.x0)], ["right", column(b.x1 - 1)]] as const) {
        assert.ok(Math.max(...values) >= ink, `canvas ${i} box ${k}: no ink on its ${edge} edge`);
      }
      // The ring just outside the box holds no ink, where no other digit's box reaches it.
      const others = boxes.filter((_, o) => o !== k);
      const ring = [...row(b.y0 - 1), ...row(b.y1), ...column(b.x0 - 1), ...column(b.x1)];
      const clear = others.every((o) => o.x0 > b.x1 || b.x0 - 1 >= o.x1 || o.y0 > b.y1 || b.y0 - 1 >= o.y1);
      if (clear) {
        assert.ok(Math.max(...ring) <= ink, `canvas ${i} box ${k}: ink just outside the box`);
        checkedRings++;
      }
      for (const o of boxes.slice(k + 1)) {
        const w = Math.min(b.x1, o.x1) - Math.max(b.x0, o.x0), h = Math.min(b.y1, o.y1) - Math.max(b.y0, o.y0);
        const shared = w > 0 && h > 0 ? w * h : 0;
        const smaller = Math.min((b.x1 - b.x0) * (b.y1 - b.y0), (o.x1 - o.x0) * (o.y1 - o.y0));
        assert.ok(shared <= MAX_BOX_COVER * smaller, `canvas ${i}: a box covers ${shared} of another's ${smaller} pixels`);
        if (shared > 0) overlapping++;
      }
    });
  }
  // Most boxes stand clear; some overlap (digits may touch, Note [digit canvases] step 3).
  assert.ok(checkedRings > canvases.boxCount / 2 && overlapping > 0, `${checkedRings} clear rings, ${overlapping} overlapping pairs`);
});

test("the normalization constants are the default training canvases' pixel mean and standard deviation", () => {
  withCache((dir) => {
    const { train } = loadDetectDigits({ cacheDir: dir });
    let s = 0, s2 = 0;
    for (const v of train.pixels) {
      s += v / 255;
      s2 += (v / 255) ** 2;
    }
    const mean = s / train.pixels.length;
    assert.ok(Math.abs(mean - DETECT_DIGITS_MEAN) < 5e-4, `mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(s2 / train.pixels.length - mean * mean) - DETECT_DIGITS_STD) < 5e-4);
  });
});

test("the cache: written on first use, read back equal, and a damaged file composited again", () => {
  withCache((dir) => {
    const first = loadDetectDigits({ trainCanvases: 7, cacheDir: dir });
    const folder = join(dir, "detect-digits", readdirSync(join(dir, "detect-digits"))[0]!);
    assert.deepEqual(readdirSync(folder).sort(), ["test.bin", "train-7.bin"]);
    // A fresh process would read the files; here the per-process copy is bypassed by a second folder.
    const copy = mkdtempSync(join(tmpdir(), "weft-detect-digits-copy-"));
    try {
      const sub = join(copy, "detect-digits", readdirSync(join(dir, "detect-digits"))[0]!);
      rmSync(sub, { recursive: true, force: true });
      mkdirSync(sub, { recursive: true });
      copyFileSync(join(folder, "test.bin"), join(sub, "test.bin"));
      const damaged = readFileSync(join(folder, "train-7.bin"));
      damaged[damaged.length - 1]! ^= 0xff;
      writeFileSync(join(sub, "train-7.bin"), damaged);
      const again = loadDetectDigits({ trainCanvases: 7, cacheDir: copy });
      assert.equal(digest(again.test), digest(first.test));
      assert.equal(digest(again.train), digest(first.train), "the damaged file was not composited again");
      assert.deepEqual(readFileSync(join(sub, "train-7.bin")), readFileSync(join(folder, "train-7.bin")));
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

/** IDX bytes: a big-endian magic word (0x08: unsigned bytes, then the rank), one word per dimension, the values. */
function idx(magic: number, dims: number[], values: Uint8Array): Buffer {
  const header = Buffer.alloc(4 * (1 + dims.length));
  [magic, ...dims].forEach((w, i) => header.writeUInt32BE(w, 4 * i));
  return Buffer.concat([header, values]);
}

test("the full public set's IDX files: read (plain or gzipped), composited, and refused when wrong", () => {
  withCache((dir) => {
    const { train, test: held } = loadMnist();
    const bytesOf = (images: Float32Array): Uint8Array => Uint8Array.from(images, (v) => Math.round(v * 255));
    const write = (name: string, data: Buffer, gz = false): void => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(data) : data);
    write("train-images-idx3-ubyte", idx(0x803, [30, 28, 28], bytesOf(train.images.subarray(0, 30 * MNIST_PIXELS))), true);
    write("train-labels-idx1-ubyte", idx(0x801, [30], Uint8Array.from(train.labels.subarray(0, 30))));
    write("t10k-images-idx3-ubyte", idx(0x803, [10, 28, 28], bytesOf(held.images.subarray(0, 10 * MNIST_PIXELS))));
    write("t10k-labels-idx1-ubyte", idx(0x801, [10], Uint8Array.from(held.labels.subarray(0, 10))));
    const digits = readMnistIdx(join(dir, "t10k-images-idx3-ubyte"), join(dir, "t10k-labels-idx1-ubyte"));
    assert.equal(digits.length, 10);
    assert.deepEqual([...digits.labels], [...held.labels.subarray(0, 10)]);
    assert.ok(Math.abs(digits.images[300]! - held.images[300]!) <= 0.5 / 255);
    const sets = loadDetectDigitsFromIdx(dir, { trainCanvases: 6, cacheDir: join(dir, "cache") });
    assert.equal(sets.train.length, 6);
    assert.ok(sets.train.sources.every((s) => s < 30));
    assert.equal(sets.test.boxCount, 10);
    assert.deepEqual([...sets.test.sources].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));

    writeFileSync(join(dir, "bad"), idx(0x802, [1], Uint8Array.of(1)));
    assert.throws(() => readMnistIdx(join(dir, "bad"), join(dir, "t10k-labels-idx1-ubyte")), /does not start with the IDX magic 0x00000803/);
    assert.throws(() => readMnistIdx(join(dir, "t10k-images-idx3-ubyte"), join(dir, "train-labels-idx1-ubyte")), /holds 10 images but .* 30 labels/);
    assert.throws(() => loadDetectDigitsFromIdx(join(dir, "cache")), /has neither train-images-idx3-ubyte nor train-images-idx3-ubyte\.gz/);
  });
});
