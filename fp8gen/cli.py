"""The `fp8gen` command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import env
from .build import Artifact, build_many
from .cache import DiskCache
from .errors import Fp8genError
from .specfile import load_specs
from .version import __version__

TABLE_COLUMNS = ("name", "key", "compile_s", "cubin_bytes", "registers", "smem_bytes", "spills", "wgmma")


def _row(artifact: Artifact) -> tuple[str, ...]:
    res = artifact.resources
    seconds = "cached" if artifact.compile_seconds is None else f"{artifact.compile_seconds:.1f}"
    return (artifact.spec.name, artifact.key[:12], seconds, str(len(artifact.cubin)),
            str(res.registers if res.registers is not None else "?"), str(artifact.meta["launch"]["smem_bytes"]),
            str(res.spill_bytes), "SERIALIZED" if res.wgmma_serialized else "ok")


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...] = TABLE_COLUMNS) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def progress_bar(done: int, total: int, width: int = 20) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _output_directory(text: str) -> Path:
    """An output directory that exists or can be made, checked before anything is compiled."""
    if not text:
        raise Fp8genError("the output directory (-o) must not be empty")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise Fp8genError(f"output {path} exists and is not a directory")
    ancestor = next(p for p in path.absolute().parents if p.exists())
    if not ancestor.is_dir():
        raise Fp8genError(f"output {path} cannot be made: {ancestor} is not a directory")
    return path


PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


def _output_file(text: str, option: str) -> None:
    """A file the command will write after its run, checked before the run."""
    path = Path(text)
    if not text or path.is_dir():
        raise Fp8genError(f"{option} {text!r}: name a file to write")
    if not path.absolute().parent.is_dir():
        raise Fp8genError(f"{option} {text!r}: its directory {path.absolute().parent} does not exist")


def _prepared_cache() -> DiskCache:
    """The kernel cache, made and checked before anything is compiled into it."""
    cache = DiskCache(env.cache_dir())
    cache.prepare()
    return cache


def cmd_build(args) -> int:
    specs = load_specs(args.spec)
    out_dir = _output_directory(args.output if args.output is not None else str(env.generated_dir()))
    cache = _prepared_cache()
    done = [0]

    def progress(artifact: Artifact) -> None:
        done[0] += 1
        print(f"{progress_bar(done[0], len(specs))} {artifact.spec.name}", file=sys.stderr, flush=True)

    artifacts = build_many(specs, jobs=args.jobs, cache=cache, generated=out_dir, on_done=progress)
    print(format_table([_row(a) for a in artifacts]))
    print(f"\nsources in {out_dir}/, cubins in {cache.root}/")
    return 0


def _suite_arguments(args, command: str) -> tuple[list[str], Path, set[str] | None]:
    """(recipes, shape file, shape groups) of `fp8gen bench` / `fp8gen tune`, which need a GPU."""
    import torch

    from . import bench

    recipes = args.recipe.split(",")
    unknown = [r for r in recipes if r not in bench.RECIPE_KINDS]
    if unknown:
        raise Fp8genError(f"unknown recipe {unknown[0]!r}; choose from {', '.join(bench.RECIPE_KINDS)}")
    if len(set(recipes)) != len(recipes):
        raise Fp8genError(f"--recipe {args.recipe!r} names a recipe twice")
    if args.groups is not None and not all(args.groups.split(",")):
        raise Fp8genError(f"--groups {args.groups!r} has an empty group name")
    groups = set(args.groups.split(",")) if args.groups is not None else None
    shapes = Path(args.shapes) if args.shapes else bench.DEFAULT_SHAPES
    bench.load_shapes(shapes, groups)  # a bad file or group is reported before the GPU is asked for
    _output_file(args.json, "--json")
    if getattr(args, "plot", ""):
        _output_file(args.plot, "--plot")
        if Path(args.plot).suffix.lower().lstrip(".") not in PLOT_FORMATS:
            raise Fp8genError(f"--plot {args.plot!r}: name a {', '.join(PLOT_FORMATS)} file, or '' for no plot")
    if not torch.cuda.is_available():
        raise Fp8genError(f"fp8gen {command} needs a CUDA GPU")
    return recipes, shapes, groups


def cmd_bench(args) -> int:
    import json

    from . import bench

    results = bench.run(*_suite_arguments(args, "bench"), args.timing)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    if args.plot:
        print(f"wrote {args.plot}" if bench.plot(results["recipes"], Path(args.plot))
              else "no plot: matplotlib is not installed")
    return 0


def cmd_tune(args) -> int:
    import json

    from . import tune

    rows = tune.run(*_suite_arguments(args, "tune"), args.allow_fast, args.jobs)
    Path(args.json).write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.json}")
    return 0


def cmd_export(args) -> int:
    from .export import export_bundle

    specs = load_specs(args.spec)
    manifest = export_bundle(specs, _output_directory(args.output), jobs=args.jobs, cache=_prepared_cache())
    print(f"bundle in {manifest.parent}/ ({manifest.name}, fp8gen_kernels.h/.c, CMakeLists.txt)")
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def cmd_cache(args) -> int:
    import json
    import time

    cache = DiskCache(env.cache_dir())
    if args.action == "list":
        now = time.time()
        rows = [(e.name, str(e.meta.get("key", "?"))[:12], str(e.bytes), _age(now - e.modified), e.fp8gen_version)
                for e in cache.entries()]
        print(format_table(rows, ("name", "key", "bytes", "age", "fp8gen")))
        print(f"\n{len(rows)} entries in {cache.root}")
    elif args.action == "info":
        if not args.key:
            raise Fp8genError("cache info needs a key or a prefix of one")
        matches = cache.find(args.key)
        if not matches:
            raise Fp8genError(f"no cache entry in {cache.root} has a key starting with {args.key!r}")
        if len(matches) > 1:
            raise Fp8genError(f"key prefix {args.key!r} matches {len(matches)} cache entries; give a longer one")
        print(json.dumps({"path": str(matches[0].path), **matches[0].meta}, indent=2, sort_keys=True))
    elif args.action == "clear":
        print(f"removed {cache.remove(cache.entries())} entries from {cache.root}")
    else:
        print(f"removed {cache.remove(cache.older_than(args.older_than * 86400))} entries older than "
              f"{args.older_than} days from {cache.root}")
    return 0


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of jobs")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative number of days")
    return value


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fp8gen", description="FP8 GEMM kernel generator for Hopper (sm_90a).")
    parser.add_argument("--version", action="version", version=f"fp8gen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="render and compile every kernel of a TOML spec file")
    p.add_argument("spec", help="spec file (TOML)")
    p.add_argument("-o", "--output",
                   help="directory for the rendered sources (default: $FP8GEN_GENERATED_DIR, else ./generated)")
    p.add_argument("-j", "--jobs", type=_jobs, default=1,
                   help="parallel NVRTC compiles, at most one per core (default 1)")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("bench", help="time fp8gen against torch._scaled_mm (cuBLASLt) on a shape suite (GPU)")
    p.add_argument("--shapes", default=None, help="shape suite (TOML; default: the packaged LLM suite)")
    p.add_argument("--recipe", default="tensor,row,block", help="comma-separated: tensor, row, block")
    p.add_argument("--groups", help="comma-separated shape groups to run (default: all)")
    p.add_argument("--timing", choices=("graph", "events"), default="graph",
                   help="graph: CUDA-graph replays over rotating inputs (default); events: do_bench per call")
    p.add_argument("--json", default="fp8gen-bench.json", help="where to write the numbers")
    p.add_argument("--plot", default="fp8gen-bench.png",
                   help="plot file, .png/.pdf/.svg/.jpg (needs matplotlib; '' to skip)")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("tune", help="time candidate kernels per shape on this GPU; fp8gen.gemm then uses the winners")
    p.add_argument("--shapes", default=None, help="shape suite (TOML; default: the packaged LLM suite)")
    p.add_argument("--recipe", default="tensor,row,block", help="comma-separated: tensor, row, block")
    p.add_argument("--groups", help="comma-separated shape groups to tune (default: all)")
    p.add_argument("--allow-fast", action="store_true",
                   help="also try fast accumulation (tensor-core accumulation over all of K: larger error)")
    p.add_argument("-j", "--jobs", type=_jobs, default=8,
                   help="parallel NVRTC compiles, at most one per core (default 8)")
    p.add_argument("--json", default="fp8gen-tune.json", help="where to write the measurements")
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("export", help="compile a spec file's kernels into a C/C++ bundle (no GPU needed)")
    p.add_argument("spec", help="spec file (TOML)")
    p.add_argument("-o", "--output", required=True, help="bundle directory")
    p.add_argument("-j", "--jobs", type=_jobs, default=1,
                   help="parallel NVRTC compiles, at most one per core (default 1)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("cache", help="list, inspect, clear or prune the kernel cache")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="entries with spec name, key, size and age")
    actions.add_parser("info", help="one entry's metadata").add_argument("key", help="cache key (prefix)")
    actions.add_parser("clear", help="remove every entry")
    actions.add_parser("prune", help="remove entries older than --older-than days").add_argument(
        "--older-than", type=_days, required=True, metavar="DAYS")
    p.set_defaults(func=cmd_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        env.check_flags()  # a misspelt FP8GEN_* value is reported whichever command would have read it
        return args.func(args)
    except (Fp8genError, NotImplementedError, OSError) as exc:
        print(f"fp8gen: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
