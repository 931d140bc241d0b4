// Shared-memory ring of operand stages guarded by mbarriers.
//
// Each stage has a "full" transaction barrier (the producer's TMA loads, and
// its cp.async copies where a recipe stages scales that way, complete it) and
// an "empty" barrier (the consumers arrive on it once their wgmma reads of the
// stage are done). Stage index and phase bit advance
// together so producer and consumers walk the ring in lockstep.
#pragma once

#include <cutlass/arch/barrier.h>

namespace fp8gen {

struct PipelineState {
  int stage = 0;
  uint32_t phase = 0;

  template <int Stages>
  __device__ __forceinline__ void advance() {
    if (++stage == Stages) {
      stage = 0;
      phase ^= 1u;
    }
  }

  // `steps` advances at once (a ping-pong consumer stepping over the other's stages).
  template <int Stages>
  __device__ __forceinline__ void advance_by(int steps) {
    int const next = stage + steps;
    phase ^= static_cast<uint32_t>(next / Stages) & 1u;
    stage = next % Stages;
  }
};

template <int Stages>
struct StageBarriers {
  cutlass::arch::ClusterTransactionBarrier full[Stages];
  cutlass::arch::ClusterBarrier empty[Stages];

  // Called by one thread before the block- or cluster-wide barrier that publishes them.
  __device__ __forceinline__ void init(int consumer_arrivals) {
    for (int s = 0; s < Stages; ++s) {
      full[s].init(1);
      empty[s].init(consumer_arrivals);
    }
    cutlass::arch::fence_barrier_init();
  }

  // Producer: wait until the consumers freed the slot ...
  __device__ __forceinline__ void producer_wait_empty(PipelineState const& st) { empty[st.stage].wait(st.phase ^ 1u); }

  // ... then (after any cp.async copies into it and their barrier arrive) announce the bytes the TMA
  // loads will deliver into it.
  __device__ __forceinline__ void producer_expect(PipelineState const& st, uint32_t bytes) {
    full[st.stage].arrive_and_expect_tx(bytes);
  }

  __device__ __forceinline__ uint64_t* full_barrier(PipelineState const& st) {
    return reinterpret_cast<uint64_t*>(&full[st.stage]);
  }

  __device__ __forceinline__ void consumer_wait(PipelineState const& st) {
    full[st.stage].wait(st.phase);
  }

  // Arrivals on a stage's empty barrier per phase (see consumer_release).
  template <int ClusterSize, bool EveryThread>
  static constexpr int release_arrivals(int mma_warpgroups) {
    return EveryThread ? 128 * mma_warpgroups : 4 * mma_warpgroups * ClusterSize;
  }

  // After a consumer's wgmma reads of the stage completed. One arrival per
  // warp, on the stage's empty barrier in every CTA of the cluster: each
  // CTA's producer multicasts into all of them, so it waits for all their
  // consumers. EveryThread (no cluster): every consumer thread arrives, for
  // kernels that read staged scales from the stage before releasing it:
  // there the branch around a per-warp arrive is a divergent path inside the
  // wgmma pipeline that makes ptxas serialize every wgmma (C7518), and a
  // predicated arrive makes it rebuild the wgmma descriptors after each
  // barrier wait. Elsewhere the per-warp arrive measured 2.5-5% faster.
  template <int ClusterSize, bool EveryThread>
  __device__ __forceinline__ void consumer_release(PipelineState const& st, bool is_warp_leader) {
    static_assert(!EveryThread || ClusterSize == 1, "clusters release per warp");
    if constexpr (EveryThread) {
      empty[st.stage].arrive();
    } else if constexpr (ClusterSize == 1) {
      if (is_warp_leader) empty[st.stage].arrive();
    } else {
      CUTE_UNROLL
      for (int cta = 0; cta < ClusterSize; ++cta) empty[st.stage].arrive(cta, is_warp_leader);
    }
  }
};

}  // namespace fp8gen
