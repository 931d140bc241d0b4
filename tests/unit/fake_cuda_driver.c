/* A stand-in for the CUDA driver functions a bundle's C launcher calls, so that tests can link the
 * launcher without libcuda or a GPU (tests/unit/test_export_launcher.py). It records what the launcher
 * asked for, checks tensor maps against the driver's documented rules, and fails on request. */
#include <cuda.h>
#include <stdint.h>
#include <string.h>

typedef struct {
  int libraries_loaded, libraries_unloaded, kernels_got, tensor_maps, launches;
  int fail_get_kernel_at; /* cuLibraryGetKernel fails on this call (0-based; -1: never) */
  unsigned grid_x, block_x, shared_bytes, attributes, cluster_x;
  int m, n, k, a_box_rows;
} fake_driver_state;

static fake_driver_state g_state = {0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0};

fake_driver_state* fake_driver(void) { return &g_state; }

void fake_driver_reset(int fail_get_kernel_at) {
  memset(&g_state, 0, sizeof(g_state));
  g_state.fail_get_kernel_at = fail_get_kernel_at;
}

CUresult CUDAAPI cuInit(unsigned int flags) { return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice device) {
  (void)device;
  if (attribute != CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) return CUDA_ERROR_INVALID_VALUE;
  *value = 132; /* H100 SXM */
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option* jit_options,
                                   void** jit_option_values, unsigned int jit_option_count,
                                   CUlibraryOption* library_options, void** library_option_values,
                                   unsigned int library_option_count) {
  (void)jit_options, (void)jit_option_values, (void)jit_option_count;
  (void)library_options, (void)library_option_values, (void)library_option_count;
  if (memcmp(code, "\177ELF", 4) != 0) return CUDA_ERROR_INVALID_IMAGE;
  *library = (CUlibrary)(uintptr_t)(++g_state.libraries_loaded);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryGetKernel(CUkernel* kernel, CUlibrary library, const char* name) {
  (void)library;
  if (g_state.kernels_got == g_state.fail_get_kernel_at || name == NULL || name[0] == '\0') {
    return CUDA_ERROR_NOT_FOUND;
  }
  *kernel = (CUkernel)(uintptr_t)(++g_state.kernels_got);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuKernelSetAttribute(CUfunction_attribute attribute, int value, CUkernel kernel, CUdevice device) {
  (void)kernel, (void)device;
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || value > 227 * 1024) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryUnload(CUlibrary library) {
  (void)library;
  ++g_state.libraries_unloaded;
  return CUDA_SUCCESS;
}

/* The rules cuTensorMapEncodeTiled documents for a rank-2 map; the launcher's own checks must come first. */
CUresult CUDAAPI cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* address,
                                        const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                                        const cuuint32_t* element_strides, CUtensorMapInterleave interleave,
                                        CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2_promotion,
                                        CUtensorMapFloatOOBfill oob_fill) {
  (void)type, (void)interleave, (void)swizzle, (void)l2_promotion, (void)oob_fill;
  if (rank != 2 || address == NULL || (uintptr_t)address % 16 != 0 || strides[0] % 16 != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (dims[0] == 0 || dims[1] == 0 || box[0] == 0 || box[1] == 0 || box[0] > 256 || box[1] > 256 ||
      element_strides[0] != 1 || element_strides[1] != 1) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  memset(map, 0, sizeof(*map));
  ++g_state.tensor_maps;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  unsigned i;
  (void)f, (void)extra;
  g_state.grid_x = config->gridDimX;
  g_state.block_x = config->blockDimX;
  g_state.shared_bytes = config->sharedMemBytes;
  g_state.attributes = config->numAttrs;
  g_state.cluster_x = 1;
  for (i = 0; i < config->numAttrs; ++i) {
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) g_state.cluster_x = config->attrs[i].value.clusterDim.x;
  }
  /* the kernel's parameters 11-13 are m, n, k and 22 the rows of A per stage load (see the launcher) */
  g_state.m = *(const int*)params[11];
  g_state.n = *(const int*)params[12];
  g_state.k = *(const int*)params[13];
  g_state.a_box_rows = *(const int*)params[22];
  ++g_state.launches;
  return CUDA_SUCCESS;
}
