// Picks a kernel family's table of functions for the active ISA. Each family (f32-unary,
// f32-softmax, ...) exports one table per ISA, built from the same source (Note [one body, three
// ISAs] in simd/simd-scalar.h); callers go through the family's accessor, which calls this.
#pragma once
#include "cpu.h"

namespace weft {

template <class Table>
const Table& tableFor(const Table& scalar, const Table& avx2fma, const Table& avx512) {
  switch (activeIsa()) {
    case Isa::Avx512: return avx512;
    case Isa::Avx2Fma: return avx2fma;
    default: return scalar;
  }
}

}  // namespace weft

// name__<isa> for the ISA being compiled (WEFT_ISA, set by the simd-<isa>.h header).
#define WEFT_ISA_SYMBOL_PASTE(name, isa) name##__##isa
#define WEFT_ISA_SYMBOL_EXPAND(name, isa) WEFT_ISA_SYMBOL_PASTE(name, isa)
#define WEFT_ISA_SYMBOL(name) WEFT_ISA_SYMBOL_EXPAND(name, WEFT_ISA)

// Defines the family accessor `const Table& name()` over the three tables `name##__<isa>`.
#define WEFT_ISA_TABLE(Table, name)                                              \
  extern const Table name##__scalar, name##__avx2fma, name##__avx512;            \
  inline const Table& name() { return tableFor(name##__scalar, name##__avx2fma, name##__avx512); }
