// Copies from global to shared memory that complete on an mbarrier, so that a
// consumer can start them when a tile starts and wait for them in its epilogue.
// (A cp.async wait_group would also wait for the thread's TMA stores of the
// previous tile to reach global memory: one scoreboard tracks both.)
#pragma once

#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/config.hpp>

namespace fp8gen {

// cp.async of one Bytes-wide (4, 8 or 16) aligned piece from global to shared memory, zero-filled unless
// `inside` (`src` must be a valid address either way); skipped unless `active` (a predicate on the
// instruction, not a branch).
template <int Bytes = 4>
__device__ __forceinline__ void copy_async(void* dst, void const* src, bool inside, bool active = true) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
  asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %4, 0;\n @p cp.async.ca.shared.global [%0], [%1], %2, %3;\n}\n"
               ::"r"(cute::cast_smem_ptr_to_uint(dst)), "l"(src), "n"(Bytes), "r"(inside ? Bytes : 0),
               "r"(int(active)));
}

// The calling thread's arrival on `barrier` once its cp.async copies so far have landed. NoInc: the
// arrival counts against the barrier's expected count (one per thread); otherwise it leaves the count
// unchanged (another arrival, the TMA's, completes the phase).
template <bool NoInc>
__device__ __forceinline__ void arrive_when_copied(void* barrier) {
  if constexpr (NoInc) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(cute::cast_smem_ptr_to_uint(barrier)));
  } else {
    asm volatile("cp.async.mbarrier.arrive.shared::cta.b64 [%0];" ::"r"(cute::cast_smem_ptr_to_uint(barrier)));
  }
}

}  // namespace fp8gen
