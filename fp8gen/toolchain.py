"""Where the compiler and its headers are, and which versions they are.

Search order for each header directory: the FP8GEN_* override, the pip
wheels (nvidia-cutlass, nvidia-cuda-cccl, nvidia-cuda-runtime), then CUDA_HOME
and /usr/local/cuda.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from . import env
from .errors import ToolchainError

ARCH = "sm_90a"


@dataclass(frozen=True)
class Toolchain:
    include_dirs: tuple[str, ...]
    nvrtc_version: str
    cutlass_version: str
    cccl_version: str = "?"
    cuda_version: str = "?"

    def identity(self) -> dict:
        """What the cache key needs to know about the toolchain (header directories by version, not path)."""
        return {"nvrtc": self.nvrtc_version, "cutlass": self.cutlass_version, "cccl": self.cccl_version,
                "cuda": self.cuda_version, "arch": ARCH}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _nvidia_include_dirs() -> list[Path]:
    """include/ directories of the nvidia-* CUDA wheels (cu13 layout first)."""
    root = _package_dir("nvidia")
    if root is None:
        return []
    candidates = [root / "cu13" / "include"] + sorted(root.glob("*/include"))
    return [p for p in candidates if p.is_dir()]


def _system_include_dirs() -> list[Path]:
    roots = [env.cuda_home(), "/usr/local/cuda"]
    return [Path(r) / "include" for r in roots if r and (Path(r) / "include").is_dir()]


def _first_with(marker: str, override: str | None, candidates: list[Path], what: str) -> Path:
    if override:
        path = Path(override)
        if not (path / marker).exists():
            raise ToolchainError(f"{what} override {override} does not contain {marker}")
        return path
    for path in candidates:
        if (path / marker).exists():
            return path
    searched = ", ".join(str(p) for p in candidates) or "nothing"
    raise ToolchainError(f"cannot find {what} ({marker}); searched {searched}")


def cutlass_include_dir() -> Path:
    lib = _package_dir("cutlass_library")
    candidates = [lib / "source" / "include"] if lib else []
    return _first_with("cute/tensor.hpp", env.cutlass_include(), candidates, "CUTLASS headers")


def cccl_include_dir() -> Path:
    """The directory holding cccl/cuda/std/ (CUTLASS under CUDA 13 includes <cccl/cuda/std/...>)."""
    candidates = _nvidia_include_dirs() + _system_include_dirs()
    return _first_with("cccl/cuda/std/type_traits", env.cccl_include(), candidates, "CCCL headers")


def cuda_include_dir() -> Path:
    candidates = _nvidia_include_dirs() + _system_include_dirs()
    return _first_with("cuda_fp16.h", env.cuda_include(), candidates, "CUDA headers")


def _nvrtc_version() -> str:
    from cuda.bindings import nvrtc

    err, major, minor = nvrtc.nvrtcVersion()
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise ToolchainError(f"nvrtcVersion failed: {err}")
    return f"{major}.{minor}"


def _cutlass_version(include_dir: Path) -> str:
    parts = [_version_macro(include_dir / "cutlass" / "version.h", f"CUTLASS_{k}") for k in ("MAJOR", "MINOR", "PATCH")]
    header_version = ".".join("?" if v is None else str(v) for v in parts)
    try:
        wheel = importlib.metadata.version("nvidia-cutlass")
    except importlib.metadata.PackageNotFoundError:
        wheel = "none"
    return f"{header_version} (wheel {wheel})"


def _version_macro(header: Path, macro: str) -> int | None:
    """The integer a header #defines `macro` as; None when the header or the macro is missing."""
    try:
        text = header.read_text(errors="replace")
    except OSError:
        return None
    found = re.search(rf"#define {macro}\s+(\d+)", text)
    return int(found.group(1)) if found else None


def _cccl_version(include_dir: Path) -> str:
    """CCCL's version macro (e.g. 3000001 -> 3.0.1): its headers are part of every kernel."""
    v = _version_macro(include_dir / "cccl" / "cuda" / "std" / "__cccl" / "version.h", "CCCL_VERSION")
    return "?" if v is None else f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}"


def _cuda_headers_version(include_dir: Path) -> str:
    """The CUDA headers' major.minor (CUDART_VERSION 13000 -> 13.0), the granularity of NVRTC's version: the
    wheel and a toolkit of one release give one key, so kernels compiled on one machine serve the other."""
    v = _version_macro(include_dir / "cuda_runtime_api.h", "CUDART_VERSION")
    return "?" if v is None else f"{v // 1000}.{v % 1000 // 10}"


@functools.lru_cache(maxsize=1)
def toolchain() -> Toolchain:
    cutlass = cutlass_include_dir()
    cccl = cccl_include_dir()
    cuda = cuda_include_dir()
    includes = tuple(dict.fromkeys((str(cutlass), str(cccl), str(cccl / "cccl"), str(cuda))))
    return Toolchain(include_dirs=includes, nvrtc_version=_nvrtc_version(), cutlass_version=_cutlass_version(cutlass),
                     cccl_version=_cccl_version(cccl), cuda_version=_cuda_headers_version(cuda))
