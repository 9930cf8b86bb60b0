// Bindings of sgdStep and adamStep (argument order as in Backend). The per-step scalars are
// derived here in float64 (see SgdScalars / AdamScalars).
#include <cmath>

#include "bind/args.h"
#include "bind/pointwise-args.h"
#include "kernels/f32-optim/f32-optim.h"
#include "registry.h"

namespace weft {

namespace {

// sgdStep(param, grad, momentumBuf, n, lr, momentum, dampening, weightDecay, nesterov, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* k = "sgdStep";
  const int64_t n = countArg(info, 3, k, "n");
  const double momentum = numArg(info, 5);
  float* buf = f32SizedOrNull(info, 2, k, "momentumBuf", n);
  if (momentum != 0.0 && buf == nullptr) throwArg(info.Env(), k, "momentumBuf is required when momentum is not 0");
  const SgdScalars s{static_cast<float>(numArg(info, 4)), static_cast<float>(momentum),
                     static_cast<float>(1.0 - numArg(info, 6)), static_cast<float>(numArg(info, 7)),
                     boolArg(info, 8), boolArg(info, 9)};
  f32Optim().sgdStep(f32Sized(info, 0, k, "param", n), f32Sized(info, 1, k, "grad", n), buf, n, s);
  return info.Env().Undefined();
}

// adamStep(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, decoupled, step)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* k = "adamStep";
  const int64_t n = countArg(info, 4, k, "n");
  const double lr = numArg(info, 5), beta1 = numArg(info, 6), beta2 = numArg(info, 7);
  const double weightDecay = numArg(info, 9);
  const bool decoupled = boolArg(info, 10);
  const double step = numArg(info, 11);
  if (!(step >= 1)) throwArg(info.Env(), k, "step counts from 1");
  const AdamScalars s{
      static_cast<float>(beta1),
      static_cast<float>(beta2),
      static_cast<float>(1.0 - beta1),
      static_cast<float>(1.0 - beta2),
      static_cast<float>(numArg(info, 8)),
      static_cast<float>(decoupled ? 0.0 : weightDecay),
      static_cast<float>(decoupled ? 1.0 - lr * weightDecay : 1.0),
      static_cast<float>(lr / (1.0 - std::pow(beta1, step))),
      static_cast<float>(std::sqrt(1.0 - std::pow(beta2, step))),
  };
  f32Optim().adamStep(f32Sized(info, 0, k, "param", n), f32Sized(info, 1, k, "grad", n), f32Sized(info, 2, k, "m", n),
                      f32Sized(info, 3, k, "v", n), n, s);
  return info.Env().Undefined();
}

}  // namespace

WEFT_BINDING("sgdStep", SgdStep);
WEFT_BINDING("adamStep", AdamStep);

}  // namespace weft
