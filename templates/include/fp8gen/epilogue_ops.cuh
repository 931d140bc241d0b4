// Ops of the epilogue chain. Each one transforms the fp32 values of one
// column pair of the tile (row m, columns n and n + 1) in place; a chain is a
// list of ops applied in order (Chain<Ops...>). Rows and columns past M and N
// are visited too: loads for them are skipped and they never reach amax or
// the group scales (TMA clips them from the stored tile).
//
// Ops that read memory load everything a thread needs for a tile before the
// arithmetic (Op::Inputs::load), so the loads are in flight together rather
// than each waiting in turn inside it: residuals and row biases into
// registers, the column bias into shared memory when the tile starts
// (Op::SharedTile, Op::stage).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cutlass/arch/barrier.h>

#include "fp8gen/async_copy.cuh"
#include "fp8gen/epilogue_args.h"
#include "fp8gen/fragment.cuh"

namespace fp8gen {
namespace epilogue {

// A consumer thread's epilogue state, made once per kernel; the per-tile fields (row_limit, bias_offset)
// are set by the consumer before each tile.
struct Context {
  // True for rows a grouped kernel writes as zeros instead of computing: a masked expert's rows past
  // its count, and padding rows (expert -1) of the contiguous layout.
  __device__ __forceinline__ bool padding_row(int m) const {
    return m >= row_limit || (row_groups != nullptr && m < M && __ldg(row_groups + m) < 0);
  }

  fp8gen_epilogue_args const& args;  // the kernel's __grid_constant__ parameter: read in place, not copied
  int M;
  int N;
  int row_limit;  // rows at or past it are not part of the output (masked grouped GEMM); else M
  int const* row_groups;  // contiguous grouped GEMM: each row's expert, -1 for padding rows; else null
  long long bias_offset;  // grouped GEMM: the current expert's column bias, in elements from args.bias
  uint32_t column_tile;   // shared address of this consumer's SharedTile (staged column vector), if any
  float alpha;
  float out_scale_inv;
  uint32_t amax_bits;  // bits of max |x| so far: for non-negative floats, integer order is float order (NaN wins)
  bool bias_pairs;     // a column pair of the bias (or residual row) is one aligned vector load
  bool residual_pairs;
};

// Where a thread's fragment slots lie in the tile (see fragment.cuh).
template <int ConsumerWGs, int BlockN, class Accum>
struct TileSlots {
  using Shape = FragmentShape<Accum>;
  static constexpr int kM = Shape::kM;
  static constexpr int kN = Shape::kN;
  static constexpr int kV = Shape::kV;
  static constexpr int kBlockN = BlockN;
  __device__ __forceinline__ static int row(int mm, int r) { return row_offset<ConsumerWGs>(mm, r); }
  __device__ __forceinline__ static int col(int nn, int v) { return col_offset<BlockN, Accum>(nn, v, 0); }
};

// One column pair of one row slot: fragment indices and the output coordinates.
struct Where {
  int mm, r, nn, v;
  int m, n;
};

__device__ __forceinline__ float load_float(float const* p) { return __ldg(p); }
__device__ __forceinline__ float load_float(__nv_bfloat16 const* p) { return __bfloat162float(__ldg(p)); }
__device__ __forceinline__ float load_float(__half const* p) { return __half2float(__ldg(p)); }

// Two adjacent elements as one register value (converted to float2 at use).
template <class T>
struct PairOf;
template <>
struct PairOf<float> {
  using type = float2;
  __device__ __forceinline__ static float2 make(float a, float b) { return make_float2(a, b); }
  __device__ __forceinline__ static float2 to_float2(float2 p) { return p; }
};
template <>
struct PairOf<__nv_bfloat16> {
  using type = __nv_bfloat162;
  __device__ __forceinline__ static type make(__nv_bfloat16 a, __nv_bfloat16 b) { return __halves2bfloat162(a, b); }
  __device__ __forceinline__ static float2 to_float2(type p) { return __bfloat1622float2(p); }
};
template <>
struct PairOf<__half> {
  using type = __half2;
  __device__ __forceinline__ static type make(__half a, __half b) { return __halves2half2(a, b); }
  __device__ __forceinline__ static float2 to_float2(type p) { return __half22float2(p); }
};

// Elements (n, n + 1) of a vector with element stride `stride`, unconverted.
// Indices are clamped into [0, N) instead of branched on: a branch around
// each load makes every load wait for the one before. Columns past N get
// some in-range value, which only reaches output columns that TMA clips
// (amax and group scales skip them). Vector: stride 1, an aligned base
// and an even N, so that both elements come in one load.
template <bool Vector, class T>
__device__ __forceinline__ typename PairOf<T>::type load_pair(T const* base, long long stride, int n, int N) {
  if constexpr (Vector) return __ldg(reinterpret_cast<typename PairOf<T>::type const*>(base + min(n, N - 2)));
  return PairOf<T>::make(__ldg(base + min(n, N - 1) * stride), __ldg(base + min(n + 1, N - 1) * stride));
}

template <class T>
__device__ __forceinline__ bool pairs_load_whole(void const* base, long long stride, int N) {
  return stride == 1 && N % 2 == 0 && reinterpret_cast<uintptr_t>(base) % (2 * sizeof(T)) == 0;
}

// Pull the 128-byte line holding `p` into L2 ahead of the epilogue's loads, so that they do not wait on
// DRAM while the tensor cores idle. evict_last: a small vector that must survive the operands streaming
// through L2 during the tile's mainloop.
__device__ __forceinline__ void prefetch_l2(void const* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }
__device__ __forceinline__ void prefetch_l2_evict_last(void const* p) {
  asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(p));
}

// Lines of `count` consecutive elements from `first` (clamped to [0, limit)), shared among `threads`.
template <bool EvictLast, class T>
__device__ __forceinline__ void prefetch_span(T const* base, int first, int count, int limit, int thread, int threads) {
  constexpr int kPerLine = 128 / int(sizeof(T));
  int const lines = (count + kPerLine - 1) / kPerLine + 1;  // +1: the span need not start on a line
#pragma unroll 1
  for (int j = thread; j < lines; j += threads) {
    T const* p = base + min(first + j * kPerLine, limit - 1);
    if constexpr (EvictLast) {
      prefetch_l2_evict_last(p);
    } else {
      prefetch_l2(p);
    }
  }
}

// A column pair of a staged vector at shared address `address`, unconverted.
template <class T>
__device__ __forceinline__ typename PairOf<T>::type load_shared_pair(uint32_t address) {
  typename PairOf<T>::type pair;
  if constexpr (sizeof(T) == 4) {
    asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];" : "=f"(pair.x), "=f"(pair.y) : "r"(address));
  } else {
    asm volatile("ld.shared.b32 %0, [%1];" : "=r"(*reinterpret_cast<uint32_t*>(&pair)) : "r"(address));
  }
  return pair;
}

// Chains that stage nothing in shared memory.
struct NoSharedTile {
  __device__ __forceinline__ void init() {}
  __device__ __forceinline__ void wait(uint32_t) {}
  __device__ __forceinline__ uint32_t address() const { return 0; }
};

// A tile's BlockN entries of a column vector (the column bias) in shared memory, one copy per consumer
// warpgroup: copied when the tile starts, so that the copies overlap its mainloop, and read in the
// epilogue. Held in registers through the epilogue instead (BlockN / 4 per thread), they spilled next to a
// deferred epilogue's in-flight partial fragment. Entries past N repeat an in-range one (they reach only
// output columns that TMA clips).
template <class T, int BlockN>
struct ColumnVectorTile {
  static constexpr int kPairs = BlockN / 2;
  alignas(16) T values[BlockN];
  cutlass::arch::ClusterBarrier copied;  // one phase per tile: each of the consumer's 128 threads arrives

  // One thread, with the kernel's other barriers.
  __device__ __forceinline__ void init() { copied.init(128); }

  // Each of the consumer's 128 threads (`thread`), when its tile at column n0 starts. `pairs` (stride 1,
  // an aligned base and an even N: Context::bias_pairs): whole column pairs by cp.async. Otherwise
  // element by element through registers, waiting for each thread's loads (strided or odd-aligned vectors).
  __device__ __forceinline__ void load(T const* base, long long stride, bool pairs, int n0, int N, int thread) {
    if (pairs) {
      CUTE_UNROLL
      for (int c = 0; c < (kPairs + 127) / 128; ++c) {
        int const j = thread + 128 * c;
        copy_async<2 * sizeof(T)>(values + 2 * j, base + min(n0 + 2 * j, N - 2), true, kPairs % 128 == 0 || j < kPairs);
      }
      arrive_when_copied<true>(&copied);
    } else {
      CUTE_UNROLL
      for (int c = 0; c < (BlockN + 127) / 128; ++c) {
        int const j = thread + 128 * c;
        if (BlockN % 128 == 0 || j < BlockN) values[j] = __ldg(base + min(n0 + j, N - 1) * stride);
      }
      copied.arrive();
    }
  }

  // Every thread of the consumer, once per load (phase: the loads so far, mod 2).
  __device__ __forceinline__ void wait(uint32_t phase) { copied.wait(phase); }
  __device__ __forceinline__ uint32_t address() const { return cute::cast_smem_ptr_to_uint(values); }
};

__device__ __forceinline__ float scalar_argument(float const* device_value, float host_value) {
  return device_value != nullptr ? __ldg(device_value) : host_value;
}

struct Op {
  // Whether a tile's epilogue with this op may run while the next tile's first MMA batch is in flight
  // (gemm_sm90.cuh's deferred epilogue): false where its registers spilled next to the partial fragment.
  static constexpr bool kDeferrable = true;
  static constexpr bool kAmax = false;
  static constexpr int kQuantGroup = 0;
  static constexpr bool kQuantUe8m0 = false;
  template <class Slots>
  struct Inputs {
    __device__ __forceinline__ void load(Context const&, int, int) {}
  };
  __device__ __forceinline__ static void prepare(Context&) {}
  // What the op keeps in shared memory for a tile (one per consumer warpgroup), and its copy, started
  // by each of the consumer's 128 threads when the tile starts.
  template <int BlockN>
  using SharedTile = NoSharedTile;
  template <class Tile>
  __device__ __forceinline__ static void stage(Context const&, Tile&, int, int) {}
  // Called at the start of a tile's mainloop by each of its `threads` consumer threads.
  template <int BlockM, int BlockN>
  __device__ __forceinline__ static void prefetch(Context const&, int, int, int, int) {}
};

struct Alpha : Op {
  __device__ __forceinline__ static void prepare(Context& c) { c.alpha = scalar_argument(c.args.alpha_ptr, c.args.alpha); }
  template <class In>
  __device__ __forceinline__ static void apply(Context const& c, In const&, Where, float& v0, float& v1) {
    v0 *= c.alpha;
    v1 *= c.alpha;
  }
};

// bias[n] added to column n (an N-vector; grouped kernels: the current expert's), staged in shared memory.
template <class T>
struct ColumnBias : Op {
  template <int BlockN>
  using SharedTile = ColumnVectorTile<T, BlockN>;
  // The thread's column pairs are read from the consumer's SharedTile kChunk at a time, each chunk on its
  // first visit (epilogue.cuh's for_each_scaled_pair visits pairs in order, a pair's rows innermost), before
  // the stores of the outputs it feeds. Read one by one, each read waited behind the store before it (48
  // serialized reads per thread of a 128x192 tile: 0.83-0.86x the speed at K = 512); read all at once,
  // their registers spilled next to a deferred epilogue's in-flight partial fragment.
  template <class Slots>
  struct Inputs {
    static constexpr int kPairs = Slots::kN * Slots::kV;
    static constexpr int kChunk = kPairs < 8 ? kPairs : 8;
    uint32_t first_pair;  // shared address of the thread's first column pair
    mutable typename PairOf<T>::type chunk[kChunk];
    __device__ __forceinline__ void load(Context const& c, int, int col0) {
      first_pair = c.column_tile + (col0 % Slots::kBlockN) * sizeof(T);
    }
    __device__ __forceinline__ float2 at(Where w) const {
      int const pair = w.nn * Slots::kV + w.v;
      if (pair % kChunk == 0 && w.mm == 0 && w.r == 0) {
        CUTE_UNROLL
        for (int j = 0; j < kChunk; ++j) {
          int const p = min(pair + j, kPairs - 1);
          chunk[j] = load_shared_pair<T>(first_pair + Slots::col(p / Slots::kV, p % Slots::kV) * sizeof(T));
        }
      }
      return PairOf<T>::to_float2(chunk[pair % kChunk]);
    }
  };
  __device__ __forceinline__ static void prepare(Context& c) {
    c.bias_pairs = pairs_load_whole<T>(c.args.bias, c.args.bias_stride, c.N) && c.args.bias_stride_group % 2 == 0;
  }
  template <int BlockN>
  __device__ __forceinline__ static void stage(Context const& c, SharedTile<BlockN>& tile, int n0, int thread) {
    tile.load(static_cast<T const*>(c.args.bias) + c.bias_offset, c.args.bias_stride, c.bias_pairs, n0, c.N, thread);
  }
  template <class In>
  __device__ __forceinline__ static void apply(Context const&, In const& in, Where w, float& v0, float& v1) {
    float2 const b = in.at(w);
    v0 += b.x;
    v1 += b.y;
  }
};

// bias[m] added to row m (an M-vector).
template <class T>
struct RowBias : Op {
  template <class Slots>
  struct Inputs {
    float values[Slots::kM][2];
    __device__ __forceinline__ void load(Context const& c, int row0, int) {
      CUTE_UNROLL
      for (int mm = 0; mm < Slots::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          int const m = min(row0 + Slots::row(mm, r), c.M - 1);  // rows past M: clipped by TMA
          values[mm][r] = load_float(static_cast<T const*>(c.args.bias) + m * c.args.bias_stride);
        }
      }
    }
  };
  template <int BlockM, int BlockN>
  __device__ __forceinline__ static void prefetch(Context const& c, int m0, int, int thread, int threads) {
    if (c.args.bias_stride == 1) prefetch_span<true>(static_cast<T const*>(c.args.bias), m0, BlockM, c.M, thread, threads);
  }
  template <class In>
  __device__ __forceinline__ static void apply(Context const&, In const& in, Where w, float& v0, float& v1) {
    v0 += in.values[w.mm][w.r];
    v1 += in.values[w.mm][w.r];
  }
};

// beta * C[m, n]. C may be the output itself: a tile's elements are read
// before the tile is stored, and tiles do not overlap.
template <class T>
struct Residual : Op {
  static constexpr bool kDeferrable = false;  // a tile's C values in registers: 984 spill stores at 128x192
  template <class Slots>
  struct Inputs {
    typename PairOf<T>::type values[Slots::kM][2][Slots::kN][Slots::kV];
    __device__ __forceinline__ void load(Context const& c, int row0, int col0) {
      if (c.residual_pairs) {
        load_all<true>(c, row0, col0);
      } else {
        load_all<false>(c, row0, col0);
      }
    }
    template <bool Vector>
    __device__ __forceinline__ void load_all(Context const& c, int row0, int col0) {
      CUTE_UNROLL
      for (int mm = 0; mm < Slots::kM; ++mm) {
        CUTE_UNROLL
        for (int r = 0; r < 2; ++r) {
          int const m = min(row0 + Slots::row(mm, r), c.M - 1);  // rows past M: clipped by TMA
          T const* row = static_cast<T const*>(c.args.residual) + m * c.args.residual_stride_row;
          CUTE_UNROLL
          for (int nn = 0; nn < Slots::kN; ++nn) {
            CUTE_UNROLL
            for (int v = 0; v < Slots::kV; ++v) {
              values[mm][r][nn][v] = load_pair<Vector>(row, c.args.residual_stride_col, col0 + Slots::col(nn, v), c.N);
            }
          }
        }
      }
    }
  };
  __device__ __forceinline__ static void prepare(Context& c) {
    c.residual_pairs = pairs_load_whole<T>(c.args.residual, c.args.residual_stride_col, c.N) &&
                       c.args.residual_stride_row % 2 == 0;
  }
  // The tile's rows of C, one span per row (C streams: no eviction priority).
  template <int BlockM, int BlockN>
  __device__ __forceinline__ static void prefetch(Context const& c, int m0, int n0, int thread, int threads) {
    if (c.args.residual_stride_col != 1) return;
    constexpr int kLinesPerRow = (BlockN * int(sizeof(T)) + 127) / 128 + 1;
#pragma unroll 1
    for (int i = thread; i < BlockM * kLinesPerRow; i += threads) {
      int const m = min(m0 + i / kLinesPerRow, c.M - 1);
      T const* row = static_cast<T const*>(c.args.residual) + m * c.args.residual_stride_row;
      prefetch_l2(row + min(n0 + (i % kLinesPerRow) * (128 / int(sizeof(T))), c.N - 1));
    }
  }
  template <class In>
  __device__ __forceinline__ static void apply(Context const& c, In const& in, Where w, float& v0, float& v1) {
    float2 const x = PairOf<T>::to_float2(in.values[w.mm][w.r][w.nn][w.v]);
    v0 += c.args.beta * x.x;
    v1 += c.args.beta * x.y;
  }
};

// Activations propagate NaN, as torch's do.
template <class F>
struct Elementwise : Op {
  template <class In>
  __device__ __forceinline__ static void apply(Context const&, In const&, Where, float& v0, float& v1) {
    v0 = F::eval(v0);
    v1 = F::eval(v1);
  }
};

// max / min that return NaN if either operand is NaN: one instruction each (a compare and a select otherwise).
__device__ __forceinline__ float max_nan(float x, float y) {
  float z;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(z) : "f"(x), "f"(y));
  return z;
}
__device__ __forceinline__ float min_nan(float x, float y) {
  float z;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(z) : "f"(x), "f"(y));
  return z;
}

struct ReluFn {
  __device__ __forceinline__ static float eval(float x) { return max_nan(x, 0.f); }
};
// x * sigmoid(z) with the fast divide: for very negative z the denominator
// overflows and the result is 0 (an IEEE division would take its slow path
// there, for a large share of the elements of a typical output).
__device__ __forceinline__ float times_sigmoid(float x, float z) { return __fdividef(x, 1.f + __expf(-z)); }

// tanh on the multi-function unit: one instruction (the exponential form takes two, an exponential and a
// reciprocal), relative error about 2^-11: below the rounding of 16-bit and FP8 outputs, which use it.
__device__ __forceinline__ float tanh_approx(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
// x * sigmoid(2 z) == h + h * tanh(z) with h = x / 2. ApproxTanh: that form with tanh_approx; else the
// sigmoid's exponential form, accurate to float32 (no cancellation near z = 0).
template <bool ApproxTanh>
__device__ __forceinline__ float times_sigmoid_of_twice(float x, float z) {
  if constexpr (ApproxTanh) {
    float const h = 0.5f * x;
    return fmaf(h, tanh_approx(z), h);
  } else {
    return times_sigmoid(x, 2.f * z);
  }
}

// 2^x on the multi-function unit, subnormal results flushed to zero.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// gelu(x) = x Phi(x), Phi the normal CDF. Fast: x Phi(x) = relu(x) - t Phi(-t) with t = min(|x|, 6) and
// Phi(-t) = 2^p(t), p a degree-6 polynomial fitted to log2(Phi(-t)) on [0, 6] (tools/fit_gelu_erf.py; relative
// error at most 4.9e-5 in both tails, a tenth of a float16 rounding): an exponential and ten other
// instructions where erff takes ~25. Past |x| = 6 the term is 6 Phi(-6) = 5.9e-9 (not |x| Phi(-|x|), smaller
// still): under float32's rounding of x above 6, within 6e-9 of gelu(x) below -6. (Forms measured on the
// H100, bias -> gelu: a degree-9 fit on [0, 13.5] 0.5-2% slower; t = 0 past 6 (a compare and a select for the
// min) 0.5% slower; a degree-5 fit, 3.7e-4, no faster.) Else erff, accurate to float32.
template <bool Fast>
struct GeluErfFn {
  __device__ __forceinline__ static float eval(float x) {
    if constexpr (Fast) {
      constexpr float kLimit = 6.0f;
      constexpr float kLog2Tail[] = {-0x1.000446p+0f, -0x1.2671b8p+0f, -0x1.d85814p-2f, -0x1.a34e12p-5f, 0x1.d78fbcp-8f,
                                     -0x1.4063c6p-11f, 0x1.81b68p-16f};
      constexpr int kDegree = sizeof(kLog2Tail) / sizeof(float) - 1;
      float const magnitude = fabsf(x);
      float const t = fminf(magnitude, kLimit);  // (NaN: the limit, and x's NaN propagates below)
      float p = kLog2Tail[kDegree];
      CUTE_UNROLL
      for (int i = kDegree - 1; i >= 0; --i) p = fmaf(p, t, kLog2Tail[i]);
      // relu(x) as x / 2 + |x| / 2, exact: NaN for NaN and for -inf (-inf + inf), as torch's gelu gives
      return fmaf(-t, exp2_approx(p), fmaf(0.5f, x, 0.5f * magnitude));
    } else {
      return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    }
  }
};

// 0.5 x (1 + tanh(y)) == x * sigmoid(2 y), y = sqrt(2 / pi) (x + 0.044715 x^3) evaluated as
// x (c + c 0.044715 x^2): three instructions (the textbook order takes four: float32 does not reassociate).
template <bool ApproxTanh>
struct GeluTanhFn {
  __device__ __forceinline__ static float eval(float x) {
    constexpr float kC = 0.7978845608028654f;
    return times_sigmoid_of_twice<ApproxTanh>(x, x * fmaf(x * x, kC * 0.044715f, kC));
  }
};
template <bool ApproxTanh>
struct SiluFn {
  __device__ __forceinline__ static float eval(float x) { return times_sigmoid_of_twice<ApproxTanh>(x, 0.5f * x); }
};
// Bounds: a struct with static constexpr float lo, hi (C++17 has no float template parameters).
template <class Bounds>
struct ClampFn {
  __device__ __forceinline__ static float eval(float x) { return min_nan(max_nan(x, Bounds::lo), Bounds::hi); }
};

using Relu = Elementwise<ReluFn>;
// Not deferred: erff's polynomial spilled 4 registers next to a deferred epilogue's in-flight fragment
// (128x192), and the fast form, which does not spill, measured slower deferred than direct (bias -> gelu
// over the plain GEMM at 8192^3: 1.117x vs 1.095x; 4096x7168x16384 1.09x vs 1.05x; H200, 2026-12-04; the
// degree-6 form deferred: 0.96x of it direct over three shapes, 0.91x at K = 2048; H100, 2026-12-05; the
// min(|x|, 6) form 0.967x, a degree-5 one 0.976x). Not for lack of registers: with the head batch's whole
// partial fragment in flight ptxas spreads the activation's first 32 exponentials over 4 registers (20 when
// direct), but with only its left half in flight (19 registers) it was 0.973x.
template <bool Fast>
struct GeluErf : Elementwise<GeluErfFn<Fast>> {
  static constexpr bool kDeferrable = false;
};
template <bool ApproxTanh>
using GeluTanh = Elementwise<GeluTanhFn<ApproxTanh>>;
template <bool ApproxTanh>
using Silu = Elementwise<SiluFn<ApproxTanh>>;
template <class Bounds>
using Clamp = Elementwise<ClampFn<Bounds>>;

// Records max |x| of the output's elements; flushed to args.amax once per thread at the end.
struct Amax : Op {
  static constexpr bool kAmax = true;
  template <class In>
  __device__ __forceinline__ static void apply(Context& c, In const&, Where w, float v0, float v1) {
    if (w.m >= c.row_limit) return;
    if (w.n < c.N) c.amax_bits = max(c.amax_bits, __float_as_uint(fabsf(v0)));
    if (w.n + 1 < c.N) c.amax_bits = max(c.amax_bits, __float_as_uint(fabsf(v1)));
  }
};

// Marks the chain as quantizing its output in 1 x Group column groups
// (see quantize_groups in epilogue.cuh); the op itself changes no value.
template <int Group, bool Ue8m0>
struct GroupQuantize : Op {
  static constexpr int kQuantGroup = Group;
  static constexpr bool kQuantUe8m0 = Ue8m0;
  template <class In>
  __device__ __forceinline__ static void apply(Context const&, In const&, Where, float&, float&) {}
};

// The ops' register inputs for one tile, one member per op.
template <class Slots, class... Ops>
struct ChainInputs {
  __device__ __forceinline__ void load(Context const&, int, int) {}
};
template <class Slots, class First, class... Rest>
struct ChainInputs<Slots, First, Rest...> {
  typename First::template Inputs<Slots> first;
  ChainInputs<Slots, Rest...> rest;
  __device__ __forceinline__ void load(Context const& c, int row0, int col0) {
    first.load(c, row0, col0);
    rest.load(c, row0, col0);
  }
};

// The SharedTile of the chain's op that has one (ops with a SharedTile are single-use: the column bias).
template <int BlockN, class... Ops>
struct SharedTileOf {
  using type = NoSharedTile;
};
template <int BlockN, class First, class... Rest>
struct SharedTileOf<BlockN, First, Rest...> {
  using Own = typename First::template SharedTile<BlockN>;
  using type = cute::conditional_t<cute::is_same<Own, NoSharedTile>::value, typename SharedTileOf<BlockN, Rest...>::type,
                                   Own>;
};

template <class Slots, class... Ops>
struct ChainApply {
  __device__ __forceinline__ static void run(Context&, ChainInputs<Slots> const&, Where, float&, float&) {}
};
template <class Slots, class First, class... Rest>
struct ChainApply<Slots, First, Rest...> {
  __device__ __forceinline__ static void run(Context& c, ChainInputs<Slots, First, Rest...> const& in, Where w,
                                             float& v0, float& v1) {
    First::apply(c, in.first, w, v0, v1);
    ChainApply<Slots, Rest...>::run(c, in.rest, w, v0, v1);
  }
};

template <class... Ops>
struct Chain {
  static constexpr int kOps = sizeof...(Ops);
  static constexpr bool kDeferrable = (true && ... && Ops::kDeferrable);
  static constexpr bool kAmax = (false || ... || Ops::kAmax);
  static constexpr int kQuantGroup = (0 + ... + Ops::kQuantGroup);
  static constexpr bool kQuantUe8m0 = (false || ... || Ops::kQuantUe8m0);

  template <class Slots>
  using Inputs = ChainInputs<Slots, Ops...>;
  template <int BlockN>
  using SharedTile = typename SharedTileOf<BlockN, Ops...>::type;

  template <bool Fp8Output>
  __device__ __forceinline__ static Context make_context(fp8gen_epilogue_args const& args, int M, int N) {
    Context c{args, M, N, M, nullptr, 0, 0u, 1.f, 1.f, 0u, false, false};
    (Ops::prepare(c), ...);
    if constexpr (Fp8Output && kQuantGroup == 0) c.out_scale_inv = 1.f / scalar_argument(args.out_scale_ptr, args.out_scale);
    return c;
  }

  template <int BlockM, int BlockN>
  __device__ __forceinline__ static void prefetch(Context const& c, int m0, int n0, int thread, int threads) {
    (Ops::template prefetch<BlockM, BlockN>(c, m0, n0, thread, threads), ...);
  }

  template <class Tile>
  __device__ __forceinline__ static void stage(Context const& c, Tile& tile, int n0, int thread) {
    (Ops::stage(c, tile, n0, thread), ...);
  }

  template <class Slots>
  __device__ __forceinline__ static void apply(Context& c, Inputs<Slots> const& in, Where w, float& v0, float& v1) {
    ChainApply<Slots, Ops...>::run(c, in, w, v0, v1);
  }

  // Every thread of the warp calls this once, at the end of the kernel.
  __device__ __forceinline__ static void flush(Context const& c) {
    if constexpr (kAmax) {
      uint32_t const bits = __reduce_max_sync(0xffffffffu, c.amax_bits);
      if (threadIdx.x % 32 == 0 && bits != 0) atomicMax(reinterpret_cast<unsigned int*>(c.args.amax), bits);
    }
  }
};

}  // namespace epilogue
}  // namespace fp8gen
