// Weft's public entry point.
export * as T from "./tensor/index.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as data from "./data/index.js";
export * as checkpoint from "./checkpoint/index.js";
export { backend, setBackend, referenceBackend, nativeBackend } from "./backend/index.js";
export { Rng } from "./util/rng.js";
