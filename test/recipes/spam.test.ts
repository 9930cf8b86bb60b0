// The spam recipe: through the `weft` command on a budget of a few steps (one process, and two
// workers under ZeRO stage 1), its bag against a hand computation, its metric and its naive
// Bayes baseline (Note [multinomial naive Bayes]) by hand, and its options refused with one line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { classScores, confusionMatrix } from "../../src/metrics/classification.js";
import { SpamBag } from "../../src/models/spam-bag.js";
import { manualSeed } from "../../src/nn/index.js";
import { collateSpam } from "../../src/recipes/spam.js";
import { fitNaiveBayes, naiveBayesScores, predictNaiveBayes } from "../../src/recipes/spam-naive-bayes.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const weft = join(root, "dist/src/cli/main.js");

function trainSpam(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [weft, "train", "spam", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

function lastJson(run: { status: number | null; stdout: string; stderr: string }): Record<string, number | string> {
  assert.equal(run.status, 0, `weft train spam failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, number | string>;
}

/** The result's confusion counts add up to the test split and its F1 is the one they give. */
function checkCounts(r: Record<string, number | string>, prefix: string): void {
  const [tn, fp, fn, tp] = (["tn", "fp", "fn", "tp"] as const).map((k) => r[prefix + k] as number);
  assert.equal(tn! + fp! + fn! + tp!, 1210);
  assert.equal(fn! + tp!, 376, "the test split has 376 spam messages");
  const f1 = tp === 0 ? 0 : (2 * tp!) / (2 * tp! + fp! + fn!);
  assert.ok(Math.abs((r[`${prefix}f1`] as number) - f1) < 1e-12, `${prefix}f1 ${r[`${prefix}f1`]} vs ${f1} from the counts`);
}

test("weft train spam --max-steps 3 --json ends with metric spam_f1 and the naive Bayes baseline beside it", () => {
  const r = lastJson(trainSpam(["--max-steps", "3", "--json"]));
  assert.equal(r.recipe, "spam");
  assert.equal(r.strategy, "single");
  assert.equal(r.metric, "spam_f1");
  assert.equal(r.steps, 3);
  assert.equal(r.value, r.spam_f1);
  assert.equal(r.test_messages, 1210);
  checkCounts(r, "spam_");
  checkCounts(r, "nb_");
  // Naive Bayes does not depend on training; on this split it is a strong baseline.
  assert.ok((r.nb_f1 as number) > 0.9 && (r.nb_f1 as number) < 0.99, `nb_f1 ${r.nb_f1}`);
});

test("weft train spam --workers 2 --strategy zero --stage 1 trains a few steps and reports the metric", () => {
  const r = lastJson(trainSpam(["--workers", "2", "--strategy", "zero", "--stage", "1", "--max-steps", "4", "--vocab", "2000", "--max-tokens", "200", "--json"]));
  assert.equal(r.strategy, "zero");
  assert.equal(r.workers, 2);
  assert.equal(r.steps, 4);
  assert.equal(r.metric, "spam_f1");
  assert.equal(r.vocabulary, 2000);
  checkCounts(r, "spam_");
});

test("bad options are refused with one line that names the option", () => {
  for (const [args, message] of [
    [["--max-tokens", "0"], /--max-tokens must be an integer from 1 to 100000, got "0"/],
    [["--vocab", "2"], /--vocab must be an integer from 3/],
    [["--data", join(root, "no-such-folder")], /is not a folder: point it at the unpacked corpus/],
  ] as const) {
    const run = trainSpam([...args, "--max-steps", "1", "--json"]);
    assert.notEqual(run.status, 0, `${args.join(" ")} was accepted`);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, message);
  }
});

test("spam F1 by hand: 2 spam caught, 1 missed, 1 ham flagged gives precision = recall = F1 = 2/3", () => {
  // truth:     spam spam spam ham ham ham
  // predicted: spam spam ham  spam ham ham  ->  tp 2, fn 1, fp 1, tn 2
  const m = confusionMatrix([1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 0, 0], 2);
  assert.deepEqual([...m.counts], [2, 1, 1, 2]);
  const s = classScores(m, 1);
  assert.deepEqual([s.precision, s.recall, s.support], [2 / 3, 2 / 3, 3]);
  assert.ok(Math.abs(s.f1 - 2 / 3) < 1e-15);
  // A model that calls everything ham has no spam F1 at all.
  assert.equal(classScores(confusionMatrix([1, 0], [0, 0], 2), 1).f1, 0);
});

test("naive Bayes by hand: Laplace-smoothed counts, priors, and the decision", () => {
  // ids: 0 pad, 1 "win", 2 "meeting", 3 "cash" (V = 3 token ids).
  // ham: [meeting, meeting, win], [meeting]          -> N_ham = 4: win 1, meeting 3, cash 0
  // spam: [win, cash], [win, win, cash, pad, pad]   -> N_spam = 5: win 3, meeting 0, cash 2
  const messages = [Int32Array.of(2, 2, 1), Int32Array.of(2), Int32Array.of(1, 3), Int32Array.of(1, 1, 3, 0, 0)];
  const nb = fitNaiveBayes(messages, [0, 0, 1, 1], { ids: 4, skip: 0 });
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(nb.logPrior[0]!, Math.log(1 / 2));
  // P(w | ham) = (N + 1) / (4 + 3): win 2/7, meeting 4/7, cash 1/7; P(w | spam) = (N + 1) / (5 + 3): 4/8, 1/8, 3/8.
  [2 / 7, 4 / 7, 1 / 7].forEach((p, i) => close(nb.logLikelihood[0 * 4 + i + 1]!, Math.log(p)));
  [4 / 8, 1 / 8, 3 / 8].forEach((p, i) => close(nb.logLikelihood[1 * 4 + i + 1]!, Math.log(p)));
  // "win meeting": ham 1/2 * 2/7 * 4/7 = 0.0816, spam 1/2 * 4/8 * 1/8 = 0.03125: ham.
  const s = naiveBayesScores(nb, Int32Array.of(1, 2, 0));
  close(s[0]!, Math.log(0.5 * (2 / 7) * (4 / 7)));
  close(s[1]!, Math.log(0.5 * (4 / 8) * (1 / 8)));
  // "win cash": ham 1/2 * 2/7 * 1/7 = 0.0204, spam 1/2 * 4/8 * 3/8 = 0.09375: spam.
  assert.deepEqual([...predictNaiveBayes(nb, [Int32Array.of(1, 2), Int32Array.of(1, 3), Int32Array.of(0)])], [0, 1, 0]);
  assert.throws(() => fitNaiveBayes(messages, [0, 1], { ids: 4 }), /4 messages and 2 labels/);
});

test("the bag is the mean of a message's token vectors: padding never counts", () => {
  manualSeed(2);
  const model = new SpamBag({ vocab: 6, dim: 3, hidden: 4 });
  const a = collateSpam([{ ids: Int32Array.of(4, 5, 2), label: 1 }, { ids: Int32Array.of(3), label: 0 }]);
  const alone = collateSpam([{ ids: Int32Array.of(3), label: 0 }]);
  const reordered = collateSpam([{ ids: Int32Array.of(2, 4, 5), label: 1 }]);
  const la = model.logits(a).dense(), l1 = model.logits(alone).dense(), l0 = model.logits(reordered).dense();
  // A padded message scores as it does alone; a bag ignores order.
  for (let k = 0; k < 2; k++) {
    assert.ok(Math.abs(la[2 + k]! - l1[k]!) < 1e-6, "padding changed a message's logits");
    assert.ok(Math.abs(la[k]! - l0[k]!) < 1e-6, "token order changed a message's logits");
  }
  // By hand: the hidden layer reads the mean of rows 4, 5, 2 of the table.
  const table = model.embed.weight.dense();
  const bag = [0, 1, 2].map((d) => (table[4 * 3 + d]! + table[5 * 3 + d]! + table[2 * 3 + d]!) / 3);
  const w = model.hidden.weight.dense(), b = model.hidden.bias!.dense(), w2 = model.out.weight.dense(), b2 = model.out.bias!.dense();
  const h = [0, 1, 2, 3].map((j) => Math.max(0, b[j]! + bag.reduce((s, x, d) => s + w[j * 3 + d]! * x, 0)));
  for (let k = 0; k < 2; k++) {
    const logit = b2[k]! + h.reduce((s, x, j) => s + w2[k * 4 + j]! * x, 0);
    assert.ok(Math.abs(la[k]! - logit) < 1e-5, `logit ${k}: ${la[k]} vs ${logit} by hand`);
  }
});
