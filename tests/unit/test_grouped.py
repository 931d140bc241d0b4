"""Grouped GEMM (mixture of experts): spec, rendering, compilation and the host-side validators (CPU)."""

import pytest
import torch

from fp8gen import GemmSpec, SpecError
from fp8gen.build import build
from fp8gen.errors import BundleError, InputError
from fp8gen.export import export_bundle
from fp8gen.grouped import _validate_counts, _validate_indices
from fp8gen.render import render


def test_grouping_is_part_of_the_spec_and_name():
    spec = GemmSpec(scale_a="group", scale_b="block", grouping="contiguous")
    assert "_gcontig" in spec.name and "grouping=contiguous" in spec.summary()
    assert GemmSpec.from_dict(spec.to_dict()) == spec
    assert "fp8gen::Grouping::Contiguous" in render(spec).text
    assert "fp8gen::Grouping::None" in render(GemmSpec()).text


@pytest.mark.parametrize("fields,fragment", [
    ({"grouping": "ragged"}, "'none', 'contiguous', 'masked'"),
    ({"grouping": "masked", "cluster": (2, 1)}, "without clusters"),
    ({"grouping": "masked", "scale_b": "group", "tile": (128, 64, 128)}, "tensor, row or block scales"),
    ({"grouping": "contiguous", "epilogue": [{"op": "residual"}]}, "no residual or group_quantize"),
])
def test_invalid_grouped_specs(fields, fragment):
    with pytest.raises(SpecError) as info:
        GemmSpec(**fields)
    assert fragment in str(info.value)


@pytest.mark.parametrize("spec", [
    GemmSpec(scale_a="group", scale_b="block", grouping="contiguous"),
    GemmSpec(scale_a="row", scale_b="row", grouping="masked", tile=(64, 128, 128), epilogue=["bias", "silu"]),
    GemmSpec(scale_a="tensor", scale_b="tensor", grouping="masked", out="e4m3", epilogue=["amax"]),
])
def test_grouped_kernels_compile_without_spills(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(tmp_path))
    artifact = build(spec)
    assert artifact.cubin[:4] == b"\x7fELF" and artifact.meta["resources"]["spill_stores"] == 0


def test_grouped_kernels_are_not_exported(tmp_path):
    with pytest.raises(BundleError, match="grouped kernels cannot be exported"):
        export_bundle([GemmSpec(grouping="masked")], tmp_path)


def test_index_validation_names_the_problem():
    good = torch.tensor([0] * 100 + [-1] * 28 + [-1] * 128 + [2] * 256, dtype=torch.int32)
    _validate_indices(good, groups=3)
    with pytest.raises(InputError, match="values from -1 to 3"):
        _validate_indices(torch.tensor([3] * 128 + [-1] * 128, dtype=torch.int32), groups=3)
    mixed = good.clone()
    mixed[50] = 1
    with pytest.raises(InputError, match="inside rows 0..127"):
        _validate_indices(mixed, groups=3)
    opens_with_padding = good.clone()
    opens_with_padding[300] = 1
    with pytest.raises(InputError, match="inside rows 256..383"):
        _validate_indices(opens_with_padding, groups=3)


def test_count_validation_names_the_problem():
    _validate_counts(torch.tensor([0, 64, 128], dtype=torch.int32), group_rows=128)
    with pytest.raises(InputError, match=r"counts from 0 to 129; each must be in \[0, M_max = 128\]"):
        _validate_counts(torch.tensor([0, 129], dtype=torch.int32), group_rows=128)
    with pytest.raises(InputError, match="counts from -1"):
        _validate_counts(torch.tensor([-1, 5], dtype=torch.int32), group_rows=128)


def test_grouped_argument_checks_before_the_gpu():
    from fp8gen import grouped

    cpu = torch.device("cpu")
    with pytest.raises(InputError, match="b must be 3-D"):
        grouped._experts(torch.zeros(4, 16))
    with pytest.raises(InputError, match="no experts"):
        grouped._experts(torch.zeros(0, 4, 16))
    with pytest.raises(InputError, match="stacked without gaps"):
        grouped._experts(torch.zeros(2, 8, 16)[:, :4])
    with pytest.raises(InputError, match="multiple of 128 rows"):
        grouped._tokens(torch.zeros(200, 16), "contiguous", 2, 16)
    with pytest.raises(InputError, match=r"must be 3-D \(2, M_max, K\)"):
        grouped._tokens(torch.zeros(128, 16), "masked", 2, 16)
    with pytest.raises(InputError, match="multiple of 64"):
        grouped._tokens(torch.zeros(2, 100, 16), "masked", 2, 16)
    with pytest.raises(InputError, match=r"grouped B scales are \(2,\)"):
        grouped._expert_scales(torch.ones(3), 2, 256, 256, cpu)
    recipe, (_, row, k, group) = grouped._expert_scales(torch.ones(2, 2, 2), 2, 256, 256, cpu)
    assert recipe.kind == "block" and (row, k, group) == (2, 1, 4)
    assert grouped._expert_scales(torch.ones(2, 256), 2, 256, 256, cpu)[0].kind == "row"
    with pytest.raises(InputError, match=r"\(256,\) shared by the experts or \(2, 256\) per expert"):
        grouped._expert_bias(torch.zeros(3, 256), 2, 256)
    per_expert = torch.zeros(2, 256)
    assert grouped._expert_bias(per_expert, 2, 256)[1] == 256
    with pytest.raises(InputError, match="must be a torch.int32 tensor of shape"):
        grouped._group_info(torch.zeros(2), "masked", 256, 2, 128, cpu, False)
    with pytest.raises(InputError, match=r"out must be torch.bfloat16 of shape \(2, 128, 256\)"):
        grouped._output(torch.zeros(256, 256, dtype=torch.bfloat16), "masked", 256, 2, 128, 256, torch.bfloat16, cpu)
    with pytest.raises(InputError, match="multiple of 16"):
        grouped._output(None, "contiguous", 128, 2, 0, 262, torch.float32, cpu)  # 1048 bytes a row
    with pytest.raises(InputError, match=r"a must be 2-D \(M, K\) in the contiguous layout"):
        grouped._tokens(torch.zeros(2, 128, 16), "contiguous", 2, 16)
    with pytest.raises(InputError, match="a's experts must be stacked without gaps"):
        grouped._tokens(torch.zeros(2, 128, 32)[:, :, :16].transpose(0, 1).contiguous().transpose(0, 1),
                        "masked", 2, 16)
    with pytest.raises(InputError, match="scale_b is on cpu; expected meta"):
        grouped._expert_scales(torch.ones(2), 2, 256, 256, torch.device("meta"))
    with pytest.raises(InputError, match="masked_m must be contiguous"):
        grouped._group_info(torch.zeros(4, dtype=torch.int32)[::2], "masked", 256, 2, 128, cpu, False)
    with pytest.raises(InputError, match="out must be contiguous"):
        grouped._output(torch.zeros(256, 512, dtype=torch.bfloat16)[:, :256], "contiguous", 256, 2, 0, 256,
                        torch.bfloat16, cpu)


def test_grouped_out_dtype_and_k_mismatch_are_named(monkeypatch):
    from fp8gen import grouped

    a = torch.zeros(128, 32, dtype=torch.float8_e4m3fn)
    b = torch.zeros(2, 128, 16, dtype=torch.float8_e4m3fn)
    with pytest.raises(InputError, match=r"out_dtype=torch.int8 is not supported"):
        grouped.grouped_gemm(a, b, torch.ones(128), torch.ones(2), m_indices=torch.zeros(128, dtype=torch.int32),
                             out_dtype=torch.int8)
    monkeypatch.setattr(grouped.checks, "check_operand", lambda name, t: t)  # no CUDA here: skip the device check
    with pytest.raises(InputError, match="a has K = 32 but b has K = 16"):
        grouped._tokens(a, "contiguous", 2, 16)
