"""Pick a kernel spec for a problem shape."""

from __future__ import annotations

from .spec import GemmSpec, ScaleRecipe


def choose_spec(m: int, n: int, k: int, a: str, b: str, out: str,
                recipe_a: ScaleRecipe | str, recipe_b: ScaleRecipe | str) -> GemmSpec:
    """A reasonable default: 128x128x128 tiles with fp32 promotion; 64-row tiles when M is small.

    1x128 B scales are staged per column through shared memory and applied per element; with
    BN = 128 that needs more registers than the consumers have, so those kernels use BN = 64.
    """
    scale_a, scale_b = ScaleRecipe.parse(recipe_a), ScaleRecipe.parse(recipe_b)
    block_m = 64 if m <= 64 else 128
    block_n = 64 if scale_b.kind == "group" else 128
    return GemmSpec(a=a, b=b, out=out, scale_a=scale_a, scale_b=scale_b, tile=(block_m, block_n, 128))
