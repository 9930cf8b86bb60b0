// Log-mel spectrograms: the features a keyword spotter reads. A clip is cut into overlapping
// frames, each frame is windowed and Fourier transformed (the FFT is the fft.js package's real
// transform), its power spectrum is pooled by triangular filters spaced evenly on the mel scale,
// and the pooled powers are logged. The defaults are the usual ones for 16 kHz speech (the
// Speech Commands baselines, Kaldi's fbank): 25 ms frames every 10 ms, a 512-point FFT, 40 bands
// from 20 Hz to 7,600 Hz.
//
// Note [log-mel]
// For frame t (samples x[t h .. t h + W - 1], hop h, window length W) and the periodic Hann
// window w[n] = 0.5 - 0.5 cos(2 pi n / W), the power at FFT bin k of N (N >= W, the frame zero-
// padded to N) is
//
//   P[t, k] = |sum_{n < W} w[n] x[t h + n] e^{-2 pi i k n / N}|^2,   k = 0 .. N/2,
//
// bin k sitting at frequency f_k = k sr / N. The mel scale is HTK's, mel(f) = 2595 log10(1 +
// f / 700). Band b of B (b = 0 .. B-1) is the triangle over the points m_0 < ... < m_{B+1},
// evenly spaced in mel from mel(lowHz) to mel(highHz): its weight at bin k rises linearly from 0 at
// m_b to 1 at m_{b+1} and falls back to 0 at m_{b+2}, measured in mel (the filter is
// triangular on the mel axis, as in HTK and Kaldi; librosa's default measures in Hz instead):
//
//   H[b, k] = max(0, min((mel(f_k) - m_b) / (m_{b+1} - m_b), (m_{b+2} - mel(f_k)) / (m_{b+2} - m_{b+1}))).
//
// The feature is F[b, t] = ln(sum_k H[b, k] P[t, k] + floor): the floor (default 1e-6, samples
// being in [-1, 1]) keeps digital silence finite, at ln(1e-6) = -13.8. Frames are whole: a clip
// of L >= W samples has 1 + floor((L - W) / h) of them (98 for one second), nothing padded.
// Features are laid out band-major, (B, T), so a batch is (N, B, T): bands are a 1-D
// convolution's channels and time its axis.
import FFT from "fft.js";

export interface LogMelOptions {
  /** Hz (default 16000). */
  sampleRate?: number;
  /** Samples per frame, W (default 400: 25 ms at 16 kHz). */
  windowLength?: number;
  /** Samples between frame starts, h (default 160: 10 ms). */
  hop?: number;
  /** FFT length N, a power of two >= windowLength (default 512). */
  fftSize?: number;
  /** Mel bands B (default 40). */
  bands?: number;
  /** Lower edge of the first band, Hz (default 20). */
  lowHz?: number;
  /** Upper edge of the last band, Hz (default 7600; at most sampleRate / 2). */
  highHz?: number;
  /** Added before the log (default 1e-6). */
  floor?: number;
}

/** The options with every default filled in. */
export type LogMelConfig = Required<LogMelOptions>;

/** Fills in the defaults of Note [log-mel] and checks the options. */
export function logMelConfig(o: LogMelOptions = {}): LogMelConfig {
  const c: LogMelConfig = {
    sampleRate: o.sampleRate ?? 16000, windowLength: o.windowLength ?? 400, hop: o.hop ?? 160, fftSize: o.fftSize ?? 512,
    bands: o.bands ?? 40, lowHz: o.lowHz ?? 20, highHz: o.highHz ?? 7600, floor: o.floor ?? 1e-6,
  };
  for (const k of ["sampleRate", "windowLength", "hop", "fftSize", "bands"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`log-mel: ${k} ${c[k]} must be a positive integer`);
  }
  if (c.fftSize < 2 || (c.fftSize & (c.fftSize - 1)) !== 0 || c.fftSize < c.windowLength) {
    throw new RangeError(`log-mel: fftSize ${c.fftSize} must be a power of two of at least windowLength ${c.windowLength}: try ${2 ** Math.ceil(Math.log2(Math.max(2, c.windowLength)))}`);
  }
  if (!(c.lowHz >= 0 && c.lowHz < c.highHz && c.highHz <= c.sampleRate / 2)) {
    throw new RangeError(`log-mel: bands from ${c.lowHz} Hz to ${c.highHz} Hz must satisfy 0 <= lowHz < highHz <= sampleRate / 2 = ${c.sampleRate / 2}`);
  }
  if (!(c.floor > 0)) throw new RangeError(`log-mel: floor ${c.floor} must be above 0, or silence logs to -Infinity`);
  return c;
}

/**
 * HTK's mel scale: 2595 log10(1 + hz / 700).
 *
 * @example 1000 Hz is about 1000 mel
 * ```ts
 * assert.ok(Math.abs(hzToMel(1000) - 999.99) < 0.01);
 * assert.ok(Math.abs(melToHz(hzToMel(440)) - 440) < 1e-9);
 * ```
 */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

/** The inverse of hzToMel. */
export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/** Frames of a clip of `length` samples (Note [log-mel]: whole frames only). */
export function frameCount(length: number, windowLength: number, hop: number): number {
  return length < windowLength ? 0 : 1 + Math.floor((length - windowLength) / hop);
}

/**
 * The triangular mel filters of Note [log-mel], H[b, k], as a dense (bands, fftSize / 2 + 1)
 * row-major matrix.
 *
 * @example One band over 0..4000 Hz with an 8-point FFT at 8 kHz peaks at its mel centre
 * ```ts
 * const h = melFilterbank({ sampleRate: 8000, fftSize: 8, windowLength: 8, bands: 1, lowHz: 0, highHz: 4000 });
 * assert.equal(h.length, 5);
 * assert.equal(h[0], 0);
 * assert.equal(h[4], 0);
 * ```
 */
export function melFilterbank(o: LogMelOptions = {}): Float64Array {
  const c = logMelConfig(o);
  const bins = c.fftSize / 2 + 1;
  const lo = hzToMel(c.lowHz), hi = hzToMel(c.highHz);
  const points = Array.from({ length: c.bands + 2 }, (_, i) => lo + ((hi - lo) * i) / (c.bands + 1));
  const h = new Float64Array(c.bands * bins);
  for (let b = 0; b < c.bands; b++) {
    const [left, centre, right] = [points[b]!, points[b + 1]!, points[b + 2]!];
    for (let k = 0; k < bins; k++) {
      const m = hzToMel((k * c.sampleRate) / c.fftSize);
      h[b * bins + k] = Math.max(0, Math.min((m - left) / (centre - left), (right - m) / (right - centre)));
    }
  }
  return h;
}

/**
 * Computes log-mel spectrograms (Note [log-mel]) of clips; one instance keeps its FFT tables,
 * window, filters and scratch buffers, so it is meant to be reused across clips (and is not
 * shared between threads).
 *
 * @example One second at 16 kHz is 98 frames of 40 bands
 * ```ts
 * const logMel = new LogMel();
 * const f = logMel.compute(new Float32Array(16000));
 * assert.deepEqual([logMel.config.bands, logMel.frames(16000), f.length], [40, 98, 40 * 98]);
 * assert.ok(Math.abs(f[0]! - Math.log(1e-6)) < 1e-6);
 * ```
 */
export class LogMel {
  readonly config: LogMelConfig;
  private readonly fft: FFT;
  private readonly window: Float64Array;
  /** Per band: the first bin with a non-zero weight and the weights from there. */
  private readonly filters: { start: number; weights: Float64Array }[];
  private readonly frame: number[];
  private readonly spectrum: number[];
  private readonly power: Float64Array;

  constructor(options: LogMelOptions = {}) {
    this.config = logMelConfig(options);
    const { fftSize, windowLength, bands } = this.config;
    this.fft = new FFT(fftSize);
    this.window = Float64Array.from({ length: windowLength }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / windowLength));
    const bins = fftSize / 2 + 1;
    const dense = melFilterbank(this.config);
    this.filters = Array.from({ length: bands }, (_, b) => {
      const row = dense.subarray(b * bins, (b + 1) * bins);
      let start = row.findIndex((v) => v > 0);
      if (start < 0) start = 0;
      let end = bins;
      while (end > start && row[end - 1] === 0) end--;
      return { start, weights: row.slice(start, end) };
    });
    this.frame = new Array<number>(fftSize).fill(0);
    this.spectrum = this.fft.createComplexArray() as number[];
    this.power = new Float64Array(bins);
  }

  /** Frames of a clip of `length` samples. */
  frames(length: number): number {
    return frameCount(length, this.config.windowLength, this.config.hop);
  }

  /**
   * The power spectrum P[t, k] of one frame (Note [log-mel]), k = 0 .. fftSize / 2, into `out`
   * (a fresh array when omitted). Samples past the clip's end count as 0.
   */
  powerSpectrum(samples: Float32Array, start: number, out: Float64Array = new Float64Array(this.config.fftSize / 2 + 1)): Float64Array {
    const { windowLength, fftSize } = this.config;
    const frame = this.frame;
    for (let n = 0; n < windowLength; n++) frame[n] = this.window[n]! * (samples[start + n] ?? 0);
    for (let n = windowLength; n < fftSize; n++) frame[n] = 0;
    this.fft.realTransform(this.spectrum, frame);
    // realTransform fills bins 0 .. N/2 (interleaved re, im), which is all a real signal needs.
    const s = this.spectrum;
    for (let k = 0; k <= fftSize / 2; k++) out[k] = s[2 * k]! * s[2 * k]! + s[2 * k + 1]! * s[2 * k + 1]!;
    return out;
  }

  /**
   * The log-mel spectrogram F[b, t] of `samples`, band-major (bands x frames), into `out` (a
   * fresh array when omitted).
   */
  compute(samples: Float32Array, out?: Float32Array): Float32Array {
    const { bands, hop, floor } = this.config;
    const frames = this.frames(samples.length);
    const f = out ?? new Float32Array(bands * frames);
    if (f.length !== bands * frames) throw new RangeError(`LogMel.compute: out has ${f.length} values, ${bands} bands x ${frames} frames need ${bands * frames}`);
    for (let t = 0; t < frames; t++) {
      const p = this.powerSpectrum(samples, t * hop, this.power);
      for (let b = 0; b < bands; b++) {
        const { start, weights } = this.filters[b]!;
        let e = 0;
        for (let j = 0; j < weights.length; j++) e += weights[j]! * p[start + j]!;
        f[b * frames + t] = Math.log(e + floor);
      }
    }
    return f;
  }
}
