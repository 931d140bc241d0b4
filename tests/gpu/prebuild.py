"""Compiles the GPU tests' kernels into the kernel cache on any machine (NVRTC needs no GPU): every
tests/gpu module's kernel_specs(), the list its tests build up front. Carry the cache directory to the GPU
machine and point FP8GEN_CACHE_DIR at it there, and the tests spend no time compiling those kernels.

    FP8GEN_CACHE_DIR=DIR python -m tests.gpu.prebuild [--jobs N] [--list] [MODULE ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import time

import tests.gpu
from fp8gen import GemmSpec
from fp8gen.build import build_many


def test_module_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(tests.gpu.__path__) if m.name.startswith("test_"))


def kernel_specs_by_module(names: list[str] | None = None) -> dict[str, list[GemmSpec]]:
    """The distinct specs each GPU test module lists in its kernel_specs() (modules without one left out)."""
    specs = {}
    for name in names or test_module_names():
        module = importlib.import_module(f"{tests.gpu.__name__}.{name}")
        if hasattr(module, "kernel_specs"):
            specs[name] = list(dict.fromkeys(module.kernel_specs()))
    return specs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="test modules (default: every tests/gpu/test_*.py)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="NVRTC compiles at a time")
    parser.add_argument("--list", action="store_true", help="print the kernels' names instead of building")
    args = parser.parse_args(argv)
    by_module = kernel_specs_by_module(args.modules or None)
    specs = list(dict.fromkeys(spec for module_specs in by_module.values() for spec in module_specs))
    for name, module_specs in by_module.items():
        print(f"{name}: {len(module_specs)} kernels")
    print(f"{len(specs)} distinct kernels")
    if args.list:
        for spec in specs:
            print(spec.name)
        return 0
    start, done = time.perf_counter(), 0

    def progress(artifact) -> None:
        nonlocal done
        done += 1
        compiled = f"compiled in {artifact.compile_seconds:.1f} s" if artifact.compile_seconds else "cached"
        print(f"[{done}/{len(specs)} {time.perf_counter() - start:.0f} s] {artifact.spec.name}: {compiled}", flush=True)

    build_many(specs, jobs=args.jobs, on_done=progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
