// Persistent, warp-specialized FP8 GEMM for sm_90a:
//   D(M, N) = scale(m, n) * sum_k A(m, k) * B(n, k)
// A is (M, K) and B is (N, K), both K-major (row-major A, "TN" GEMM).
//
// Warpgroup 0 is the producer: one thread issues TMA loads of A and B tiles
// into a ring of shared-memory stages. Warpgroups 1..ConsumerWGs are
// consumers that issue FP8 wgmma on each stage and run the epilogue.
// Cooperative schedule: the consumers together own a BM x BN output tile
// (each 1/ConsumerWGs of its rows). Ping-pong schedule: each of the two
// consumers owns whole tiles, taking the CTA's work units in turn, so one's
// epilogue runs while the other's MMA keeps the tensor cores busy.
#pragma once

// Without this CuTe builds wgmma tile widths that are not 8, 16, 32, 64, 96, 128, 192 or 256 columns
// from narrower atoms (BN = 112: seven 16-wide instructions per k-step, each re-reading A from shared
// memory); with it the selector uses the one instruction of that width.
#define CUTE_SM90_EXTENDED_MMA_SHAPES_ENABLED

#include <cute/arch/cluster_sm90.hpp>
#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cute/arch/mma_sm90.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cute/tensor.hpp>
#include <cutlass/arch/reg_reconfig.h>

#include "fp8gen/epilogue.cuh"
#include "fp8gen/pipeline.cuh"
#include "fp8gen/scales.cuh"
#include "fp8gen/tile_scheduler.cuh"

namespace fp8gen {

enum class Accumulation { Promoted, Fast };

// Grouped GEMM (mixture of experts): B holds G experts' (N, K) matrices stacked
// as (G * N, K) rows. Contiguous: A's rows are the tokens of all experts
// concatenated, each BM-row block belonging to one expert (or to none: -1);
// group_info[m] names the expert of row m. Masked: A is G blocks of
// group_rows rows, of which the first group_info[g] are used.
enum class Grouping { None, Contiguous, Masked };

template <class ElementA_, class ElementB_, class ElementD_, int BlockM, int BlockN, int BlockK, int Stages_,
          int ConsumerWGs, bool PingPong, Accumulation Accum_, int PromotionK, int Partials, bool ColumnHalves, int GroupM, int ClusterM, int ProducerRegs,
          int ConsumerRegs,
          int OutputRowBytes, class ElementScaleA, int StagedGroupsA, class ElementScaleB, int StagedGroupsB,
          int StagedBlockGroupsB, Grouping Grouping_, bool NarrowsA, class EpilogueChain>
struct GemmConfig {
  using ElementA = ElementA_;
  using ElementB = ElementB_;
  using ElementD = ElementD_;
  static constexpr int kBlockM = BlockM;
  static constexpr int kBlockN = BlockN;
  static constexpr int kBlockK = BlockK;
  static constexpr int kStages = Stages_;
  static constexpr int kConsumerWGs = ConsumerWGs;
  static constexpr bool kPingPong = PingPong;
  // Warpgroups that share one output tile's MMA (each takes 64-row atoms of it).
  static constexpr int kMmaWGs = PingPong ? 1 : ConsumerWGs;
  static_assert(!PingPong || (ConsumerWGs == 2 && BlockM == 64), "ping-pong: two consumers, 64-row tiles");
  static constexpr Accumulation kAccumulation = Accum_;
  // wgmma k-steps (32 elements of K each) accumulated inside the tensor core before promotion.
  static constexpr int kPromotionK = PromotionK;
  static constexpr int kPromotionSteps = PromotionK / 32;
  // Partial-sum fragments of promoted accumulation: 2 alternate (overlapping MMA and promotion), 1 when
  // two do not fit the registers.
  static constexpr int kPartials = Partials;
  static_assert(PromotionK % 32 == 0 && BlockK % PromotionK == 0, "promotion interval must divide BlockK");
  // Each promoted batch issued as two column halves (wgmma atoms BlockN / 2 wide), so that a warpgroup
  // promotes one half while its own MMA of the other runs (see mainloop_promoted_halves); which kernels
  // do: GemmSpec.column_halves.
  static constexpr bool kColumnHalves = ColumnHalves;
  static_assert(!ColumnHalves || (Partials == 1 && Accum_ == Accumulation::Promoted && BlockN % 16 == 0 &&
                                  BlockM / kMmaWGs == 64),
                "column halves: one partial fragment of promoted accumulation, one 64-row atom per warpgroup");
  static constexpr int kGroupM = GroupM;
  // CTAs per cluster along M; they share each B tile, every CTA loading 1/ClusterM of it by multicast.
  static constexpr int kClusterM = ClusterM;
  static_assert(BlockN % (8 * ClusterM) == 0, "each CTA's share of B must be whole 8-row swizzle atoms");
  static constexpr int kProducerRegs = ProducerRegs;
  static constexpr int kConsumerRegs = ConsumerRegs;
  static constexpr int kThreads = 128 * (1 + ConsumerWGs);

  // BlockK bytes of fp8 per row: the TMA swizzle mode must be the same width
  // (set on the host as CU_TENSOR_MAP_SWIZZLE_{64,128}B).
  using SmemAtomA = cute::conditional_t<BlockK == 128, cute::GMMA::Layout_K_SW128_Atom<ElementA>,
                                        cute::GMMA::Layout_K_SW64_Atom<ElementA>>;
  using SmemAtomB = cute::conditional_t<BlockK == 128, cute::GMMA::Layout_K_SW128_Atom<ElementB>,
                                        cute::GMMA::Layout_K_SW64_Atom<ElementB>>;
  using SmemLayoutA = decltype(cute::tile_to_shape(
      SmemAtomA{}, cute::make_shape(cute::Int<BlockM>{}, cute::Int<BlockK>{}, cute::Int<Stages_>{})));
  using SmemLayoutB = decltype(cute::tile_to_shape(
      SmemAtomB{}, cute::make_shape(cute::Int<BlockN>{}, cute::Int<BlockK>{}, cute::Int<Stages_>{})));

  using MmaAtom = decltype(cute::SM90::GMMA::ss_op_selector<
                           ElementA, ElementB, float,
                           cute::Shape<cute::Int<BlockM / kMmaWGs>, cute::Int<kColumnHalves ? BlockN / 2 : BlockN>,
                                       cute::Int<BlockK>>>());
  using TiledMma = decltype(cute::make_tiled_mma(
      MmaAtom{}, cute::Layout<cute::Shape<cute::Int<kMmaWGs>, cute::_1, cute::_1>>{}));

  // 1 x G group scales of A and B travel with each stage (see StagedScales).
  using StagedA = StagedScales<ElementScaleA, StagedGroupsA, BlockM>;
  using StagedB = StagedScales<ElementScaleB, StagedGroupsB, BlockN>;
  // G x G block scales of B copied into each stage (K groups per stage; 0: read from global memory).
  using StagedBlocksB = StagedBlockScales<StagedBlockGroupsB, BlockN, (StagedBlockGroupsB > 0 ? BlockK / StagedBlockGroupsB : 1)>;
  // Consumers read B's staged 1xG scales from a stage just before releasing it: every thread arrives
  // (see StageBarriers::consumer_release and KGroupFactors; a cluster's release stays per warp).
  static constexpr bool kReleaseEveryThread = StagedGroupsB > 0 && ClusterM == 1;
  static constexpr int kStageBytesA = BlockM * BlockK * sizeof(ElementA);
  static constexpr int kStageBytesB = BlockN * BlockK * sizeof(ElementB);
  // Bytes the TMA loads of one stage deliver (the transaction count of its full barrier).
  static constexpr int kStageTxBytes = kStageBytesA + kStageBytesB + StagedA::kTxBytes + StagedB::kTxBytes;
  // With M below one tile, whether A's loads bring only its M rows (GemmProblem::a_box_rows; see
  // zero_unloaded_a_rows): fp8gen/spec.py's GemmSpec.narrows_a. Otherwise the stage's byte count stays
  // a compile-time constant (a runtime one measured 5-8% slower on 128x192 block-scale kernels).
  static constexpr bool kNarrowsA = NarrowsA;

  using OutputTile = OutputTileLayout<ElementD_, BlockM, BlockN, OutputRowBytes>;
  // Output staging tiles in shared memory: one per consumer in ping-pong (fp8gen/spec.py's output_tile_bytes).
  static constexpr int kOutputTiles = PingPong ? 2 : 1;
  using Epilogue = EpilogueChain;  // an epilogue::Chain<Ops...>
  static constexpr Grouping kGrouping = Grouping_;
  // Kernels whose K the host may split: not ping-pong (its consumers own whole tiles), not grouped.
  static constexpr bool kSplitsK = !PingPong && Grouping_ == Grouping::None;
  static_assert(Grouping_ == Grouping::None || ClusterM == 1, "grouped kernels run without clusters");
};

template <class Config, class Scales>
struct SharedStorage {
  alignas(1024) typename Config::ElementA a[cute::cosize_v<typename Config::SmemLayoutA>];
  alignas(1024) typename Config::ElementB b[cute::cosize_v<typename Config::SmemLayoutB>];
  // The TMA-store epilogue's staging tile (one per consumer in ping-pong).
  alignas(1024) uint8_t d[Config::OutputTile::kBytes * Config::kOutputTiles];
  typename Config::StagedA::template Buffer<Config::kStages> a_scales;
  typename Config::StagedB::template Buffer<Config::kStages> b_scales;
  typename Config::StagedBlocksB::template Buffer<Config::kStages> b_blocks;
  StageBarriers<Config::kStages> barriers;
  // Ping-pong: mainloop_turn[c] completes when consumer c may start its next mainloop (see consume()).
  cutlass::arch::ClusterBarrier mainloop_turn[2];
  int split_is_last;  // split-K: broadcast of the tile counter's verdict to the consumers
  // Per-row recipes' epilogue factors of each consumer's current tile.
  EpilogueFactorTile<typename Scales::A, typename Scales::B, Config::kBlockM / Config::kMmaWGs, Config::kBlockN,
                     Config::kMmaWGs>
      epilogue_factors[Config::kConsumerWGs];
  // The epilogue chain's column vector (bias) of each consumer's current tile.
  typename Config::Epilogue::template SharedTile<Config::kBlockN> epilogue_columns[Config::kConsumerWGs];
};

struct GemmProblem {
  int M;
  int N;
  int K;
  int splits;                // split-K factor (1: each CTA computes whole tiles)
  int split_first;           // splits > 1: the first split cluster tile (those before are whole)
  int k_blocks_per_split;
  float* split_partials;     // splits > 1: fp32 partial tiles, [split tile][split][element][consumer thread]
  int* split_arrivals;       // splits > 1: one zeroed counter per split tile
  int const* group_info;     // grouped: the expert of each row (contiguous) or each expert's row count (masked)
  int group_rows;            // masked: rows per expert in A and D
  int a_box_rows;            // rows of A one stage's TMA load brings (see Config::kNarrowsA, zero_unloaded_a_rows)

  // The expert whose B a tile row block multiplies; -1: the block is
  // padding (contiguous: its first row's expert is -1) or past the expert's
  // row count (masked), and the tile is skipped (its output left
  // untouched). Producer and consumers both ask, so they skip the same tiles.
  template <class Config>
  __device__ __forceinline__ int group_of(int m_block) const {
    int const m0 = m_block * Config::kBlockM;
    if constexpr (Config::kGrouping == Grouping::Contiguous) {
      return __ldg(group_info + m0);
    } else if constexpr (Config::kGrouping == Grouping::Masked) {
      int const g = m0 / group_rows;
      return m0 % group_rows < __ldg(group_info + g) ? g : -1;
    } else {
      return 0;
    }
  }

  // Output rows at or past this one (in a tile of expert `group`) are written as zeros: a masked
  // expert's rows past its count. Other kernels write every row below M.
  template <class Config>
  __device__ __forceinline__ int row_limit(int group) const {
    if constexpr (Config::kGrouping == Grouping::Masked) return group * group_rows + __ldg(group_info + group);
    return M;
  }

  template <class Config>
  __device__ __forceinline__ WorkScheduler scheduler() const {
    int const rank = Config::kClusterM > 1 ? static_cast<int>(cute::block_rank_in_cluster()) : 0;
    int const k_blocks = (K + Config::kBlockK - 1) / Config::kBlockK;
    // (Constants where the host never splits: the unsplit units then cost no registers.)
    return WorkScheduler{TileScheduler(M, N, Config::kBlockM * Config::kClusterM, Config::kBlockN, Config::kGroupM),
                         Config::kSplitsK ? splits : 1, Config::kSplitsK ? split_first : 0,
                         Config::kSplitsK ? k_blocks_per_split : k_blocks, k_blocks, Config::kClusterM, rank};
  }
};

// B tile of one stage: in a cluster, CTA `rank` loads rows [rank, rank + 1) *
// BlockN / ClusterM of it and multicasts them to every CTA of the cluster,
// whose full barriers each count the whole tile's bytes.
template <class Config>
__device__ __forceinline__ void load_b(cute::TmaDescriptor const* tma_b, uint64_t* full, uint64_t cache_hint,
                                       typename Config::ElementB* stage_b, int k, int n0, int rank) {
  if constexpr (Config::kClusterM == 1) {
    cute::SM90_TMA_LOAD_2D::copy(tma_b, full, cache_hint, stage_b, k, n0);
  } else {
    constexpr int kRows = Config::kBlockN / Config::kClusterM;
    constexpr uint16_t kAllCtas = (1u << Config::kClusterM) - 1;
    cute::SM90_TMA_LOAD_MULTICAST_2D::copy(tma_b, full, kAllCtas, cache_hint, stage_b + rank * kRows * Config::kBlockK,
                                           k, n0 + rank * kRows);
  }
}

template <class Config, class Scales>
__device__ __forceinline__ void produce(cute::TmaDescriptor const* tma_a, cute::TmaDescriptor const* tma_b,
                                        cute::TmaDescriptor const* tma_scale_a, cute::TmaDescriptor const* tma_scale_b,
                                        SharedStorage<Config, Scales>& smem, GemmProblem const& p,
                                        Scales const& scales) {
  WorkScheduler const sched = p.scheduler<Config>();
  uint64_t const cache_hint = static_cast<uint64_t>(cute::TMA::CacheHintSm90::EVICT_NORMAL);
  int const stage_tx_bytes = Config::kNarrowsA
      ? Config::kStageTxBytes - (Config::kBlockM - p.a_box_rows) * Config::kBlockK : Config::kStageTxBytes;
  PipelineState st;
  for (int u = sched.first_unit(); u < sched.num_units(); u += sched.unit_stride()) {
    WorkUnit const unit = sched.unit(u);
    TileCoord const t = unit.tile_coord;
    int const group = p.group_of<Config>(t.m_block);
    if (group < 0) continue;
    int const b_row0 = group * p.N + t.n_block * Config::kBlockN;  // this expert's rows of B
    auto const b_scales = scales.b.for_group(group);
    for (int kb = unit.k_block_begin; kb < unit.k_block_begin + unit.k_blocks; ++kb) {
      smem.barriers.producer_wait_empty(st);
      uint64_t* full = smem.barriers.full_barrier(st);
      smem.b_blocks.load(b_scales, full, st.stage, t.n_block * Config::kBlockN, kb, p.K);
      smem.barriers.producer_expect(st, stage_tx_bytes);
      int const k = kb * Config::kBlockK;
      cute::SM90_TMA_LOAD_2D::copy(tma_a, full, cache_hint,
                                   smem.a + st.stage * (Config::kBlockM * Config::kBlockK), k,
                                   t.m_block * Config::kBlockM);
      load_b<Config>(tma_b, full, cache_hint, smem.b + st.stage * (Config::kBlockN * Config::kBlockK), k, b_row0,
                     sched.rank);
      smem.a_scales.load(tma_scale_a, full, cache_hint, st.stage, t.m_block * Config::kBlockM, kb);
      smem.b_scales.load(tma_scale_b, full, cache_hint, st.stage, b_row0, kb);
      st.template advance<Config::kStages>();
    }
  }
}

// A consumer warpgroup is done reading a stage (see StageBarriers::consumer_release).
template <class Config, class Smem>
__device__ __forceinline__ void release_stage(Smem& smem, PipelineState const& st, bool warp_leader) {
  smem.barriers.template consumer_release<Config::kClusterM, Config::kReleaseEveryThread>(st, warp_leader);
}

// Issues `Steps` wgmma k-steps of one stage, starting at k-step `first`, into
// `frag`; the first one overwrites `frag` when `zero_init`.
template <int Steps, class TiledMma, class FragA, class FragB, class FragC>
__device__ __forceinline__ void mma_ksteps(TiledMma& tiled_mma, FragA const& tCrA, FragB const& tCrB, FragC& frag,
                                           int stage, int first, bool zero_init) {
  using namespace cute;
  tiled_mma.accumulate_ = zero_init ? GMMA::ScaleOut::Zero : GMMA::ScaleOut::One;
  CUTE_UNROLL
  for (int k = 0; k < Steps; ++k) {
    cute::gemm(tiled_mma, tCrA(_, _, first + k, stage), tCrB(_, _, first + k, stage), frag);
    tiled_mma.accumulate_ = GMMA::ScaleOut::One;
  }
}

// Promoted (two-level) accumulation over one tile's K loop. The K loop is cut
// into batches of `kPromotionSteps` wgmma k-steps (32 elements of K each);
// each batch's sum lands in a partial fragment that is then added into fp32
// `accum`, which bounds the tensor core's internal accumulation to one batch.
// Two partials alternate so batch j+1 runs while batch j is being added.
//
// DeferredEpilogue: `previous_epilogue` (the previous tile's epilogue, which still reads `accum`) runs once
// this tile's first batch is issued, so the tensor cores work through part of it (with the second batch
// in flight as well, the three fragments and the epilogue spilled). Otherwise it is not called.
template <class Config, bool DeferredEpilogue, class Frags, class Smem, class Scales, class PreviousEpilogue>
__device__ __forceinline__ void mainloop_promoted(Frags& f, Smem& smem, PipelineState& st, int k_block_begin,
                                                  int k_blocks, bool warp_leader, Scales const& scales,
                                                  int consumer_thread, int n0,
                                                  PreviousEpilogue const& previous_epilogue) {
  using namespace cute;
  constexpr int kSteps = Config::kPromotionSteps;
  constexpr int kBatchesPerStage = Config::kBlockK / 32 / kSteps;
  // Batches handled per unrolled chunk: a whole number of stages and an even
  // count, so each batch's partial fragment and place in its stage are
  // compile-time constants (ptxas serializes wgmma otherwise).
  constexpr int kChunk = kBatchesPerStage % 2 == 0 ? kBatchesPerStage : 2 * kBatchesPerStage;
  int const batches = k_blocks * kBatchesPerStage;
  PipelineState release = st;
  using Factors = KGroupFactors<Config, Scales, decltype(f.accum)>;
  Factors factors0(wgmma_thread_row0(consumer_thread), wgmma_thread_col0(consumer_thread));
  Factors factors1 = factors0;
  // Batch `batch` of this tile, number in_stage of its stage, into `partial`.
  auto issue = [&](auto& partial, Factors& factors, int in_stage, int batch) {
    // The stage index broadcast from lane 0 before the wait: ptxas then knows it is warp-uniform and forms the
    // batch's descriptors in uniform registers (no R2UR per wgmma), off the path from the wait to the MMA.
    int const stage = __shfl_sync(0xffffffff, st.stage, 0);
    if (in_stage == 0) smem.barriers.consumer_wait(st);
    warpgroup_fence_operand(partial);
    warpgroup_arrive();
    mma_ksteps<kSteps>(f.tiled_mma, f.tCrA, f.tCrB, partial, stage, in_stage * kSteps, true);
    warpgroup_commit_batch();
    factors.load(scales, smem, n0, k_block_begin * Config::kBlockK + batch * Config::kPromotionK, st.stage);
    if (in_stage == kBatchesPerStage - 1) st.template advance<Config::kStages>();
  };
  auto retire = [&](auto& partial, Factors const& factors, int in_stage) {
    warpgroup_fence_operand(partial);
    bool const last_in_stage = in_stage == kBatchesPerStage - 1;
    // Staged scales live in the stage: read them before it is released.
    if constexpr (Factors::kStaged) factors.apply(f.accum, partial, smem);
    if (last_in_stage) {
      release_stage<Config>(smem, release, warp_leader);
      release.template advance<Config::kStages>();
    }
    if constexpr (!Factors::kStaged) factors.apply(f.accum, partial, smem);
  };
  if constexpr (!DeferredEpilogue) clear(f.accum);
  issue(f.partial0, factors0, 0, 0);
  if constexpr (DeferredEpilogue) {
    previous_epilogue();
    clear(f.accum);
  }
  // Batch i of a chunk is in flight in partial[i % 2] when pair(i) starts:
  // pair(i) issues batches i + 1 and i + 2 and retires batches i and i + 1.
  auto pair = [&](int i, int j) {
    issue(f.partial1, factors1, (i + 1) % kBatchesPerStage, j + i + 1);
    warpgroup_wait<1>();
    retire(f.partial0, factors0, i % kBatchesPerStage);
    issue(f.partial0, factors0, (i + 2) % kBatchesPerStage, j + i + 2);
    warpgroup_wait<1>();
    retire(f.partial1, factors1, (i + 1) % kBatchesPerStage);
  };
  int j = 0;
  for (; j + kChunk < batches; j += kChunk) {
    CUTE_UNROLL
    for (int i = 0; i < kChunk; i += 2) pair(i, j);
  }
  // The last chunk holds kChunk batches, or (one batch per stage) possibly
  // just one. Every wait here is unconditional within its branch, which
  // ptxas needs to keep the wgmma pipelined.
  if (j + kChunk == batches) {
    CUTE_UNROLL
    for (int i = 0; i + 2 < kChunk; i += 2) pair(i, j);
    issue(f.partial1, factors1, (kChunk - 1) % kBatchesPerStage, j + kChunk - 1);
    warpgroup_wait<1>();
    retire(f.partial0, factors0, (kChunk - 2) % kBatchesPerStage);
    warpgroup_wait<0>();
    retire(f.partial1, factors1, (kChunk - 1) % kBatchesPerStage);
  } else {
    warpgroup_wait<0>();
    retire(f.partial0, factors0, 0);
  }
}

// Promoted accumulation with one partial fragment, for tiles where two do
// not fit the registers: each batch's wgmma is waited for before its sum is
// added, so a warpgroup does not overlap its own MMA and promotion. In the
// cooperative schedule the other consumer warpgroup's MMA fills the tensor
// core meanwhile; in ping-pong the consumers take turns at the mainloop, so
// the tensor core idles during each promotion (why 64x192 ping-pong is slow).
//
// Issues batch `in_stage` of the current stage into the partial fragment. The batch's K-group factors are
// loaded first: after the MMA is issued, its last wgmma would wait for their shared loads.
template <class Config, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void issue_one_partial(Frags& f, Smem& smem, PipelineState const& st, Factors& factors,
                                                  Scales const& scales, int n0, int k_offset, int in_stage) {
  using namespace cute;
  factors.load(scales, smem, n0, k_offset, st.stage);
  warpgroup_fence_operand(f.partial0);
  warpgroup_arrive();
  mma_ksteps<Config::kPromotionSteps>(f.tiled_mma, f.tCrA, f.tCrB, f.partial0, st.stage,
                                      in_stage * Config::kPromotionSteps, true);
  warpgroup_commit_batch();
}

template <class Frags, class Smem, class Factors>
__device__ __forceinline__ void retire_one_partial(Frags& f, Factors const& factors, Smem& smem) {
  cute::warpgroup_wait<0>();
  cute::warpgroup_fence_operand(f.partial0);
  factors.apply(f.accum, f.partial0, smem);
}

// Column halves (Config::kColumnHalves): the partial fragment's MMA_N mode holds the two halves of the tile's
// columns. Issues batch `in_stage` of `stage` for half `Half` into it.
template <int Half, class Config, class Frags>
__device__ __forceinline__ void issue_half(Frags& f, int stage, int in_stage) {
  using namespace cute;
  constexpr int kSteps = Config::kPromotionSteps;
  auto partial = f.partial0(_, _, Half);
  warpgroup_fence_operand(partial);
  warpgroup_arrive();
  f.tiled_mma.accumulate_ = GMMA::ScaleOut::Zero;
  CUTE_UNROLL
  for (int k = 0; k < kSteps; ++k) {
    CUTE_UNROLL
    for (int mm = 0; mm < size<1>(partial); ++mm) {
      cute::gemm(f.tiled_mma, f.tCrA(_, mm, in_stage * kSteps + k, stage), f.tCrB(_, Half, in_stage * kSteps + k, stage),
                 partial(_, mm));
    }
    f.tiled_mma.accumulate_ = GMMA::ScaleOut::One;
  }
  warpgroup_commit_batch();
}

// Issues the left half of a tile's first batch (the current stage's first), its K-group factors loaded first.
template <class Config, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void issue_head_half(Frags& f, Smem& smem, PipelineState const& st, Factors& factors,
                                                Scales const& scales, int n0, int k_offset) {
  factors.load(scales, smem, n0, k_offset, st.stage);
  issue_half<0, Config>(f, __shfl_sync(0xffffffff, st.stage, 0), 0);  // warp-uniform: uniform descriptors
}

// A deferred epilogue (HeadIssued) overlaps both halves of the tile's first batch where a stage holds one batch.
template <class Config>
constexpr bool kBothHalvesInHead = Config::kBlockK == Config::kPromotionK;

// f(Int<0>{}), ..., f(Int<N-1>{}), inline. (cute::for_each calls f from a lambda of its own, which NVRTC may
// compile as a function; a wgmma pipeline crossing a call is serialized, C7510. So are the lambdas passed
// here, hence their always_inline.)
template <class F, int... I>
__device__ __forceinline__ void inline_for_each(cute::integer_sequence<int, I...>, F&& f) {
  (f(cute::Int<I>{}), ...);
}

// Promoted accumulation with one partial fragment in two column halves: batch j's left half is added into
// `accum` while its right half is in the tensor core, and its right half while batch j + 1's left half is.
// A warpgroup's promotion overlaps its own MMA, as with two partials, in the registers of one (before, each
// batch's whole MMA was waited for, and only the other consumer's MMA ran during the promotion).
template <class Config, bool HeadIssued, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void mainloop_promoted_halves(Frags& f, Smem& smem, PipelineState& st, Factors& factors,
                                                         int k_block_begin, int k_blocks, bool warp_leader,
                                                         Scales const& scales, int n0) {
  using namespace cute;
  constexpr int kBatchesPerStage = Config::kBlockK / Config::kPromotionK;
  auto left = f.partial0(_, _, 0);
  auto right = f.partial0(_, _, 1);
  cute::clear(f.accum);
  if constexpr (!HeadIssued) {
    smem.barriers.consumer_wait(st);
    issue_head_half<Config>(f, smem, st, factors, scales, n0, k_block_begin * Config::kBlockK);
  }
  PipelineState issued = st;  // the stage of the batch last issued; st: the stage the next release frees
  // Batch InStage of K block kb, its left half in flight: issues its right half, then the next batch's left
  // half unless it is the tile's last, retiring its own two halves in between. (Inline: see inline_for_each.)
  auto const batch = [&](int kb, auto in_stage, auto last, auto right_issued) __attribute__((always_inline)) {
    constexpr int kInStage = decltype(in_stage)::value;
    constexpr bool kLast = decltype(last)::value;
    constexpr int kNext = (kInStage + 1) % kBatchesPerStage;
    if constexpr (!decltype(right_issued)::value) {
      issue_half<1, Config>(f, __shfl_sync(0xffffffff, issued.stage, 0), kInStage);
    }
    warpgroup_wait<1>();
    warpgroup_fence_operand(left);
    factors.template apply<0, 1>(f.accum, f.partial0, smem);
    Factors next = factors;
    if constexpr (!kLast) {
      if constexpr (kNext == 0) {
        issued.template advance<Config::kStages>();
        smem.barriers.consumer_wait(issued);
      }
      // The next batch's factors are loaded before its MMA is issued (see issue_one_partial).
      int const next_kb = kNext == 0 ? kb + 1 : kb;
      next.load(scales, smem, n0, (k_block_begin + next_kb) * Config::kBlockK + kNext * Config::kPromotionK,
                issued.stage);
      issue_half<0, Config>(f, __shfl_sync(0xffffffff, issued.stage, 0), kNext);
      warpgroup_wait<1>();
    } else {
      warpgroup_wait<0>();
    }
    warpgroup_fence_operand(right);
    factors.template apply<1, 2>(f.accum, f.partial0, smem);
    if constexpr (kInStage == kBatchesPerStage - 1) {
      release_stage<Config>(smem, st, warp_leader);
      st.template advance<Config::kStages>();
    }
    if constexpr (!kLast) factors = next;
  };
  int kb = 0;
  if constexpr (HeadIssued && kBothHalvesInHead<Config>) {
    // The caller issued both halves of the first batch; a deferred tile has K blocks to spare (kMinDeferKBlocks).
    batch(0, cute::Int<0>{}, cute::false_type{}, cute::true_type{});
    kb = 1;
  }
  for (; kb + 1 < k_blocks; ++kb) {
    inline_for_each(cute::make_int_sequence<kBatchesPerStage>{}, [&](auto i) __attribute__((always_inline)) {
      batch(kb, i, cute::false_type{}, cute::false_type{});
    });
  }
  // The last K block. (k_blocks >= 1, so the else branch never runs; without it, ptxas (13.0) found the left
  // half "read in flight" where the tile's head and the loop's exit meet, and serialized every wgmma of the
  // kernel, C7514. A 40-line kernel with only the two halves' wgmma and FMAs reproduces both.)
  if (kb + 1 == k_blocks) {
    inline_for_each(cute::make_int_sequence<kBatchesPerStage>{}, [&](auto i) __attribute__((always_inline)) {
      batch(kb, i, cute::bool_constant<decltype(i)::value == kBatchesPerStage - 1>{}, cute::false_type{});
    });
  } else {
    warpgroup_wait<0>();
    warpgroup_fence_operand(left);
  }
}

// HeadIssued: the caller issued the tile's first batch (waiting for its stage) before the previous tile's
// epilogue; it is retired here first.
template <class Config, bool HeadIssued, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void mainloop_promoted_one_partial(Frags& f, Smem& smem, PipelineState& st, Factors& factors,
                                                              int k_block_begin, int k_blocks, bool warp_leader,
                                                              Scales const& scales, int n0) {
  constexpr int kBatchesPerStage = Config::kBlockK / Config::kPromotionK;
  auto const k_offset = [&](int kb, int in_stage) {
    return (k_block_begin + kb) * Config::kBlockK + in_stage * Config::kPromotionK;
  };
  cute::clear(f.accum);
  int kb = 0;
  if constexpr (HeadIssued) {
    retire_one_partial(f, factors, smem);
    CUTE_UNROLL
    for (int in_stage = 1; in_stage < kBatchesPerStage; ++in_stage) {
      issue_one_partial<Config>(f, smem, st, factors, scales, n0, k_offset(0, in_stage), in_stage);
      retire_one_partial(f, factors, smem);
    }
    release_stage<Config>(smem, st, warp_leader);
    st.template advance<Config::kStages>();
    kb = 1;
  }
  for (; kb < k_blocks; ++kb) {
    smem.barriers.consumer_wait(st);
    CUTE_UNROLL
    for (int in_stage = 0; in_stage < kBatchesPerStage; ++in_stage) {
      issue_one_partial<Config>(f, smem, st, factors, scales, n0, k_offset(kb, in_stage), in_stage);
      retire_one_partial(f, factors, smem);
    }
    release_stage<Config>(smem, st, warp_leader);
    st.template advance<Config::kStages>();
  }
}

// One-partial kernels' mainloop and the head batch a deferred epilogue overlaps: in column halves where
// Config::kColumnHalves, else whole batches.
template <class Config, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void issue_one_partial_head(Frags& f, Smem& smem, PipelineState const& st, Factors& factors,
                                                       Scales const& scales, int n0, int k_offset) {
  if constexpr (Config::kColumnHalves) {
    issue_head_half<Config>(f, smem, st, factors, scales, n0, k_offset);
    if constexpr (kBothHalvesInHead<Config>) issue_half<1, Config>(f, __shfl_sync(0xffffffff, st.stage, 0), 0);
  } else {
    issue_one_partial<Config>(f, smem, st, factors, scales, n0, k_offset, 0);
  }
}

template <class Config, bool HeadIssued, class Frags, class Smem, class Scales, class Factors>
__device__ __forceinline__ void mainloop_one_partial(Frags& f, Smem& smem, PipelineState& st, Factors& factors,
                                                     int k_block_begin, int k_blocks, bool warp_leader,
                                                     Scales const& scales, int n0) {
  if constexpr (Config::kColumnHalves) {
    mainloop_promoted_halves<Config, HeadIssued>(f, smem, st, factors, k_block_begin, k_blocks, warp_leader, scales,
                                                 n0);
  } else {
    mainloop_promoted_one_partial<Config, HeadIssued>(f, smem, st, factors, k_block_begin, k_blocks, warp_leader,
                                                      scales, n0);
  }
}

// Fast accumulation: wgmma accumulates across all of K in `accum`; one stage's
// batch stays in flight and each stage is released once its batch retired.
template <class Config, class Frags, class Smem>
__device__ __forceinline__ void mainloop_fast(Frags& f, Smem& smem, PipelineState& st, int k_blocks,
                                              bool warp_leader) {
  using namespace cute;
  constexpr int kSteps = Config::kBlockK / 32;
  PipelineState release = st;
  warpgroup_fence_operand(f.accum);
  for (int kb = 0; kb < k_blocks; ++kb) {
    smem.barriers.consumer_wait(st);
    warpgroup_arrive();
    mma_ksteps<kSteps>(f.tiled_mma, f.tCrA, f.tCrB, f.accum, st.stage, 0, kb == 0);
    warpgroup_commit_batch();
    warpgroup_wait<1>();
    if (kb > 0) {
      release_stage<Config>(smem, release, warp_leader);
      release.template advance<Config::kStages>();
    }
    st.template advance<Config::kStages>();
  }
  warpgroup_wait<0>();
  warpgroup_fence_operand(f.accum);
  release_stage<Config>(smem, release, warp_leader);
}

// A consumer thread's view of the MMA: shared-memory descriptors and fragments.
template <class TiledMma, class FragA, class FragB, class Accum>
struct ConsumerFragments {
  TiledMma tiled_mma;
  FragA tCrA;
  FragB tCrB;
  Accum accum;
  Accum partial0;
  Accum partial1;
};

template <class TiledMma, class FragA, class FragB, class Accum>
__device__ __forceinline__ ConsumerFragments<TiledMma, FragA, FragB, Accum> make_consumer_fragments(
    TiledMma const& tiled_mma, FragA const& tCrA, FragB const& tCrB, Accum const& accum) {
  return {tiled_mma, tCrA, tCrB, accum, accum, accum};
}

// Tile counter increment with release and acquire semantics at GPU scope: after the named barrier that
// follows every thread's partial stores, it publishes them (release is cumulative) and, for the last
// arrival, makes every other split's published partials visible to the loads after the next barrier.
// It replaces two full fences (fence.sc.gpu) per split tile.
__device__ __forceinline__ int split_arrive(int* counter) {
  int arrived;
  asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], 1;" : "=r"(arrived) : "l"(counter) : "memory");
  return arrived;
}

// Split-K reduction: every split stores its fp32 partial tile; the split that
// arrives last at the tile's counter sums all partials in split order (the
// result does not depend on arrival order), resets the counter and returns
// true to run the epilogue; the others return false.
template <class Config, class Accum, class Smem>
__device__ __forceinline__ bool reduce_splits(Accum& accum, GemmProblem const& p, Smem& smem, WorkUnit const& unit,
                                              int consumer_thread) {
  constexpr int kThreads = 128 * Config::kConsumerWGs;
  constexpr int kElements = cute::size(Accum{});
  // Named barrier 0..ConsumerWGs-1 belong to the epilogue's warpgroups.
  constexpr int kBarrier = Config::kConsumerWGs;
  int64_t const tile_base = static_cast<int64_t>(unit.split_tile) * p.splits * kElements * kThreads;
  float* mine = p.split_partials + tile_base + static_cast<int64_t>(unit.split) * kElements * kThreads;
  CUTE_UNROLL
  for (int i = 0; i < kElements; ++i) __stcg(mine + i * kThreads + consumer_thread, accum(i));
  cutlass::arch::NamedBarrier::arrive_and_wait(kThreads, kBarrier);
  if (consumer_thread == 0) {
    int const arrived = split_arrive(p.split_arrivals + unit.split_tile);
    smem.split_is_last = arrived == p.splits - 1;
  }
  cutlass::arch::NamedBarrier::arrive_and_wait(kThreads, kBarrier);
  bool const last = smem.split_is_last;
  // Every thread has read the flag before the next tile's arrival may rewrite it.
  cutlass::arch::NamedBarrier::arrive_and_wait(kThreads, kBarrier);
  if (!last) return false;
  if (consumer_thread == 0) p.split_arrivals[unit.split_tile] = 0;  // ready for the next launch
  CUTE_UNROLL
  for (int i = 0; i < kElements; ++i) accum(i) = 0.f;
  for (int split = 0; split < p.splits; ++split) {
    float const* partial = p.split_partials + tile_base + static_cast<int64_t>(split) * kElements * kThreads;
    CUTE_UNROLL
    for (int i = 0; i < kElements; ++i) accum(i) += __ldcg(partial + i * kThreads + consumer_thread);
  }
  return true;
}

template <class Config, class Scales>
__device__ __forceinline__ void consume(SharedStorage<Config, Scales>& smem, GemmProblem const& p, Scales const& scales,
                                        fp8gen_epilogue_args const& epilogue_args, cute::TmaDescriptor const* tma_d,
                                        int consumer_thread) {
  using namespace cute;
  constexpr int BM = Config::kBlockM;
  constexpr int BN = Config::kBlockN;
  // Ping-pong: this consumer's index among the two, and its thread index within its own tile.
  int const consumer = consumer_thread / 128;
  int const mma_thread = Config::kPingPong ? consumer_thread % 128 : consumer_thread;
  typename Config::TiledMma tiled_mma;
  // SS wgmma operands are partitioned per warpgroup (every thread of one sees the same descriptors): slicing
  // with a warp-uniform index lets ptxas keep the descriptors in uniform registers.
  auto thr_mma = tiled_mma.get_thread_slice(__shfl_sync(0xffffffff, mma_thread / 128, 0) * 128);
  Tensor sA = make_tensor(make_smem_ptr(smem.a), typename Config::SmemLayoutA{});
  Tensor sB = make_tensor(make_smem_ptr(smem.b), typename Config::SmemLayoutB{});
  auto f = make_consumer_fragments(tiled_mma, thr_mma.make_fragment_A(thr_mma.partition_A(sA)),
                                   thr_mma.make_fragment_B(thr_mma.partition_B(sB)),
                                   partition_fragment_C(tiled_mma, Shape<Int<BM>, Int<BN>>{}));
  uint8_t* tile_smem = smem.d + (Config::kOutputTiles > 1 ? consumer * Config::OutputTile::kBytes : 0);

  bool const warp_leader = (consumer_thread % 32) == 0;
  WorkScheduler const sched = p.scheduler<Config>();
  PipelineState st;
  using Epilogue = typename Config::Epilogue;
  epilogue::Context ctx =
      Epilogue::template make_context<is_fp8_output<typename Config::ElementD>()>(epilogue_args, p.M, p.N);
  if constexpr (Config::kGrouping == Grouping::Contiguous) ctx.row_groups = p.group_info;
  ctx.column_tile = smem.epilogue_columns[consumer].address();

  // Ping-pong: units alternate between the consumers, and so do their mainloops. A consumer steps over
  // the other's stages without waiting on them; were it to start its own mainloop while the other's was
  // still being loaded, it could wait on a stage a whole ring ahead of the producer, and an mbarrier's
  // parity wait takes a phase two behind for the one awaited. Taking turns at the tensor cores keeps it
  // within one ring; each epilogue still overlaps the other consumer's mainloop.
  int turn = 0;
  uint32_t turn_phase = 0;
  uint32_t factor_phase = 0;  // tiles whose epilogue factors and columns this consumer staged, mod 2
  if constexpr (Config::kPingPong) {
    if (consumer == 1) smem.mainloop_turn[0].arrive();  // consumer 0 takes the first unit
  }
  using Factors = KGroupFactors<Config, Scales, decltype(f.accum)>;
  Factors factors(wgmma_thread_row0(mma_thread), wgmma_thread_col0(mma_thread));
  // Before a tile's mainloop: the epilogue's inputs are prefetched and per-row factors copied meanwhile.
  auto const begin_tile = [&](TileCoord const& t, Scales const& tile_scales, int group) {
    ctx.row_limit = p.row_limit<Config>(group);
    if constexpr (Config::kGrouping != Grouping::None) ctx.bias_offset = group * epilogue_args.bias_stride_group;
    Epilogue::template prefetch<BM, BN>(ctx, t.m_block * BM, t.n_block * BN, mma_thread, 128 * Config::kMmaWGs);
    Epilogue::stage(ctx, smem.epilogue_columns[consumer], t.n_block * BN, consumer_thread % 128);
    smem.epilogue_factors[consumer].load(tile_scales, t.m_block * BM, t.n_block * BN, Config::kPingPong ? 0 : consumer,
                                         consumer_thread % 128);
  };
  auto const store_tile = [&](TileCoord const& t, Scales const& tile_scales) {
    store_tile_tma<typename Config::OutputTile, Config::kMmaWGs, BN, Epilogue, Config::kGrouping != Grouping::None>(
        f.accum, tile_scales, smem.epilogue_factors[consumer], ctx, tma_d, tile_smem, mma_thread, consumer,
        t.m_block * BM, t.n_block * BN);
  };
  auto const wait_factors = [&] {
    smem.epilogue_factors[consumer].wait(factor_phase);  // long since copied: the mainloop overlapped it
    smem.epilogue_columns[consumer].wait(factor_phase);
    factor_phase ^= 1u;
  };
  // Deferred epilogue (whole tiles of cooperative kernels with per-tensor scales): a finished tile's
  // epilogue runs after the next tile's first MMA batch is issued, so the tensor cores work through part
  // of it (they idled through all of it: 6-9% of a long-K GEMM's time, measured by removing the epilogue).
  // One-partial kernels (128x192, 128x176) with a deferrable chain: +3-6% where the next tile has at least
  // kMinDeferKBlocks K blocks; per-row -0.5%, block scales -3%, K = 512 -4% (docs/performance.md,
  // 2026-12-01). Chains of ops qualify since the column bias is staged in shared memory (its registers
  // spilled), for 16-bit and FP8 outputs (float32 outputs' chains spilled 4-16 registers at 128x192).
  // Two-partial 128x128 kernels without a chain, 16-bit outputs: +1.4-8% where K >= 1536 (K = 512: -1-3%);
  // per-row and block scales, bias and gelu_tanh chains, and the narrower decode tiles measured slower or no
  // faster (docs/performance.md, 2026-12-04 sixth session). (FP8 outputs not timed.)
  constexpr bool kPerTensor = Scales::A::kKind == ScaleKind::Tensor && Scales::B::kKind == ScaleKind::Tensor;
  constexpr bool kDeferrableOutput = Epilogue::kOps == 0 || (Epilogue::kDeferrable && sizeof(typename Config::ElementD) < 4);
  constexpr bool kDeferTwoPartials = BM == 128 && BN == 128 && Epilogue::kOps == 0 && sizeof(typename Config::ElementD) == 2;
  constexpr bool kDeferEpilogue =
      !Config::kPingPong && Config::kAccumulation == Accumulation::Promoted && Config::kGrouping == Grouping::None &&
      kPerTensor && (Config::kPartials == 1 ? kDeferrableOutput : kDeferTwoPartials);
  constexpr int kMinDeferKBlocks = 8;
  bool pending = false;  // a finished tile (`prev`) awaits its epilogue
  TileCoord prev{};
  auto const store_pending = [&] {
    wait_factors();
    store_tile(prev, scales);
  };
  for (int u = sched.first_unit(); u < sched.num_units(); u += sched.unit_stride()) {
    WorkUnit const unit = sched.unit(u);
    TileCoord const t = unit.tile_coord;
    int const group = p.group_of<Config>(t.m_block);
    if (group < 0) continue;
    if constexpr (kDeferEpilogue) {
      if (!sched.is_split(u)) {
        auto const previous_epilogue = [&] {
          store_pending();
          begin_tile(t, scales, group);
        };
        // (The mainloop dispatch below repeats the one after this block: sharing it through a generic lambda
        // changed ptxas's schedule of most kernels (39 of 50 compiled), deferring or not.)
        if (pending && unit.k_blocks >= kMinDeferKBlocks) {
          if constexpr (Config::kPartials == 1) {
            smem.barriers.consumer_wait(st);
            issue_one_partial_head<Config>(f, smem, st, factors, scales, t.n_block * BN, unit.k_block_begin * Config::kBlockK);
            previous_epilogue();
            mainloop_one_partial<Config, true>(f, smem, st, factors, unit.k_block_begin, unit.k_blocks,
                                               warp_leader, scales, t.n_block * BN);
          } else {
            mainloop_promoted<Config, true>(f, smem, st, unit.k_block_begin, unit.k_blocks, warp_leader, scales,
                                            mma_thread, t.n_block * BN, previous_epilogue);
          }
        } else {
          if (pending) store_pending();
          begin_tile(t, scales, group);
          if constexpr (Config::kPartials == 1) {
            mainloop_one_partial<Config, false>(f, smem, st, factors, unit.k_block_begin, unit.k_blocks,
                                                warp_leader, scales, t.n_block * BN);
          } else {
            mainloop_promoted<Config, false>(f, smem, st, unit.k_block_begin, unit.k_blocks, warp_leader, scales,
                                             mma_thread, t.n_block * BN, [] {});
          }
        }
        prev = t;
        pending = true;
        // Two-partial kernels: a tile too short to defer into stores its own epilogue at once (128x128 at
        // K = 512: 4.7% slower than before the deferral when left pending, 1-3% when stored at once).
        if (Config::kPartials == 2 && unit.k_blocks < kMinDeferKBlocks) {
          store_pending();
          pending = false;
        }
        continue;
      }
      if (pending) store_pending();  // a split unit follows: it uses the accumulators from its first MMA
      pending = false;
    }
    if (Config::kPingPong && (turn++ % 2) != consumer) {
      st.template advance_by<Config::kStages>(unit.k_blocks);  // the other consumer's stages
      continue;
    }
    // B's scales of this expert. Set up before a ping-pong consumer waits for its turn, while the other's
    // mainloop still runs.
    Scales const tile_scales = Config::kGrouping == Grouping::None ? scales : scales.for_group(group);
    begin_tile(t, tile_scales, group);
    if constexpr (Config::kPingPong) {
      smem.mainloop_turn[consumer].wait(turn_phase);
      turn_phase ^= 1u;
    }
    if constexpr (Config::kAccumulation == Accumulation::Promoted && Config::kPartials == 1) {
      mainloop_one_partial<Config, false>(f, smem, st, factors, unit.k_block_begin, unit.k_blocks, warp_leader,
                                          tile_scales, t.n_block * BN);
    } else if constexpr (Config::kAccumulation == Accumulation::Promoted) {
      mainloop_promoted<Config, false>(f, smem, st, unit.k_block_begin, unit.k_blocks, warp_leader, tile_scales,
                                       mma_thread, t.n_block * BN, [] {});
    } else {
      mainloop_fast<Config>(f, smem, st, unit.k_blocks, warp_leader);
    }
    if constexpr (Config::kPingPong) smem.mainloop_turn[consumer ^ 1].arrive();
    wait_factors();
    // Split-K's reduction synchronizes both consumers on one tile: cooperative kernels only (the host
    // never splits a ping-pong kernel's K).
    if constexpr (!Config::kPingPong) {
      if (sched.is_split(u) && !reduce_splits<Config>(f.accum, p, smem, unit, consumer_thread)) continue;
    }
    store_tile(t, tile_scales);
  }
  if (pending) store_pending();
  Epilogue::flush(ctx);
  // Shared memory must stay valid until the last TMA store has read it.
  if (consumer_thread % 128 == 0) cute::tma_store_wait<0>();
}

// With M below one tile the host's A descriptor covers only the M rows (a_box_rows < BlockM): the TMA then
// never zero-fills rows past M, which measured up to 40% slower on narrow decode tiles (33x2112x7168 with
// 64x16 tiles; docs/performance.md, 2026-12-04 third session). The rows no load writes are zeroed here
// once, so the MMA reads the zeros a full box would have brought.
template <class Config, class Smem>
__device__ __forceinline__ void zero_unloaded_a_rows(Smem& smem, int a_box_rows) {
  static_assert(sizeof(typename Config::ElementA) == 1, "A is fp8");
  if constexpr (!Config::kNarrowsA) return;
  if (a_box_rows >= Config::kBlockM) return;  // (the same for every thread: the barrier below is safe)
  constexpr int kStageChunks = Config::kBlockM * Config::kBlockK / 16;  // 16-byte chunks of one stage's tile
  // Rows are BlockK contiguous bytes each under the 128B/64B swizzle (it permutes chunks within a row).
  int const first = a_box_rows * Config::kBlockK / 16;
  int const per_stage = kStageChunks - first;
  auto* chunks = reinterpret_cast<uint4*>(smem.a);
  for (int i = threadIdx.x; i < Config::kStages * per_stage; i += blockDim.x) {
    chunks[(i / per_stage) * kStageChunks + first + i % per_stage] = make_uint4(0, 0, 0, 0);
  }
  cutlass::arch::fence_view_async_shared();  // visible to the wgmma (async proxy) reads
  __syncthreads();
}

template <int ClusterSize>
__device__ __forceinline__ void sync_cluster() {
  if constexpr (ClusterSize == 1) {
    __syncthreads();
  } else {
    cute::cluster_arrive_relaxed();
    cute::cluster_wait();
  }
}

template <class Config, class Scales>
__device__ __forceinline__ void gemm_kernel(cute::TmaDescriptor const* tma_a, cute::TmaDescriptor const* tma_b,
                                            cute::TmaDescriptor const* tma_scale_a, cute::TmaDescriptor const* tma_scale_b,
                                            cute::TmaDescriptor const* tma_d,
                                            Scales const& scales,
                                            GemmProblem const& p, fp8gen_epilogue_args const& epilogue_args) {
  extern __shared__ uint8_t raw_smem[];
  // The 128B/64B TMA swizzle pattern is a function of the shared address,
  // so the operand tiles must start on a 1024-byte boundary.
  auto& smem = *reinterpret_cast<SharedStorage<Config, Scales>*>(
      (reinterpret_cast<uintptr_t>(raw_smem) + 1023) & ~uintptr_t(1023));

  int const warpgroup = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    cute::prefetch_tma_descriptor(tma_a);
    cute::prefetch_tma_descriptor(tma_b);
    if constexpr (Config::StagedA::kGroups > 0) cute::prefetch_tma_descriptor(tma_scale_a);
    if constexpr (Config::StagedB::kGroups > 0) cute::prefetch_tma_descriptor(tma_scale_b);
    cute::prefetch_tma_descriptor(tma_d);
    if constexpr (Config::kPingPong) {
      smem.mainloop_turn[0].init(128);
      smem.mainloop_turn[1].init(128);
    }
    using Barriers = StageBarriers<Config::kStages>;
    for (auto& factors : smem.epilogue_factors) factors.init();  // (published by the fence in barriers.init)
    for (auto& columns : smem.epilogue_columns) columns.init();
    smem.barriers.init(Barriers::template release_arrivals<Config::kClusterM, Config::kReleaseEveryThread>(Config::kMmaWGs));
  }
  zero_unloaded_a_rows<Config>(smem, p.a_box_rows);
  // Peers multicast into this CTA's stages and arrive on its barriers: all
  // must see every barrier initialized, and none may exit while a peer still can.
  sync_cluster<Config::kClusterM>();
  // Programmatic dependent launch (the host's launch attribute; without it both are no-ops): the set-up
  // above overlapped the previous kernel's last CTAs, and no global memory is read or written before the
  // previous kernel has finished and flushed. The next kernel may be scheduled at once: it takes an SM only
  // as one of this kernel's CTAs leaves it (one CTA fills an SM), and waits the same way.
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");

  if (warpgroup == 0) {
    cutlass::arch::warpgroup_reg_dealloc<Config::kProducerRegs>();
    if (threadIdx.x == 0) produce<Config>(tma_a, tma_b, tma_scale_a, tma_scale_b, smem, p, scales);
  } else {
    cutlass::arch::warpgroup_reg_alloc<Config::kConsumerRegs>();
    consume<Config>(smem, p, scales, epilogue_args, tma_d, threadIdx.x - 128);
  }
  if constexpr (Config::kClusterM > 1) sync_cluster<Config::kClusterM>();
}

}  // namespace fp8gen
