// Shared-memory ring of operand stages guarded by mbarriers.
//
// Each stage has a "full" transaction barrier (the producer's TMA loads
// complete it) and an "empty" barrier (every consumer warp arrives on it once
// its wgmma reads of the stage are done). Stage index and phase bit advance
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

  // Producer: wait until consumers freed the slot, then announce the bytes
  // the TMA loads will deliver into it.
  __device__ __forceinline__ void producer_acquire(PipelineState const& st, uint32_t bytes) {
    empty[st.stage].wait(st.phase ^ 1u);
    full[st.stage].arrive_and_expect_tx(bytes);
  }

  __device__ __forceinline__ uint64_t* full_barrier(PipelineState const& st) {
    return reinterpret_cast<uint64_t*>(&full[st.stage]);
  }

  __device__ __forceinline__ void consumer_wait(PipelineState const& st) {
    full[st.stage].wait(st.phase);
  }

  // One arrival per consumer warp, after that warp's wgmma reads completed,
  // on the stage's empty barrier in every CTA of the cluster: each CTA's
  // producer multicasts into all of them, so it waits for all their consumers.
  template <int ClusterSize>
  __device__ __forceinline__ void consumer_release(PipelineState const& st, bool is_warp_leader) {
    if constexpr (ClusterSize == 1) {
      if (is_warp_leader) empty[st.stage].arrive();
    } else {
      CUTE_UNROLL
      for (int cta = 0; cta < ClusterSize; ++cta) empty[st.stage].arrive(cta, is_warp_leader);
    }
  }
};

}  // namespace fp8gen
