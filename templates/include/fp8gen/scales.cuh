// Dequantization scales of one operand.
//
// A recipe contributes either an epilogue factor per operand row (per-tensor,
// per-row) or a factor per operand row and K group that multiplies each
// promoted partial sum (1 x G groups, G x G blocks). Scales are read from
// device memory in the kernel with any strides, so no host sync or copy is
// needed; rows outside the operand read as 0 (their outputs are discarded).
#pragma once

#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/config.hpp>
#include <cute/numeric/math.hpp>
#include <cutlass/arch/barrier.h>

#include "fp8gen/async_copy.cuh"
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

// ... and from a pipeline stage in shared memory. Explicit shared loads: the
// generic pointer would cost 64-bit address arithmetic, and volatile keeps
// them after the barrier wait that makes the stage readable.
__device__ __forceinline__ float decode_scale_smem(float const* p) {
  float v;
  asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(cute::cast_smem_ptr_to_uint(p)));
  return v;
}
__device__ __forceinline__ float decode_scale_smem(uint8_t const* p) {
  uint32_t e;
  asm volatile("ld.shared.u8 %0, [%1];" : "=r"(e) : "r"(cute::cast_smem_ptr_to_uint(p)));
  return decode_ue8m0(e);
}

template <ScaleKind Kind, class Element_, int GroupK>
struct OperandScales {
  using Element = Element_;
  static constexpr ScaleKind kKind = Kind;
  static constexpr bool kPerKGroup = Kind == ScaleKind::Group || Kind == ScaleKind::Block;
  static constexpr int kGroupK = GroupK;

  Element const* ptr;
  int64_t stride_row;
  int64_t stride_k;
  int rows;
  int64_t stride_group;  // grouped GEMM: distance between consecutive experts' scales (B only)

  // The scales of expert `group` (grouped GEMM; group 0 otherwise).
  __device__ __forceinline__ OperandScales for_group(int group) const {
    return OperandScales{ptr + group * stride_group, stride_row, stride_k, rows, stride_group};
  }

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

  // G x G block scale of operand row `row` for K group `k_group` (1 x G
  // groups are staged through shared memory instead: see StagedScales).
  __device__ __forceinline__ float k_group(int row, int k_group) const {
    static_assert(Kind == ScaleKind::Block, "only block scales are read per K group from global memory");
    return row < rows ? load((row / GroupK) * stride_row + k_group * stride_k) : 0.f;
  }
};

// 1 x G group scales of one operand staged through the pipeline: each stage
// carries Groups K groups x Rows operand rows of them, loaded by TMA from a
// row-contiguous (rows fastest) scale tensor next to the operand tile, so the
// consumers read them from shared memory. Groups = 0: the recipe has none.
template <class Element_, int Groups, int Rows>
struct StagedScales {
  using Element = Element_;
  static constexpr int kGroups = Groups;
  static constexpr int kTxBytes = Groups * Rows * int(sizeof(Element));
  // TMA writes shared memory at 128-byte aligned addresses: pad each stage's scales to that.
  static constexpr int kStageStride = (kTxBytes + 127) / 128 * 128 / int(sizeof(Element));

  template <int Stages>
  struct Buffer {
    alignas(128) Element data[Stages * kStageStride];

    __device__ __forceinline__ void load(cute::TmaDescriptor const* tma, uint64_t* full, uint64_t cache_hint,
                                         int stage, int row0, int k_block) {
      cute::SM90_TMA_LOAD_2D::copy(tma, full, cache_hint, data + stage * kStageStride, row0, k_block * Groups);
    }

    __device__ __forceinline__ Element const* group(int stage, int group_in_stage) const {
      return data + stage * kStageStride + group_in_stage * Rows;
    }
  };
};

template <class Element_, int Rows>
struct StagedScales<Element_, 0, Rows> {
  using Element = Element_;
  static constexpr int kGroups = 0;
  static constexpr int kTxBytes = 0;

  template <int Stages>
  struct Buffer {
    __device__ __forceinline__ void load(cute::TmaDescriptor const*, uint64_t*, uint64_t, int, int, int) {}
    __device__ __forceinline__ Element const* group(int, int) const { return nullptr; }
  };
};

// The first column of a tile starting at column n0 that lies in the next G-column block of B's scales
// (tiles start at multiples of BN, so it is a multiple of gcd(BN, G)); BlockN when the whole tile lies
// in one block.
template <int BlockN, int GroupK>
__device__ __forceinline__ int next_block_column(int n0) {
  return GroupK % BlockN != 0 ? GroupK - n0 % GroupK : BlockN;
}

// G x G block scales of B staged through the pipeline (float32 only: cp.async copies whole 4-byte words).
// For each of its KGroups K groups a stage carries the scales of the tile's column blocks (two when the
// tile straddles a block edge); the producer copies them with cp.async next to its TMA loads, and the
// stage's full barrier also awaits the copies, so the consumers read them from shared memory instead of
// waiting on global loads inside the MMA pipeline. KGroups = 0: B's block scales are not staged.
template <int KGroups, int BlockN, int GroupK>
struct StagedBlockScales {
  static constexpr int kKGroups = KGroups;
  static constexpr bool kStraddling = GroupK % BlockN != 0;
  static constexpr int kColumnBlocks = kStraddling ? 2 : 1;
  static constexpr int kStageStride = (KGroups * kColumnBlocks + 3) / 4 * 4;  // 16-byte aligned stages

  template <int Stages>
  struct Buffer {
    alignas(16) float data[Stages * kStageStride];

    // Producer (one thread): copies the scales of K block `k_block` of the tile at column n0, zero for
    // blocks past B's rows or K groups past K, then arranges for the stage's full barrier to await them
    // (cp.async.mbarrier.arrive without .noinc: the barrier's expected arrival count is unchanged).
    template <class ScalesB>
    __device__ __forceinline__ void load(ScalesB const& s, uint64_t* full, int stage, int n0, int k_block, int K) {
      int const k_groups = (K + GroupK - 1) / GroupK;
      int const cut = next_block_column<BlockN, GroupK>(n0);
      CUTE_UNROLL
      for (int g = 0; g < KGroups; ++g) {
        int const k_group = k_block * KGroups + g;
        CUTE_UNROLL
        for (int c = 0; c < kColumnBlocks; ++c) {
          int const row = n0 + (c == 0 ? 0 : cut);
          bool const inside = row < s.rows && (c == 0 || cut < BlockN) && k_group < k_groups;
          float const* src = inside ? s.ptr + (row / GroupK) * s.stride_row + k_group * s.stride_k : s.ptr;
          copy_async<4>(data + stage * kStageStride + g * kColumnBlocks + c, src, inside);
        }
      }
      arrive_when_copied<false>(full);
    }

    // Scale of column block `block` (0, or 1 from next_block_column on) for K group `group_in_stage`.
    __device__ __forceinline__ float const* at(int stage, int group_in_stage, int block) const {
      return data + stage * kStageStride + group_in_stage * kColumnBlocks + block;
    }
  };
};

template <int BlockN, int GroupK>
struct StagedBlockScales<0, BlockN, GroupK> {
  static constexpr int kKGroups = 0;

  template <int Stages>
  struct Buffer {
    template <class ScalesB>
    __device__ __forceinline__ void load(ScalesB const&, uint64_t*, int, int, int, int) {}
    __device__ __forceinline__ float const* at(int, int, int) const { return nullptr; }
  };
};

// Per-row recipes' epilogue factors of one consumer's part of a tile: Rows of its rows (64-row atoms,
// MmaWGs * 64 apart in the tile) and all Columns, copied into shared memory with cp.async when the tile
// starts, so the copies overlap its mainloop. Read from global memory in the epilogue instead, every
// column's factor cost a 64-bit address computation and a load there (50 per thread for a 128x192 tile),
// which the tensor cores idled through. Per-tensor factors stay a global load (one address).
// The copies complete on an mbarrier (async_copy.cuh).
template <class ScalesA, class ScalesB, int Rows, int Columns, int MmaWGs,
          bool Staged = ScalesA::kKind == ScaleKind::Row || ScalesB::kKind == ScaleKind::Row>
struct EpilogueFactorTile {
  static constexpr bool kRowsA = ScalesA::kKind == ScaleKind::Row;
  static constexpr bool kColumnsB = ScalesB::kKind == ScaleKind::Row;
  static_assert((!kRowsA || cute::is_same<typename ScalesA::Element, float>::value) &&
                    (!kColumnsB || cute::is_same<typename ScalesB::Element, float>::value),
                "per-row scales are float32");
  alignas(16) float a[kRowsA ? Rows : 1];
  alignas(16) float b[kColumnsB ? Columns : 2];
  cutlass::arch::ClusterBarrier copied;  // one phase per tile: each of the consumer's 128 threads arrives

  // One thread, with the kernel's other barriers.
  __device__ __forceinline__ void init() { copied.init(128); }

  // Called by each of the consumer's 128 threads (`thread`) when its tile at (m0, n0) starts; `atom0` is
  // the consumer's first 64-row atom in the tile. Rows past the operand read as 0. Predicated copies
  // rather than loops: no branch, nothing kept live into the mainloop.
  template <class Scales>
  __device__ __forceinline__ void load(Scales const& s, int m0, int n0, int atom0, int thread) {
    if constexpr (kRowsA) {
      CUTE_UNROLL
      for (int c = 0; c < (Rows + 127) / 128; ++c) {
        int const i = thread + 128 * c;
        copy(a + i, s.a, m0 + (atom0 + i / 64 * MmaWGs) * 64 + i % 64, Rows % 128 == 0 || i < Rows);
      }
    }
    if constexpr (kColumnsB) {
      CUTE_UNROLL
      for (int c = 0; c < (Columns + 127) / 128; ++c) {
        int const j = thread + 128 * c;
        copy(b + j, s.b, n0 + j, Columns % 128 == 0 || j < Columns);
      }
    }
    arrive_when_copied<true>(&copied);
  }

  // Every thread of the consumer, once per load (phase: the loads so far, mod 2); afterwards the copies of
  // all its threads are visible to it.
  __device__ __forceinline__ void wait(uint32_t phase) { copied.wait(phase); }

  // Factor of global row m, the consumer's row `local` (64 * atom + row in the atom).
  __device__ __forceinline__ float row(ScalesA const& s, int m, int local) const {
    if constexpr (kRowsA) {
      return decode_scale_smem(a + local);
    } else {
      return s.epilogue(m);
    }
  }

  // Factors of global columns n and n + 1, the tile's columns local and local + 1 (local is even).
  __device__ __forceinline__ float2 column_pair(ScalesB const& s, int n, int local) const {
    if constexpr (kColumnsB) {
      float2 v;
      asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(v.x), "=f"(v.y) : "r"(cute::cast_smem_ptr_to_uint(b + local)));
      return v;
    } else {
      return make_float2(s.epilogue(n), s.epilogue(n + 1));
    }
  }

 private:
  template <class Operand>
  __device__ __forceinline__ static void copy(float* dst, Operand const& s, int row, bool active) {
    bool const inside = row < s.rows;
    copy_async<4>(dst, inside ? s.ptr + row * s.stride_row : s.ptr, inside, active);
  }
};

// Per-tensor factors only: nothing staged (global loads of one address each).
template <class ScalesA, class ScalesB, int Rows, int Columns, int MmaWGs>
struct EpilogueFactorTile<ScalesA, ScalesB, Rows, Columns, MmaWGs, false> {
  __device__ __forceinline__ void init() {}
  template <class Scales>
  __device__ __forceinline__ void load(Scales const&, int, int, int, int) {}
  __device__ __forceinline__ void wait(uint32_t) {}
  __device__ __forceinline__ float row(ScalesA const& s, int m, int) const { return s.epilogue(m); }
  __device__ __forceinline__ float2 column_pair(ScalesB const& s, int n, int) const {
    return make_float2(s.epilogue(n), s.epilogue(n + 1));
  }
};

template <class ScalesA, class ScalesB>
struct GemmScales {
  using A = ScalesA;
  using B = ScalesB;
  ScalesA a;
  ScalesB b;
  static constexpr bool kPerKGroup = ScalesA::kPerKGroup || ScalesB::kPerKGroup;

  // A's scales are indexed by the global row; B's belong to one expert.
  __device__ __forceinline__ GemmScales for_group(int group) const { return GemmScales{a, b.for_group(group)}; }
};

// The K-group factors of one promoted batch, applied when it retires:
// accum += partial * a(row, group) * b(col, group).
// 1 x G group scales of A (per row) and B (per column) come from the stage's
// shared memory, loaded there by the producer's TMA, and are read when the
// batch retires. B's G x G block scales are read when the batch is issued:
// float32 ones from the stage (copied there by the producer), UE8M0 ones from
// global memory, so that the loads overlap the tensor-core work: one when
// BN divides G (the tile lies in one column of blocks), else two (the spec
// allows only widths whose tiles span at most two, e.g. BN = 192 with G = 128:
// columns before `b_split` take the first block's scale, the rest the second's).
template <class Config, class Scales, class Accum>
struct KGroupFactors {
  using Shape = FragmentShape<Accum>;
  static constexpr bool kStagedA = Config::StagedA::kGroups > 0;
  static constexpr bool kStagedB = Config::StagedB::kGroups > 0;
  // B's staged 1xG factors (one per column: too many to hold in registers) are read from the stage when
  // the batch retires, so before the stage is released. A's (two per 64-row atom) are read into
  // registers when the batch is issued, like B's block scales.
  static constexpr bool kStaged = kStagedB;
  static_assert(kStagedA == (Scales::A::kKind == ScaleKind::Group), "A group scales are staged through the pipeline");
  static_assert(kStagedB == (Scales::B::kKind == ScaleKind::Group), "B group scales are staged through the pipeline");
  static_assert(Scales::A::kKind != ScaleKind::Block, "A has no block recipe");

  static constexpr bool kBlockB = Scales::B::kKind == ScaleKind::Block;
  static constexpr bool kStraddlingB = kBlockB && Scales::B::kGroupK % Config::kBlockN != 0;
  // Straddling tiles: b_split is a multiple of gcd(BN, G), so columns in chunks that wide share one B factor.
  static constexpr int kChunk = kStraddlingB ? cute::gcd(Config::kBlockN, Scales::B::kGroupK) : Config::kBlockN;
  static constexpr int kChunks = Config::kBlockN / kChunk;
  static_assert(kChunk % 8 == 0, "a thread's column pairs must not straddle a chunk");
  static constexpr bool kStagedBlockB = Config::StagedBlocksB::kKGroups > 0;
  static_assert(!kStagedBlockB || (kBlockB && Config::kBlockK == Config::StagedBlocksB::kKGroups * Scales::B::kGroupK),
                "staged B block scales: one stage holds BlockK / G K groups");
  float a_rows[Shape::kRowSlots];  // A's 1xG factors of the thread's rows (slot 2 * mm + r)
  float uniform_b = 1.f;  // block scales of B: the tile's first column block
  float second_b = 0.f;   // ... and the next one, for columns from b_split on (straddling tiles only)
  int b_split = Config::kBlockN;
  int k0 = 0;
  int stage = 0;
  int row0;  // the thread's first row and column in the tile
  int col0;

  __device__ __forceinline__ KGroupFactors(int thread_row0, int thread_col0) : row0(thread_row0), col0(thread_col0) {}

  template <class Smem>
  __device__ __forceinline__ void load(Scales const& s, Smem const& smem, int tile_n0, int k_offset,
                                       int stage_index) {
    k0 = k_offset;
    stage = stage_index;
    if constexpr (kStagedA) {
      int const group_in_stage = (k0 % Config::kBlockK) / Scales::A::kGroupK;
      CUTE_UNROLL
      for (int mm = 0; mm < Shape::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          a_rows[2 * mm + r] = decode_scale_smem(smem.a_scales.group(stage, group_in_stage) + row0 +
                                                 row_offset<Config::kMmaWGs>(mm, r));
        }
      }
    }
    // Straddling tiles: b_split is a multiple of 16, never inside a thread's column pair octet.
    if constexpr (kStagedBlockB) {
      int const group_in_stage = (k0 % Config::kBlockK) / Scales::B::kGroupK;
      uniform_b = decode_scale_smem(smem.b_blocks.at(stage, group_in_stage, 0));
      if constexpr (kStraddlingB) {
        b_split = next_block_column<Config::kBlockN, Scales::B::kGroupK>(tile_n0);
        second_b = decode_scale_smem(smem.b_blocks.at(stage, group_in_stage, 1));
      }
    } else if constexpr (kBlockB) {
      int const k_group = k0 / Scales::B::kGroupK;
      uniform_b = s.b.k_group(tile_n0, k_group);
      if constexpr (kStraddlingB) {
        b_split = next_block_column<Config::kBlockN, Scales::B::kGroupK>(tile_n0);
        if (b_split < Config::kBlockN) second_b = s.b.k_group(tile_n0 + b_split, k_group);
      }
    }
  }

  __device__ __forceinline__ float row(int mm, int r) const {
    if constexpr (kStagedA) {
      return a_rows[2 * mm + r];
    } else {
      return 1.f;
    }
  }

  template <class Smem>
  __device__ __forceinline__ float column(Smem const& smem, int nn, int v, int c) const {
    if constexpr (kStagedB) {
      int const group_in_stage = (k0 % Config::kBlockK) / Scales::B::kGroupK;
      return decode_scale_smem(smem.b_scales.group(stage, group_in_stage) + col0 +
                               col_offset<Config::kBlockN, Accum>(nn, v, c));
    } else {
      return 1.f;
    }
  }

  // Adds the partial sums of fragment columns [FirstN, LastN) of the MMA_N mode (all by default), scaled.
  template <int FirstN = 0, int LastN = Shape::kN, class Partial, class Smem>
  __device__ __forceinline__ void apply(Accum& accum, Partial const& partial, Smem const& smem) const {
    if constexpr (!Scales::kPerKGroup) {
      CUTE_UNROLL
      for (int nn = FirstN; nn < LastN; ++nn) {
        CUTE_UNROLL
        for (int mm = 0; mm < Shape::kM; ++mm) {
          CUTE_UNROLL
          for (int i = 0; i < cute::size<0>(accum); ++i) accum(i, mm, nn) += partial(i, mm, nn);
        }
      }
    } else {
      CUTE_UNROLL
      for (int mm = 0; mm < Shape::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          float const a_factor = row(mm, r);
          float const row_factor = kBlockB ? a_factor * uniform_b : a_factor;
          float const second_factor = a_factor * second_b;
          // One select per chunk of columns rather than per column pair: the promotion runs while the other
          // consumer's MMA does, and a select per pair (24 per row for BN = 192) made it outlast that MMA.
          // Chunk 0 always precedes b_split (> 0).
          float chunk_factor[kChunks];
          CUTE_UNROLL
          for (int j = 0; j < kChunks; ++j) chunk_factor[j] = j > 0 && j * kChunk >= b_split ? second_factor : row_factor;
          CUTE_UNROLL
          for (int nn = FirstN; nn < LastN; ++nn) {
            CUTE_UNROLL
            for (int v = 0; v < Shape::kV; ++v) {
              // The pair's columns lie in one chunk (chunks are multiples of 8 columns wide).
              float const pair_factor = chunk_factor[col_offset<Config::kBlockN, Accum>(nn, v, 0) / kChunk];
              CUTE_UNROLL
              for (int c = 0; c < 2; ++c) {
                auto const idx = fragment_index(c, r, v, mm, nn);
                accum(idx) = fmaf(partial(idx), pair_factor * column(smem, nn, v, c), accum(idx));
              }
            }
          }
        }
      }
    }
  }
};

}  // namespace fp8gen
