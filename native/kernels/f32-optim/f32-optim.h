// Fused optimizer steps, in place on a parameter and its state, exactly as torch.optim.SGD and
// torch.optim.Adam / AdamW (amsgrad off) update one tensor. The gradient is only read.
#pragma once
#include <cstdint>

#include "kernels/isa-table.h"

namespace weft {

// The scalars of one step, derived in float64 by the caller and rounded once, as PyTorch derives
// them on the host (1 - beta2 rounded from float64 is 0.001 to float precision; 1 - float(0.999)
// would be off by 1.3e-5 relative).
struct SgdScalars {
  float lr, momentum, oneMinusDampening, weightDecay;
  bool nesterov, firstStep;
};
struct AdamScalars {
  float beta1, beta2, oneMinusBeta1, oneMinusBeta2, eps;
  float l2;         // weight decay added to the gradient (Adam), else 0
  float shrink;     // 1 - lr * weight decay (AdamW), else 1
  float stepSize;   // lr / (1 - beta1^t)
  float bias2Sqrt;  // sqrt(1 - beta2^t)
};

struct F32OptimKernels {
  // momentumBuf may be null when momentum == 0.
  void (*sgdStep)(float* param, const float* grad, float* momentumBuf, int64_t n, const SgdScalars& s);
  void (*adamStep)(float* param, const float* grad, float* m, float* v, int64_t n, const AdamScalars& s);
};

WEFT_ISA_TABLE(F32OptimKernels, f32Optim)

}  // namespace weft
