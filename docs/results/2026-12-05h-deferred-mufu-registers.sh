#!/usr/bin/env bash
# Registers the erf gelu's exponentials land in, per epilogue copy of the 128x192 bias -> gelu kernel (no GPU
# needed; cuobjdump and nvdisasm on PATH). Run from the repository root; with a PATCH argument, in a copy of
# the tree with it applied (e.g. docs/results/2026-12-05h-erf-gelu-defer.patch; one line of context, as the
# patches were made against c194eba). Prints, for each run of 96
# MUFU.EX2 (one tile's activation), the distinct destination registers of its first 32: how many
# exponentials ptxas keeps in flight at once.
set -euo pipefail
root=$PWD
work=$(mktemp -d)
if [ $# -gt 0 ]; then
  cp -r "$root" "$work/tree" && (cd "$work/tree" && git apply -C1 "$root/$1")
  root=$work/tree
fi
cd "$root"  # (python puts the working directory first on its path)
FP8GEN_CACHE_DIR="$work/cache" python - "$work/kernel.cubin" <<'PY'
import sys
from fp8gen import GemmSpec
from fp8gen.build import build
open(sys.argv[1], "wb").write(build(GemmSpec(tile=(128, 192, 128), epilogue=("bias", "gelu"))).cubin)
PY
cuobjdump -sass "$work/kernel.cubin" | python3 -c '
import re, sys
regs = [m.group(1) for m in re.finditer(r"MUFU\.EX2 (R\d+)", sys.stdin.read())]
for copy in range(len(regs) // 96):
    first = regs[copy * 96:copy * 96 + 32]
    print(f"epilogue copy {copy}: first 32 exponentials in {len(set(first))} registers")
'
