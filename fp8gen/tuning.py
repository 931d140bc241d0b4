"""Per-shape kernel choices measured on the GPU by `fp8gen tune`, kept on disk and used by fp8gen.gemm.

One table per GPU model and fp8gen version: <cache dir>/tuning/<gpu>/fp8gen-<version>.json. Its entries
are keyed by the problem (formats, output, recipes, epilogue chain) and a shape bucket: N and K exactly,
M rounded up to a power of two (serving batch sizes vary). A table from another fp8gen version is never
read: kernels and their speed change between versions. This module only stores and looks up; the
measuring lives in fp8gen/tune.py.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import warnings
from pathlib import Path

from . import env
from . import epilogue as epilogue_dsl
from .errors import CacheSecurityError, OutOfResources, SpecError
from .fsutil import atomic_write, check_private
from .heuristics import DECODE_MAX_M, DECODE_WIDTHS, choose_spec
from .spec import DEFAULT_RASTER_GROUP, GemmSpec, ScaleRecipe
from .version import __version__

TABLE_FORMAT = 1
MIN_M_BUCKET = 16


def m_bucket(m: int) -> int:
    """M rounded up to a power of two (at least MIN_M_BUCKET)."""
    return max(MIN_M_BUCKET, 1 << max(m - 1, 0).bit_length())


def _problem(a: str, b: str, out: str, recipe_a: ScaleRecipe, recipe_b: ScaleRecipe, epilogue: tuple) -> str:
    chain = epilogue_dsl.chain_label(tuple(epilogue)) or "-"
    return f"{a},{b},{out},{recipe_a.label()},{recipe_b.label()},{chain}"


def problem_label(spec: GemmSpec) -> str:
    """What a spec computes (formats, output, recipes, chain): a problem key's part before "|"."""
    return _problem(spec.a, spec.b, spec.out, spec.scale_a, spec.scale_b, spec.epilogue)


def problem_key(m: int, n: int, k: int, a: str, b: str, out: str, recipe_a: ScaleRecipe, recipe_b: ScaleRecipe,
                epilogue: tuple = ()) -> str:
    return f"{_problem(a, b, out, recipe_a, recipe_b, epilogue)}|m{m_bucket(m)},n{n},k{k}"


def table_path(gpu_name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", gpu_name).strip("-").lower() or "unknown-gpu"
    return env.cache_dir() / "tuning" / slug / f"fp8gen-{__version__}.json"


class TuningTable:
    """The measured choices for one GPU model: key -> {"spec": ..., "ms": ..., "default_ms": ..., "date": ...}."""

    def __init__(self, path: Path, gpu_name: str, entries: dict | None = None):
        self.path = path
        self.gpu_name = gpu_name
        self.entries: dict[str, dict] = entries or {}
        self._specs: dict[str, GemmSpec] = {}

    @classmethod
    def load(cls, gpu_name: str) -> "TuningTable":
        """The table for this GPU model; empty when there is none, and (with a warning) when it is unreadable
        or not private to this user (the kernel cache's rule, FP8GEN_TRUST_SHARED_CACHE lifts it)."""
        path = table_path(gpu_name)
        try:
            check_private(path)  # a table someone else can write could steer every gemm() call
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path, gpu_name)
        except CacheSecurityError as exc:
            warnings.warn(f"fp8gen: ignoring tuning table: {exc}", stacklevel=2)
            return cls(path, gpu_name)
        except (OSError, ValueError) as exc:
            warnings.warn(f"fp8gen: ignoring unreadable tuning table {path} ({exc})", stacklevel=2)
            return cls(path, gpu_name)
        if not isinstance(data, dict) or not isinstance(data.get("entries", {}), dict):
            warnings.warn(f"fp8gen: ignoring tuning table {path}: not a table of entries", stacklevel=2)
            return cls(path, gpu_name)
        if data.get("format") != TABLE_FORMAT or data.get("fp8gen") != __version__ or data.get("gpu") != gpu_name:
            warnings.warn(f"fp8gen: ignoring tuning table {path}: made for another format, version or GPU",
                          stacklevel=2)
            return cls(path, gpu_name)
        return cls(path, gpu_name, data.get("entries", {}))

    def spec(self, key: str) -> GemmSpec | None:
        """The entry's spec; None (with a warning) when it does not validate or computes another problem than
        its key names (formats, output, recipes, chain: a hand-edited table)."""
        if key not in self._specs:
            entry = self.entries.get(key)
            if entry is None:
                return None
            try:
                spec = GemmSpec.from_dict(entry["spec"])
            except (SpecError, KeyError, TypeError) as exc:
                warnings.warn(f"fp8gen: ignoring tuning entry {key} in {self.path} ({exc})", stacklevel=2)
                return None
            if spec.grouping != "none" or problem_label(spec) != key.split("|")[0]:
                warnings.warn(f"fp8gen: ignoring tuning entry {key} in {self.path}: its spec computes "
                              f"{problem_label(spec)} (grouping {spec.grouping})", stacklevel=2)
                return None
            self._specs[key] = spec
        return self._specs[key]

    def record(self, key: str, spec: GemmSpec, ms: float, default_ms: float) -> None:
        self.entries[key] = {"spec": spec.to_dict(), "ms": ms, "default_ms": default_ms,
                             "date": time.strftime("%Y-%m-%d")}
        self._specs.pop(key, None)

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": TABLE_FORMAT, "fp8gen": __version__, "gpu": self.gpu_name, "entries": self.entries}
        atomic_write(self.path, json.dumps(data, indent=2, sort_keys=True))
        return self.path


_tables: dict[str, TuningTable] = {}
_tables_lock = threading.Lock()


def table(gpu_name: str) -> TuningTable:
    """The table for a GPU model, read once per process (see reload)."""
    with _tables_lock:
        if gpu_name not in _tables:
            _tables[gpu_name] = TuningTable.load(gpu_name)
        return _tables[gpu_name]


def reload() -> None:
    """Forget the tables read so far (the next lookup reads the files again)."""
    with _tables_lock:
        _tables.clear()
    select_spec.cache_clear()


@functools.lru_cache(maxsize=4096)
def select_spec(gpu_name: str, m: int, n: int, k: int, a: str, b: str, out: str, recipe_a: ScaleRecipe,
                recipe_b: ScaleRecipe, epilogue: tuple = ()) -> GemmSpec:
    """The tuned spec for this problem on this GPU model if `fp8gen tune` measured one, else the heuristic's."""
    if env.tuning_enabled():
        tuned = table(gpu_name).spec(problem_key(m, n, k, a, b, out, recipe_a, recipe_b, epilogue))
        if tuned is not None:
            return tuned
    return choose_spec(m, n, k, a, b, out, recipe_a, recipe_b, epilogue)


def candidates(m: int, n: int, k: int, a: str, b: str, out: str, recipe_a: ScaleRecipe, recipe_b: ScaleRecipe,
               epilogue: tuple = (), allow_fast: bool = False) -> list[GemmSpec]:
    """Specs worth timing for a problem: the heuristic's first, then other tile widths (decode shapes:
    the heuristic's candidate widths too), a 2-CTA cluster,
    rasterization groups, ping-pong schedules and (allow_fast: the numerics differ) fast accumulation.
    Only valid specs."""
    default = choose_spec(m, n, k, a, b, out, recipe_a, recipe_b, epilogue)
    bm, bn, bk = default.tile
    widths = sorted({64, 128, 192, 256} | (set(DECODE_WIDTHS) if m <= DECODE_MAX_M else set()))
    variants = [{"tile": (bm, width, bk)} for width in widths if width != bn]
    if bm == 128:
        variants.append({"tile": (64, bn, bk)})
    elif m > 64:
        variants.append({"tile": (128, bn, bk)})
    variants += [{"raster_group": group} for group in (4, DEFAULT_RASTER_GROUP, 16)]  # (the default's own: dropped)
    variants += [{"tile": (64, width, bk), "schedule": "pingpong"} for width in (128, 192)]
    if m >= 256:
        variants.append({"cluster": (2, 1)})
    if allow_fast and not default.has_k_group_scales:
        variants += [{"accumulation": "fast", "tile": (bm, width, bk)} for width in (128, 256)]
        variants.append({"accumulation": "fast", "tile": (64, 256, bk), "schedule": "pingpong"})
    specs = [default]
    for changes in variants:
        try:
            spec = default.with_changes(stages="auto", **changes)
        except (SpecError, OutOfResources):
            continue
        if spec not in specs:
            specs.append(spec)
    return specs
