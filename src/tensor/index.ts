// The tensor layer's public surface.
export { Tensor, noGrad, isGradEnabled, type GradFn, type GradHook } from "./tensor.js";
export { tensor, zeros, ones, full, randn, uniform, arange, type TensorOptions } from "./create.js";
export { reusingBuffers, releaseBufferPool } from "./storage.js";
export { activationBytes, activationPeak, resetActivationPeak, forgetActivations } from "./activation-bytes.js";
export { ShapeError, sizeOf, type Shape } from "./shape.js";
export { autocast, currentPrecision, PRECISIONS, type Precision } from "./autocast.js";
export * from "./ops/elementwise.js";
export * from "./ops/shape-ops.js";
export * from "./ops/matmul.js";
export * from "./ops/linear.js";
export * from "./ops/reduce.js";
export * from "./ops/conv.js";
export * from "./ops/softmax.js";
export * from "./ops/attention.js";
export * from "./ops/norm.js";
export * from "./ops/loss.js";
export * from "./ops/dropout.js";
export * from "./ops/upsample.js";
