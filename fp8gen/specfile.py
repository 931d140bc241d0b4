"""TOML spec files: data only (parsed with tomllib, never evaluated).

    [defaults]            # optional; fields every kernel inherits
    out = "bf16"

    [[kernel]]            # one table per kernel; fields as in fp8gen.GemmSpec
    name = "prefill_bf16"
    a = "e4m3"
    b = "e4m3"
    tile = [128, 128, 128]
    stages = "auto"
    scale_a = "tensor"    # or { kind = "group", group_size = 128, dtype = "f32" }
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import SpecError
from .spec import GemmSpec

TOP_LEVEL_KEYS = {"defaults", "kernel"}


def parse_specs(text: str, origin: str = "<string>") -> list[GemmSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("spec file", origin, f"is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise SpecError("spec file", origin, "nests arrays or inline tables too deeply to parse") from None
    unknown = set(data) - TOP_LEVEL_KEYS
    if unknown:
        raise SpecError("spec file", origin, f"unknown top-level keys {sorted(unknown)}; allowed: defaults, kernel")
    defaults = data.get("defaults", {})
    kernels = data.get("kernel", [])
    if not isinstance(defaults, dict) or not isinstance(kernels, list) or not kernels:
        raise SpecError("spec file", origin, "needs one or more [[kernel]] tables (and optionally a [defaults] table)")
    fields = set(GemmSpec.__dataclass_fields__)
    if set(defaults) - fields:
        raise SpecError(f"{origin}: defaults", sorted(set(defaults) - fields),
                        f"unknown fields; allowed: {', '.join(sorted(fields))}")
    specs = []
    for index, table in enumerate(kernels):
        if not isinstance(table, dict):
            raise SpecError(f"{origin}: kernel[{index}]", table, "must be a table of GemmSpec fields")
        unknown = set(table) - fields
        if unknown:
            raise SpecError(f"{origin}: kernel[{index}]", sorted(map(str, unknown)),
                            f"unknown fields; allowed: {', '.join(sorted(fields))}")
        try:
            specs.append(GemmSpec.from_dict({**defaults, **table}))
        except SpecError as exc:
            raise exc.renamed(f"{origin}: {_where(exc.field, index, table, defaults)}") from None
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError("spec file", origin, f"kernel names must be unique; repeated: {duplicates}")
    return specs


def _where(field: str, index: int, table: dict, defaults: dict) -> str:
    """Where a field's bad value was written: the kernel's table, or [defaults] when the kernel inherits it."""
    top = field.split(".")[0].split("[")[0]
    if top not in table and top in defaults:
        return f"defaults.{field} (inherited by kernel[{index}])"
    return f"kernel[{index}].{field}"


def load_specs(path: str | Path) -> list[GemmSpec]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark, which TOML does not allow, is dropped)
    except OSError as exc:
        raise SpecError("spec file", str(path), f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SpecError("spec file", str(path), f"is not UTF-8 text (TOML is): {exc.reason} at byte {exc.start}") from None
    return parse_specs(text, str(path))
