"""`fp8gen bench`: fp8gen vs torch._scaled_mm (cuBLASLt) with the same scaling recipe on a shape suite.

Recipes: tensor (per-tensor x per-tensor), row (per-row of A x per-row of B), block (A 1x128 groups x
B 128x128 blocks, DeepSeek-V3). For each shape both libraries run on the same random e4m3 operands in
one process, with bf16 output.

Timing ("graph", the default): each library's call is captured in a CUDA graph over R input sets (A, B,
scales, output) that together exceed the L2 cache several times, so every call starts with the
operands out of L2 (what flushing L2 between iterations does) and no host launch gaps count. A sample
is one graph replay divided by R; the reported time is the median of the samples. "events" times
single calls with triton.testing.do_bench (L2 flushed between calls, host launch overhead included
whenever it exceeds the flush).
"""

from __future__ import annotations

import math
import os
import platform
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .api import compile as compile_spec
from .build import build_many
from .checks import MAX_DIMENSION
from .errors import InputError
from .fields import is_int
from .quantize import rows_contiguous
from . import tuning
from .spec import GemmSpec, ScaleRecipe
from .version import __version__

DEFAULT_SHAPES = Path(__file__).parent / "data" / "bench_shapes.toml"
RECIPE_KINDS = {"tensor": ("tensor", "tensor"), "row": ("row", "row"), "block": ("group", "block")}
H100_DENSE_FP8_TFLOPS = 1979.0
# Input sets per graph: at least this many bytes of operands in rotation (the H100's L2 is 50 MiB).
ROTATION_BYTES = 256 << 20
MAX_INPUT_SETS = 32


def load_shapes(path: Path, groups: set[str] | None = None) -> list[tuple[str, int, int, int]]:
    """(group, M, N, K) of every shape of a suite file (`[[shape]]` tables of `group = "..."` and
    `mnk = [[M, N, K], ...]`), in file order; only `groups`' shapes when given. InputError names what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"shape file {path}: cannot be read as TOML ({exc})") from None
    entries = data.get("shape")
    if set(data) != {"shape"} or not isinstance(entries, list) or not entries:
        raise InputError(f"shape file {path}: needs one or more [[shape]] tables and nothing else")
    shapes = [(group, *mnk) for index, entry in enumerate(entries) for group, mnk in _shape_entry(path, index, entry)]
    known = {group for group, *_ in shapes}
    if groups is not None and not groups <= known:
        raise InputError(f"shape file {path}: no shapes in group(s) {sorted(groups - known)}; it has {sorted(known)}")
    return [shape for shape in shapes if groups is None or shape[0] in groups]


def _shape_entry(path: Path, index: int, entry) -> list[tuple[str, tuple[int, int, int]]]:
    where = f"shape file {path}: shape[{index}]"
    if not isinstance(entry, dict) or set(entry) != {"group", "mnk"} or not isinstance(entry["group"], str):
        raise InputError(f"{where} must be a table of exactly group (a string) and mnk (a list of [M, N, K])")
    if not isinstance(entry["mnk"], list) or not entry["mnk"]:
        raise InputError(f"{where}.mnk must be a non-empty list of [M, N, K]")
    for mnk in entry["mnk"]:
        if not (isinstance(mnk, list) and len(mnk) == 3 and all(is_int(x) and 0 < x < MAX_DIMENSION for x in mnk)):
            raise InputError(f"{where}.mnk: {mnk!r} is not [M, N, K] of positive integers below 2^31")
        if mnk[1] % 16 or mnk[2] % 16:
            raise InputError(f"{where}.mnk: {mnk!r}: N and K must be multiples of 16 (torch._scaled_mm's rule; "
                             "fp8gen's for K)")
    return [(entry["group"], tuple(mnk)) for mnk in entry["mnk"]]


@dataclass
class InputSet:
    a: torch.Tensor
    b: torch.Tensor
    ours: tuple[torch.Tensor, torch.Tensor]    # fp8gen's scale_a, scale_b
    theirs: tuple[torch.Tensor, torch.Tensor]  # the same values in torch._scaled_mm's layout
    out: torch.Tensor


def random_scale(kind: str, rows: int, k: int) -> torch.Tensor:
    """Positive scales of one operand (rows x K) in fp8gen's preferred layout: tensor (1,), row (rows, 1),
    group (rows, K/128) M-major (what cuBLASLt requires and fp8gen prefers), block (rows/128, K/128)."""
    positive = lambda *shape: torch.rand(*shape, device="cuda") + 0.5  # noqa: E731
    groups = -(-k // 128)
    if kind == "tensor":
        return positive(1)
    if kind == "row":
        return positive(rows, 1)
    if kind == "group":
        return positive(groups, rows).t()
    return positive(-(-rows // 128), groups)


def random_inputs(recipe: str, m: int, n: int, k: int) -> InputSet:
    a = (torch.randn(m, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    kind_a, kind_b = RECIPE_KINDS[recipe]
    sa, sb = random_scale(kind_a, m, k), random_scale(kind_b, n, k)
    if recipe == "tensor":
        return InputSet(a, b, (sa, sb), (sa, sb), out)
    if recipe == "row":
        return InputSet(a, b, (sa, sb), (sa, sb.reshape(1, n).contiguous()), out)
    # fp8gen: A's groups as fp8gen.quantize returns them (M-major with 16-byte aligned groups: for M not a
    # multiple of 4, cuBLASLt's M-major layout would cost fp8gen a copy per call); torch wants B's blocks as
    # (K/128, N/128) with stride (1, K/128).
    return InputSet(a, b, (rows_contiguous(sa), sb), (sa, sb.t()), out)


def input_set_count(m: int, n: int, k: int) -> int:
    return input_sets_for(m * k + n * k + 2 * m * n)  # fp8 A and B, bf16 D


def input_sets_for(set_bytes: int) -> int:
    """Input sets to rotate so that each call starts with its operands out of L2."""
    return max(2, min(MAX_INPUT_SETS, -(-ROTATION_BYTES // set_bytes)))


def capture_graph(calls: list[Callable[[], object]]) -> torch.cuda.CUDAGraph:
    """`calls` captured in one CUDA graph, after a warm-up run outside the capture (module loads,
    descriptor caches)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for call in calls:
            call()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for call in calls:
            call()
    graph.replay()
    torch.cuda.synchronize()
    return graph


def replay_ms(graph: torch.cuda.CUDAGraph) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def graph_ms(*call_lists: list[Callable[[], object]], replays: int = 20) -> list[float]:
    """For each list of calls: the median over graph replays of (replay time / len(calls)). The lists'
    replays alternate, so that every library sees the same clocks (the H100's clocks drift by ~10% as
    it heats up within seconds)."""
    graphs = [capture_graph(calls) for calls in call_lists]
    samples: list[list[float]] = [[] for _ in graphs]
    for _ in range(replays):
        for graph, calls, out in zip(graphs, call_lists, samples):
            out.append(replay_ms(graph) / len(calls))
    return [sorted(s)[len(s) // 2] for s in samples]


def events_ms(call: Callable[[], object]) -> float:
    from triton.testing import do_bench

    return do_bench(call, warmup=25, rep=100, return_mode="median")


def bench_spec(recipe: str, m: int, n: int, k: int) -> GemmSpec:
    """The kernel fp8gen.gemm would run: a tuned one where `fp8gen tune` measured this shape."""
    kind_a, kind_b = RECIPE_KINDS[recipe]
    return tuning.select_spec(torch.cuda.get_device_name(), m, n, k, "e4m3", "e4m3", "bf16", ScaleRecipe(kind_a),
                              ScaleRecipe(kind_b))


def bench_shape(recipe: str, m: int, n: int, k: int, timing: str = "graph") -> dict:
    spec = bench_spec(recipe, m, n, k)
    kernel = compile_spec(spec)
    sets = [random_inputs(recipe, m, n, k) for _ in range(input_set_count(m, n, k) if timing == "graph" else 1)]
    ours = lambda s: kernel(s.a, s.b, *s.ours, out=s.out)  # noqa: E731
    theirs = lambda s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16)  # noqa: E731
    flops = 2.0 * m * n * k
    bytes_moved = m * k + n * k + 2 * m * n
    row = {"m": m, "n": n, "k": k, "spec": spec.name, "timing": timing, "input_sets": len(sets)}
    ours_out = ours(sets[0]).float()
    ours_calls = [lambda s=s: ours(s) for s in sets]
    try:
        theirs_out = theirs(sets[0]).float()
    except RuntimeError as exc:  # cuBLASLt rejects some shapes for some recipes (e.g. M % 4 for blockwise)
        t_ours = graph_ms(ours_calls)[0] if timing == "graph" else events_ms(lambda: ours(sets[0]))
        return {**row, "fp8gen_ms": t_ours, "fp8gen_tflops": flops / t_ours / 1e9,
                "fp8gen_gbps": bytes_moved / t_ours / 1e6, "cublaslt_error": str(exc).splitlines()[0][:200]}
    if timing == "graph":
        t_ours, t_theirs = graph_ms(ours_calls, [lambda s=s: theirs(s) for s in sets])
    else:
        t_ours, t_theirs = events_ms(lambda: ours(sets[0])), events_ms(lambda: theirs(sets[0]))
    row.update(fp8gen_ms=t_ours, fp8gen_tflops=flops / t_ours / 1e9, fp8gen_gbps=bytes_moved / t_ours / 1e6)
    agreement = (torch.linalg.vector_norm(ours_out - theirs_out) / torch.linalg.vector_norm(theirs_out)).item()
    return {**row, "agreement_rel": agreement, "cublaslt_ms": t_theirs, "cublaslt_tflops": flops / t_theirs / 1e9,
            "cublaslt_gbps": bytes_moved / t_theirs / 1e6, "ratio": t_theirs / t_ours}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def summarize(rows: list[dict]) -> dict[str, float]:
    """Geomean fp8gen/cuBLASLt speed ratio per shape group, and over M <= 128 and M >= 2048."""
    ratios = lambda keep: [r["ratio"] for r in rows if "ratio" in r and keep(r)]  # noqa: E731
    summary = {g: geomean(ratios(lambda r, g=g: r["group"] == g)) for g in sorted({r["group"] for r in rows})}
    summary["M<=128"] = geomean(ratios(lambda r: r["m"] <= 128))
    summary["M>=2048"] = geomean(ratios(lambda r: r["m"] >= 2048))
    return {name: value for name, value in summary.items() if not math.isnan(value)}


def format_report(recipe: str, rows: list[dict], summary: dict[str, float]) -> str:
    lines = [f"\n### recipe: {recipe}\n",
             "| group | M | N | K | fp8gen TFLOP/s | cuBLASLt TFLOP/s | ratio | fp8gen GB/s | cuBLASLt GB/s | agreement |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = "ratio" in r
        theirs = f"{r['cublaslt_tflops']:.1f}" if ok else "error"
        ratio = f"{r['ratio']:.2f}" if ok else "-"
        their_bw = f"{r['cublaslt_gbps']:.0f}" if ok else "-"
        agree = f"{r['agreement_rel']:.1e}" if ok else r.get("cublaslt_error", "")[:40]
        lines.append(f"| {r['group']} | {r['m']} | {r['n']} | {r['k']} | {r['fp8gen_tflops']:.1f} | {theirs} | "
                     f"{ratio} | {r['fp8gen_gbps']:.0f} | {their_bw} | {agree} |")
    lines.append("\ngeomean fp8gen/cuBLASLt speed ratio: " + ", ".join(f"{g} {v:.2f}" for g, v in summary.items()))
    return "\n".join(lines)


def environment() -> dict:
    from .toolchain import toolchain

    tc = toolchain()
    return {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "fp8gen": __version__, "nvrtc": tc.nvrtc_version, "cutlass": tc.cutlass_version, "cccl": tc.cccl_version,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def plot(results: dict, path: Path) -> bool:
    """TFLOP/s per shape for both libraries and the dense FP8 peak, one panel per recipe. False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    recipes = list(results)
    fig, axes = plt.subplots(len(recipes), 1, figsize=(14, 4 * len(recipes)), squeeze=False)
    for ax, recipe in zip(axes[:, 0], recipes):
        rows = results[recipe]["rows"]
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["fp8gen_tflops"] for r in rows], width=0.4, label="fp8gen")
        ax.bar([i + 0.2 for i in x], [r.get("cublaslt_tflops", 0.0) for r in rows], width=0.4, label="cuBLASLt")
        ax.axhline(H100_DENSE_FP8_TFLOPS, color="gray", linestyle="--", label="H100 dense FP8 peak")
        ax.set_xticks(list(x), [f"{r['m']}x{r['n']}x{r['k']}" for r in rows], rotation=60, fontsize=7)
        ax.set_ylabel("TFLOP/s")
        ax.set_title(f"recipe: {recipe}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def run(recipes: list[str], shapes_path: Path, groups: set[str] | None, timing: str,
        log: Callable[[str], None] = print) -> dict:
    shapes = load_shapes(shapes_path, groups)
    # All kernels first, NVRTC compiles in parallel, so that the timed loop below only loads them.
    specs = list(dict.fromkeys(bench_spec(recipe, m, n, k) for recipe in recipes for _, m, n, k in shapes))
    build_many(specs, jobs=os.cpu_count() or 1)
    results = {}
    for recipe in recipes:
        rows = [{"group": group, **bench_shape(recipe, m, n, k, timing)} for group, m, n, k in shapes]
        summary = summarize(rows)
        log(format_report(recipe, rows, summary))
        results[recipe] = {"rows": rows, "geomean_ratio": summary}
    return {"env": environment(), "recipes": results}
