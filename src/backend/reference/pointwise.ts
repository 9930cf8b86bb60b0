// Every reference kernel except the dense ones (gemm and its epilogue, convolution, pooling) and
// attention, assembled from one file per kernel family.
import type { Backend } from "../backend.js";
import { elementwiseKernels } from "./elementwise.js";
import { indexingKernels } from "./indexing.js";
import { normKernels } from "./norm.js";
import { optimKernels } from "./optim.js";
import { reduceKernels } from "./reduce.js";
import { softmaxKernels } from "./softmax.js";

export const pointwiseKernels: Omit<
  Backend,
  | "name" | "gemm" | "gemmEpilogue" | "conv2d" | "conv2dBackwardInput" | "conv2dBackwardWeight" | "maxPool2d"
  | "maxPool2dBackward" | "avgPool2d" | "avgPool2dBackward" | "attention" | "attentionBackward"
> = {
  ...elementwiseKernels,
  ...reduceKernels,
  ...softmaxKernels,
  ...normKernels,
  ...indexingKernels,
  ...optimKernels,
};
