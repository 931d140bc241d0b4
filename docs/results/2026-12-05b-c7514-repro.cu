// ptxas 13.0 C7514 reproduction (docs/performance.md, 2026-12-05 ninth session): two wgmma groups on
// disjoint accumulators (L, R) alternate in a loop; each is read after the wait that retires it.
//   nvcc -arch=sm_90a -cubin -Xptxas -v c7514_repro.cu                  # no C7514
//   nvcc -arch=sm_90a -cubin -Xptxas -v -DSINGLE_TAIL=1 c7514_repro.cu  # C7514: every wgmma serialized
// The only difference is an else branch after the loop that never runs for kb >= 1.
#ifndef SINGLE_TAIL
#define SINGLE_TAIL 0
#endif

__device__ __forceinline__ void fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory"); }
template <int K> __device__ __forceinline__ void fence_regs(float* r) {
  #pragma unroll
  for (int i = 0; i < K; ++i) asm volatile("" : "+f"(r[i]) :: "memory");
}
__device__ __forceinline__ void mmaL(float* d, unsigned long long da, unsigned long long db, int scale) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1;\n}\n" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) : "l"(da), "l"(db), "r"(scale));
}__device__ __forceinline__ void mmaR(float* d, unsigned long long da, unsigned long long db, int scale) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1;\n}\n" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]) : "l"(da), "l"(db), "r"(scale));
}
__device__ __forceinline__ void issueL(float* p, unsigned long long a, unsigned long long b) {
  fence_regs<64>(p); fence();
  #pragma unroll
  for (int k = 0; k < 4; ++k) mmaL(p, a + 2 * k, b + 2 * k, k > 0);
  commit();
}
__device__ __forceinline__ void issueR(float* p, unsigned long long a, unsigned long long b) {
  fence_regs<64>(p); fence();
  #pragma unroll
  for (int k = 0; k < 4; ++k) mmaR(p, a + 2 * k, b + 2 * k, k > 0);
  commit();
}
extern "C" __global__ void __launch_bounds__(128, 1) k(float* out, const float* scale, unsigned long long a, unsigned long long b, int kb) {
  float acc[64];
  float L[64], R[64];
  #pragma unroll
  for (int i = 0; i < 64; ++i) acc[i] = 0.f;
  float s = scale[0];
  issueL(L, a, b);
  int j = 0;
  auto retL = [&] { fence_regs<64>(L);
    #pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = fmaf(L[i], s, acc[i]); };
  auto retR = [&] { fence_regs<64>(R);
    #pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = fmaf(R[i], s, acc[i]); };
  for (; j + 1 < kb; ++j) {
    issueR(R, a + 100, b + 100 + j);
    wait<1>();
    retL();
    s = scale[j + 1];
    issueL(L, a + j * 1000, b + j);
    wait<1>();
    retR();
  }
#if SINGLE_TAIL
  {
#else
  if (j + 1 == kb) {
#endif
    issueR(R, a + 100, b + 100 + j);
    wait<1>();
    retL();
    wait<0>();
    retR();
#if SINGLE_TAIL
  }
#else
  } else {
    wait<0>();
    retL();
  }
#endif
  #pragma unroll
  for (int i = 0; i < 64; ++i) out[i * 128 + threadIdx.x] = acc[i];
}
