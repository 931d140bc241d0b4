"""Load cubins, build TMA descriptors and launch kernels through the CUDA driver API.

Never renders or compiles: it receives an Artifact (cubin + launch metadata).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass

from . import env
from .errors import CudaError

_thread_state = threading.local()


@functools.lru_cache(maxsize=1)
def _driver():
    from cuda.bindings import driver

    return driver


def check(result, what: str):
    """Unwrap a cuda.bindings (err, *values) tuple, raising CudaError with the call's name on failure."""
    driver = _driver()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != driver.CUresult.CUDA_SUCCESS:
        _, name = driver.cuGetErrorName(err)
        name = name.decode() if isinstance(name, bytes) else str(err)
        raise CudaError(f"{what} failed: {name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def ensure_context(device_index: int) -> None:
    """Make the device's primary context (the one PyTorch uses) current on this thread."""
    if getattr(_thread_state, "device", None) == device_index:
        return
    driver = _driver()
    check(driver.cuInit(0), "cuInit")
    device = check(driver.cuDeviceGet(device_index), "cuDeviceGet")
    context = check(driver.cuDevicePrimaryCtxRetain(device), "cuDevicePrimaryCtxRetain")
    check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    _thread_state.device = device_index


@dataclass(frozen=True)
class LaunchShape:
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    smem_bytes: int
    cluster: tuple[int, int, int] = (1, 1, 1)
    # Programmatic dependent launch (see _launch_attributes); the host leaves it off for split-K launches,
    # which measured 1-3% slower with it (docs/performance.md, 2026-12-04 second session).
    dependent: bool = True


# The launch and descriptor calls go straight to the driver through ctypes: cuda.bindings marshals a
# kernel's argument tuple on every call, which costs ~10 us against ~2 us for the call itself.
class _LaunchAttribute(ctypes.Structure):
    """CUlaunchAttribute: an id, padding to 8 bytes, then a 64-byte value union (the two used begin it:
    clusterDim's x, y, z; programmaticStreamSerializationAllowed)."""
    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", ctypes.c_uint * 3),
                ("value_rest", ctypes.c_char * 52)]


class _LaunchConfig(ctypes.Structure):
    """CUlaunchConfig."""
    _fields_ = [("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3), ("shared_mem_bytes", ctypes.c_uint),
                ("stream", ctypes.c_void_p), ("attrs", ctypes.POINTER(_LaunchAttribute)),
                ("num_attrs", ctypes.c_uint)]


class _DriverCalls:
    """Driver entry points as ctypes functions, resolved with cuGetProcAddress (the versions cuda.h names)."""

    def __init__(self):
        driver = _driver()
        check(driver.cuInit(0), "cuInit")
        CUresult, p, u32 = ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32
        # Every argument a plain address: ctypes converts ints to void* in a third of the time it takes to
        # check and convert byref()/pointer arguments.
        self.launch_kernel_ex = self._resolve("cuLaunchKernelEx", 12000, ctypes.CFUNCTYPE(CUresult, p, p, p, p))
        self.encode_tiled = self._resolve(
            "cuTensorMapEncodeTiled", 12000,
            ctypes.CFUNCTYPE(CUresult, p, ctypes.c_int, u32, p, ctypes.POINTER(ctypes.c_uint64),
                             ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(u32), ctypes.POINTER(u32),
                             ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int))

    @staticmethod
    def _resolve(symbol: str, cuda_version: int, prototype):
        driver = _driver()
        flags = driver.CUdriverProcAddress_flags.CU_GET_PROC_ADDRESS_DEFAULT
        address, _ = check(driver.cuGetProcAddress(symbol.encode(), cuda_version, flags), f"cuGetProcAddress({symbol})")
        if not int(address):
            raise CudaError(f"the CUDA driver has no {symbol}")
        return prototype(int(address))


@functools.lru_cache(maxsize=1)
def _calls() -> _DriverCalls:
    return _DriverCalls()


def _check_status(status: int, what: str) -> None:
    if status:
        check(_driver().CUresult(status), what)


class TensorMap:
    """A 128-byte CUtensorMap in host memory, 64-byte aligned as cuda.h declares it."""

    __slots__ = ("_storage", "address")

    def __init__(self):
        self._storage = ctypes.create_string_buffer(128 + 64)
        self.address = (ctypes.addressof(self._storage) + 63) & ~63

    def to_bytes(self) -> bytes:
        return ctypes.string_at(self.address, 128)


class PreparedLaunch:
    """One kernel launch on one device with its configuration and parameters marshalled once:
    `launch(stream)` is one driver call. Parameters are TensorMaps and ctypes structures passed by value,
    or ctypes scalars; `owned` holds buffers they point into (kept alive as long as the launch)."""

    def __init__(self, kernel_handle: int, device_index: int, shape: LaunchShape, params: tuple, owned: tuple = ()):
        self._kernel_handle = kernel_handle
        self._device_index = device_index
        self._config = _LaunchConfig()
        self._config.grid[:] = shape.grid
        self._config.block[:] = shape.block
        self._config.shared_mem_bytes = shape.smem_bytes
        self._attributes = _launch_attributes(shape)
        self._config.attrs = ctypes.cast(self._attributes, ctypes.POINTER(_LaunchAttribute))
        self._config.num_attrs = len(self._attributes)
        self._params = list(params)  # keeps every parameter's storage alive
        self._pointers = (ctypes.c_void_p * len(params))(*(_parameter_address(value) for value in params))
        self._owned = owned
        self._launch = _calls().launch_kernel_ex
        self._config_address = ctypes.addressof(self._config)
        self._pointers_address = ctypes.addressof(self._pointers)
        # Threads replaying one launch share its config and parameter array, and the driver call releases
        # the GIL: a stream or parameter written by one thread must not reach another's launch.
        self._lock = threading.Lock()

    def launch(self, stream: int, replace: tuple[int, object] | None = None) -> None:
        """Launch on `stream`; replace=(index, value) first swaps one parameter (for this and later launches)."""
        ensure_context(self._device_index)  # a thread's first CUDA call may be this one
        with self._lock:
            if replace is not None:
                index, value = replace
                self._params[index] = value
                self._pointers[index] = _parameter_address(value)
            self._config.stream = stream
            status = self._launch(self._config_address, self._kernel_handle, self._pointers_address, None)
        if status:
            _check_status(status, "cuLaunchKernelEx")


def _launch_attributes(shape: LaunchShape):
    """The cluster shape, and programmatic dependent launch: the kernel may be scheduled while the previous
    kernel on the stream finishes, its set-up overlapping that kernel's last CTAs; it reads and writes global
    memory only after that kernel has completed (griddepcontrol.wait in gemm_sm90.cuh)."""
    ids = _driver().CUlaunchAttributeID
    values = []
    if shape.cluster != (1, 1, 1):
        values.append((ids.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, shape.cluster))
    if shape.dependent and env.dependent_launch():
        values.append((ids.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, (1, 0, 0)))
    attributes = (_LaunchAttribute * len(values))()
    for attribute, (attribute_id, value) in zip(attributes, values):
        attribute.id = int(attribute_id)
        attribute.value[:] = value
    return attributes


def _parameter_address(value) -> int:
    return value.address if isinstance(value, TensorMap) else ctypes.addressof(value)


class LoadedKernel:
    """A cubin loaded as a CUlibrary; one CUkernel usable on every device."""

    def __init__(self, cubin: bytes, symbol: str, smem_bytes: int):
        driver = _driver()
        check(driver.cuInit(0), "cuInit")
        self.symbol = symbol
        self.smem_bytes = smem_bytes
        self._library = check(driver.cuLibraryLoadData(cubin, [], [], 0, [], [], 0), "cuLibraryLoadData")
        self._kernel = check(driver.cuLibraryGetKernel(self._library, symbol.encode()), f"cuLibraryGetKernel({symbol})")
        self._configured_devices: set[int] = set()
        self._lock = threading.Lock()

    def _configure(self, device_index: int) -> None:
        if device_index in self._configured_devices:
            return
        driver = _driver()
        with self._lock:
            attr = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            device = check(driver.cuDeviceGet(device_index), "cuDeviceGet")
            check(driver.cuKernelSetAttribute(attr, self.smem_bytes, self._kernel, device),
                  "cuKernelSetAttribute(MAX_DYNAMIC_SHARED_MEMORY_SIZE)")
            self._configured_devices.add(device_index)

    def prepare(self, shape: LaunchShape, device_index: int, params: tuple, owned: tuple = ()) -> PreparedLaunch:
        """A launch of this kernel on `device_index` with `params` (see PreparedLaunch). CUkernel handles
        launch as CUfunctions in the current context."""
        ensure_context(device_index)
        self._configure(device_index)
        return PreparedLaunch(int(self._kernel), device_index, shape, params, owned)


@functools.lru_cache(maxsize=1)
def _tensor_map_enums() -> tuple[dict, dict, int, int, int]:
    driver = _driver()
    swizzles = {0: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_NONE,
                32: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_32B,
                64: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_64B,
                128: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B}
    data_types = {"u8": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT8,
                  "u16": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT16,
                  "f32": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_FLOAT32}
    return ({k: int(v) for k, v in swizzles.items()}, {k: int(v) for k, v in data_types.items()},
            int(driver.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE),
            int(driver.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B),
            int(driver.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE))


# Weights, and activations recycled by torch's caching allocator, come back with the same address and
# shape: equal arguments share one descriptor (it holds only these values, no reference to the memory).
@functools.lru_cache(maxsize=1024)
def tma_descriptor_2d(address: int, rows: int, cols: int, row_stride_bytes: int, box_rows: int, box_cols: int,
                      swizzle_bytes: int = 0, element: str = "u8") -> TensorMap:
    """A TMA descriptor for a row-major (rows, cols) tensor of `element`s, loaded in (box_rows, box_cols) boxes.

    Out-of-bounds parts of a box are filled with zeros, which is what lets M, N and K sit off the tile grid.
    """
    swizzles, data_types, interleave, l2_promotion, oob_fill = _tensor_map_enums()
    tensor_map = TensorMap()
    u64x2, u32x2 = ctypes.c_uint64 * 2, ctypes.c_uint32 * 2
    status = _calls().encode_tiled(
        tensor_map.address, data_types[element], 2, address, u64x2(cols, rows), u64x2(row_stride_bytes, 0),
        u32x2(box_cols, box_rows), u32x2(1, 1), interleave, swizzles[swizzle_bytes], l2_promotion, oob_fill)
    _check_status(status, f"cuTensorMapEncodeTiled(rows={rows}, cols={cols}, row stride={row_stride_bytes} B, "
                          f"box={box_rows}x{box_cols}, {element}, swizzle {swizzle_bytes} B)")
    return tensor_map


POINTER = ctypes.c_void_p
INT = ctypes.c_int
INT64 = ctypes.c_longlong
