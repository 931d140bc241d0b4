"""Spec -> CUDA C++ source, through the jinja2 templates under templates/.

Python only fills in parameters; the kernel logic lives in templates/include/fp8gen/*.cuh.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from .abi import epilogue_args_size
from .errors import ToolchainError
from .fsutil import atomic_write
from .spec import GemmSpec
from .version import __version__

ELEMENT_TYPES = {"e4m3": "cutlass::float_e4m3_t", "e5m2": "cutlass::float_e5m2_t"}
OUTPUT_TYPES = {"bf16": "__nv_bfloat16", "f16": "__half", "f32": "float", "e4m3": "__nv_fp8_e4m3",
                "e5m2": "__nv_fp8_e5m2"}
ACCUMULATION_ENUM = {"promoted": "Promoted", "fast": "Fast"}
SCALE_KINDS = {"tensor": "Tensor", "row": "Row", "group": "Group", "block": "Block"}
SCALE_ELEMENTS = {"f32": "float", "ue8m0": "uint8_t"}
GROUPING_ENUM = {"none": "None", "contiguous": "Contiguous", "masked": "Masked"}
GEMM_TEMPLATE = "gemm_sm90.cu.j2"
PRODUCER_REGISTERS = 40
CONSUMER_REGISTERS = {1: 240, 2: 232}

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
_JINJA_IMPORT = re.compile(r'{%-?\s*(?:import|include|from|extends)\s+"([^"]+)"')


def template_dir() -> Path:
    """templates/ inside an installed package, else beside the package in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / GEMM_TEMPLATE).is_file():
            return candidate
    raise ToolchainError(f"fp8gen's templates are not installed: no {GEMM_TEMPLATE} in {package / 'templates'} "
                         f"or {package.parent / 'templates'}")


def include_dir() -> Path:
    return template_dir() / "include"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


@dataclass(frozen=True)
class RenderedSource:
    text: str
    symbol: str
    template: str
    # (path relative to templates/, sha256 of its contents) for the template and every project header it pulls in
    dependencies: tuple[tuple[str, str], ...]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_dependencies(template_name: str) -> tuple[tuple[str, str], ...]:
    """The template and every project header it includes, recursively, with content hashes."""
    root = template_dir()
    seen: dict[str, str] = {}
    pending = [root / template_name]
    while pending:
        path = pending.pop()
        rel = path.relative_to(root).as_posix()
        if rel in seen:
            continue
        seen[rel] = _sha256(path)
        text = path.read_text()
        for name in _INCLUDE.findall(text):
            header = root / "include" / name
            if header.is_file():
                pending.append(header)
        pending.extend(root / name for name in _JINJA_IMPORT.findall(text))
    return tuple(sorted(seen.items()))


def kernel_parameters(spec: GemmSpec) -> dict:
    """Template parameters of a spec."""
    bm, bn, bk = spec.tile
    return {
        "fp8gen_version": __version__,
        "spec_summary": spec.summary(),
        "symbol": spec.symbol,
        "element_a": ELEMENT_TYPES[spec.a],
        "element_b": ELEMENT_TYPES[spec.b],
        "element_d": OUTPUT_TYPES[spec.out],
        "block_m": bm,
        "block_n": bn,
        "block_k": bk,
        "stages": spec.stages,
        "consumer_warpgroups": spec.consumer_warpgroups,
        "ping_pong": "true" if spec.schedule == "pingpong" else "false",
        "accumulation": ACCUMULATION_ENUM[spec.accumulation],
        "promotion_interval": spec.promotion_interval,
        "partials": spec.partial_fragments,
        "column_halves": "true" if spec.column_halves else "false",
        "group_m": spec.raster_group,
        "cluster_m": spec.cluster[0],
        "producer_registers": PRODUCER_REGISTERS,
        "consumer_registers": CONSUMER_REGISTERS[spec.consumer_warpgroups],
        "scale_a": _scale_parameters(spec.scale_a, spec.staged_groups("a")),
        "scale_b": {**_scale_parameters(spec.scale_b, spec.staged_groups("b")),
                    "staged_block_groups": spec.staged_block_groups()},
        "smem_bytes": spec.smem_bytes(spec.stages),
        "output_row_bytes": spec.output_row_bytes,
        "epilogue": [_epilogue_op_parameters(op, spec.out) for op in spec.epilogue],
        "grouping": GROUPING_ENUM[spec.grouping],
        "narrows_a": "true" if spec.narrows_a else "false",
        "epilogue_args_size": epilogue_args_size(),
    }


def _epilogue_op_parameters(op, out: str) -> dict:
    """An op's fields plus what its C++ type needs: element types, exact float literals, and whether activations
    may take their fast forms (the hardware tanh, relative error ~2^-11; the fitted erf gelu, 5.3e-5): below the
    rounding of 16-bit and FP8 outputs, not for float32 ones."""
    return {**op.to_dict(), "element": OUTPUT_TYPES.get(op.dtype, ""),
            "lo_literal": _float_literal(op.lo), "hi_literal": _float_literal(op.hi),
            "fast_activation": "false" if out == "f32" else "true"}


def _float_literal(value: float) -> str:
    """A C++17 hexadecimal float literal: exact, no decimal round trip."""
    return f"{float(value).hex()}f"


def _scale_parameters(recipe, staged_groups: int) -> dict:
    return {"kind": SCALE_KINDS[recipe.kind], "element": SCALE_ELEMENTS[recipe.dtype],
            "group": recipe.group_size if recipe.kind in ("group", "block") else 1,
            "staged_groups": staged_groups}


def render(spec: GemmSpec) -> RenderedSource:
    text = _environment().get_template(GEMM_TEMPLATE).render(**kernel_parameters(spec))
    return RenderedSource(text=text, symbol=spec.symbol, template=GEMM_TEMPLATE,
                          dependencies=project_dependencies(GEMM_TEMPLATE))


def write_generated(source: RenderedSource, directory: Path) -> Path:
    """Write a rendered source to directory/<symbol>.cu (atomically) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{source.symbol}.cu"
    atomic_write(path, source.text)
    return path
