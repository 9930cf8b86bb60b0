// The spam recipe's baseline: multinomial naive Bayes with Laplace (add-one) smoothing, counted on
// the training messages' token ids, the very ids the network reads (same vocabulary, same
// truncation), and scored on the same test split.
//
// Note [multinomial naive Bayes]
// A message is a bag of token ids w_1..w_n. For class c, with N_c(w) the times token w occurs in
// the training messages of class c, N_c = sum over w of N_c(w), V the ids a token can take
// (the vocabulary and the unknown id; padding is not a token) and alpha the smoothing:
//
//   P(w | c) = (N_c(w) + alpha) / (N_c + alpha V),    P(c) = (messages of class c) / (messages),
//   score(c) = log P(c) + sum over i of log P(w_i | c),
//
// and the prediction is the class of the higher score (ham on a tie). With alpha = 1 (Laplace) no
// token has probability 0 under either class, so one unseen-in-spam word cannot veto a message.
// Scores are sums of logarithms, never products, so long messages do not underflow.

/** A fitted multinomial naive Bayes classifier over token ids (Note [multinomial naive Bayes]). */
export interface NaiveBayes {
  classes: number;
  /** log P(c), per class. */
  logPrior: Float64Array;
  /** log P(w | c) at c * ids + w; ids `skip` (padding) are left at 0 and never read. */
  logLikelihood: Float64Array;
  /** Ids of the token space (padding included, as index `skip`). */
  ids: number;
  skip: number;
}

/**
 * Counts a multinomial naive Bayes classifier (Note [multinomial naive Bayes]) on messages of token
 * ids below `ids`; id `skip` (padding) is ignored.
 *
 * @example Two ham messages of "a", one spam message of "b", over ids {pad 0, a 1, b 2}
 * ```ts
 * const nb = fitNaiveBayes([Int32Array.of(1), Int32Array.of(1), Int32Array.of(2)], [0, 0, 1], { ids: 3 });
 * // P(b | spam) = (1 + 1) / (1 + 2) = 2/3; P(b | ham) = (0 + 1) / (2 + 2) = 1/4.
 * assert.ok(Math.abs(nb.logLikelihood[1 * 3 + 2]! - Math.log(2 / 3)) < 1e-12);
 * assert.deepEqual([...predictNaiveBayes(nb, [Int32Array.of(2), Int32Array.of(1)])], [1, 0]);
 * ```
 */
export function fitNaiveBayes(
  messages: readonly Int32Array[],
  labels: ArrayLike<number>,
  o: { ids: number; classes?: number; alpha?: number; skip?: number },
): NaiveBayes {
  const classes = o.classes ?? 2, alpha = o.alpha ?? 1, skip = o.skip ?? 0, ids = o.ids;
  if (messages.length !== labels.length || messages.length === 0) {
    throw new RangeError(`fitNaiveBayes: ${messages.length} messages and ${labels.length} labels: pass one label per message, at least one message`);
  }
  if (!(alpha > 0)) throw new RangeError(`fitNaiveBayes: alpha ${alpha} must be above 0 (1 is Laplace smoothing)`);
  const counts = new Float64Array(classes * ids);
  const totals = new Float64Array(classes);
  const docs = new Float64Array(classes);
  messages.forEach((m, i) => {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new RangeError(`fitNaiveBayes: label ${c} of message ${i} is not a class in [0, ${classes})`);
    docs[c]!++;
    for (const w of m) {
      if (w === skip) continue;
      if (!(w >= 0 && w < ids)) throw new RangeError(`fitNaiveBayes: id ${w} in message ${i} is outside [0, ${ids})`);
      counts[c * ids + w]!++;
      totals[c]!++;
    }
  });
  const tokenIds = ids - (skip >= 0 && skip < ids ? 1 : 0);
  const logPrior = Float64Array.from(docs, (d) => Math.log(d / messages.length));
  const logLikelihood = new Float64Array(classes * ids);
  for (let c = 0; c < classes; c++) {
    const denominator = Math.log(totals[c]! + alpha * tokenIds);
    for (let w = 0; w < ids; w++) if (w !== skip) logLikelihood[c * ids + w] = Math.log(counts[c * ids + w]! + alpha) - denominator;
  }
  return { classes, logPrior, logLikelihood, ids, skip };
}

/** score(c) per class for one message (Note [multinomial naive Bayes]). */
export function naiveBayesScores(nb: NaiveBayes, message: Int32Array): Float64Array {
  const scores = Float64Array.from(nb.logPrior);
  for (const w of message) {
    if (w === nb.skip) continue;
    for (let c = 0; c < nb.classes; c++) scores[c]! += nb.logLikelihood[c * nb.ids + w]!;
  }
  return scores;
}

/** The class of the highest score for each message (the lowest class on a tie). */
export function predictNaiveBayes(nb: NaiveBayes, messages: readonly Int32Array[]): Int32Array {
  return Int32Array.from(messages, (m) => {
    const s = naiveBayesScores(nb, m);
    let best = 0;
    for (let c = 1; c < nb.classes; c++) if (s[c]! > s[best]!) best = c;
    return best;
  });
}
