export { Optimizer } from "./optimizer.js";
export { SGD, type SgdOptions } from "./sgd.js";
export { Adam, AdamW, type AdamOptions } from "./adam.js";
export { warmupCosine, stepDecay, type Schedule } from "./schedule.js";
export { clipGradNorm } from "./clip.js";
