// A loss that is NaN or infinite must not reach the parameters: one bad step poisons every later
// one, and under data parallelism every replica. Strategies check the loss they agree on before
// they update anything, and throw this.

/** The loss stopped being a number: the step is named, and no update was applied. */
export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";

  constructor(readonly step: number, readonly loss: number, scope: string) {
    super(
      `the loss is ${loss} at step ${step} (${scope}); no update was applied. ` +
        `Lower the learning rate (--lr), or check the input data for NaN or huge values.`,
    );
  }
}

/** Throws NonFiniteLossError unless `loss` is finite. */
export function checkFiniteLoss(loss: number, step: number, scope: string): void {
  if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss, scope);
}
