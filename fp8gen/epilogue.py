"""The epilogue chain of the DSL: ops applied in fp32 to the scaled accumulator, in order, then the
output cast.

    alpha                      x *= alpha (a host float or a device scalar, given at the call)
    bias   {axis, dtype}       x += bias[n] ("column": an N-vector) or bias[m] ("row": an M-vector)
    residual {dtype}           x += beta * C[m, n] (C is (M, N); beta given at the call; may alias D)
    relu, gelu {approximate}, silu, clamp {lo, hi}
    amax                       records max |x| over the output into a device scalar (fp32)
    group_quantize {group_size, dtype}
                               last op, FP8 output only: D = x / s with one scale s per row and
                               1 x group_size columns (amax / FP8 max), written as an (M, N / G) tensor

An FP8 output without group_quantize is D = saturate(x / out_scale) with out_scale given at the call.
Nothing here knows about C++; `render` maps each op to its device type in templates/epilogue.j2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Union

from .errors import SpecError
from .fields import choose, is_int

OP_NAMES = ("alpha", "bias", "residual", "relu", "gelu", "silu", "clamp", "amax", "group_quantize")
# Activation names the Python surface (fp8gen.gemm, torch ops, FP8Linear) takes: ops or shorthands of ops.
ACTIVATION_NAMES = ("relu", "gelu", "gelu_tanh", "silu")
VECTOR_DTYPES = ("bf16", "f16", "f32")
BIAS_AXES = ("column", "row")
GELU_FORMS = ("none", "tanh")
GROUP_SCALE_DTYPES = ("f32", "ue8m0")
FP8_OUTPUTS = ("e4m3", "e5m2")
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_MIN_NORMAL = 2.0 ** -126
# Ops that read a per-call argument: at most one of each in a chain.
SINGLE_USE = ("alpha", "bias", "residual", "amax", "group_quantize")
# Shorthand names accepted in place of a table.
SHORTHANDS = {"gelu_tanh": {"op": "gelu", "approximate": "tanh"}, "row_bias": {"op": "bias", "axis": "row"}}

_FIELDS_OF_OP = {
    "alpha": (), "relu": (), "silu": (), "amax": (),
    "bias": ("axis", "dtype"),
    "residual": ("dtype",),
    "gelu": ("approximate",),
    "clamp": ("lo", "hi"),
    "group_quantize": ("group_size", "dtype"),
}
_DEFAULTS = {
    "bias": {"axis": "column", "dtype": "bf16"},
    "residual": {"dtype": "bf16"},
    "gelu": {"approximate": "none"},
    "group_quantize": {"group_size": 128, "dtype": "f32"},
}


@dataclass(frozen=True)
class EpilogueOp:
    """One op of the chain; only the fields its op uses are set (see the module docstring)."""

    op: str
    axis: str = ""
    dtype: str = ""
    approximate: str = ""
    lo: float = 0.0
    hi: float = 0.0
    group_size: int = 0

    def __post_init__(self):
        where = f"epilogue.{self.op}"
        if self.op not in OP_NAMES:
            raise SpecError("epilogue", self.op, f"unknown op; allowed: {', '.join(OP_NAMES + tuple(SHORTHANDS))}")
        self._validate_unused_fields(where)
        if self.op == "bias":
            choose(f"{where}.axis", self.axis, BIAS_AXES)
        if self.op in ("bias", "residual"):
            choose(f"{where}.dtype", self.dtype, VECTOR_DTYPES)
        if self.op == "gelu":
            choose(f"{where}.approximate", self.approximate, GELU_FORMS)
        if self.op == "clamp":
            self._validate_clamp(where)
        if self.op == "group_quantize":
            choose(f"{where}.dtype", self.dtype, GROUP_SCALE_DTYPES)
            if not is_int(self.group_size) or self.group_size <= 0 or self.group_size % 8:
                raise SpecError(f"{where}.group_size", self.group_size, "must be a positive multiple of 8")

    def _validate_unused_fields(self, where: str) -> None:
        used = _FIELDS_OF_OP[self.op]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("op", *used) and (type(value) is not type(f.default) or value != f.default):
                listing = ", ".join(used) if used else "no options"
                raise SpecError(f"{where}.{f.name}", value, f"{self.op} takes {listing}")

    def _validate_clamp(self, where: str) -> None:
        for name in ("lo", "hi"):
            value = getattr(self, name)
            # Finite in float32, and not below its normal range, where the kernel's literal would not be exact.
            if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
                    or abs(value) > FLOAT32_MAX or 0 < abs(value) < FLOAT32_MIN_NORMAL):
                raise SpecError(f"{where}.{name}", value, "must be a finite float32 number: 0 or 1.18e-38 <= |x| "
                                                          "<= 3.4e38")
            object.__setattr__(self, name, float(value))
        if self.lo > self.hi:
            raise SpecError(f"{where}", (self.lo, self.hi), "needs lo <= hi")

    @classmethod
    def parse(cls, value: Union[str, dict, "EpilogueOp"]) -> "EpilogueOp":
        if isinstance(value, EpilogueOp):
            return value
        if isinstance(value, str):
            value = SHORTHANDS.get(value, {"op": value})
        if not isinstance(value, dict) or "op" not in value:
            raise SpecError("epilogue", value, "each op is a name (e.g. 'relu') or a table with an 'op' key")
        op = value["op"]
        if op not in OP_NAMES:
            raise SpecError("epilogue", op, f"unknown op; allowed: {', '.join(OP_NAMES + tuple(SHORTHANDS))}")
        allowed = _FIELDS_OF_OP[op]
        unknown = set(value) - {"op", *allowed}
        if unknown:
            listing = ", ".join(allowed) if allowed else "none"
            raise SpecError(f"epilogue.{op}", sorted(map(str, unknown)), f"unknown keys; {op} takes: {listing}")
        if op == "clamp" and not {"lo", "hi"} <= set(value):
            raise SpecError("epilogue.clamp", value, "needs both lo and hi")
        return cls(**{**_DEFAULTS.get(op, {}), **value})

    def to_dict(self) -> dict:
        fields = asdict(self)
        return {"op": self.op, **{name: fields[name] for name in _FIELDS_OF_OP[self.op]}}

    def label(self) -> str:
        if self.op == "bias":
            return f"bias{self.axis[0]}{self.dtype}"
        if self.op == "residual":
            return f"res{self.dtype}"
        if self.op == "gelu":
            return "gelu" if self.approximate == "none" else "gelutanh"
        if self.op == "group_quantize":
            return f"q{self.group_size}{self.dtype}"
        return self.op


def parse_chain(chain, out: str, block_n: int) -> tuple[EpilogueOp, ...]:
    """Validate a chain (a sequence of ops, names or tables) for an output dtype and tile width."""
    if not isinstance(chain, (list, tuple)):
        raise SpecError("epilogue", chain, "must be a list of ops, e.g. ['bias', 'gelu']")
    ops = tuple(_parse_at(index, op) for index, op in enumerate(chain))
    names = [op.op for op in ops]
    for name in SINGLE_USE:
        if names.count(name) > 1:
            positions = [index for index, n in enumerate(names) if n == name]
            raise SpecError("epilogue", list(chain), f"{name!r} may appear once (ops {positions} are each a {name})")
    if "group_quantize" in names:
        quantize = ops[-1]
        if quantize.op != "group_quantize":
            raise SpecError("epilogue", names, "group_quantize must be the last op")
        if out not in FP8_OUTPUTS:
            raise SpecError("out", out, "the chain ends in group_quantize, which writes FP8: out must be e4m3 or e5m2")
        if block_n % quantize.group_size:
            raise SpecError("epilogue.group_quantize.group_size", quantize.group_size,
                            f"must divide the tile width BN = {block_n} (a group lies in one tile)")
    return ops


def _parse_at(index: int, op) -> EpilogueOp:
    """One op of a chain; its errors name its position (epilogue[1].clamp), a chain may hold two clamps."""
    try:
        return EpilogueOp.parse(op)
    except SpecError as exc:
        raise exc.renamed(exc.field.replace("epilogue", f"epilogue[{index}]", 1)) from None


def find(chain: tuple[EpilogueOp, ...], op: str) -> EpilogueOp | None:
    return next((o for o in chain if o.op == op), None)


def chain_label(chain: tuple[EpilogueOp, ...]) -> str:
    return "_".join(op.label() for op in chain)
