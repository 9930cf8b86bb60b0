// The markets recipe's forecaster: from a window of scaled returns of S indices (data/eu-stock-
// markets.ts, Note [markets features]) it predicts, per index, the next day's absolute log-return
// and the odds that the next day is up. Two bodies read the window: an LSTM (its last hidden
// state; the recipe's default) or a temporal CNN (two Conv1d layers over the days, then a small
// MLP), and one linear head gives 3 S numbers per forecast:
//
//   z (S)            the next absolute return is forecast as s_t exp(z): s_t, the window's own
//                    moving average of |r|, times a learned factor. With z = 0 the model is the
//                    moving-average baseline; it has to learn what to change about it.
//   logits (S, 2)    down / up.
//
// The loss is the mean absolute error of the volatility forecast in percentage points (|r| x 100;
// the absolute error is what the recipe reports, so it is what is trained), plus `directionWeight`
// times the mean cross-entropy of the up/down calls over the days that have a direction.
import { Conv1d, Flatten, Linear, LSTM, Module, ReLU, Sequential } from "../nn/index.js";
import {
  abs, add, affine, crossEntropy, exp, mean, mul, permute, reshape, slice, sub, Tensor,
} from "../tensor/index.js";

export type ForecasterBody = "tcn" | "lstm";

export interface MarketsForecasterConfig {
  /** Indices forecast (S); the input has 3 S channels. */
  series: number;
  /** Days in a window (W). */
  window: number;
  body: ForecasterBody;
  /** Channels of the CNN's convolutions, or the LSTM's hidden size. */
  width: number;
  /** The CNN's kernel (days per convolution); the two layers see 2 kernel - 1 days. */
  kernel: number;
  /** Weight of the direction loss beside the volatility loss. */
  directionWeight: number;
}

/** A batch of forecasts: inputs (B, 3 S, W), scales and outcomes (B, S) row-major. */
export interface MarketBatch {
  x: Float32Array;
  scale: Float32Array;
  nextAbs: Float32Array;
  nextUp: Int32Array;
  batch: number;
}

/** What a forecaster says about a batch, per forecast and index (B, S) row-major. */
export interface MarketForecast {
  /** Forecast of the next absolute log-return (as a fraction, like |r|). */
  volatility: Float32Array;
  /** Probability that the next return is positive. */
  upProbability: Float32Array;
}

/** Percentage points per unit of log-return: the loss reads errors of about 1, not 0.01. */
const PERCENT = 100;

/**
 * The forecaster of the markets recipe.
 *
 * @example A fresh forecaster is near the moving average: s_t exp(z) with small z
 * ```ts
 * const m = new MarketsForecaster({ series: 1, window: 10, body: "tcn", width: 4, kernel: 3, directionWeight: 1 });
 * const batch = { x: new Float32Array(30).fill(1), scale: Float32Array.of(0.01), nextAbs: Float32Array.of(0.01), nextUp: Int32Array.of(1), batch: 1 };
 * const f = m.forecast(batch);
 * assert.ok(f.volatility[0] > 0.002 && f.volatility[0] < 0.05);
 * assert.ok(f.upProbability[0] > 0 && f.upProbability[0] < 1);
 * assert.ok(Number.isFinite(m.loss(batch).item()));
 * ```
 */
export class MarketsForecaster extends Module {
  readonly body: Module;
  readonly head: Linear;

  constructor(readonly config: MarketsForecasterConfig) {
    super();
    const { series: s, window: w, body, width, kernel } = config;
    const channels = 3 * s;
    if (body === "tcn") {
      const left = w - 2 * (kernel - 1);
      if (left < 1) {
        throw new RangeError(`MarketsForecaster: a window of ${w} days is too short for two convolutions of kernel ${kernel}: use a window of at least ${2 * kernel - 1} or a smaller kernel`);
      }
      this.body = this.child("body", new Sequential(
        new Conv1d(channels, width, kernel), new ReLU(), // (B, width, W - k + 1)
        new Conv1d(width, width, kernel), new ReLU(), // (B, width, W - 2k + 2)
        new Flatten(), new Linear(width * left, 2 * width), new ReLU(), // (B, 2 width)
      ));
      this.head = this.child("head", new Linear(2 * width, 3 * s));
    } else {
      this.body = this.child("body", new LSTM(channels, width));
      this.head = this.child("head", new Linear(width, 3 * s));
    }
  }

  /** The head's raw output (B, 3 S): z for each index, then each index's down/up logits. */
  forward(x: Tensor): Tensor {
    if (this.config.body === "tcn") return this.head.forward(this.body.forward(x));
    const [b, , w] = x.shape as [number, number, number];
    const steps = this.body.forward(permute(x, [0, 2, 1])); // (B, W, width)
    return this.head.forward(reshape(slice(steps, 1, w - 1, w), [b, this.config.width]));
  }

  /** The volatility forecast (B, S) in percentage points, and the direction logits (B S, 2). */
  private outputs(batch: MarketBatch): { volatilityPercent: Tensor; logits: Tensor } {
    const s = this.config.series;
    const out = this.forward(new Tensor(batch.x, [batch.batch, 3 * s, this.config.window]));
    const z = slice(out, 1, 0, s);
    const scalePercent = new Tensor(Float32Array.from(batch.scale, (v) => v * PERCENT), [batch.batch, s]);
    return { volatilityPercent: mul(scalePercent, exp(z)), logits: reshape(slice(out, 1, s, 3 * s), [batch.batch * s, 2]) };
  }

  /** Mean absolute volatility error (percentage points) + directionWeight x direction cross-entropy. */
  loss(batch: MarketBatch): Tensor {
    const { volatilityPercent, logits } = this.outputs(batch);
    const truth = new Tensor(Float32Array.from(batch.nextAbs, (v) => v * PERCENT), volatilityPercent.shape);
    const volLoss = mean(abs(sub(volatilityPercent, truth)));
    // Targets per (forecast, index) in the same order as the logits' rows; NO_DIRECTION (-100) is ignored.
    const dirLoss = crossEntropy(logits, batch.nextUp, -100);
    return add(volLoss, affine(dirLoss, this.config.directionWeight));
  }

  /** The forecasts for a batch, without building a graph (the caller wraps this in noGrad). */
  forecast(batch: MarketBatch): MarketForecast {
    const { volatilityPercent, logits } = this.outputs(batch);
    const v = volatilityPercent.dense();
    const l = logits.dense();
    return {
      volatility: Float32Array.from(v, (x) => x / PERCENT),
      upProbability: Float32Array.from({ length: v.length }, (_, i) => 1 / (1 + Math.exp(l[2 * i]! - l[2 * i + 1]!))),
    };
  }
}
