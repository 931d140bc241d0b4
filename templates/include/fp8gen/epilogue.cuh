// Epilogue: scale the fp32 accumulator fragment, convert to the output type
// and store it to global memory, predicated on the M/N edges.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cute/tensor.hpp>

#include "fp8gen/fragment.cuh"

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

// Writes one BM x BN tile: D(m, n) = accum * a.epilogue(m) * b.epilogue(n),
// converted to ElementD. The two columns of a fragment pair are adjacent, so
// they are stored together when both are inside N and the address is aligned
// for the pair type.
template <class ElementD, class Accum, class Coords, class Scales>
__device__ __forceinline__ void store_tile(Accum const& accum, Coords const& coords, Scales const& scales,
                                           ElementD* d, int ldd, int M, int N, int m0, int n0) {
  using Convert = OutputConvert<ElementD>;
  using Shape = FragmentShape<Accum>;
  bool const pairs_aligned =
      (ldd % 2) == 0 && (reinterpret_cast<uintptr_t>(d) % sizeof(typename Convert::Pair)) == 0;
  CUTE_UNROLL
  for (int mm = 0; mm < Shape::kM; ++mm) {
    CUTE_UNROLL
    for (int r = 0; r < 2; ++r) {
      int const m = m0 + row_of(coords, mm, r);
      if (m >= M) continue;
      float const row_scale = scales.a.epilogue(m);
      ElementD* row = d + static_cast<int64_t>(m) * ldd;
      CUTE_UNROLL
      for (int nn = 0; nn < Shape::kN; ++nn) {
        CUTE_UNROLL
        for (int v = 0; v < Shape::kV; ++v) {
          int const n = n0 + col_of(coords, nn, v, 0);
          if (n >= N) continue;
          float const v0 = accum(fragment_index(0, r, v, mm, nn)) * row_scale * scales.b.epilogue(n);
          if (n + 1 < N) {
            float const v1 = accum(fragment_index(1, r, v, mm, nn)) * row_scale * scales.b.epilogue(n + 1);
            if (pairs_aligned) {
              *reinterpret_cast<typename Convert::Pair*>(row + n) = Convert::two(v0, v1);
            } else {
              row[n] = Convert::one(v0);
              row[n + 1] = Convert::one(v1);
            }
          } else {
            row[n] = Convert::one(v0);
          }
        }
      }
    }
  }
}

}  // namespace fp8gen
