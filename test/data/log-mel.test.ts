// Log-mel features (src/data/log-mel.ts, Note [log-mel]): the FFT power spectrum against a direct
// DFT, the mel filters against a case worked by hand, a pure tone landing in its band, frame
// counts, the floor, and gain as a constant offset.
import assert from "node:assert/strict";
import { test } from "node:test";
import { frameCount, hzToMel, LogMel, logMelConfig, melFilterbank, melToHz } from "../../src/data/log-mel.js";
import { Rng } from "../../src/util/rng.js";

const close = (a: number, b: number, tol: number, what = ""): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tolerance ${tol})`);

test("the power spectrum of a frame is the direct DFT's, bin for bin", () => {
  const logMel = new LogMel({ windowLength: 400, fftSize: 512 });
  const rng = new Rng(5);
  const samples = Float32Array.from({ length: 1000 }, () => rng.normal() * 0.3);
  const start = 137;
  const p = logMel.powerSpectrum(samples, start);
  assert.equal(p.length, 257);
  for (const k of [0, 1, 2, 17, 100, 128, 255, 256]) {
    let re = 0, im = 0;
    for (let n = 0; n < 400; n++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / 400);
      const x = w * samples[start + n]!;
      re += x * Math.cos((2 * Math.PI * k * n) / 512);
      im -= x * Math.sin((2 * Math.PI * k * n) / 512);
    }
    // Both sums are of ~400 terms of size ~0.3 in float64: agreement to 1e-9 relative.
    close(p[k]!, re * re + im * im, 1e-9 * Math.max(1, re * re + im * im), `bin ${k}`);
  }
});

test("the mel filters by hand: one band over 0..4000 Hz, 8-point FFT at 8 kHz", () => {
  // Points in mel: 0, M/2, M with M = mel(4000); the 2595 cancels in every ratio, so with
  // L(f) = ln(1 + f/700), bin k at f = 1000 k Hz weighs min(2 L(f) / L(4000), 2 - 2 L(f) / L(4000)):
  //   1000 Hz: 2 ln(2.428571) / ln(6.714286) = 1.774606 / 1.904238 = 0.9319 (rising side)
  //   2000 Hz: 2 - 2 ln(3.857143) / ln(6.714286) = 2 - 2.699854 / 1.904238 = 0.5822 (falling side)
  //   3000 Hz: 2 - 2 ln(5.285714) / ln(6.714286) = 2 - 3.330016 / 1.904238 = 0.2513
  //   0 Hz and 4000 Hz are the triangle's feet: 0.
  const h = melFilterbank({ sampleRate: 8000, fftSize: 8, windowLength: 8, bands: 1, lowHz: 0, highHz: 4000 });
  const expected = [0, 0.9319, 0.5822, 0.2513, 0];
  expected.forEach((e, k) => close(h[k]!, e, 1e-4, `bin ${k}`));
  // The centre is melToHz(M / 2) = 700 (sqrt(1 + 4000/700) - 1) = 1113.8 Hz.
  close(melToHz(hzToMel(4000) / 2), 700 * (Math.sqrt(1 + 4000 / 700) - 1), 1e-9);
  close(melToHz(hzToMel(4000) / 2), 1113.84, 0.01);
});

test("the default filters: 40 triangles, each peaking at 1 or between bins, edges ascending", () => {
  const c = logMelConfig();
  const h = melFilterbank(c);
  const bins = c.fftSize / 2 + 1;
  assert.equal(h.length, 40 * bins);
  let lastPeakBin = -1;
  for (let b = 0; b < 40; b++) {
    const row = Array.from(h.subarray(b * bins, (b + 1) * bins));
    const peak = Math.max(...row);
    assert.ok(peak > 0.3 && peak <= 1, `band ${b} peaks at ${peak}`);
    const at = row.indexOf(peak);
    assert.ok(at >= lastPeakBin, `band ${b} peaks at bin ${at}, before band ${b - 1}'s ${lastPeakBin}`);
    lastPeakBin = at;
    // Nothing outside 20..7600 Hz.
    row.forEach((v, k) => { if (v > 0) assert.ok((k * 16000) / 512 > 20 && (k * 16000) / 512 < 7600, `band ${b} has weight at bin ${k}`); });
  }
});

test("a pure tone's energy lands in the band whose centre is nearest its frequency", () => {
  const logMel = new LogMel();
  const { bands, lowHz, highHz } = logMel.config;
  const lo = hzToMel(lowHz), hi = hzToMel(highHz);
  const centres = Array.from({ length: bands }, (_, b) => melToHz(lo + ((hi - lo) * (b + 1)) / (bands + 1)));
  for (const hz of [250, 1000, 3000, 6000]) {
    const tone = Float32Array.from({ length: 16000 }, (_, n) => 0.5 * Math.sin((2 * Math.PI * hz * n) / 16000));
    const f = logMel.compute(tone);
    const frames = logMel.frames(16000);
    const t = 50;
    const column = Array.from({ length: bands }, (_, b) => f[b * frames + t]!);
    const loudest = column.indexOf(Math.max(...column));
    const nearest = centres.reduce((best, c, b) => (Math.abs(c - hz) < Math.abs(centres[best]! - hz) ? b : best), 0);
    assert.equal(loudest, nearest, `${hz} Hz: loudest band ${loudest} (centre ${centres[loudest]!.toFixed(0)} Hz), nearest centre ${nearest} (${centres[nearest]!.toFixed(0)} Hz)`);
    // Far bands see only the window's leakage: far below the tone's band.
    assert.ok(column[loudest]! - Math.min(...column) > 10, `${hz} Hz: dynamic range ${column[loudest]! - Math.min(...column)} nats`);
  }
});

test("frames are whole: 98 for one second, none below one window", () => {
  assert.equal(frameCount(16000, 400, 160), 98);
  assert.equal(frameCount(400, 400, 160), 1);
  assert.equal(frameCount(559, 400, 160), 1);
  assert.equal(frameCount(560, 400, 160), 2);
  assert.equal(frameCount(399, 400, 160), 0);
  assert.equal(new LogMel().compute(new Float32Array(399)).length, 0);
});

test("silence logs to ln(floor); doubling the amplitude adds ln 4 wherever the floor is negligible", () => {
  const logMel = new LogMel({ floor: 1e-6 });
  for (const v of logMel.compute(new Float32Array(1600))) close(v, Math.log(1e-6), 1e-6);
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 4000 }, () => rng.normal() * 0.1);
  const a = logMel.compute(x);
  const b = logMel.compute(x.map((v) => 2 * v));
  for (let i = 0; i < a.length; i++) if (a[i]! > 0) close(b[i]! - a[i]!, Math.log(4), 1e-4, `value ${i}`);
});

test("bad options are refused with the fix", () => {
  assert.throws(() => new LogMel({ fftSize: 300 }), /fftSize 300 must be a power of two of at least windowLength 400: try 512/);
  assert.throws(() => new LogMel({ fftSize: 256 }), /try 512/);
  assert.throws(() => new LogMel({ highHz: 9000 }), /sampleRate \/ 2 = 8000/);
  assert.throws(() => new LogMel({ floor: 0 }), /floor 0 must be above 0/);
  assert.throws(() => new LogMel({ bands: 0 }), /bands 0 must be a positive integer/);
});
