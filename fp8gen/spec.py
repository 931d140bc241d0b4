"""The DSL: a frozen, hashable description of one FP8 GEMM kernel, validated at construction.

Nothing here knows about C++; `render` turns a spec into source.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Union

from . import epilogue as epilogue_dsl
from .errors import OutOfResources, SpecError
from .fields import choose, is_int, positive_int

FORMATS = ("e4m3", "e5m2")
OUT_DTYPES = ("bf16", "f16", "f32", "e4m3", "e5m2")
OUT_BYTES = {"bf16": 2, "f16": 2, "f32": 4, "e4m3": 1, "e5m2": 1}
SCALE_BYTES = {"f32": 4, "ue8m0": 1}  # by scale dtype
ACCUMULATORS = ("f32",)
ACCUMULATIONS = ("promoted", "fast")
SCHEDULES = ("cooperative", "pingpong")
GROUPINGS = ("none", "contiguous", "masked")  # grouped GEMM (mixture of experts): see fp8gen.grouped
SCALE_KINDS = ("tensor", "row", "group", "block")
SCALE_DTYPES = ("f32", "ue8m0")
BLOCK_M_CHOICES = (64, 128, 256)
BLOCK_K_CHOICES = (64, 128)
PROMOTION_INTERVALS = (32, 64, 128)
CLUSTER_CHOICES = ((1, 1), (2, 1))  # (CTAs along M sharing B by TMA multicast, along N)

# sm_90: 227 KiB of shared memory per block once the dynamic limit is raised.
SMEM_LIMIT_BYTES = 232448
# Per stage: two 8-byte mbarriers. The staged scale buffers are 128-byte aligned; the whole
# plan is rounded to 1 KiB (the operand tiles' alignment) plus 1 KiB to align the base.
BARRIER_BYTES_PER_STAGE = 16
# The ping-pong consumers' two turn barriers, the split-K broadcast flag and the empty epilogue factor
# tiles (without per-row scales) and column tiles (without a column bias), padded.
CONTROL_BYTES = 32
SCALE_BUFFER_ALIGNMENT = 128
SMEM_ALIGNMENT = 1024
MAX_AUTO_STAGES = 8
# With M below one tile, kernels whose tiles are at most this wide load only A's M rows (not a whole box the
# TMA would zero-fill past M: up to 40% slower on narrow decode tiles); wider ones measured 5-8% slower with
# the runtime byte count (128x192 block-scale tiles), so they load whole boxes. GemmSpec.narrows_a.
NARROW_A_MAX_BLOCK_N = 128
# The TMA-store epilogue writes output rows in boxes of 128, 64 or 32 bytes (their swizzle width).
OUTPUT_ROW_ALIGN_BYTES = 32
# Consumer warpgroups run with 232 registers; keep this many for fragments.
ACCUMULATOR_REGISTER_LIMIT = 192

MAX_NAME_LENGTH = 128
DEFAULT_RASTER_GROUP = 8
MAX_RASTER_GROUP = 1 << 16  # (a C++ int template argument; more M tiles per group than any problem has)
DEFAULT_GROUP_SIZE = 128
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class ScaleRecipe:
    """How one operand is scaled.

    kind: "tensor" (one scale), "row" (one per row of the operand: M for A, N for B),
    "group" (1 x group_size along K per row), "block" (group_size x group_size, B only).
    dtype: "f32", or "ue8m0" (power-of-two scales, group and block recipes only).
    """

    kind: str = "tensor"
    group_size: int = DEFAULT_GROUP_SIZE
    dtype: str = "f32"

    def __post_init__(self):
        choose("scale.kind", self.kind, SCALE_KINDS)
        positive_int("scale.group_size", self.group_size)
        choose("scale.dtype", self.dtype, SCALE_DTYPES)
        if self.dtype == "ue8m0" and self.kind not in ("group", "block"):
            raise SpecError("scale.dtype", self.dtype, f"ue8m0 scales exist for group and block recipes, not {self.kind!r}")
        if self.group_size != DEFAULT_GROUP_SIZE and self.kind not in ("group", "block"):
            raise SpecError("scale.group_size", self.group_size, f"applies to group and block recipes, not {self.kind!r}")

    @classmethod
    def parse(cls, value: Union[str, dict, "ScaleRecipe"], field: str = "scale") -> "ScaleRecipe":
        """A recipe from its name or a table; errors name `field` (GemmSpec's scale_a or scale_b)."""
        if isinstance(value, ScaleRecipe):
            return value
        try:
            if isinstance(value, str):
                return cls(kind=value)
            if isinstance(value, dict):
                unknown = set(value) - {"kind", "group_size", "dtype"}
                if unknown:
                    raise SpecError("scale", value, f"unknown keys {sorted(map(str, unknown))}; allowed: kind, "
                                                    "group_size, dtype")
                if "kind" not in value:  # (a table of only a group size would silently mean per-tensor)
                    raise SpecError("scale", value, "a table needs kind (tensor, row, group or block)")
                return cls(**value)
        except SpecError as exc:
            raise exc.renamed(field + exc.field[len("scale"):]) from None
        raise SpecError(field, value, "give a recipe name or a table {kind, group_size, dtype}")

    def label(self) -> str:
        if self.kind in ("tensor", "row"):
            return self.kind
        shape = f"1x{self.group_size}" if self.kind == "group" else f"{self.group_size}x{self.group_size}"
        return shape + ("_ue8m0" if self.dtype == "ue8m0" else "")


def has_k_group_scales(scale_a: ScaleRecipe, scale_b: ScaleRecipe) -> bool:
    """Whether either operand's scales change along K (group or block recipes): the mainloop then multiplies
    each K group's partial sums by their factors."""
    return scale_a.kind in ("group", "block") or scale_b.kind in ("group", "block")


@dataclass(frozen=True)
class GemmSpec:
    """One FP8 GEMM kernel: D(M, N) = (A * scale_a) @ (B * scale_b)^T, A (M, K) and B (N, K) K-major."""

    a: str = "e4m3"
    b: str = "e4m3"
    out: str = "bf16"
    accumulator: str = "f32"
    accumulation: str = "promoted"
    promotion_interval: Union[int, str] = "auto"
    scale_a: ScaleRecipe = field(default_factory=ScaleRecipe)
    scale_b: ScaleRecipe = field(default_factory=ScaleRecipe)
    tile: tuple[int, int, int] = (128, 128, 128)
    cluster: tuple[int, int] = (1, 1)
    stages: Union[int, str] = "auto"
    schedule: str = "cooperative"
    raster_group: int = DEFAULT_RASTER_GROUP
    epilogue: tuple[epilogue_dsl.EpilogueOp, ...] = ()
    grouping: str = "none"
    name: str = ""

    def __post_init__(self):
        choose("a", self.a, FORMATS)
        choose("b", self.b, FORMATS)
        choose("out", self.out, OUT_DTYPES)
        choose("accumulator", self.accumulator, ACCUMULATORS)
        choose("accumulation", self.accumulation, ACCUMULATIONS)
        choose("schedule", self.schedule, SCHEDULES)
        object.__setattr__(self, "scale_a", ScaleRecipe.parse(self.scale_a, "scale_a"))
        object.__setattr__(self, "scale_b", ScaleRecipe.parse(self.scale_b, "scale_b"))
        object.__setattr__(self, "tile", self._validated_tile(self.tile))
        object.__setattr__(self, "promotion_interval", self._resolved_promotion_interval())
        self._validate_recipes()
        self._validate_block_scales()
        self._validate_output_rows()
        self._validate_promotion()
        object.__setattr__(self, "cluster", tuple(self.cluster) if isinstance(self.cluster, list) else self.cluster)
        choose("cluster", self.cluster, CLUSTER_CHOICES)
        positive_int("raster_group", self.raster_group, at_most=MAX_RASTER_GROUP)
        object.__setattr__(self, "epilogue", epilogue_dsl.parse_chain(self.epilogue, self.out, self.tile[1]))
        self._validate_grouping()
        self._validate_schedule()
        self._validate_registers()
        object.__setattr__(self, "stages", self._resolved_stages())
        if self.name is None or self.name == "":
            object.__setattr__(self, "name", self.default_name())
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise SpecError("name", self.name, "must match [A-Za-z_][A-Za-z0-9_]{0,127}")

    def _validate_recipes(self) -> None:
        if self.scale_a.kind == "block":
            raise SpecError("scale_a", self.scale_a.kind, "A takes tensor, row or group (1xG) scales; block scales are for B")
        for side, recipe in (("scale_a", self.scale_a), ("scale_b", self.scale_b)):
            if recipe.kind in ("group", "block") and (recipe.group_size % 32 or self.tile[2] % recipe.group_size):
                raise SpecError(f"{side}.group_size", recipe.group_size,
                                f"must be a multiple of 32 that divides the K tile {self.tile[2]}")

    def _validate_schedule(self) -> None:
        if self.schedule != "pingpong":
            return
        if self.tile[0] != 64:
            raise SpecError("tile", self.tile, "the ping-pong schedule gives each consumer warpgroup whole 64-row "
                                               "tiles: BM (tile[0]) must be 64")
        if self.cluster != (1, 1) or self.grouping != "none":
            raise SpecError("schedule", self.schedule, "ping-pong kernels run without clusters and grouping")

    def _validate_grouping(self) -> None:
        choose("grouping", self.grouping, GROUPINGS)
        if self.grouping == "none":
            return
        if self.cluster != (1, 1):
            raise SpecError("cluster", self.cluster, "grouped kernels run without clusters (experts do not share B)")
        if self.scale_b.kind == "group":
            raise SpecError("scale_b", self.scale_b.kind,
                            "grouped kernels take tensor, row or block scales for the experts' B")
        if any(op.op in ("residual", "group_quantize") for op in self.epilogue):
            raise SpecError("epilogue", [op.op for op in self.epilogue],
                            "grouped kernels take alpha, bias, activations and amax (no residual or group_quantize yet)")

    def _resolved_promotion_interval(self) -> int:
        """K elements summed inside the tensor core before promotion to fp32 registers.

        "auto": 128 for 16-bit outputs (their rounding dwarfs the wgmma accumulation error) and
        32 for f32 output, where the accumulation error is what the user sees.
        """
        value = self.promotion_interval
        groups = [r.group_size for r in (self.scale_a, self.scale_b) if r.kind in ("group", "block")]
        automatic = min([32 if self.out == "f32" else 128, self.tile[2], *groups])
        if _is_auto(value):
            return automatic
        choose("promotion_interval", value, ("auto", *PROMOTION_INTERVALS))
        # (Fast accumulation keeps the automatic value, which to_dict writes out and from_dict reads back.)
        if self.accumulation == "fast" and value != automatic:
            raise SpecError("promotion_interval", value, "applies to accumulation='promoted'; leave it 'auto' with "
                                                         "accumulation='fast'")
        return value

    @staticmethod
    def _validated_tile(tile) -> tuple[int, int, int]:
        if not isinstance(tile, (tuple, list)) or len(tile) != 3 or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in tile):
            raise SpecError("tile", tile, "must be three integers (BM, BN, BK)")
        bm, bn, bk = tile
        if bm not in BLOCK_M_CHOICES:
            raise SpecError("tile", tuple(tile), f"BM (tile[0]) must be one of {', '.join(map(str, BLOCK_M_CHOICES))}")
        if bn % 16 or not 16 <= bn <= 256:
            raise SpecError("tile", tuple(tile), "BN (tile[1]) must be a multiple of 16 from 16 to 256")
        if bk not in BLOCK_K_CHOICES:
            raise SpecError("tile", tuple(tile), f"BK (tile[2]) must be one of {', '.join(map(str, BLOCK_K_CHOICES))}")
        return (bm, bn, bk)

    def _validate_block_scales(self) -> None:
        # Tiles start at multiples of BN, so their offsets into a block are multiples of gcd(BN, G): a tile
        # spans at most two blocks of columns (what the kernel handles) when BN <= G + gcd(BN, G).
        group, bn = self.scale_b.group_size, self.tile[1]
        if self.scale_b.kind == "block" and not spans_two_blocks_at_most(bn, group):
            widths = ", ".join(str(w) for w in range(16, 257, 16) if spans_two_blocks_at_most(w, group))
            raise SpecError("tile", self.tile, f"BN (tile[1]) = {bn} lets a tile span more than two of B's "
                                               f"{group}-column scale blocks; BN may be {widths}")

    def _validate_output_rows(self) -> None:
        bn = self.tile[1]
        if not output_row_fits(bn, self.out):
            multiple = OUTPUT_ROW_ALIGN_BYTES // OUT_BYTES[self.out]
            raise SpecError("tile", self.tile, f"BN (tile[1]) = {bn} makes {bn * OUT_BYTES[self.out]}-byte rows of "
                                               f"{self.out} output; the TMA-store epilogue stores rows of a multiple "
                                               f"of {OUTPUT_ROW_ALIGN_BYTES} bytes: with {self.out} output BN must "
                                               f"be a multiple of {multiple}")

    def _validate_promotion(self) -> None:
        if self.accumulation == "fast" and self.has_k_group_scales:
            raise SpecError("accumulation", self.accumulation,
                            "group and block scales multiply each K group's partial sum: use 'promoted'")
        if self.accumulation == "promoted" and self.tile[2] % self.promotion_interval:
            raise SpecError("promotion_interval", self.promotion_interval, f"must divide the K tile {self.tile[2]}")
        for side, recipe in (("scale_a", self.scale_a), ("scale_b", self.scale_b)):
            if recipe.kind in ("group", "block") and recipe.group_size % self.promotion_interval:
                raise SpecError("promotion_interval", self.promotion_interval,
                                f"must divide {side}.group_size {recipe.group_size} (a partial sum may not span two groups)")

    @property
    def consumer_warpgroups(self) -> int:
        """Consumer warpgroups of the kernel (ping-pong: two, each with its own tiles)."""
        return 2 if self.schedule == "pingpong" or self.tile[0] > 64 else 1

    @property
    def mma_warpgroups(self) -> int:
        """Warpgroups sharing one tile's MMA, each 64-row atoms of it."""
        return 1 if self.schedule == "pingpong" else self.consumer_warpgroups

    def staged_groups(self, operand: str) -> int:
        """K groups of an operand's 1xG scales carried by each pipeline stage; 0 for other recipes."""
        recipe = self.scale_a if operand == "a" else self.scale_b
        return self.tile[2] // recipe.group_size if recipe.kind == "group" else 0

    def staged_block_groups(self) -> int:
        """K groups of B's float32 GxG block scales copied into each pipeline stage; 0 when B has none
        (UE8M0 block scales, one byte each, are read from global memory: cp.async copies 4-byte words)."""
        recipe = self.scale_b
        return self.tile[2] // recipe.group_size if recipe.kind == "block" and recipe.dtype == "f32" else 0

    def _staged_block_bytes(self) -> int:
        column_blocks = 1 if self.scale_b.group_size % self.tile[1] == 0 else 2
        return -(-self.staged_block_groups() * column_blocks * 4 // 16) * 16  # 16-byte aligned per stage

    def _staged_scale_bytes(self, operand: str) -> int:
        recipe, rows = (self.scale_a, self.tile[0]) if operand == "a" else (self.scale_b, self.tile[1])
        return -(-self.staged_groups(operand) * rows * SCALE_BYTES[recipe.dtype] // 128) * 128  # TMA: 128-byte aligned per stage

    @property
    def stage_bytes(self) -> int:
        bm, bn, bk = self.tile
        # one byte per fp8 element
        return (bm + bn) * bk + self._staged_scale_bytes("a") + self._staged_scale_bytes("b") + self._staged_block_bytes()

    @property
    def epilogue_factor_bytes(self) -> int:
        """Per-row scales' epilogue factors of each consumer's tile, copied into shared memory when the tile
        starts (fp8gen/scales.cuh's EpilogueFactorTile: 16-byte aligned arrays and an mbarrier); 0 without
        per-row scales."""
        row_a, row_b = self.scale_a.kind == "row", self.scale_b.kind == "row"
        if not (row_a or row_b):
            return 0
        bm, bn, _ = self.tile
        rows = bm // self.mma_warpgroups if row_a else 1
        columns = bn if row_b else 2
        return self.consumer_warpgroups * (-(-4 * rows // 16) * 16 + -(-4 * columns // 16) * 16 + 16)

    @property
    def epilogue_column_bytes(self) -> int:
        """The column bias of each consumer's tile, copied into shared memory when the tile starts
        (fp8gen/epilogue_ops.cuh's ColumnVectorTile: a 16-byte aligned array and an mbarrier); 0 without one."""
        bias = epilogue_dsl.find(self.epilogue, "bias")
        if bias is None or bias.axis != "column":
            return 0
        return self.consumer_warpgroups * (-(-(self.tile[1] * OUT_BYTES[bias.dtype] + 8) // 16) * 16)

    @property
    def output_tile_bytes(self) -> int:
        """The TMA-store epilogue stages one BM x BN output tile in shared memory (ping-pong: one per consumer)."""
        bm, bn, _ = self.tile
        return bm * bn * OUT_BYTES[self.out] * (2 if self.schedule == "pingpong" else 1)

    @property
    def output_row_bytes(self) -> int:
        """Width of one TMA-store box (and its swizzle): the widest of 128/64/32 bytes dividing a tile row."""
        row = self.tile[1] * OUT_BYTES[self.out]
        return next(width for width in (128, 64, 32) if row % width == 0)

    @property
    def output_box(self) -> tuple[int, int]:
        """(rows, columns) of a TMA store box: one 64-row wgmma atom by one swizzle-wide column panel."""
        return 64, self.output_row_bytes // OUT_BYTES[self.out]

    def _fragment_registers(self) -> int:
        bm, bn, _ = self.tile
        return bm * bn // (128 * self.mma_warpgroups)

    @property
    def partial_fragments(self) -> int:
        """Partial-sum fragments of promoted accumulation: two alternating ones (MMA overlaps promotion)
        when they fit next to the running sum, else one; 0 for fast accumulation."""
        if self.accumulation != "promoted":
            return 0
        # B's 1xG factors (one per column, read from shared memory as each batch retires) need registers of
        # their own: with two partials of 64 registers the kernels spilled 176-320 bytes; one partial: none.
        limit = ACCUMULATOR_REGISTER_LIMIT // 2 if self.scale_b.kind == "group" else ACCUMULATOR_REGISTER_LIMIT
        return 2 if 3 * self._fragment_registers() <= limit else 1

    @property
    def column_halves(self) -> bool:
        """One-partial kernels whose scale factors stay the same along K (per-tensor or per-row/column on
        both operands) issue each promoted batch as two column halves, so that a warpgroup promotes one
        half while its MMA of the other runs (+0.7% per-tensor, +1.6% per-row at 128x192, H200). Block
        scales keep whole batches: 0.4% slower in halves (docs/performance.md, 2026-12-05 eleventh
        session). Not where a warpgroup holds two 64-row atoms: their factors spilled."""
        return (self.partial_fragments == 1 and self.tile[0] // self.mma_warpgroups == 64
                and {self.scale_a.kind, self.scale_b.kind} <= {"tensor", "row"})

    def accumulator_registers(self) -> int:
        """fp32 accumulator registers each consumer thread holds: the running sum plus the partials."""
        return self._fragment_registers() * (1 + self.partial_fragments)

    def _validate_registers(self) -> None:
        needed = self.accumulator_registers()
        if needed > ACCUMULATOR_REGISTER_LIMIT:
            hint = "use a smaller BM*BN" + (" or accumulation='fast'" if self.partial_fragments else "")
            raise OutOfResources("tile", self.tile, "accumulator registers per thread", needed,
                                 ACCUMULATOR_REGISTER_LIMIT, hint)

    def smem_bytes(self, stages: int) -> int:
        """Dynamic shared memory the kernel is launched with (the template checks it against its layout)."""
        used = (stages * (self.stage_bytes + BARRIER_BYTES_PER_STAGE) + 2 * SCALE_BUFFER_ALIGNMENT + self.output_tile_bytes
                + CONTROL_BYTES + self.epilogue_factor_bytes + self.epilogue_column_bytes)
        return -(-used // SMEM_ALIGNMENT) * SMEM_ALIGNMENT + SMEM_ALIGNMENT

    @property
    def narrows_a(self) -> bool:
        """Whether, with M below one tile, the kernel loads only A's M rows (NARROW_A_MAX_BLOCK_N)."""
        return self.tile[1] <= NARROW_A_MAX_BLOCK_N

    def a_box_rows(self, m: int) -> int:
        """Rows of A each stage's TMA load brings for an M-row problem."""
        bm = self.tile[0]
        return min(m, bm) if self.narrows_a else bm

    def max_stages(self) -> int:
        """The most pipeline stages this tile's shared memory holds (stages='auto' takes at most MAX_AUTO_STAGES)."""
        stages = 1
        while self.smem_bytes(stages + 1) <= SMEM_LIMIT_BYTES:
            stages += 1
        return stages

    def _resolved_stages(self) -> int:
        if _is_auto(self.stages):
            fit = self.max_stages()
            if fit < 2:
                raise OutOfResources("tile", self.tile, "bytes of shared memory for 2 stages",
                                     self.smem_bytes(2), SMEM_LIMIT_BYTES, "use a smaller tile")
            return min(fit, MAX_AUTO_STAGES)
        if not is_int(self.stages) or self.stages < 2:
            raise SpecError("stages", self.stages, "must be an integer >= 2 or 'auto'")
        if self.smem_bytes(self.stages) > SMEM_LIMIT_BYTES:
            fit = self.max_stages()
            hint = f"at most {fit} stages fit this tile" if fit >= 2 else "not even 2 stages fit: use a smaller tile"
            raise OutOfResources("stages", self.stages, "bytes of shared memory", self.smem_bytes(self.stages),
                                 SMEM_LIMIT_BYTES, hint)
        return self.stages

    @property
    def recipe(self) -> tuple[str, str]:
        return (self.scale_a.kind, self.scale_b.kind)

    @property
    def has_k_group_scales(self) -> bool:
        return has_k_group_scales(self.scale_a, self.scale_b)

    @property
    def symbol(self) -> str:
        return f"fp8gen_{self.name}"

    def default_name(self) -> str:
        bm, bn, bk = self.tile
        # Non-default layout choices, each a short suffix: cluster, grouping, rasterization, schedule.
        layout = "".join([
            "" if self.cluster == (1, 1) else f"_c{self.cluster[0]}x{self.cluster[1]}",
            {"none": "", "contiguous": "_gcontig", "masked": "_gmasked"}[self.grouping],
            "" if self.raster_group == DEFAULT_RASTER_GROUP else f"_r{self.raster_group}",
            "_pp" if self.schedule == "pingpong" else "",
        ])
        chain = f"_{epilogue_dsl.chain_label(self.epilogue)}" if self.epilogue else ""
        name = (f"gemm_{self.a}_{self.b}_{self.out}_{self.scale_a.label()}_{self.scale_b.label()}"
                f"_{bm}x{bn}x{bk}{layout}_s{self.stages}_{self.accumulation_label()}")
        if len(name) + len(chain) > MAX_NAME_LENGTH:  # long chains: a digest keeps names within the limit
            chain = "_epi" + hashlib.sha256(chain.encode()).hexdigest()[:12]
        return name + chain

    def accumulation_label(self) -> str:
        return f"promoted{self.promotion_interval}" if self.accumulation == "promoted" else "fast"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tile"] = list(self.tile)
        d["cluster"] = list(self.cluster)
        d["epilogue"] = [op.to_dict() for op in self.epilogue]
        return d

    def with_changes(self, **changes) -> "GemmSpec":
        """This spec with some fields changed, validated like a new one. An automatic name is derived again
        (dataclasses.replace would keep the old one, naming another kernel); a custom name is kept."""
        fields = {**self.to_dict(), **changes}
        if "name" not in changes and self.name == self.default_name():
            fields["name"] = ""
        return GemmSpec.from_dict(fields)

    @classmethod
    def from_dict(cls, data: dict) -> "GemmSpec":
        if not isinstance(data, dict):
            raise SpecError("spec", data, "must be a table of GemmSpec fields")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise SpecError("spec", sorted(map(str, unknown)), f"unknown fields; allowed: {', '.join(sorted(known))}")
        values = dict(data)
        for key in ("tile", "cluster"):
            if key in values and isinstance(values[key], list):
                values[key] = tuple(values[key])
        return cls(**values)

    def summary(self) -> str:
        bm, bn, bk = self.tile
        return (f"{self.name}: A={self.a} B={self.b} out={self.out} scales={self.scale_a.label()}x{self.scale_b.label()} "
                f"tile={bm}x{bn}x{bk} stages={self.stages} cluster={self.cluster[0]}x{self.cluster[1]} "
                f"schedule={self.schedule} accumulation={self.accumulation_label()} grouping={self.grouping}"
                f" epilogue=[{', '.join(op.label() for op in self.epilogue)}]")


def require_spec(value: object) -> GemmSpec:
    """`value` if it is a GemmSpec, else a SpecError saying how to make one."""
    if not isinstance(value, GemmSpec):
        raise SpecError("spec", value, "must be a GemmSpec: fp8gen.GemmSpec(...) or GemmSpec.from_dict({...})")
    return value


def _is_auto(value: object) -> bool:
    return isinstance(value, str) and value == "auto"


def output_row_fits(bn: int, out: str) -> bool:
    """Whether a tile BN wide stores its rows of `out` through the TMA-store epilogue (whole 32-byte boxes)."""
    return bn * OUT_BYTES[out] % OUTPUT_ROW_ALIGN_BYTES == 0


def spans_two_blocks_at_most(bn: int, group: int) -> bool:
    """Tiles start at multiples of BN, so their offsets into a G-column block are multiples of gcd(BN, G)."""
    return bn <= group + math.gcd(bn, group)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


