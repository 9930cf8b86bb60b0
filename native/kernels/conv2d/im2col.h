// Unfolding an image into the columns a convolution multiplies (im2col), and folding column
// gradients back onto the image (col2im, its adjoint).
//
// For one image x (c, h, w), the column matrix has one row per weight tap r = (ch * kh + i) * kw + j
// and one column per output pixel q = y * ow + xo:
//   col[r][q] = x[ch][y * strideH - padH + i][xo * strideW - padW + j], or 0 in the padding.
// Then out (oc, oh * ow) = weight (oc, c * kh * kw) * col.
#pragma once
#include "conv2d.h"

namespace weft {

// Writes rows [r0, r0 + rows) of the column matrix of image x into col (row stride ldcol).
void im2colRows(const Conv2dShape& s, const float* x, int r0, int rows, float* col, int ldcol);
// gx (c, h, w) = col2im(gcol): every column entry is added to the pixel it was read from.
// gx is overwritten.
void col2im(const Conv2dShape& s, const float* gcol, float* gx);

}  // namespace weft
