// Structured access to a wgmma accumulator fragment.
//
// partition_fragment_C of an SM90 GMMA TiledMma has shape
// ((2, 2, V), MMA_M, MMA_N): element (c, r, v, mm, nn) of a thread lies in
// row slot (mm, r) and in the column pair (nn, v), column c of the pair. A
// thread touches 2 * MMA_M rows and 2 * V * MMA_N columns, so row- and
// column-wise factors are loaded once per slot rather than per element.
#pragma once

#include <cute/tensor.hpp>

namespace fp8gen {

template <class Frag>
struct FragmentShape {
  using Layout = typename Frag::layout_type;
  static constexpr int kV = cute::size<0, 2>(Layout{});
  static constexpr int kM = cute::size<1>(Layout{});
  static constexpr int kN = cute::size<2>(Layout{});
  static constexpr int kRowSlots = 2 * kM;
  static_assert(cute::size<0, 0>(Layout{}) == 2 && cute::size<0, 1>(Layout{}) == 2,
                "unexpected wgmma accumulator layout");
};

__device__ __forceinline__ auto fragment_index(int c, int r, int v, int mm, int nn) {
  return cute::make_coord(cute::make_coord(c, r, v), mm, nn);
}

// A thread's first accumulator column: per the PTX wgmma D-fragment layout,
// lane l of each warp holds columns 2 * (l % 4) + {0, 1} (+ 8 per pair).
__device__ __forceinline__ int wgmma_thread_col0(int thread) { return (thread % 4) * 2; }

// The same column as the thread's first column plus a compile-time offset:
// in the wgmma accumulator layout the two columns of a pair are adjacent,
// pairs are 8 columns apart and MMA_N steps by the atom's width. Written this
// way the offset folds into load addresses instead of holding BN/4 column
// indices in registers across the K loop.
template <int BlockN, class Frag>
__device__ __forceinline__ int col_offset(int nn, int v, int c) {
  return nn * (BlockN / FragmentShape<Frag>::kN) + v * 8 + c;
}

// A thread's first accumulator row in the tile: in the wgmma D-fragment
// layout, warp w of warpgroup g holds rows 64 g + 16 w + lane / 4 (+ 8 for r = 1).
__device__ __forceinline__ int wgmma_thread_row0(int thread) {
  return (thread / 128) * 64 + (thread % 128 / 32) * 16 + (thread % 32) / 4;
}

// Row of slot (mm, r) relative to the thread's first row: consumer
// warpgroups tile M in 64-row atoms, so MMA_M steps by 64 * warpgroups.
template <int ConsumerWGs>
__device__ __forceinline__ int row_offset(int mm, int r) {
  return mm * 64 * ConsumerWGs + r * 8;
}

}  // namespace fp8gen
