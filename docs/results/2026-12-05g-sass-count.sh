#!/usr/bin/env bash
# Instruction counts of the 128x192 bias -> gelu (erf) kernel's SASS (no GPU needed; cuobjdump and nvdisasm
# on PATH). Run from the repository root of the tree to count, e.g. before and after a patch.
set -euo pipefail
work=$(mktemp -d)
FP8GEN_CACHE_DIR="$work/cache" python - "$work/kernel.cubin" <<'PY'
import sys
from fp8gen import GemmSpec
from fp8gen.build import build
open(sys.argv[1], "wb").write(build(GemmSpec(tile=(128, 192, 128), epilogue=("bias", "gelu"))).cubin)
PY
cuobjdump -sass "$work/kernel.cubin" > "$work/kernel.sass"
echo "instructions $(grep -cE '^\s+/\*[0-9a-f]{4}\*/' "$work/kernel.sass")"
for op in MUFU FFMA FMUL FADD FSEL FSETP FMNMX STL; do echo "$op $(grep -c "$op" "$work/kernel.sass" || true)"; done
