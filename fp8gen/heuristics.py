"""Pick a kernel spec for a problem shape."""

from __future__ import annotations

import functools
from typing import NamedTuple

from . import epilogue as epilogue_dsl
from .errors import SpecError
from .spec import (DEFAULT_RASTER_GROUP, GemmSpec, ScaleRecipe, ceil_div, has_k_group_scales, output_row_fits,
                   spans_two_blocks_at_most)

# Split-K: each split keeps at least this many K blocks, so a split's pipeline fill and its
# partial-tile round trip through L2 stay small next to its MMA work.
MIN_K_BLOCKS_PER_SPLIT = 4
MAX_SPLITS = 16


# Decode shapes (M <= 128) stream the weights: the tile width and K split are picked from these by a
# bandwidth model (decode_seconds). A 1x128 re-quantized output needs whole 128-column groups per tile.
DECODE_WIDTHS = (128, 112, 96, 64, 48, 32)
# B's 128x128 block scales: 112-wide tiles straddling two blocks spill registers, so block recipes decode
# with these; 96-wide (straddling) tiles only for 64-row tiles, where they measured faster (128x96 did not;
# docs/performance.md, 2026-11-25 late).
DECODE_WIDTHS_BLOCK_B = (128, 96, 64, 32)
DECODE_WIDTHS_BLOCK_B_128_ROWS = (128, 64, 32)
# Per-tensor scales without an epilogue chain also offer 16-wide tiles: where N / 16 tiles about fill the SMs
# they stream the weights unsplit (64x2112x7168: 205-208 TFLOP/s vs 180 for 64-wide split in four, cuBLASLt
# 218; 128x2112x7168: 352-354 vs 319, cuBLASLt 386). With M off the tile grid they lost (33x2112x7168 -8%,
# 96x2112x7168 -18%) until A's box was narrowed to M rows (GemmSpec.a_box_rows): then they won there too
# (+5-12% on 33..112x2112x7168, 40x1024x4096 +49%, 72x256x4096 +26%; 80x2048x2048 -8%; H200,
# docs/performance.md 2026-12-04 fourth session). (Not timed with per-row scales or epilogue ops; FP8 output
# rows 16 wide are narrower than a TMA-store box.)
DECODE_NARROW_WIDTH = 16
# The decode model's constants, fitted to 242 (width, split) configurations of the suite's decode shapes
# timed on the H100 (benchmarks/variants_vs_default.py --variants decode-splits; docs/performance.md,
# 2026-12-05 sixteenth session; its picks are within 0.6% of the best measured on geomean, 9% at worst, where
# the H200 fit of 2026-11-30 was 1.7% / 21% off): the device's and one SM's weight streaming rates, what one
# K block of a tile's mainloop takes at least however narrow the tile (the consumer's wait, MMA and promotion
# round trip; more with per-K-group scales, whose factors are loaded and multiplied in it), and what a K split
# adds (partial tiles round-trip through L2 and the last split reduces them).
DECODE_DEVICE_BYTES_PER_S = 5.0e12
DECODE_SM_BYTES_PER_S = 40e9
DECODE_KBLOCK_SECONDS = 100e-9
DECODE_KBLOCK_SECONDS_K_GROUP_SCALES = 160e-9
DECODE_SPLIT_SECONDS = 4e-6
# Below this M the model is not used (its per-SM rate, fitted where A's bytes and the MMA weigh more,
# undercounts what an SM streams at M <= 32); smaller M keep the SM-filling width rule over unsplit tiles,
# within 5% of the best width measured on 12 of 14 shapes with M = 1..32 (2026-12-04 fourth session).
DECODE_MODEL_MIN_M = 33
# Below DECODE_MODEL_MIN_M rows a K split measured slower wherever the unsplit tiles occupy at least this
# fraction of the SMs (14 shapes with M = 1..32, every 64-row width 32..128: 1x8192x8192 64/1 split 21.5 us
# vs 128/2 25.5, 1x4096x7168 11.9 vs 16.0, 32x8192x8192 21.5 vs 25.8; cuBLASLt 19.8, 13.0, 21.1; H200,
# docs/performance.md 2026-12-04 fourth session): the weights stream at the device's rate from fewer SMs,
# and the split's partial tiles only add their round trip.
SMALL_M_UNSPLIT_MIN_SM_FRACTION = 0.25
# Decode tiles narrower than this, and every decode tile when M is at most DECODE_DEEP_MAX_M, take as many
# pipeline stages as shared memory holds instead of stages="auto"'s 8: more weight bytes in flight per SM.
# Measured on the suite's decode shapes (H200, 2026-12-04, docs/performance.md): 64x32 tiles +2-10% with 18
# stages (M = 16, 32: +22-33%), 64- and 96-wide ones at M = 16, 32 +3-17%; at M = 64 those lost up to 3%.
DECODE_DEEP_BELOW_WIDTH = 64
DECODE_DEEP_MAX_M = 32
DECODE_MAX_M = 128
H100_SM_COUNT = 132  # the SM count the choice assumes (H100 SXM)

# 1xG B scales are applied per column from shared memory, next to one promoted partial fragment
# (GemmSpec.partial_fragments). 128-wide tiles run full waves this much faster per output element than
# 64-wide ones (1.30-1.35 measured on five prefill shapes, H100, 2026-12-05 twelfth session,
# docs/performance.md); in the wave model that picks the faster width on all eleven shapes timed there.
GROUP_B_WIDE_SPEED = 1.33

# Prefill shapes with per-tensor / per-row / float32 block scales: a 128x192 tile (one promoted partial
# fragment) runs a full wave about this much faster per output element than 128x128 (fewer operand bytes per
# FLOP; measured geomean 1.05 on the suite for per-tensor scales, 1.03-1.10 per shape for block scales,
# docs/performance.md). It is chosen where that outweighs its coarser waves.
WIDE_TILE = 192
WIDE_TILE_SPEED = 1.05
WIDE_TILE_MARGIN = 1.01  # predicted gain needed: ties keep the 128-wide tile
# Problems of at least this many multiply-adds (M * N * K) run their 128x192 tiles in raster groups of
# LARGE_PROBLEM_RASTER_GROUP M tiles instead of the default 8. On the H100, against 8 alone (alternating with
# cuBLASLt only; two runs each at 16384^3, 16384 x 16384 x 6144 and 12288^3): geomean per-row +1.1%, block
# +1.5% (16384^3: +2.5/2.6% and +1.7/2.8%), per-tensor -0.2% (16384^3 +1.0/0.3%, the others -1.2% to 0). With
# groups 1 to 32 alternating: +0.3% to +6.7% on all 21 runs at or above this size, -4.4% to +2.0% over 41
# below it, which keep 8 (docs/performance.md, 2026-12-05 fifteenth session).
LARGE_PROBLEM_MACS = 3 << 39  # 1.5 * 2^40: 16384 x 16384 x 6144, 12288^3
LARGE_PROBLEM_RASTER_GROUP = 4
# Per-tensor scales also have a 128x176 tile, for shapes whose waves neither 128 nor 192 fills: measured
# +5-7% over the default on 4096x7168x16384, 4096x7168x2048 and 4096x2112x7168, slower where it is not
# picked (geomean 0.99 over the suite's 12 prefill/square shapes; per-row scales 0.96; 176-wide tiles can
# span three of B's 128-column blocks). Its per-element speed in the wave model (1.02) is fitted to those
# runs (docs/performance.md, 2026-12-01 second session).
TENSOR_TILE = 176
TENSOR_TILE_SPEED = 1.02
# What splitting the last wave's K (tail_split) adds to its units, in K blocks of MMA time: a fixed part
# (pipeline fill, the partial tile's store, the epilogue) and a part per split (the last split reads every
# other split's fp32 partial tile from L2 alone). Fitted to the suite's prefill shapes (H200, 2026-12-03,
# docs/performance.md): with K = 1536 and 2048 the split did not pay, with K = 7168 three splits cut the last
# wave to ~0.6 of a whole tile's time, eight splits to ~0.53.
TAIL_SPLIT_COST_BLOCKS = 6
TAIL_SPLIT_COST_BLOCKS_PER_SPLIT = 2
TAIL_SPLIT_MAX_COST = 0.8


def choose_spec(m: int, n: int, k: int, a: str, b: str, out: str,
                recipe_a: ScaleRecipe | str, recipe_b: ScaleRecipe | str, epilogue: tuple = ()) -> GemmSpec:
    """A reasonable default: 128x128x128 tiles with fp32 promotion; 64-row tiles when M is small, for
    M <= 128 the tile width and K split a bandwidth model favours (see decode_seconds; 16-wide tiles only as
    DECODE_NARROW_WIDTH says), and for larger M with
    the recipes of wide_tile_takes and no residual 128x192 (per-tensor scales: also 128x176) tiles where they pay
    (see wide_tile_width), rasterized in groups of 4 M tiles from LARGE_PROBLEM_MACS on. Decode tiles narrower
    than 64 columns, and all when M <= 32, get the most pipeline stages that fit (DECODE_DEEP_BELOW_WIDTH).

    1x128 B scales are staged per column through shared memory and applied per element: 128- or 64-wide
    tiles (group_b_width).
    """
    scale_a, scale_b, epilogue = ScaleRecipe.parse(recipe_a), ScaleRecipe.parse(recipe_b), tuple(epilogue)
    block_m = 64 if m <= 64 else 128
    if scale_b.kind == "group":
        block_n = group_b_width(m, n, k, epilogue)
        _refuse_output_groups_wider_than(block_n, epilogue)
    elif epilogue_dsl.find(epilogue, "group_quantize") is not None:
        block_n = 128  # whole 128-column scale groups per tile
    elif m <= DECODE_MAX_M:
        widths = DECODE_WIDTHS
        # (UE8M0 block scales are not offered 96-wide tiles: that kernel was serialized (C7518) until A's
        # staged scales moved to issue time, and has not been timed since.)
        if scale_b.kind == "block":
            widths = (DECODE_WIDTHS_BLOCK_B if block_m == 64 and scale_b.dtype == "f32"
                      else DECODE_WIDTHS_BLOCK_B_128_ROWS)
        elif scale_a.kind == scale_b.kind == "tensor" and not epilogue:
            widths += (DECODE_NARROW_WIDTH,)
        widths = tuple(width for width in widths if output_row_fits(width, out))
        block_n = decode_width(m, n, k, block_m, _fitting_b_blocks(widths, scale_b),
                               k_group_scales=has_k_group_scales(scale_a, scale_b))
    elif wide_tile_takes(scale_a, scale_b) and not any(op.op == "residual" for op in epilogue):
        # (a residual's loads next to 96 accumulators per thread would spill)
        block_n = wide_tile_width(m, n, k, tensor_tile=(scale_a.kind == scale_b.kind == "tensor"
                                                        and output_row_fits(TENSOR_TILE, out)))
    else:
        block_n = 128
    group = raster_group(m, n, k, block_n)
    spec = _spec_for(block_m, block_n, a, b, out, scale_a, scale_b, epilogue, group)
    if m <= DECODE_MAX_M and (block_n < DECODE_DEEP_BELOW_WIDTH or m <= DECODE_DEEP_MAX_M):
        return _spec_for(block_m, block_n, a, b, out, scale_a, scale_b, epilogue, group, spec.max_stages())
    return spec


def raster_group(m: int, n: int, k: int, block_n: int) -> int:
    """M tiles per rasterization group: LARGE_PROBLEM_RASTER_GROUP for the 128x192 tiles of problems from
    LARGE_PROBLEM_MACS multiply-adds on, else the default."""
    if block_n == WIDE_TILE and m * n * k >= LARGE_PROBLEM_MACS:
        return LARGE_PROBLEM_RASTER_GROUP
    return DEFAULT_RASTER_GROUP


def _refuse_output_groups_wider_than(block_n: int, epilogue: tuple) -> None:
    quantize = epilogue_dsl.find(epilogue, "group_quantize")
    if quantize is not None and block_n % quantize.group_size:
        raise SpecError("epilogue.group_quantize.group_size", quantize.group_size,
                        "kernels with 1xG group scales for B (scale_b of shape (N, ceil(K / G))) "
                        f"use {block_n}-column tiles, and an output group must lie in one tile: re-quantize in "
                        f"groups that divide {block_n}, or scale B per 128x128 block")


def _fitting_b_blocks(widths: tuple[int, ...], scale_b: ScaleRecipe) -> tuple[int, ...]:
    """The widths whose tiles span at most two of B's scale blocks (what the kernel handles); the narrowest
    width when none does (the spec then says why the recipe is invalid)."""
    if scale_b.kind != "block":
        return widths
    return tuple(w for w in widths if spans_two_blocks_at_most(w, scale_b.group_size)) or widths[-1:]


def wide_tile_takes(scale_a: ScaleRecipe, scale_b: ScaleRecipe) -> bool:
    """The recipes whose 128x192 kernels were measured faster per output element than 128x128 ones: per-tensor
    and per-row scales, and float32 block scales of B (tiles straddle two of B's blocks) with A's per-tensor,
    per-row or float32 1x128 scales. (1x128 B scales: 128x192 within 3% of 128x128 where both fill their waves and
    slower where they do not, docs/performance.md twelfth session; UE8M0 block scales are read from
    global memory inside the MMA loop and were not timed at this width.)"""
    if scale_b.kind == "block":
        return (scale_b.dtype == "f32" and spans_two_blocks_at_most(WIDE_TILE, scale_b.group_size)
                and scale_a.kind in ("tensor", "row", "group") and scale_a.dtype == "f32")
    return scale_a.kind in ("tensor", "row") and scale_b.kind in ("tensor", "row")


def wave_cost(m: int, n: int, k: int, width: int, speed: float, sm_count: int = H100_SM_COUNT) -> float:
    """Modelled time of 128-row tiles `width` wide: waves x tile width / per-element speed. Each wave of
    sm_count tiles takes as long as its slowest, full or not, except a last wave whose K tail_split cuts
    (tail_wave_cost). k = 0: the kernel never splits K."""
    tiles = ceil_div(m, 128) * ceil_div(n, width)
    split = tail_split(m, n, k, (128, width, 128), sm_count)
    if split.splits == 1:
        waves = ceil_div(tiles, sm_count)
    else:
        waves = split.first_tile // sm_count + tail_wave_cost(ceil_div(k, 128), split.splits)
    return waves * width / speed


def wide_tile_pays(m: int, n: int, k: int, sm_count: int = H100_SM_COUNT) -> bool:
    """Whether 128x192 tiles beat 128x128 by WIDE_TILE_MARGIN in the wave model."""
    return wave_cost(m, n, k, 128, 1.0, sm_count) >= WIDE_TILE_MARGIN * wave_cost(m, n, k, WIDE_TILE, WIDE_TILE_SPEED,
                                                                                 sm_count)


def wide_tile_width(m: int, n: int, k: int, tensor_tile: bool, sm_count: int = H100_SM_COUNT) -> int:
    """128, or 192 where it pays (wide_tile_pays); with tensor_tile (per-tensor scales, an output whose rows
    a 176-wide tile can store) then 176 where the wave model favours it over that pick by WIDE_TILE_MARGIN."""
    width, speed = (WIDE_TILE, WIDE_TILE_SPEED) if wide_tile_pays(m, n, k, sm_count) else (128, 1.0)
    if tensor_tile and wave_cost(m, n, k, width, speed, sm_count) >= WIDE_TILE_MARGIN * wave_cost(
            m, n, k, TENSOR_TILE, TENSOR_TILE_SPEED, sm_count):
        return TENSOR_TILE
    return width


def group_b_width(m: int, n: int, k: int, epilogue: tuple) -> int:
    """Tile width for 1xG B scales: 128 for a re-quantized output (its 128-column groups must lie in one
    tile), 64 for M <= DECODE_MAX_M (measured faster at M = 64 and 128), else whichever the wave model
    (wave_cost, GROUP_B_WIDE_SPEED) favours: 64 where 128-wide tiles would leave most SMs idle."""
    if epilogue_dsl.find(epilogue, "group_quantize") is not None:
        return 128
    if m <= DECODE_MAX_M:
        return 64
    return 128 if wave_cost(m, n, k, 128, GROUP_B_WIDE_SPEED) < wave_cost(m, n, k, 64, 1.0) else 64


def grouped_block_n(rows: int, n: int, block_m: int, scale_a: ScaleRecipe, scale_b: ScaleRecipe) -> int:
    """Tile width of a grouped GEMM over `rows` rows in all (contiguous: M; masked: G x M_max, the experts'
    capacity): as for one GEMM of those rows without a K split (grouped kernels never split; measured on
    DeepGEMM's contiguous shapes: +3% to +6% with block scales; docs/performance.md), without the
    per-tensor 176-wide tile (not timed on grouped kernels)."""
    if block_m == 128 and wide_tile_takes(scale_a, scale_b):
        return wide_tile_width(rows, n, 0, tensor_tile=False)
    return 128


def decode_width(m: int, n: int, k: int, block_m: int, widths: tuple[int, ...] = DECODE_WIDTHS,
                 sm_count: int = H100_SM_COUNT, k_group_scales: bool = False) -> int:
    """The width from `widths` with the least modelled time (decode_seconds), each with the K split
    split_k gives it; below DECODE_MODEL_MIN_M rows the one of at least 64 columns whose tiles, unsplit,
    use the SMs best (split_k then splits only tiles too few to stream the weights). Ties go to the wider
    tile (fewer re-reads of A)."""
    def modelled(width: int) -> float:
        tile = (block_m, width, 128)
        splits = split_k(m, n, k, tile, sm_count, k_group_scales)
        return decode_seconds(m, n, k, tile, splits, sm_count, k_group_scales=k_group_scales)

    def sm_use(width: int) -> float:
        units = ceil_div(m, block_m) * ceil_div(n, width)
        if units == 0:  # an empty output: nothing to launch
            return 0.0
        waves = ceil_div(units, sm_count)
        return units / (waves * sm_count) * n / (ceil_div(n, width) * width)

    if m < DECODE_MODEL_MIN_M:  # (32 wide unsplit: 0.82-1.13x of 64 wide per-tensor; block scales 0.6x)
        wide = tuple(w for w in widths if w >= 64) or widths
        return max(wide, key=lambda width: (round(sm_use(width), 2), width))
    return min(widths, key=lambda width: (modelled(width), -width))


def decode_seconds(m: int, n: int, k: int, tile: tuple[int, int, int], splits: int, sm_count: int, *,
                   k_group_scales: bool = False, device_rate: float = DECODE_DEVICE_BYTES_PER_S,
                   sm_rate: float = DECODE_SM_BYTES_PER_S, kblock_seconds: float | None = None,
                   split_seconds: float = DECODE_SPLIT_SECONDS) -> float:
    """Modelled time of a memory-bound GEMM: B streams at the lesser of the device's rate and what the
    busiest SM's work units pull, each K block at one SM's rate but no faster than a mainloop turn
    (kblock_seconds, by default DECODE_KBLOCK_SECONDS or, with per-K-group scales, ..._K_GROUP_SCALES: narrow
    tiles are bound by it), plus a fixed cost for a K split. (The keyword constants are the fitted ones;
    benchmarks/decode_model_check.py --fit varies them.)"""
    bm, bn, bk = tile
    units = ceil_div(m, bm) * ceil_div(n, bn) * splits
    if units == 0:
        return 0.0
    if kblock_seconds is None:
        kblock_seconds = DECODE_KBLOCK_SECONDS_K_GROUP_SCALES if k_group_scales else DECODE_KBLOCK_SECONDS
    busiest_sm_k_blocks = ceil_div(units, sm_count) * ceil_div(ceil_div(k, bk), splits)
    stream = max(n * k / device_rate, busiest_sm_k_blocks * max(bn * bk / sm_rate, kblock_seconds))
    return stream + (split_seconds if splits > 1 else 0.0)


@functools.lru_cache(maxsize=1024)
def _spec_for(block_m: int, block_n: int, a: str, b: str, out: str, scale_a: ScaleRecipe, scale_b: ScaleRecipe,
              epilogue: tuple, raster_group: int, stages: int | str = "auto") -> GemmSpec:
    return GemmSpec(a=a, b=b, out=out, scale_a=scale_a, scale_b=scale_b, tile=(block_m, block_n, 128),
                    epilogue=epilogue, raster_group=raster_group, stages=stages)


class KSplit(NamedTuple):
    """How a launch cuts K: the cluster tiles from `first_tile` on are split into `splits` ranges of K each
    (reduced in a fixed order); those before it are whole."""
    splits: int = 1
    first_tile: int = 0


NO_SPLIT = KSplit()


def split_k(m: int, n: int, k: int, tile: tuple[int, int, int], sm_count: int, k_group_scales: bool = False) -> int:
    """Split K when the output tiles fill less than half of the GPU: enough splits to give every SM a work
    unit, each with at least MIN_K_BLOCKS_PER_SPLIT K blocks; for DECODE_MODEL_MIN_M <= M <= DECODE_MAX_M
    only where the decode model says the extra SMs pay for the split's reduction (k_group_scales: the
    kernel has group or block scales, whose mainloop turns take longer), below that M only where the tiles
    occupy less than SMALL_M_UNSPLIT_MIN_SM_FRACTION of the SMs."""
    bm, bn, bk = tile
    tiles = ceil_div(m, bm) * ceil_div(n, bn)
    k_blocks = ceil_div(k, bk)
    if tiles == 0 or 2 * tiles > sm_count or k_blocks == 0:
        return 1
    if m < DECODE_MODEL_MIN_M and tiles >= SMALL_M_UNSPLIT_MIN_SM_FRACTION * sm_count:
        return 1
    splits = balanced_splits(k_blocks, max(1, min(sm_count // tiles, k_blocks // MIN_K_BLOCKS_PER_SPLIT, MAX_SPLITS)))
    if DECODE_MODEL_MIN_M <= m <= DECODE_MAX_M and (
            decode_seconds(m, n, k, tile, 1, sm_count, k_group_scales=k_group_scales)
            <= decode_seconds(m, n, k, tile, splits, sm_count, k_group_scales=k_group_scales)):
        return 1
    return splits


def tail_split(m: int, n: int, k: int, tile: tuple[int, int, int], sm_count: int, cluster_m: int = 1) -> KSplit:
    """Split the K of the last wave's tiles when whole tiles fill at least one wave and the last leaves SMs
    idle: those SMs then share that wave's K. The split count is the one with the least modelled time
    (tail_wave_cost; at most as many units as the wave has SMs, each with at least MIN_K_BLOCKS_PER_SPLIT K
    blocks), and the split is made only where that time is below TAIL_SPLIT_MAX_COST of a whole tile's.
    Tiles are cluster tiles: `cluster_m` CTAs each, sm_count // cluster_m of them per wave."""
    bm, bn, bk = tile
    tiles = ceil_div(m, bm * cluster_m) * ceil_div(n, bn)
    per_wave = sm_count // cluster_m
    whole_waves, last_wave = divmod(tiles, per_wave)
    k_blocks = ceil_div(k, bk)
    if whole_waves == 0 or last_wave == 0 or k_blocks == 0:
        return NO_SPLIT
    most = min(per_wave // last_wave, k_blocks // MIN_K_BLOCKS_PER_SPLIT, MAX_SPLITS)
    candidates = {balanced_splits(k_blocks, splits) for splits in range(2, most + 1)}
    best = min(sorted(candidates), key=lambda splits: tail_wave_cost(k_blocks, splits), default=1)
    if best == 1 or tail_wave_cost(k_blocks, best) > TAIL_SPLIT_MAX_COST:
        return NO_SPLIT
    return KSplit(best, whole_waves * per_wave)


def tail_wave_cost(k_blocks: int, splits: int) -> float:
    """Modelled time of a last wave whose tiles' K is split, relative to a wave of whole tiles: a unit's K
    blocks plus what the split adds (TAIL_SPLIT_COST_BLOCKS, TAIL_SPLIT_COST_BLOCKS_PER_SPLIT)."""
    return (ceil_div(k_blocks, splits) + TAIL_SPLIT_COST_BLOCKS + TAIL_SPLIT_COST_BLOCKS_PER_SPLIT * splits) / k_blocks


def balanced_splits(k_blocks: int, splits: int) -> int:
    """The split count that cuts k_blocks into ranges of ceil(k_blocks / splits) with none empty."""
    per_split = ceil_div(k_blocks, splits)
    return ceil_div(k_blocks, per_split)
