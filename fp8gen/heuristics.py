"""Pick a kernel spec for a problem shape."""

from __future__ import annotations

from .spec import GemmSpec, ScaleRecipe


def choose_spec(m: int, n: int, k: int, a: str, b: str, out: str, recipe_a: str, recipe_b: str) -> GemmSpec:
    """A reasonable default: 128x128x128 tiles with fp32 promotion; 64-row tiles when M is small."""
    block_m = 64 if m <= 64 else 128
    return GemmSpec(a=a, b=b, out=out, scale_a=ScaleRecipe(recipe_a), scale_b=ScaleRecipe(recipe_b),
                    tile=(block_m, 128, 128))
