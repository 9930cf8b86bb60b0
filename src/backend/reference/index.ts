// The reference backend: every kernel in plain TypeScript, written for clarity, not speed. It is
// the definition the native kernels are tested against, and the fallback when the addon is absent.
import type { Backend } from "../backend.js";
import { attentionKernels } from "./attention.js";
import { denseKernels } from "./dense.js";
import { pointwiseKernels } from "./pointwise.js";

export const referenceBackend: Backend = { name: "reference", ...denseKernels, ...pointwiseKernels, ...attentionKernels };
