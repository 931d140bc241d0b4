"""`fp8gen tune` on the GPU: candidates are timed, a winner is recorded, and fp8gen.gemm then runs it."""

import torch

import fp8gen
from fp8gen import api, tune, tuning
from tests.gpu.support import gemm_error, random_fp8


def test_tuned_choice_is_recorded_and_used(tmp_path, monkeypatch, generator):
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(tmp_path))
    tuning.reload()
    try:
        row = tune.tune_shape("tensor", 512, 1024, 1024, jobs=16)
        assert row["default"] in row["candidates"] and row["chosen"] in row["candidates"]
        assert row["chosen_ms"] <= row["default_ms"]
        path = tuning.table(torch.cuda.get_device_name()).save()
        tuning.reload()
        assert path.is_file()
        a = random_fp8(500, 1024, torch.float8_e4m3fn, generator)  # same M bucket (512)
        b = random_fp8(1024, 1024, torch.float8_e4m3fn, generator)
        sa, sb = torch.ones(1, device="cuda"), torch.ones(1, device="cuda")
        spec = tuning.select_spec(api._device_name(0), 500, 1024, 1024, "e4m3", "e4m3", "bf16",
                                  fp8gen.ScaleRecipe("tensor"), fp8gen.ScaleRecipe("tensor"))
        assert spec.name == row["chosen"]
        out = fp8gen.gemm(a, b, sa, sb)
        ref = a.double() @ b.double().T
        assert gemm_error(out, ref, a.double(), b.double()) <= 4e-3
    finally:
        tuning.reload()
