"""Disassemble cached fp8gen cubins and report tensor-core and local-memory instructions.

    python benchmarks/inspect_sass.py [--spec examples/kernels.toml | --suite [--out bf16,f16,f32] | --cached] [-j N]

Needs cuobjdump (CUDA toolkit, or the nvidia-cuda-cuobjdump wheel; no GPU). For each kernel: QGMMA count
(FP8 wgmma), LDL/STL count (local memory: should be 0), the ptxas register/spill report recorded at
compile time, and a digest of the instructions (addresses left out: equal digests from two checkouts mean
the same machine code). --suite: the kernels fp8gen.gemm picks for every shape of the benchmark suite, per
recipe and output dtype (--out, default bf16). --cached: every kernel in the cache (FP8GEN_CACHE_DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import fp8gen
from fp8gen import env
from fp8gen.bench import DEFAULT_SHAPES, RECIPE_KINDS, load_shapes
from fp8gen.build import Artifact, build, build_many
from fp8gen.cache import DiskCache
from fp8gen.heuristics import choose_spec
from fp8gen.specfile import load_specs


def disassemble(cubin: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run(["cuobjdump", "-sass", f.name], capture_output=True, text=True, check=True).stdout


def sass_counts(sass: str) -> dict[str, int]:
    return {op: len(re.findall(rf"\b{op}\b", sass)) for op in ("QGMMA", "HGMMA", "LDL", "STL", "UTMALDG")}


def sass_digest(sass: str) -> str:
    """The instructions' digest, addresses left out: equal for the same machine code built from two checkouts."""
    instructions = [re.sub(r"/\*[0-9a-f]+\*/", "", line).strip() for line in sass.splitlines()
                    if re.match(r"\s+/\*[0-9a-f]+\*/", line)]
    return hashlib.sha256("\n".join(instructions).encode()).hexdigest()[:12]


def kernel_specs(args) -> list:
    if args.spec:
        return load_specs(args.spec)
    if args.suite:
        return list(dict.fromkeys(choose_spec(m, n, k, "e4m3", "e4m3", out, kind_a, kind_b)
                                  for out in args.out.split(",")
                                  for kind_a, kind_b in RECIPE_KINDS.values()
                                  for _, m, n, k in load_shapes(DEFAULT_SHAPES)))
    recipes = [("tensor", "tensor"), ("row", "row"), ("group", "block"), ("group", "group")]
    return [choose_spec(m, 8192, 8192, "e4m3", "e4m3", out, ra, rb)
            for m in (64, 8192) for out in ("bf16", "f32") for ra, rb in recipes]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", type=Path, help="spec file (default: the kernels gemm() picks)")
    parser.add_argument("--suite", action="store_true", help="the kernels gemm() picks on the benchmark suite")
    parser.add_argument("--cached", action="store_true", help="every kernel in the cache (FP8GEN_CACHE_DIR)")
    parser.add_argument("--out", default="bf16", help="with --suite: output dtypes, comma-separated")
    parser.add_argument("-j", "--jobs", type=int, default=16, help="parallel compilations")
    args = parser.parse_args()
    if shutil.which("cuobjdump") is None:
        print("cuobjdump not found", file=sys.stderr)
        return 1
    if args.cached:  # the entries as they are, from whichever checkout compiled them
        kernels = [(entry.name, Artifact(spec=None, key="", cubin=(entry.path / "kernel.cubin").read_bytes(),
                                         meta=entry.meta))
                   for entry in DiskCache(env.cache_dir()).entries()]
    else:
        specs = kernel_specs(args)
        # (the kernels of the fp8gen imported: with an editable install, maybe not this checkout's)
        print(f"fp8gen from {Path(fp8gen.__file__).parent}")
        build_many(specs, jobs=args.jobs)
        kernels = [(spec.name, build(spec)) for spec in specs]
    bad = 0
    print(f"{'kernel':60s} QGMMA  LDL  STL  regs  spills  serialized  sass digest")
    for name, artifact in kernels:
        sass = disassemble(artifact.cubin)
        counts = sass_counts(sass)
        res = artifact.resources
        spills, serialized = res.spill_bytes, res.wgmma_serialized
        print(f"{name:60s} {counts['QGMMA']:5d} {counts['LDL']:4d} {counts['STL']:4d} {res.registers:5} {spills:6d}"
              f"  {'YES' if serialized else 'no ':10s}  {sass_digest(sass)}")
        bad += bool(counts["QGMMA"] == 0 or counts["LDL"] or counts["STL"] or spills or serialized)
    print("all kernels use QGMMA, no local memory, no serialized wgmma" if not bad else f"{bad} kernel(s) failed the check")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
