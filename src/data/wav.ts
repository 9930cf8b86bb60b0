// WAV files of 16-bit PCM, the format of speech corpora such as Google Speech Commands and what
// sox writes for the keyword recipe's generated clips. Only what those need: RIFF/WAVE, a `fmt `
// chunk of format 1 (PCM) or 0xFFFE (WAVE_FORMAT_EXTENSIBLE whose sub-format is PCM), 16 bits per
// sample, any rate and channel count, and the `data` chunk; other chunks (LIST, fact, cue) are
// skipped. Samples come back as float32 in [-1, 1) (s16 / 32768), channels averaged to mono.
//
// Note [WAV data size]: a streamed WAV (sox or espeak-ng writing to a pipe) cannot seek back to
// fill in its sizes, so its RIFF and data sizes may be 0 or 0xFFFFFFFF. A data size that runs past
// the end of the file is therefore read as "to the end of the file" (whole sample frames only),
// not refused, the same as sox and libsndfile do.

/** A decoded clip: mono samples in [-1, 1) at `sampleRate` Hz. */
export interface WavClip {
  sampleRate: number;
  /** Channels in the file (the samples are their average). */
  channels: number;
  samples: Float32Array;
}

/** A file that is not 16-bit PCM WAV, or is cut short. */
export class WavFormatError extends Error {
  override readonly name = "WavFormatError";
}

const PCM = 1;
const EXTENSIBLE = 0xfffe;

/**
 * Decodes a 16-bit PCM WAV file (its bytes) to mono float samples (Note [WAV data size]).
 *
 * @param bytes the whole file
 * @param what  names the file in errors (its path)
 * @returns the sample rate, the file's channel count and the mono samples
 * @example A clip written by encodeWav reads back
 * ```ts
 * const clip = readWav(encodeWav(Float32Array.of(0, 0.5, -0.5, -1), 16000));
 * assert.equal(clip.sampleRate, 16000);
 * assert.deepEqual([...clip.samples], [0, 0.5, -0.5, -1]);
 * ```
 */
export function readWav(bytes: Uint8Array, what = "WAV data"): WavClip {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") {
    throw new WavFormatError(`reading ${what}: not a RIFF/WAVE file (it starts ${JSON.stringify(tag(0))}): give a .wav file of 16-bit PCM, e.g. converted with \`sox in.any -b 16 out.wav\``);
  }
  let format: { code: number; channels: number; sampleRate: number; bits: number } | undefined;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > bytes.length) throw new WavFormatError(`reading ${what}: its fmt chunk has ${size} bytes, a PCM one needs 16`);
      let code = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (code === EXTENSIBLE && size >= 40 && body + 26 <= bytes.length) code = view.getUint16(body + 24, true);
      format = { code, channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === "data") {
      if (!format) throw new WavFormatError(`reading ${what}: the data chunk comes before any fmt chunk: the file is damaged`);
      const { code, channels, sampleRate, bits } = format;
      if (code !== PCM || bits !== 16 || channels < 1) {
        throw new WavFormatError(
          `reading ${what}: format ${code}, ${bits} bits, ${channels} channels; only 16-bit integer PCM is read: convert with \`sox in.wav -b 16 -e signed-integer out.wav\``,
        );
      }
      const frameBytes = 2 * channels;
      const available = Math.min(size, bytes.length - body); // Note [WAV data size]
      const frames = Math.floor(available / frameBytes);
      const samples = new Float32Array(frames);
      for (let f = 0; f < frames; f++) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += view.getInt16(body + f * frameBytes + 2 * c, true);
        samples[f] = s / (32768 * channels);
      }
      return { sampleRate, channels, samples };
    }
    // Chunks are padded to an even length.
    at = body + size + (size & 1);
  }
  throw new WavFormatError(`reading ${what}: no data chunk found in ${bytes.length} bytes: the file is cut short or is not audio`);
}

/**
 * Encodes mono samples as a 16-bit PCM WAV file: each sample clipped to [-1, 1] and rounded to
 * the nearest step of 1/32768 (1 becomes 32767).
 *
 * @param samples mono samples, nominally in [-1, 1]
 * @param sampleRate in Hz
 * @returns the file's bytes (44-byte header, then the data)
 * @example
 * ```ts
 * const bytes = encodeWav(Float32Array.of(0.25), 8000);
 * assert.equal(bytes.length, 46);
 * assert.equal(readWav(bytes).samples[0], 0.25);
 * ```
 */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`encodeWav: sample rate ${sampleRate} must be a positive integer (Hz)`);
  const bytes = new Uint8Array(44 + 2 * samples.length);
  const view = new DataView(bytes.buffer);
  const put = (at: number, s: string): void => { for (let i = 0; i < 4; i++) bytes[at + i] = s.charCodeAt(i); };
  put(0, "RIFF");
  view.setUint32(4, 36 + 2 * samples.length, true);
  put(8, "WAVE");
  put(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, PCM, true);
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, 2 * sampleRate, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true);
  put(36, "data");
  view.setUint32(40, 2 * samples.length, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(s * 32768))), true);
  }
  return bytes;
}
