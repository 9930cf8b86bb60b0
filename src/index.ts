// Weft's public entry point: everything a training script needs, under one flat namespace
// (`import { Linear, Adam, tensor, DataLoader } from "weft"`).
export * from "./tensor/index.js";
export * from "./nn/index.js";
export * from "./optim/index.js";
export * from "./data/index.js";
export * from "./checkpoint/index.js";
export { backend, setBackend, referenceBackend, nativeBackend } from "./backend/index.js";
export { Rng } from "./util/rng.js";
export { saveTrainingCheckpoint, loadTrainingCheckpoint, type TrainingState } from "./train/training-checkpoint.js";
export * from "./distributed/index.js";
