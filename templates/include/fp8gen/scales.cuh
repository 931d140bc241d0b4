// Dequantization scales applied to the fp32 accumulator.
//
// Each recipe is a small struct with `at(m, n)`: the factor by which the
// accumulated dot product of output element (m, n) is multiplied. Scales are
// device pointers, read in the kernel, so no host synchronization is needed.
#pragma once

namespace fp8gen {

// One fp32 scale for all of A and one for all of B.
struct PerTensorScales {
  float product;

  __device__ __forceinline__ PerTensorScales(float const* scale_a, float const* scale_b)
      : product(__ldg(scale_a) * __ldg(scale_b)) {}

  __device__ __forceinline__ float at(int, int) const { return product; }
};

}  // namespace fp8gen
