# The native kernels. Each instruction set gets its own static library so that its files alone
# are compiled with -mavx2/-mavx512f: the addon itself stays baseline x86-64 and picks a variant
# at run time (native/cpu.cc). Source lists come from scripts/native-sources.mjs, which sorts
# files by their suffix (-scalar.cc, -avx2fma.cc, -avx512.cc; -avx512bf16.cc and -amx.cc for the
# bf16 GEMM's paths, run only where native/kernels/bf16-gemm/bf16-path.cc finds them), so adding
# a kernel file needs no edit here.
{
  "target_defaults": {
    "cflags": ["-O3", "-fPIC", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing"],
    "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fno-math-errno", "-fno-trapping-math"],
    "cflags!": ["-fno-exceptions", "-O2"],
    "cflags_cc!": ["-fno-exceptions", "-O2", "-std=gnu++17", "-std=gnu++20"],
    "include_dirs": ["native"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "weft_kernels_scalar",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.mjs scalar)"]
    },
    {
      "target_name": "weft_kernels_avx2fma",
      "type": "static_library",
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
      "sources": ["<!@(node scripts/native-sources.mjs avx2fma)"]
    },
    {
      "target_name": "weft_kernels_avx512",
      "type": "static_library",
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma", "-mavx2", "-mf16c"],
      "sources": ["<!@(node scripts/native-sources.mjs avx512)"]
    },
    {
      "target_name": "weft_kernels_avx512bf16",
      "type": "static_library",
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512bf16", "-mfma", "-mavx2"],
      "sources": ["<!@(node scripts/native-sources.mjs avx512bf16)"]
    },
    {
      "target_name": "weft_kernels_amx",
      "type": "static_library",
      "cflags_cc": ["-mamx-tile", "-mamx-bf16"],
      "sources": ["<!@(node scripts/native-sources.mjs amx)"]
    },
    {
      "target_name": "weft",
      "sources": ["<!@(node scripts/native-sources.mjs common)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["weft_kernels_scalar", "weft_kernels_avx2fma", "weft_kernels_avx512", "weft_kernels_avx512bf16", "weft_kernels_amx"]
    }
  ]
}
