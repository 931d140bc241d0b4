"""The raster-group rule's kernels (group 4) against the default group's (8) at large shapes. Unsplit
(split_k=1), the tile order changes and no tile's arithmetic: outputs must be identical. With the default
splits (the last wave's tiles split in K where heuristics.tail_split says so) the split tiles differ between
the two orders, so each output is compared with a float64 reference on its last 1024 rows (where the split
tiles lie) and checked for unwritten (NaN) elements."""
import torch

import fp8gen
from fp8gen.heuristics import choose_spec
from fp8gen.spec import DEFAULT_RASTER_GROUP
from tests.gpu.support import expand_scale, gemm_error, random_fp8, random_scales

ROWS = 1024
generator = torch.Generator(device="cuda").manual_seed(0)
for kind_a, kind_b in (("tensor", "tensor"), ("row", "row"), ("group", "block")):
    for m, n, k in [(16384, 16384, 6144), (12288, 12288, 12288)]:
        spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", kind_a, kind_b)
        a, b = random_fp8(m, k, torch.float8_e4m3fn, generator), random_fp8(n, k, torch.float8_e4m3fn, generator)
        sa, sb = random_scales(kind_a, m, k, generator), random_scales(kind_b, n, k, generator)
        outs = {}
        for s in (spec, spec.with_changes(raster_group=DEFAULT_RASTER_GROUP)):
            for split in (1, None):
                out = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
                fp8gen.compile(s)(a, b, sa, sb, out=out, split_k=split)
                outs[s.raster_group, split] = out
        a64 = a[-ROWS:].double() * expand_scale(sa, kind_a, m, k)[-ROWS:]
        b64 = b.double() * expand_scale(sb, kind_b, n, k)
        ref = a64 @ b64.T
        errors = {key: gemm_error(out[-ROWS:], ref, a64, b64) for key, out in outs.items() if key[1] is None}
        nans = sum(int(out.isnan().sum()) for out in outs.values())
        print(f"{kind_a}x{kind_b} {m}x{n}x{k} {spec.name}: unsplit raster {spec.raster_group} vs "
              f"{DEFAULT_RASTER_GROUP} identical {torch.equal(outs[spec.raster_group, 1], outs[DEFAULT_RASTER_GROUP, 1])}; "
              f"default splits identical {torch.equal(outs[spec.raster_group, None], outs[DEFAULT_RASTER_GROUP, None])}, "
              f"error on the last {ROWS} rows " + ", ".join(f"raster {g}: {e:.2e}" for (g, _), e in errors.items())
              + f"; NaN left {nans}", flush=True)
        del outs, a, b, a64, b64, ref
        torch.cuda.empty_cache()
