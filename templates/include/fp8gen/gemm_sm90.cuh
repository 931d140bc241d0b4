// Persistent, warp-specialized FP8 GEMM for sm_90a:
//   D(M, N) = scale(m, n) * sum_k A(m, k) * B(n, k)
// A is (M, K) and B is (N, K), both K-major (row-major A, "TN" GEMM).
//
// Warpgroup 0 is the producer: one thread issues TMA loads of A and B tiles
// into a ring of shared-memory stages. Warpgroups 1..ConsumerWGs are
// consumers: together they own a BM x BN output tile (each 1/ConsumerWGs of
// its rows), issue FP8 wgmma on each stage and run the epilogue.
#pragma once

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

template <class ElementA_, class ElementB_, class ElementD_, int BlockM, int BlockN, int BlockK, int Stages_,
          int ConsumerWGs, Accumulation Accum_, int PromotionK, int GroupM, int ProducerRegs, int ConsumerRegs,
          class ElementScaleB_ = float, int StagedGroupsB = 0>
struct GemmConfig {
  using ElementA = ElementA_;
  using ElementB = ElementB_;
  using ElementD = ElementD_;
  static constexpr int kBlockM = BlockM;
  static constexpr int kBlockN = BlockN;
  static constexpr int kBlockK = BlockK;
  static constexpr int kStages = Stages_;
  static constexpr int kConsumerWGs = ConsumerWGs;
  static constexpr Accumulation kAccumulation = Accum_;
  // wgmma k-steps (32 elements of K each) accumulated inside the tensor core before promotion.
  static constexpr int kPromotionK = PromotionK;
  static constexpr int kPromotionSteps = PromotionK / 32;
  static_assert(PromotionK % 32 == 0 && BlockK % PromotionK == 0, "promotion interval must divide BlockK");
  static constexpr int kGroupM = GroupM;
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
                           cute::Shape<cute::Int<BlockM / ConsumerWGs>, cute::Int<BlockN>, cute::Int<BlockK>>>());
  using TiledMma = decltype(cute::make_tiled_mma(
      MmaAtom{}, cute::Layout<cute::Shape<cute::Int<ConsumerWGs>, cute::_1, cute::_1>>{}));

  // Per-column B scales (1 x G groups of B) travel with each stage: StagedGroupsB
  // K groups x BlockN columns, loaded by TMA from an N-contiguous scale tensor.
  using ElementScaleB = ElementScaleB_;
  static constexpr int kStagedGroupsB = StagedGroupsB;
  static constexpr int kStageBytesA = BlockM * BlockK * sizeof(ElementA);
  static constexpr int kStageBytesB = BlockN * BlockK * sizeof(ElementB);
  // TMA writes shared memory at 128-byte aligned addresses: pad each stage's scales to that.
  static constexpr int kStageBytesScaleB = (StagedGroupsB * BlockN * int(sizeof(ElementScaleB_)) + 127) / 128 * 128;
  static constexpr int kStagedScaleStride = kStageBytesScaleB / int(sizeof(ElementScaleB_));
  // Bytes the TMA loads of one stage deliver (the transaction count of its full barrier).
  static constexpr int kStageTxBytes =
      kStageBytesA + kStageBytesB + StagedGroupsB * BlockN * int(sizeof(ElementScaleB_));
};

// Per-stage copies of per-column B scales; empty when the recipe has none.
template <class Element, int Elements>
struct StagedScaleBuffer {
  alignas(128) Element data[Elements];
};

template <class Element>
struct StagedScaleBuffer<Element, 0> {
  Element* data = nullptr;
};

template <class Config>
struct SharedStorage {
  alignas(1024) typename Config::ElementA a[cute::cosize_v<typename Config::SmemLayoutA>];
  alignas(1024) typename Config::ElementB b[cute::cosize_v<typename Config::SmemLayoutB>];
  StagedScaleBuffer<typename Config::ElementScaleB, Config::kStages * Config::kStagedScaleStride> b_scales;
  StageBarriers<Config::kStages> barriers;

  __device__ __forceinline__ typename Config::ElementScaleB* staged_scales_b(int stage) {
    return b_scales.data + stage * Config::kStagedScaleStride;
  }
  __device__ __forceinline__ typename Config::ElementScaleB const* staged_scales_b(int stage, int group) const {
    return b_scales.data + stage * Config::kStagedScaleStride + group * Config::kBlockN;
  }
};

struct GemmProblem {
  int M;
  int N;
  int K;
  int ldd;
};

template <class Config>
__device__ __forceinline__ void produce(cute::TmaDescriptor const* tma_a, cute::TmaDescriptor const* tma_b,
                                        cute::TmaDescriptor const* tma_scale_b, SharedStorage<Config>& smem,
                                        GemmProblem const& p) {
  TileScheduler const sched(p.M, p.N, Config::kBlockM, Config::kBlockN, Config::kGroupM);
  int const k_blocks = (p.K + Config::kBlockK - 1) / Config::kBlockK;
  uint64_t const cache_hint = static_cast<uint64_t>(cute::TMA::CacheHintSm90::EVICT_NORMAL);
  PipelineState st;
  for (int tile = blockIdx.x; tile < sched.num_tiles(); tile += gridDim.x) {
    TileCoord const t = sched.coord(tile);
    for (int kb = 0; kb < k_blocks; ++kb) {
      smem.barriers.producer_acquire(st, Config::kStageTxBytes);
      uint64_t* full = smem.barriers.full_barrier(st);
      int const k = kb * Config::kBlockK;
      cute::SM90_TMA_LOAD_2D::copy(tma_a, full, cache_hint,
                                   smem.a + st.stage * (Config::kBlockM * Config::kBlockK), k,
                                   t.m_block * Config::kBlockM);
      cute::SM90_TMA_LOAD_2D::copy(tma_b, full, cache_hint,
                                   smem.b + st.stage * (Config::kBlockN * Config::kBlockK), k,
                                   t.n_block * Config::kBlockN);
      if constexpr (Config::kStagedGroupsB > 0) {
        cute::SM90_TMA_LOAD_2D::copy(tma_scale_b, full, cache_hint,
                                     smem.staged_scales_b(st.stage),
                                     t.n_block * Config::kBlockN, kb * Config::kStagedGroupsB);
      }
      st.template advance<Config::kStages>();
    }
  }
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
template <class Config, class Frags, class Smem, class Scales, class Coords>
__device__ __forceinline__ void mainloop_promoted(Frags& f, Smem& smem, PipelineState& st, int k_blocks,
                                                  bool warp_leader, Scales const& scales, Coords const& coords,
                                                  int thread_col0, int m0, int n0) {
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
  Factors factors0(thread_col0);
  Factors factors1(thread_col0);
  // Batch `batch` of this tile, number in_stage of its stage, into `partial`.
  auto issue = [&](auto& partial, Factors& factors, int in_stage, int batch) {
    if (in_stage == 0) smem.barriers.consumer_wait(st);
    warpgroup_fence_operand(partial);
    warpgroup_arrive();
    mma_ksteps<kSteps>(f.tiled_mma, f.tCrA, f.tCrB, partial, st.stage, in_stage * kSteps, true);
    warpgroup_commit_batch();
    factors.load(scales, coords, m0, n0, batch * Config::kPromotionK, st.stage);
    if (in_stage == kBatchesPerStage - 1) st.template advance<Config::kStages>();
  };
  auto retire = [&](auto& partial, Factors const& factors, int in_stage) {
    warpgroup_fence_operand(partial);
    bool const last_in_stage = in_stage == kBatchesPerStage - 1;
    // Staged B scales live in the stage: read them before it is released.
    if constexpr (Factors::kStagedB) factors.apply(f.accum, partial, scales, coords, smem);
    if (last_in_stage) {
      smem.barriers.consumer_release(release, warp_leader);
      release.template advance<Config::kStages>();
    }
    if constexpr (!Factors::kStagedB) factors.apply(f.accum, partial, scales, coords, smem);
  };
  clear(f.accum);
  issue(f.partial0, factors0, 0, 0);
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
      smem.barriers.consumer_release(release, warp_leader);
      release.template advance<Config::kStages>();
    }
    st.template advance<Config::kStages>();
  }
  warpgroup_wait<0>();
  warpgroup_fence_operand(f.accum);
  smem.barriers.consumer_release(release, warp_leader);
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

template <class Config, class Scales>
__device__ __forceinline__ void consume(SharedStorage<Config>& smem, GemmProblem const& p, Scales const& scales,
                                        typename Config::ElementD* d, int consumer_thread) {
  using namespace cute;
  constexpr int BM = Config::kBlockM;
  constexpr int BN = Config::kBlockN;
  typename Config::TiledMma tiled_mma;
  auto thr_mma = tiled_mma.get_thread_slice(consumer_thread);
  Tensor sA = make_tensor(make_smem_ptr(smem.a), typename Config::SmemLayoutA{});
  Tensor sB = make_tensor(make_smem_ptr(smem.b), typename Config::SmemLayoutB{});
  auto f = make_consumer_fragments(tiled_mma, thr_mma.make_fragment_A(thr_mma.partition_A(sA)),
                                   thr_mma.make_fragment_B(thr_mma.partition_B(sB)),
                                   partition_fragment_C(tiled_mma, Shape<Int<BM>, Int<BN>>{}));
  Tensor coords = thr_mma.partition_C(make_identity_tensor(Shape<Int<BM>, Int<BN>>{}));

  bool const warp_leader = (consumer_thread % 32) == 0;
  int const thread_col0 = wgmma_thread_col0(consumer_thread);
  TileScheduler const sched(p.M, p.N, BM, BN, Config::kGroupM);
  int const k_blocks = (p.K + Config::kBlockK - 1) / Config::kBlockK;
  PipelineState st;

  for (int tile = blockIdx.x; tile < sched.num_tiles(); tile += gridDim.x) {
    TileCoord const t = sched.coord(tile);
    if constexpr (Config::kAccumulation == Accumulation::Promoted) {
      mainloop_promoted<Config>(f, smem, st, k_blocks, warp_leader, scales, coords, thread_col0, t.m_block * BM,
                                t.n_block * BN);
    } else {
      mainloop_fast<Config>(f, smem, st, k_blocks, warp_leader);
    }
    store_tile(f.accum, coords, scales, d, p.ldd, p.M, p.N, t.m_block * BM, t.n_block * BN);
  }
}

template <class Config, class Scales>
__device__ __forceinline__ void gemm_kernel(cute::TmaDescriptor const* tma_a, cute::TmaDescriptor const* tma_b,
                                            cute::TmaDescriptor const* tma_scale_b,
                                            typename Config::ElementD* d, Scales const& scales,
                                            GemmProblem const& p) {
  extern __shared__ uint8_t raw_smem[];
  // The 128B/64B TMA swizzle pattern is a function of the shared address,
  // so the operand tiles must start on a 1024-byte boundary.
  auto& smem = *reinterpret_cast<SharedStorage<Config>*>(
      (reinterpret_cast<uintptr_t>(raw_smem) + 1023) & ~uintptr_t(1023));

  int const warpgroup = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    cute::prefetch_tma_descriptor(tma_a);
    cute::prefetch_tma_descriptor(tma_b);
    if constexpr (Config::kStagedGroupsB > 0) cute::prefetch_tma_descriptor(tma_scale_b);
    smem.barriers.init(Config::kConsumerWGs * 4);
  }
  __syncthreads();

  if (warpgroup == 0) {
    cutlass::arch::warpgroup_reg_dealloc<Config::kProducerRegs>();
    if (threadIdx.x == 0) produce<Config>(tma_a, tma_b, tma_scale_b, smem, p);
  } else {
    cutlass::arch::warpgroup_reg_alloc<Config::kConsumerRegs>();
    consume<Config>(smem, p, scales, d, threadIdx.x - 128);
  }
}

}  // namespace fp8gen
