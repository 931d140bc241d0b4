"""Every FP8GEN_* environment variable is read here and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigurationError

_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def _flag(name: str, default: bool) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); unset or empty: `default`."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _ON or raw in _OFF:
        return raw in _ON
    raise ConfigurationError(f"{name}={os.environ[name]!r} is not understood: use 1/true/yes/on or 0/false/no/off")


def cache_dir() -> Path:
    """FP8GEN_CACHE_DIR, else $XDG_CACHE_HOME/fp8gen, else ~/.cache/fp8gen."""
    explicit = os.environ.get("FP8GEN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fp8gen"


def cutlass_include() -> str | None:
    """FP8GEN_CUTLASS_INCLUDE: directory holding cute/ and cutlass/ (overrides the nvidia-cutlass wheel)."""
    return os.environ.get("FP8GEN_CUTLASS_INCLUDE") or None


def cuda_include() -> str | None:
    """FP8GEN_CUDA_INCLUDE: directory holding cuda_fp16.h and friends (overrides the CUDA wheels)."""
    return os.environ.get("FP8GEN_CUDA_INCLUDE") or None


def cccl_include() -> str | None:
    """FP8GEN_CCCL_INCLUDE: directory holding cccl/cuda/std/ (overrides the nvidia-cuda-cccl wheel)."""
    return os.environ.get("FP8GEN_CCCL_INCLUDE") or None


def cuda_home() -> str | None:
    """CUDA_HOME or CUDA_PATH: the last place headers are looked for."""
    return os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or None


def keep_generated() -> bool:
    """FP8GEN_KEEP_GENERATED=1 writes every rendered source to the generated/ directory."""
    return _flag("FP8GEN_KEEP_GENERATED", False)


def generated_dir() -> Path:
    """FP8GEN_GENERATED_DIR, else ./generated."""
    return Path(os.environ.get("FP8GEN_GENERATED_DIR") or "generated")


def trust_shared_cache() -> bool:
    """FP8GEN_TRUST_SHARED_CACHE=1: accept a cache directory or entries not private to this user
    (a shared read-only cache). Loading a cubin is loading code: set it only for caches you control."""
    return _flag("FP8GEN_TRUST_SHARED_CACHE", False)


def tuning_enabled() -> bool:
    """FP8GEN_TUNING=0 ignores the tuning tables `fp8gen tune` wrote (the heuristics choose every kernel)."""
    return _flag("FP8GEN_TUNING", True)


def dependent_launch() -> bool:
    """FP8GEN_DEPENDENT_LAUNCH=0 launches kernels without programmatic dependent launch (each then starts
    only once the previous kernel on its stream has finished, as plain launches do)."""
    return _flag("FP8GEN_DEPENDENT_LAUNCH", True)


def precompiled_headers() -> bool:
    """FP8GEN_NVRTC_PCH=0 compiles every kernel without NVRTC's precompiled headers (which a process that
    compiles more than one kernel saves in a temporary directory, about 570 MB, and reuses)."""
    return _flag("FP8GEN_NVRTC_PCH", True)


YES_NO_FLAGS = (keep_generated, trust_shared_cache, tuning_enabled, dependent_launch, precompiled_headers)


def check_flags() -> None:
    """Read every yes/no variable now (ConfigurationError for a value none of them takes), for entry points
    that would otherwise read some of them only on paths they may not reach."""
    for flag in YES_NO_FLAGS:
        flag()
