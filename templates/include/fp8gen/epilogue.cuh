// Epilogue: scale the fp32 accumulator fragment, convert to the output type
// and store it to global memory, predicated on the M/N edges.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cute/tensor.hpp>

namespace fp8gen {

template <class ElementD>
struct OutputConvert;

template <>
struct OutputConvert<float> {
  using Pair = float2;
  __device__ __forceinline__ static float one(float x) { return x; }
  __device__ __forceinline__ static Pair two(float x, float y) { return make_float2(x, y); }
};

template <>
struct OutputConvert<__nv_bfloat16> {
  using Pair = __nv_bfloat162;
  __device__ __forceinline__ static __nv_bfloat16 one(float x) { return __float2bfloat16_rn(x); }
  __device__ __forceinline__ static Pair two(float x, float y) { return __floats2bfloat162_rn(x, y); }
};

template <>
struct OutputConvert<__half> {
  using Pair = __half2;
  __device__ __forceinline__ static __half one(float x) { return __float2half_rn(x); }
  __device__ __forceinline__ static Pair two(float x, float y) { return __floats2half2_rn(x, y); }
};

// Writes one BM x BN tile. `coords` holds the (row, col) inside the tile of
// every accumulator element; elements 2i and 2i+1 are adjacent columns of one
// row (the wgmma accumulator layout), so they are stored as one pair when the
// pair is inside N and its address is aligned for the pair type.
template <class ElementD, class Accum, class Coords, class Scales>
__device__ __forceinline__ void store_tile(Accum const& accum, Coords const& coords, Scales const& scales,
                                           ElementD* d, int ldd, int M, int N, int m0, int n0) {
  using Convert = OutputConvert<ElementD>;
  bool const pairs_aligned = (ldd % 2) == 0;
  CUTE_UNROLL
  for (int i = 0; i < cute::size(accum); i += 2) {
    int const m = m0 + cute::get<0>(coords(i));
    int const n = n0 + cute::get<1>(coords(i));
    if (m >= M) continue;
    ElementD* row = d + static_cast<int64_t>(m) * ldd;
    float const v0 = accum(i) * scales.at(m, n);
    if (n + 1 < N && pairs_aligned) {
      float const v1 = accum(i + 1) * scales.at(m, n + 1);
      *reinterpret_cast<typename Convert::Pair*>(row + n) = Convert::two(v0, v1);
    } else {
      if (n < N) row[n] = Convert::one(v0);
      if (n + 1 < N) row[n + 1] = Convert::one(accum(i + 1) * scales.at(m, n + 1));
    }
  }
}

}  // namespace fp8gen
