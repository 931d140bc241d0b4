// Epilogue: scale the fp32 accumulator fragment, run the epilogue chain
// (epilogue_ops.cuh), convert to the output type and store it to global
// memory through shared memory and TMA.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/barrier.h>

#include "fp8gen/epilogue_ops.cuh"
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

// FP8 outputs saturate to the format's finite range (NaN stays NaN).
template <class Fp8, class Fp8x2>
struct Fp8OutputConvert {
  using Pair = Fp8x2;
  __device__ __forceinline__ static Fp8 one(float x) { return Fp8(x); }
  __device__ __forceinline__ static Pair two(float x, float y) { return Pair(make_float2(x, y)); }
};

template <>
struct OutputConvert<__nv_fp8_e4m3> : Fp8OutputConvert<__nv_fp8_e4m3, __nv_fp8x2_e4m3> {};
template <>
struct OutputConvert<__nv_fp8_e5m2> : Fp8OutputConvert<__nv_fp8_e5m2, __nv_fp8x2_e5m2> {};

template <class ElementD>
__host__ __device__ constexpr bool is_fp8_output() {
  return sizeof(ElementD) == 1;
}

// Visits a thread's outputs of one tile in column pairs: f(mm, r, nn, v, v0, v1)
// with v0, v1 the values of the pair's two columns, scaled by
// (a.epilogue(m) * b.epilogue(n)) (read through `factors`, an
// EpilogueFactorTile). (row0, col0) is the thread's first element in the
// tile, (local_row0, col0 - n0) in the consumer's factor tile; rows and
// columns past M and N are visited too (their scales read as 0).
template <int ConsumerWGs, int BlockN, class Accum, class Scales, class Factors, class F>
__device__ __forceinline__ void for_each_scaled_pair(Accum const& accum, Scales const& scales, Factors const& factors,
                                                     int m0, int n0, int local_row0, int local_col0, F&& f) {
  using Shape = FragmentShape<Accum>;
  float row_scale[Shape::kRowSlots];
  CUTE_UNROLL
  for (int mm = 0; mm < Shape::kM; ++mm) {
    CUTE_UNROLL
    for (int r = 0; r < 2; ++r) {
      row_scale[mm * 2 + r] = factors.row(scales.a, m0 + row_offset<ConsumerWGs>(mm, r), mm * 64 + local_row0 + r * 8);
    }
  }
  // All column factors first: staged ones are shared-memory loads that the chain's shared-memory stores
  // would otherwise serialize one by one (the registers of the partial sums are free by now).
  float2 col_scales[Shape::kN * Shape::kV];
  CUTE_UNROLL
  for (int nn = 0; nn < Shape::kN; ++nn) {
    CUTE_UNROLL
    for (int v = 0; v < Shape::kV; ++v) {
      int const dcol = col_offset<BlockN, Accum>(nn, v, 0);
      col_scales[nn * Shape::kV + v] = factors.column_pair(scales.b, n0 + dcol, local_col0 + dcol);
    }
  }
  CUTE_UNROLL
  for (int nn = 0; nn < Shape::kN; ++nn) {
    CUTE_UNROLL
    for (int v = 0; v < Shape::kV; ++v) {
      float2 const col_scale = col_scales[nn * Shape::kV + v];
      CUTE_UNROLL
      for (int mm = 0; mm < Shape::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          // The factor first: with per-tensor scales it is one product for the whole tile, and each
          // element takes one multiply (the epilogue issues every instruction on the MMA's critical path).
          float const row = row_scale[mm * 2 + r];
          f(mm, r, nn, v, accum(fragment_index(0, r, v, mm, nn)) * (row * col_scale.x),
            accum(fragment_index(1, r, v, mm, nn)) * (row * col_scale.y));
        }
      }
    }
  }
}

__device__ __forceinline__ void store_shared(uint32_t address, float2 v) {
  asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(address), "f"(v.x), "f"(v.y));
}

template <class Pair>
__device__ __forceinline__ void store_shared(uint32_t address, Pair v) {
  static_assert(sizeof(Pair) == 4 || sizeof(Pair) == 2, "pairs of 16-bit or 8-bit elements");
  if constexpr (sizeof(Pair) == 4) {
    asm volatile("st.shared.b32 [%0], %1;" ::"r"(address), "r"(*reinterpret_cast<uint32_t*>(&v)));
  } else {
    asm volatile("st.shared.b16 [%0], %1;" ::"r"(address), "h"(*reinterpret_cast<uint16_t*>(&v)));
  }
}

// Shared-memory image of one output tile for TMA stores: BlockN / kColumns
// column panels, each BlockM rows of RowBytes (32, 64 or 128), in the TMA
// swizzle of that width: 16-byte chunk c of row y sits at chunk
// c ^ ((y * RowBytes / 128) mod (RowBytes / 16)). The fragment's column
// pairs then land on distinct banks. The host's TMA box is 64 rows (one wgmma
// atom) by one panel.
template <class ElementD, int BlockM, int BlockN, int RowBytes>
struct OutputTileLayout {
  using Element = ElementD;
  static constexpr int kRowBytes = RowBytes;  // the host's TMA box width and swizzle
  static_assert(RowBytes == 32 || RowBytes == 64 || RowBytes == 128, "TMA swizzle widths are 32, 64 or 128 bytes");
  static constexpr int kRows = BlockM;
  static constexpr int kColumns = kRowBytes / int(sizeof(ElementD));
  static constexpr int kPanels = BlockN / kColumns;
  static constexpr int kPanelBytes = BlockM * kRowBytes;
  static constexpr int kBytes = kPanels * kPanelBytes;
  static_assert(BlockN % kColumns == 0 && kColumns >= 8, "output panels are whole column octets");
  static constexpr uint32_t kSwizzleMask = kRowBytes / 16 - 1;

  // The part of an address that depends on the thread's first element
  // (row0, col0 < 8); the rest is a compile-time function of the fragment
  // slot. Rows of one thread differ by multiples of 8, which leave the
  // swizzle bits unchanged, and column offsets are multiples of 8 columns
  // (whole 16-byte chunks, or half chunks for 1-byte elements, where col0
  // stays inside the half), so the XOR splits into a per-thread part.
  struct Cursor {
    uint32_t base;
    uint32_t chunk_xor;
  };

  __device__ __forceinline__ static Cursor cursor(uint32_t tile_base, int row0, int col0) {
    uint32_t const col_bytes = col0 * sizeof(ElementD);
    return {tile_base + row0 * kRowBytes + col_bytes % 16,
            (((row0 * kRowBytes) >> 7) & kSwizzleMask) ^ (col_bytes / 16)};
  }

  // Address of the element (row0 + drow, col0 + dcol); drow and dcol are multiples of 8.
  __device__ __forceinline__ static uint32_t address(Cursor c, int drow, int dcol) {
    uint32_t const bytes = (dcol % kColumns) * sizeof(ElementD);
    return c.base + (dcol / kColumns) * kPanelBytes + drow * kRowBytes + (((bytes / 16) ^ c.chunk_xor) << 4) +
           bytes % 16;
  }
};

// Values of one 1 x Group column group of a row -> (scale, 1 / scale): amax
// over the group / the FP8 maximum (scale 1 for an all-zero group), rounded
// up to a power of two for UE8M0 scales (stored as their biased exponent).
template <class ElementD, bool Ue8m0>
struct GroupScale {
  static constexpr float kFp8Max = cute::is_same<ElementD, __nv_fp8_e5m2>::value ? 57344.f : 448.f;
  float scale;
  float inverse;

  __device__ __forceinline__ explicit GroupScale(float amax) {
    scale = amax > 0.f ? amax / kFp8Max : 1.f;
    if constexpr (Ue8m0) {
      uint32_t const bits = __float_as_uint(scale);
      uint32_t const exponent = (bits >> 23) + ((bits & 0x7fffffu) != 0u);
      scale = __uint_as_float(exponent << 23);
    }
    inverse = 1.f / scale;
  }

  __device__ __forceinline__ void store(void* scales, long long offset) const {
    if constexpr (Ue8m0) {
      static_cast<uint8_t*>(scales)[offset] = static_cast<uint8_t>(__float_as_uint(scale) >> 23);
    } else {
      static_cast<float*>(scales)[offset] = scale;
    }
  }
};

// f(nn, v, dcol) for a thread's column pairs that lie in 1 x Group column group g of the tile.
template <int BlockN, class Accum, int Group, class F>
__device__ __forceinline__ void for_each_pair_in_group(int g, F&& f) {
  using Shape = FragmentShape<Accum>;
  CUTE_UNROLL
  for (int nn = 0; nn < Shape::kN; ++nn) {
    CUTE_UNROLL
    for (int v = 0; v < Shape::kV; ++v) {
      int const dcol = col_offset<BlockN, Accum>(nn, v, 0);
      if (dcol / Group == g) f(nn, v, dcol);
    }
  }
}

// Fused re-quantization of a tile (chains ending in GroupQuantize): the chain's
// values replace the accumulator, each row's 1 x Group column groups get a
// scale from their amax (a group's columns are spread over the four lanes of
// a quad), the scales go to global memory and the values, divided by their
// group's scale, to the staging tile.
template <class Layout, int ConsumerWGs, int BlockN, class Chain, class Accum, class Scales, class Factors,
          class Inputs, class Cursor>
__device__ __forceinline__ void quantize_groups(Accum& accum, Scales const& scales, Factors const& factors,
                                                epilogue::Context& ctx, Inputs const& inputs, Cursor const& cursor,
                                                int row0, int col0, int n0, int local_row0) {
  using Shape = FragmentShape<Accum>;
  using Convert = OutputConvert<typename Layout::Element>;
  constexpr int kGroup = Chain::kQuantGroup;
  constexpr int kGroups = BlockN / kGroup;
  static_assert(BlockN % kGroup == 0 && kGroup % 8 == 0, "quantization groups are whole column octets of a tile");
  for_each_scaled_pair<ConsumerWGs, BlockN>(accum, scales, factors, row0, col0, local_row0, col0 - n0,
                                            [&](int mm, int r, int nn, int v, float v0, float v1) {
    int const m = row0 + row_offset<ConsumerWGs>(mm, r);
    Chain::apply(ctx, inputs, epilogue::Where{mm, r, nn, v, m, col0 + col_offset<BlockN, Accum>(nn, v, 0)}, v0, v1);
    if (m >= ctx.row_limit) v0 = v1 = 0.f;
    accum(fragment_index(0, r, v, mm, nn)) = v0;
    accum(fragment_index(1, r, v, mm, nn)) = v1;
  });
  CUTE_UNROLL
  for (int mm = 0; mm < Shape::kM; ++mm) {
    CUTE_UNROLL
    for (int r = 0; r < 2; ++r) {
      int const m = row0 + row_offset<ConsumerWGs>(mm, r);
      CUTE_UNROLL
      for (int g = 0; g < kGroups; ++g) {
        float amax = 0.f;
        for_each_pair_in_group<BlockN, Accum, kGroup>(g, [&](int nn, int v, int dcol) {
          int const n = col0 + dcol;
          if (n < ctx.N) amax = fmaxf(amax, fabsf(accum(fragment_index(0, r, v, mm, nn))));
          if (n + 1 < ctx.N) amax = fmaxf(amax, fabsf(accum(fragment_index(1, r, v, mm, nn))));
        });
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
        GroupScale<typename Layout::Element, Chain::kQuantUe8m0> const group(amax);
        int const group_col = n0 + g * kGroup;
        if (threadIdx.x % 4 == 0 && m < ctx.row_limit && group_col < ctx.N) {
          group.store(ctx.args.group_scales, m * ctx.args.group_scales_stride_row +
                                                 (group_col / kGroup) * ctx.args.group_scales_stride_group);
        }
        for_each_pair_in_group<BlockN, Accum, kGroup>(g, [&](int nn, int v, int dcol) {
          store_shared(Layout::address(cursor, row_offset<ConsumerWGs>(mm, r), dcol),
                       Convert::two(accum(fragment_index(0, r, v, mm, nn)) * group.inverse,
                                    accum(fragment_index(1, r, v, mm, nn)) * group.inverse));
        });
      }
    }
  }
}

// TMA-store epilogue of one consumer warpgroup (its rows of the tile, from
// tile row `row0`; `factors`: its per-row recipes' factors, copied when the
// tile started and waited for): wait until the previous tile's store has read the
// buffer, write the chain's converted values to shared memory, make them
// visible to the TMA unit, and issue one TMA store per column panel. The
// stores complete asynchronously while the warpgroup moves on to its next
// tile; the TMA unit clips the boxes at the M/N edges. ZeroRows: rows that
// ctx.padding_row names are written as zeros without running the chain
// (grouped kernels' rows that belong to no expert; TMA cannot clip them).
template <class Layout, int ConsumerWGs, int BlockN, class Chain, bool ZeroRows, class Accum, class Scales,
          class Factors>
__device__ __forceinline__ void store_tile_tma(Accum& accum, Scales const& scales, Factors const& factors,
                                               epilogue::Context& ctx,
                                               cute::TmaDescriptor const* tma_d, uint8_t* tile_smem,
                                               int consumer_thread, int barrier_id, int m0, int n0) {
  using Convert = OutputConvert<typename Layout::Element>;
  int const warpgroup = consumer_thread / 128;  // its 64-row atoms of the tile
  bool const issuer = consumer_thread % 128 == 0;
  int const thread_row0 = wgmma_thread_row0(consumer_thread);
  int const thread_col0 = wgmma_thread_col0(consumer_thread);
  int const row0 = m0 + thread_row0;
  int const col0 = n0 + thread_col0;
  // The chain's loads go out first and land while the previous store drains.
  typename Chain::template Inputs<epilogue::TileSlots<ConsumerWGs, BlockN, Accum>> inputs;
  inputs.load(ctx, row0, col0);
  auto const cursor = Layout::cursor(cute::cast_smem_ptr_to_uint(tile_smem), thread_row0, thread_col0);
  if (issuer) cute::tma_store_wait<0>();
  cutlass::arch::NamedBarrier::arrive_and_wait(128, barrier_id);
  if constexpr (Chain::kQuantGroup > 0) {
    quantize_groups<Layout, ConsumerWGs, BlockN, Chain>(accum, scales, factors, ctx, inputs, cursor, row0, col0, n0,
                                                        thread_row0 % 64);
  } else {
    using Shape = FragmentShape<Accum>;
    bool padding[Shape::kM][2];
    CUTE_UNROLL
    for (int mm = 0; mm < Shape::kM; ++mm) {
      CUTE_UNROLL
      for (int r = 0; r < 2; ++r) padding[mm][r] = ZeroRows && ctx.padding_row(row0 + row_offset<ConsumerWGs>(mm, r));
    }
    for_each_scaled_pair<ConsumerWGs, BlockN>(
        accum, scales, factors, row0, col0, thread_row0 % 64, thread_col0,
        [&](int mm, int r, int nn, int v, float v0, float v1) {
          int const drow = row_offset<ConsumerWGs>(mm, r);
          int const dcol = col_offset<BlockN, Accum>(nn, v, 0);
          if (ZeroRows && padding[mm][r]) {
            v0 = v1 = 0.f;
          } else {
            Chain::apply(ctx, inputs, epilogue::Where{mm, r, nn, v, row0 + drow, col0 + dcol}, v0, v1);
          }
          if constexpr (is_fp8_output<typename Layout::Element>()) {
            v0 *= ctx.out_scale_inv;
            v1 *= ctx.out_scale_inv;
          }
          store_shared(Layout::address(cursor, drow, dcol), Convert::two(v0, v1));
        });
  }
  cute::tma_store_fence();
  cutlass::arch::NamedBarrier::arrive_and_wait(128, barrier_id);
  if (issuer) {
    // The warpgroup's rows are 64-row atoms, 64 * ConsumerWGs apart; one box each.
    CUTE_UNROLL
    for (int atom_row = warpgroup * 64; atom_row < Layout::kRows; atom_row += 64 * ConsumerWGs) {
      CUTE_UNROLL
      for (int panel = 0; panel < Layout::kPanels; ++panel) {
        cute::SM90_TMA_STORE_2D::copy(tma_d, tile_smem + panel * Layout::kPanelBytes + atom_row * Layout::kRowBytes,
                                      n0 + panel * Layout::kColumns, m0 + atom_row);
      }
    }
    cute::tma_store_arrive();
  }
}

}  // namespace fp8gen
