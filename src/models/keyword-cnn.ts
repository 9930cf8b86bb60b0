// The keyword-spotting CNN: 1-D convolutions over time with the mel bands as input channels (the
// shape of the small "tc-ResNet"-style spotters, without their residuals), then a linear layer
// over the whole remaining time axis, so where in the second a sound falls still counts ("no" is
// not "on"). No norm layers (Note [keyword features] standardises each clip instead), so the
// replicas of data-parallel training stay bitwise equal and evaluation needs no batch statistics.
//
//   (N, 40, 98)  Conv1d(40 -> w, 5, pad 2)  ReLU               (N, w, 98)
//                Conv1d(w -> w, 5, stride 2, pad 2)  ReLU      (N, w, 49)
//                Conv1d(w -> 2w, 5, stride 2, pad 2)  ReLU     (N, 2w, 25)
//                Conv1d(2w -> 2w, 3, stride 2, pad 1)  ReLU    (N, 2w, 13)
//                Flatten, Dropout, Linear(26 w -> classes)
//
// With w = 64 (the recipe's default) it has 157,076 parameters for 20 classes (w = 32: 50,900),
// and the last convolution's receptive field is 25 frames (a quarter of a second) at a stride of
// 80 ms.
import { Conv1d, Dropout, Flatten, Linear, ReLU, Sequential } from "../nn/index.js";

export interface KeywordCnnOptions {
  /** Mel bands of the input (default 40). */
  bands?: number;
  /** Frames of the input (default 98: one second). */
  frames?: number;
  /** Classes to tell apart (default 20). */
  classes?: number;
  /** Channels of the first two convolutions, w; the last two have 2w (default 64). */
  width?: number;
  /** Dropout before the classifier (default 0.1). */
  dropout?: number;
}

/** Frames after a convolution of `kernel`, `stride` and `padding` over `length`. */
const convOut = (length: number, kernel: number, stride: number, padding: number): number => Math.floor((length + 2 * padding - kernel) / stride) + 1;

/**
 * The keyword CNN for inputs of (N, bands, frames).
 *
 * @example
 * ```ts
 * const model = keywordCnn();
 * assert.equal(model.parameterCount(), 157076);
 * assert.equal(keywordCnn({ width: 32 }).parameterCount(), 50900);
 * ```
 */
export function keywordCnn(o: KeywordCnnOptions = {}): Sequential {
  const bands = o.bands ?? 40, frames = o.frames ?? 98, classes = o.classes ?? 20, w = o.width ?? 64;
  const t = convOut(convOut(convOut(convOut(frames, 5, 1, 2), 5, 2, 2), 5, 2, 2), 3, 2, 1);
  return new Sequential(
    new Conv1d(bands, w, 5, { padding: 2 }), new ReLU(),
    new Conv1d(w, w, 5, { stride: 2, padding: 2 }), new ReLU(),
    new Conv1d(w, 2 * w, 5, { stride: 2, padding: 2 }), new ReLU(),
    new Conv1d(2 * w, 2 * w, 3, { stride: 2, padding: 1 }), new ReLU(),
    new Flatten(), new Dropout(o.dropout ?? 0.1), new Linear(2 * w * t, classes),
  );
}
