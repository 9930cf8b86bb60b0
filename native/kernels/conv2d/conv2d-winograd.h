// Winograd's F(4x4, 3x3) for 3x3 stride-1 convolutions (Note [Winograd convolution] in
// conv2d-winograd.cc): the same results as conv2d.cc's GEMM formulation (to rounding), in about a
// quarter of the multiplications.
#pragma once
#include "conv2d.h"

namespace weft {

// Whether the Winograd path can serve this convolution on the active instruction set.
bool winogradApplies(const Conv2dShape& s);
// Whether it is also expected to be faster than the GEMM path, for the forward and weight
// gradient (inputGradient false) or for the input gradient.
bool winogradPays(const Conv2dShape& s, bool inputGradient);

void winogradConv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias, float* out);
void winogradConv2dBackwardInput(const Conv2dShape& s, const float* gy, const float* weight, float* gx);
void winogradConv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* gy, float* gw, float* gb);

}  // namespace weft
