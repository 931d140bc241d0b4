"""Pick a kernel spec for a problem shape."""

from __future__ import annotations

import functools

from .spec import GemmSpec, ScaleRecipe, ceil_div

# Split-K: each split keeps at least this many K blocks, so a split's pipeline fill and its
# partial-tile round trip through L2 stay small next to its MMA work.
MIN_K_BLOCKS_PER_SPLIT = 4
MAX_SPLITS = 16


def choose_spec(m: int, n: int, k: int, a: str, b: str, out: str,
                recipe_a: ScaleRecipe | str, recipe_b: ScaleRecipe | str, epilogue: tuple = ()) -> GemmSpec:
    """A reasonable default: 128x128x128 tiles with fp32 promotion; 64-row tiles when M is small.

    1x128 B scales are staged per column through shared memory and applied per element; with
    BN = 128 that needs more registers than the consumers have, so those kernels use BN = 64
    (and cannot re-quantize their output in 1x128 groups, which must lie in one tile).
    """
    return _spec_for(m <= 64, a, b, out, ScaleRecipe.parse(recipe_a), ScaleRecipe.parse(recipe_b), tuple(epilogue))


@functools.lru_cache(maxsize=1024)
def _spec_for(small_m: bool, a: str, b: str, out: str, scale_a: ScaleRecipe, scale_b: ScaleRecipe,
              epilogue: tuple) -> GemmSpec:
    block_m = 64 if small_m else 128
    block_n = 64 if scale_b.kind == "group" else 128
    return GemmSpec(a=a, b=b, out=out, scale_a=scale_a, scale_b=scale_b, tile=(block_m, block_n, 128),
                    epilogue=epilogue)


def split_k(m: int, n: int, k: int, tile: tuple[int, int, int], sm_count: int) -> int:
    """Split K when the output tiles fill less than half of the GPU (decode shapes): enough splits to
    give every SM a work unit, each with at least MIN_K_BLOCKS_PER_SPLIT K blocks."""
    bm, bn, bk = tile
    tiles = ceil_div(m, bm) * ceil_div(n, bn)
    k_blocks = ceil_div(k, bk)
    if tiles == 0 or 2 * tiles > sm_count or k_blocks == 0:
        return 1
    return balanced_splits(k_blocks, max(1, min(sm_count // tiles, k_blocks // MIN_K_BLOCKS_PER_SPLIT, MAX_SPLITS)))


def balanced_splits(k_blocks: int, splits: int) -> int:
    """The split count that cuts k_blocks into ranges of ceil(k_blocks / splits) with none empty."""
    per_split = ceil_div(k_blocks, splits)
    return ceil_div(k_blocks, per_split)
