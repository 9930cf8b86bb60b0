// fraud: the FraudMlp network (models/fraud-mlp.ts) scoring card transactions for fraud, on
// engineered features of each customer's past (data/fraud-features.ts) and learned embeddings of
// the merchant's category and the hour. The transactions are SYNTHETIC by default: a seeded
// generator of customers, merchants and three fraud patterns (card testing, account takeover,
// velocity bursts) at about 0.7% of transactions (data/fraud-transactions.ts, Note [synthetic
// transactions]). The split is by time: the first 45 of 60 days trained on, the last 15 tested
// (Note [fraud split]). Quality bar: PR-AUC (average precision) >= 0.80 on the test days, with
// the recall at a 1% false-positive rate reported, against logistic regression on the same
// features and split (fraud-logistic.ts). `--data sensors` runs the same network on a real
// imbalanced detection task instead, the single-hop sensor network's anomalies (data/
// sensor-network.ts), split by mote.
//
//   weft train fraud                          one process
//   weft train fraud --workers 2              data-parallel on 2 workers (ddp)
//   weft train fraud --data sensors           the real sensor-anomaly set
//   weft train fraud --transactions FILE.csv  your own transactions (Note [transaction CSV])
//
// docs/recipes/fraud.md has the measured figures.
import { renameSync, writeFileSync } from "node:fs";
import type { Dataset } from "../data/dataset.js";
import {
  fitStandardizer, selectRows, sliceTable, standardize, timeSplitIndex, transactionFeatures, type FeatureTable,
} from "../data/fraud-features.js";
import { loadSyntheticTransactions, readTransactionsCsv, type Transactions } from "../data/fraud-transactions.js";
import { readSensorReadings, sensorFeatures } from "../data/sensor-network.js";
import { averagePrecision, precisionRecallCurve, recallAtFpr, rocAuc } from "../metrics/ranking.js";
import { FraudMlp, type TabularBatch } from "../models/fraud-mlp.js";
import { AdamW, warmupCosine } from "../optim/index.js";
import { crossEntropy, noGrad } from "../tensor/index.js";
import { defineRecipe, type RecipeSettings } from "../train/recipe.js";
import { fitLogistic, logisticScores } from "./fraud-logistic.js";

/** The train and test tables, standardized by the training rows' statistics. */
export interface FraudData {
  train: FeatureTable;
  test: FeatureTable;
  /** What the rows are, for the result line. */
  source: "synthetic" | "csv" | "sensors";
}

const dataCache = new Map<string, FraudData>();

/** The data the options describe, split and standardized (once per process). */
export function fraudData(s: RecipeSettings): FraudData {
  const data = s.options.data as string, csv = s.options.transactions as string | undefined, customers = s.options.customers as number;
  if (data === "sensors" && csv !== undefined) {
    throw new RangeError("fraud: --transactions reads transactions and --data sensors reads sensor readings: pass one of them");
  }
  const key = JSON.stringify([data, csv ?? null, customers]);
  let prepared = dataCache.get(key);
  if (!prepared) {
    let train: FeatureTable, test: FeatureTable;
    if (data === "sensors") {
      const { table, train: isTrain } = sensorFeatures(readSensorReadings());
      [train, test] = [selectRows(table, isTrain), selectRows(table, isTrain, true)];
    } else {
      const tx: Transactions = csv !== undefined ? readTransactionsCsv(csv) : loadSyntheticTransactions({ customers });
      const table = transactionFeatures(tx);
      const cut = timeSplitIndex(tx.time);
      [train, test] = [sliceTable(table, 0, cut), sliceTable(table, cut, table.length)];
    }
    for (const [side, t] of [["training", train], ["test", test]] as const) {
      const positives = t.label.reduce((a, b) => a + b, 0);
      if (positives === 0 || positives === t.length) {
        throw new RangeError(`fraud: the ${side} side has ${positives} positives in ${t.length} rows; both sides need positives and negatives: check the data's labels and times`);
      }
    }
    const standardizer = fitStandardizer(train);
    prepared = { train: standardize(train, standardizer), test: standardize(test, standardizer), source: data === "sensors" ? "sensors" : csv !== undefined ? "csv" : "synthetic" };
    dataCache.set(key, prepared);
  }
  return prepared;
}

/** Rows `rows` of a table as a batch. */
export function tableBatch(t: FeatureTable, rows: ArrayLike<number>): TabularBatch {
  const F = t.features, C = t.categoricalSizes.length, batch = rows.length;
  const numeric = new Float32Array(batch * F), categorical = new Int32Array(batch * C), labels = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const r = rows[b]!;
    numeric.set(t.numeric.subarray(r * F, (r + 1) * F), b * F);
    categorical.set(t.categorical.subarray(r * C, (r + 1) * C), b * C);
    labels[b] = t.label[r]!;
  }
  return { numeric, categorical, labels, batch };
}

/** The network's fraud score for every row (the logit of fraud minus that of legitimate), in evaluation mode. */
export function fraudScores(model: FraudMlp, t: FeatureTable, batchSize = 2048): Float64Array {
  const out = new Float64Array(t.length);
  model.eval();
  noGrad(() => {
    for (let start = 0; start < t.length; start += batchSize) {
      const rows = Int32Array.from({ length: Math.min(batchSize, t.length - start) }, (_, i) => start + i);
      const logits = model.logits(tableBatch(t, rows)).dense();
      for (let i = 0; i < rows.length; i++) out[start + i] = logits[2 * i + 1]! - logits[2 * i]!;
    }
  });
  model.train();
  return out;
}

/** PR-AUC, ROC-AUC and recall at 1% FPR of scores against the test labels, under a name prefix. */
function rankingScores(prefix: string, scores: ArrayLike<number>, labels: ArrayLike<number>): Record<string, number> {
  return {
    [`${prefix}pr_auc`]: averagePrecision(scores, labels),
    [`${prefix}roc_auc`]: rocAuc(scores, labels),
    [`${prefix}recall_at_1pct_fpr`]: recallAtFpr(scores, labels, 0.01),
  };
}

const baselineCache = new Map<FraudData, Float64Array>();

/** Logistic regression's test scores, fitted on the same standardized training rows (once per data and process). */
export function baselineScores(d: FraudData): Float64Array {
  let scores = baselineCache.get(d);
  if (!scores) baselineCache.set(d, (scores = logisticScores(fitLogistic(d.train), d.test)));
  return scores;
}

export const fraud = defineRecipe<number, TabularBatch>({
  name: "fraud",
  summary: "an MLP on engineered and learned features of synthetic card transactions (3 fraud patterns, ~0.7%; split by time), PR-AUC >= 0.80 beside logistic regression; --data sensors: real sensor anomalies",
  // Measured in docs/recipes/fraud.md.
  defaults: { epochs: 4, batch: 256, lr: 3e-3, seed: 0 },
  options: {
    data: { type: "choice", choices: ["synthetic", "sensors"], default: "synthetic", help: "synthetic transactions, or the real single-hop sensor network's anomalies" },
    transactions: { type: "string", placeholder: "PATH", help: "a CSV of transactions (time, customer, merchant, category, amount, region, device, label) to read instead of generating them" },
    customers: { type: "int", min: 10, max: 1_000_000, default: 2000, help: "customers the synthetic generator draws (about 30 transactions each)" },
    hidden: { type: "int", min: 1, max: 4096, default: 64, help: "width of the network's two hidden layers" },
    "embed-dim": { type: "int", min: 1, max: 256, default: 4, help: "width of the learned embedding of each categorical feature" },
    "warmup-steps": { type: "int", min: 0, default: 50, help: "steps of linear learning-rate warm-up before the cosine decay" },
    curves: { type: "string", placeholder: "PATH", help: "also write the network's and the baseline's precision-recall curves there, as JSON (for scripts/fraud-figure.mjs)" },
  },
  metric: { name: "pr_auc", higherIsBetter: true },
  data: (s) => {
    const train = fraudData(s).train;
    const dataset: Dataset<number> = { length: train.length, get: (i) => i };
    return { train: dataset, collate: (rows) => tableBatch(train, rows) };
  },
  model: (s) => {
    const t = fraudData(s).train;
    return new FraudMlp({ features: t.features, categoricalSizes: t.categoricalSizes, embedDim: s.options["embed-dim"] as number, hidden: s.options.hidden as number });
  },
  loss: (model, batch) => crossEntropy((model as FraudMlp).logits(batch), batch.labels),
  samplesIn: (batch) => batch.batch,
  optimizer: (model, s) => new AdamW(model.parameters(), { lr: s.lr }),
  schedule: (s, total) => warmupCosine({ peak: s.lr, warmup: s.options["warmup-steps"] as number, total }),
  evaluate: (model, s) => {
    const d = fraudData(s);
    const network = fraudScores(model as FraudMlp, d.test);
    const baseline = baselineScores(d);
    const curves = s.options.curves as string | undefined;
    if (curves !== undefined) {
      const thin = (scores: ArrayLike<number>) => precisionRecallCurve(scores, d.test.label).map((p) => [p.recall, p.precision]);
      // Every worker of a job evaluates: each writes whole under its own name, then renames.
      writeFileSync(`${curves}.${process.pid}.partial`, JSON.stringify({ source: d.source, network: thin(network), baseline: thin(baseline) }));
      renameSync(`${curves}.${process.pid}.partial`, curves);
    }
    const positives = d.test.label.reduce((a, b) => a + b, 0);
    return {
      ...rankingScores("", network, d.test.label),
      ...rankingScores("lr_", baseline, d.test.label),
      test_rows: d.test.length, test_positives: positives, test_prevalence: positives / d.test.length,
      train_rows: d.train.length,
    };
  },
});
