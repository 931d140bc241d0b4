"""fp8gen vs torch._scaled_mm (cuBLASLt) on the benchmark shape suite: the `fp8gen bench` command.

    python benchmarks/bench_scaled_mm.py [--recipe tensor,row,block] [--shapes FILE] [--groups ...]
                                         [--timing graph|events] [--json OUT.json] [--plot OUT.png]

See fp8gen/bench.py for the timing method; results for the H100 are in docs/performance.md.
"""

import sys

from fp8gen.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
