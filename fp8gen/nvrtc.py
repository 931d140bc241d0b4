"""Compile rendered CUDA C++ to an sm_90a cubin with NVRTC. Knows nothing of the cache."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from .errors import CompilationError, ToolchainError
from .toolchain import ARCH

BASE_OPTIONS: tuple[str, ...] = (
    "-std=c++17",
    f"--gpu-architecture={ARCH}",
    "-default-device",
    "-DNDEBUG",
    "--ptxas-options=-v",
)

# Precompiled headers (NVRTC 12.8+): every kernel includes the same CUTLASS/CuTe headers, which take most
# of NVRTC's front-end time. With --pch a process's first compile saves them (in a temporary directory
# NVRTC removes at exit) and its later compiles load them: 13.5 s -> 6 s per kernel on 2 cores, at +20%
# for the compile that saves them. The cubins are byte-identical, so the option is not in the cache key.
PCH_OPTION = "--pch"
PCH_HEAP_BYTES = 768 << 20  # CUTLASS 4.2's headers need 567 MB; the heap grows if that ever falls short
_pch_lock = threading.Lock()
_pch_ready: bool | None = None  # None: not tried yet in this process


@dataclass(frozen=True)
class ResourceUsage:
    """What ptxas reported for the kernel (parsed from the NVRTC log)."""

    registers: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    stack_frame: int | None = None
    # ptxas C7518: every wgmma of the kernel waits for the previous one (no MMA/promotion overlap at all)
    wgmma_serialized: bool = False

    @classmethod
    def from_log(cls, log: str) -> "ResourceUsage":
        def grab(pattern: str) -> int | None:
            m = re.search(pattern, log)
            return int(m.group(1)) if m else None

        return cls(
            registers=grab(r"Used (\d+) registers"),
            spill_stores=grab(r"(\d+) bytes spill stores"),
            spill_loads=grab(r"(\d+) bytes spill loads"),
            stack_frame=grab(r"(\d+) bytes stack frame"),
            wgmma_serialized="wgmma.mma_async instructions are serialized" in log,
        )

    @property
    def spill_bytes(self) -> int:
        return (self.spill_stores or 0) + (self.spill_loads or 0)


@dataclass(frozen=True)
class CompiledBinary:
    cubin: bytes
    symbol: str
    log: str
    seconds: float
    resources: ResourceUsage = field(default_factory=ResourceUsage)


def compile_options(include_dirs: tuple[str, ...]) -> list[str]:
    return list(BASE_OPTIONS) + [f"-I{d}" for d in include_dirs]


def _check(result, what: str) -> None:
    from cuda.bindings import nvrtc

    if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise ToolchainError(f"{what} failed: {result}")


def _program_log(nvrtc, prog) -> str:
    err, size = nvrtc.nvrtcGetProgramLogSize(prog)
    _check(err, "nvrtcGetProgramLogSize")
    buf = b" " * size
    (err,) = nvrtc.nvrtcGetProgramLog(prog, buf)
    _check(err, "nvrtcGetProgramLog")
    return buf.rstrip(b"\x00").decode(errors="replace")


def _pch_available(nvrtc) -> bool:
    """Whether this NVRTC has precompiled headers (12.8+); sizes the heap they are built in, once per process."""
    global _pch_ready
    with _pch_lock:
        if _pch_ready is None:
            try:
                err, size = nvrtc.nvrtcGetPCHHeapSize()
                _pch_ready = err == nvrtc.nvrtcResult.NVRTC_SUCCESS
                if _pch_ready and size < PCH_HEAP_BYTES:
                    _pch_ready = nvrtc.nvrtcSetPCHHeapSize(PCH_HEAP_BYTES)[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS
            except (AttributeError, RuntimeError):  # bindings or library older than the PCH API
                _pch_ready = False
        return _pch_ready


def _grow_pch_heap_if_exhausted(nvrtc, prog) -> None:
    """The headers outgrew the heap (no PCH was saved, the compile itself succeeded): size it for the next one."""
    (status,) = nvrtc.nvrtcGetPCHCreateStatus(prog)
    if status == nvrtc.nvrtcResult.NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED:
        err, required = nvrtc.nvrtcGetPCHHeapSizeRequired(prog)
        if err == nvrtc.nvrtcResult.NVRTC_SUCCESS:
            with _pch_lock:
                _check(nvrtc.nvrtcSetPCHHeapSize(required)[0], "nvrtcSetPCHHeapSize")


def compile_cubin(source: str, symbol: str, options: list[str], source_path: str | None = None, *,
                  precompiled_headers: bool = False) -> CompiledBinary:
    """Compile `source` (which defines extern "C" `symbol`) to a cubin; raises CompilationError with the log.

    `precompiled_headers`: save the included headers' parse for this process's later compiles, or load
    the one an earlier compile saved (see PCH_OPTION); ignored where NVRTC has no precompiled headers."""
    from cuda.bindings import nvrtc

    start = time.perf_counter()
    use_pch = precompiled_headers and _pch_available(nvrtc)
    if use_pch:
        options = [*options, PCH_OPTION]
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), f"{symbol}.cu".encode(), 0, [], [])
    _check(err, "nvrtcCreateProgram")
    try:
        (result,) = nvrtc.nvrtcCompileProgram(prog, len(options), [o.encode() for o in options])
        log = _program_log(nvrtc, prog)
        if use_pch:
            _grow_pch_heap_if_exhausted(nvrtc, prog)
        if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise CompilationError(symbol, log, source_path)
        err, size = nvrtc.nvrtcGetCUBINSize(prog)
        _check(err, "nvrtcGetCUBINSize")
        cubin = b" " * size
        (err,) = nvrtc.nvrtcGetCUBIN(prog, cubin)
        _check(err, "nvrtcGetCUBIN")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return CompiledBinary(
        cubin=cubin, symbol=symbol, log=log, seconds=time.perf_counter() - start,
        resources=ResourceUsage.from_log(log),
    )
