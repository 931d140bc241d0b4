// Dequantization scales of one operand.
//
// A recipe contributes either an epilogue factor per operand row (per-tensor,
// per-row) or a factor per operand row and K group that multiplies each
// promoted partial sum (1 x G groups, G x G blocks). Scales are read from
// device memory in the kernel with any strides, so no host sync or copy is
// needed; rows outside the operand read as 0 (their outputs are discarded).
#pragma once

#include <cute/config.hpp>

#include "fp8gen/fragment.cuh"

namespace fp8gen {

enum class ScaleKind { Tensor, Row, Group, Block };

// UE8M0: an 8-bit biased exponent, value 2^(e - 127); 0xFF is NaN.
__device__ __forceinline__ float decode_ue8m0(uint32_t e) {
  if (e == 0) return __uint_as_float(0x00400000u);  // 2^-127, a float32 subnormal
  if (e == 0xFF) return __uint_as_float(0x7fc00000u);
  return __uint_as_float(e << 23);
}

// Scales read from global memory (read-only path) ...
__device__ __forceinline__ float decode_scale(float const* p) { return __ldg(p); }
__device__ __forceinline__ float decode_scale(uint8_t const* p) { return decode_ue8m0(__ldg(p)); }

// ... and from a pipeline stage in shared memory.
__device__ __forceinline__ float decode_scale_smem(float const* p) { return *p; }
__device__ __forceinline__ float decode_scale_smem(uint8_t const* p) { return decode_ue8m0(*p); }

template <ScaleKind Kind, class Element, int GroupK>
struct OperandScales {
  static constexpr ScaleKind kKind = Kind;
  static constexpr bool kPerKGroup = Kind == ScaleKind::Group || Kind == ScaleKind::Block;
  static constexpr int kGroupK = GroupK;

  Element const* ptr;
  int64_t stride_row;
  int64_t stride_k;
  int rows;

  __device__ __forceinline__ float load(int64_t offset) const { return decode_scale(ptr + offset); }

  // Factor applied in the epilogue to the outputs of operand row `row`.
  __device__ __forceinline__ float epilogue(int row) const {
    if constexpr (Kind == ScaleKind::Tensor) {
      return load(0);
    } else if constexpr (Kind == ScaleKind::Row) {
      return row < rows ? load(row * stride_row) : 0.f;
    } else {
      return 1.f;
    }
  }

  // Factor of operand row `row` for the partial sum of K group `k_group`.
  __device__ __forceinline__ float k_group(int row, int k_group) const {
    if constexpr (Kind == ScaleKind::Group) {
      return row < rows ? load(row * stride_row + k_group * stride_k) : 0.f;
    } else if constexpr (Kind == ScaleKind::Block) {
      return row < rows ? load((row / GroupK) * stride_row + k_group * stride_k) : 0.f;
    } else {
      return 1.f;
    }
  }
};

template <class ScalesA, class ScalesB>
struct GemmScales {
  using A = ScalesA;
  using B = ScalesB;
  ScalesA a;
  ScalesB b;
  static constexpr bool kPerKGroup = ScalesA::kPerKGroup || ScalesB::kPerKGroup;
};

// The K-group factors of one promoted batch, loaded when the batch's wgmma is
// issued so that the loads overlap the tensor-core work, and applied when it
// retires: accum += partial * a(row, group) * b(col, group).
// B's factor is folded into the row factors when it is uniform over the tile
// (per-tensor/row B, or G x G blocks, whose G the spec requires to be a
// multiple of BN). Per-column 1 x G B groups come from the stage's shared
// memory, loaded there by the producer's TMA.
template <class Config, class Scales, class Accum>
struct KGroupFactors {
  using Shape = FragmentShape<Accum>;
  static constexpr bool kStagedB = Config::kStagedGroupsB > 0;
  static_assert(kStagedB == (Scales::B::kKind == ScaleKind::Group), "B group scales are staged through the pipeline");

  float row[Shape::kRowSlots];
  int k0;
  int n0;
  int stage;
  int col0;  // the thread's first column in the tile

  __device__ __forceinline__ explicit KGroupFactors(int thread_col0) : col0(thread_col0) {}

  template <class Coords>
  __device__ __forceinline__ void load(Scales const& s, Coords const& coords, int m0, int tile_n0, int k_offset,
                                       int stage_index) {
    k0 = k_offset;
    n0 = tile_n0;
    stage = stage_index;
    if constexpr (Scales::kPerKGroup) {
      float const uniform_b = kStagedB ? 1.f : s.b.k_group(n0, k0 / Scales::B::kGroupK);
      CUTE_UNROLL
      for (int mm = 0; mm < Shape::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          row[mm * 2 + r] = uniform_b * s.a.k_group(m0 + row_of(coords, mm, r), k0 / Scales::A::kGroupK);
        }
      }
    }
  }

  template <class Coords, class Smem>
  __device__ __forceinline__ float column(Scales const& s, Coords const& coords, Smem const& smem, int nn, int v,
                                          int c) const {
    int const col = col0 + col_offset<Config::kBlockN, Accum>(nn, v, c);
    if constexpr (kStagedB) {
      int const group_in_stage = (k0 % Config::kBlockK) / Scales::B::kGroupK;
      return decode_scale_smem(smem.staged_scales_b(stage, group_in_stage) + col);
    } else {
      return 1.f;
    }
  }

  template <class Partial, class Coords, class Smem>
  __device__ __forceinline__ void apply(Accum& accum, Partial const& partial, Scales const& s, Coords const& coords,
                                        Smem const& smem) const {
    if constexpr (!Scales::kPerKGroup) {
      CUTE_UNROLL
      for (int i = 0; i < cute::size(accum); ++i) accum(i) += partial(i);
    } else {
      CUTE_UNROLL
      for (int nn = 0; nn < Shape::kN; ++nn) {
        CUTE_UNROLL
        for (int v = 0; v < Shape::kV; ++v) {
          CUTE_UNROLL
          for (int c = 0; c < 2; ++c) {
            float const col = column(s, coords, smem, nn, v, c);
            CUTE_UNROLL
            for (int mm = 0; mm < Shape::kM; ++mm) {
              CUTE_UNROLL
              for (int r = 0; r < 2; ++r) {
                auto const idx = fragment_index(c, r, v, mm, nn);
                accum(idx) = fmaf(partial(idx), row[mm * 2 + r] * col, accum(idx));
              }
            }
          }
        }
      }
    }
  }
};

}  // namespace fp8gen
