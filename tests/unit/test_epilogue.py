"""The epilogue chain of the DSL: parsing, validation, naming, rendering and NVRTC compilation (CPU)."""

import pytest
import torch

from fp8gen import GemmSpec, SpecError
from fp8gen.build import build
from fp8gen.epilogue import EpilogueOp, parse_chain
from fp8gen.errors import InputError
from fp8gen import checks
from fp8gen.render import render
from fp8gen.specfile import parse_specs


def test_names_and_tables_parse_with_defaults():
    chain = parse_chain(["alpha", "bias", "gelu_tanh", {"op": "residual", "dtype": "f32"}, "amax"], "bf16", 128)
    assert [op.op for op in chain] == ["alpha", "bias", "gelu", "residual", "amax"]
    assert chain[1] == EpilogueOp("bias", axis="column", dtype="bf16")
    assert chain[2].approximate == "tanh"
    assert parse_chain(["row_bias"], "f32", 128)[0].axis == "row"
    assert EpilogueOp.parse({"op": "clamp", "lo": -1, "hi": 2}).to_dict() == {"op": "clamp", "lo": -1.0, "hi": 2.0}


@pytest.mark.parametrize("chain,out,fragment", [
    (["swish"], "bf16", "unknown op"),
    ([{"op": "bias", "axis": "diagonal"}], "bf16", "'column', 'row'"),
    ([{"op": "bias", "dtype": "f64"}], "bf16", "'bf16', 'f16', 'f32'"),
    ([{"op": "gelu", "approximate": "sigmoid"}], "bf16", "'none', 'tanh'"),
    ([{"op": "clamp", "lo": 1}], "bf16", "needs both lo and hi"),
    ([{"op": "clamp", "lo": 2, "hi": 1}], "bf16", "lo <= hi"),
    ([{"op": "clamp", "lo": float("nan"), "hi": 1}], "bf16", "finite float32 number"),
    ([{"op": "clamp", "lo": -1e300, "hi": 1}], "bf16", "finite float32 number"),  # (inf as a float32 literal)
    ([{"op": "clamp", "lo": -1e-50, "hi": 1}], "bf16", "finite float32 number"),  # (below float32's range)
    ([{"op": "relu", "axis": "row"}], "bf16", "relu takes: none"),
    (["bias", "bias"], "bf16", "'bias' may appear once"),
    (["group_quantize"], "bf16", "out must be e4m3 or e5m2"),
    (["group_quantize", "relu"], "e4m3", "must be the last op"),
    ([{"op": "group_quantize", "group_size": 12}], "e4m3", "multiple of 8"),
    ("relu", "bf16", "must be a list of ops"),
    ([3], "bf16", "each op is a name"),
    ([{"op": "bias", 1: 2, "x": 3}], "bf16", "unknown keys"),
])
def test_invalid_chains_name_the_problem(chain, out, fragment):
    with pytest.raises(SpecError) as info:
        GemmSpec(out=out, epilogue=chain)
    assert fragment in str(info.value)


def test_fields_an_op_does_not_take_are_rejected():
    with pytest.raises(SpecError, match="relu takes no options"):
        EpilogueOp("relu", axis="row")
    with pytest.raises(SpecError, match="amax takes no options"):
        EpilogueOp("amax", group_size=-5)
    with pytest.raises(SpecError, match="bias takes axis, dtype"):
        EpilogueOp("bias", axis="column", dtype="bf16", lo=1.0)


def test_group_quantize_group_must_fit_the_tile():
    with pytest.raises(SpecError, match="must divide the tile width BN = 64"):
        GemmSpec(out="e4m3", tile=(128, 64, 128), epilogue=["group_quantize"])


def test_chain_is_part_of_name_dict_and_key_material():
    plain = GemmSpec()
    fused = GemmSpec(epilogue=["bias", "gelu"])
    assert fused.name.endswith("_biascbf16_gelu") and fused.name != plain.name
    assert GemmSpec.from_dict(fused.to_dict()) == fused
    assert "epilogue=[biascbf16, gelu]" in fused.summary()
    long_chain = ["alpha", {"op": "bias", "axis": "row", "dtype": "f16"}, {"op": "residual", "dtype": "f32"},
                  "gelu_tanh", {"op": "clamp", "lo": -1, "hi": 1}, "amax", "group_quantize"]
    spec = GemmSpec(out="e5m2", scale_a="group", scale_b="block", epilogue=long_chain)
    assert len(spec.name) <= 128


def test_spec_files_take_chains():
    (spec,) = parse_specs('[[kernel]]\nout = "e4m3"\nepilogue = ["bias", {op = "clamp", lo = 0, hi = 6}, '
                          '{op = "group_quantize", dtype = "ue8m0"}]\n')
    assert [op.op for op in spec.epilogue] == ["bias", "clamp", "group_quantize"]
    with pytest.raises(SpecError, match=r"kernel\[0\]\.epilogue"):
        parse_specs('[[kernel]]\nepilogue = ["tanh"]\n')


def test_render_composes_op_types_and_exact_clamp_bounds():
    spec = GemmSpec(out="e4m3", epilogue=["alpha", {"op": "bias", "axis": "row", "dtype": "f16"}, "silu",
                                          {"op": "clamp", "lo": -0.1, "hi": 6}, "amax"])
    text = render(spec).text
    assert ("fp8gen::epilogue::Chain<fp8gen::epilogue::Alpha, fp8gen::epilogue::RowBias<__half>, "
            "fp8gen::epilogue::Silu<true>, fp8gen::epilogue::Clamp<ClampBounds3>, fp8gen::epilogue::Amax>") in text
    assert "struct ClampBounds3 {" in text  # named by its position in the chain
    twice = render(GemmSpec(epilogue=[{"op": "clamp", "lo": -1, "hi": 1}, "relu", {"op": "clamp", "lo": 0, "hi": 2}])).text
    assert "Clamp<ClampBounds0>, fp8gen::epilogue::Relu, fp8gen::epilogue::Clamp<ClampBounds2>>" in twice
    assert "struct ClampBounds0 {" in twice and "struct ClampBounds2 {" in twice
    assert f"static constexpr float lo = {(-0.1).hex()}f;" in text
    assert "__nv_fp8_e4m3" in text
    assert "fp8gen::epilogue::Chain<>" in render(GemmSpec()).text


@pytest.mark.parametrize("out,fast", [("bf16", "true"), ("f16", "true"), ("e4m3", "true"), ("f32", "false")])
def test_activations_take_their_fast_forms_except_for_float32_outputs(out, fast):
    text = render(GemmSpec(out=out, epilogue=["gelu_tanh", "silu", "gelu"])).text
    assert (f"fp8gen::epilogue::GeluTanh<{fast}>, fp8gen::epilogue::Silu<{fast}>, "
            f"fp8gen::epilogue::GeluErf<{fast}>>") in text


@pytest.mark.parametrize("out,chain,scales,tile", [
    ("bf16", ["alpha", "bias", "gelu", {"op": "residual", "dtype": "bf16"}], ("group", "block"), (128, 128, 128)),
    ("f32", [{"op": "bias", "axis": "row", "dtype": "f16"}, "gelu_tanh", {"op": "clamp", "lo": -5, "hi": 5}],
     ("group", "block"), (128, 128, 128)),
    ("e4m3", ["bias", "silu", "amax"], ("group", "block"), (128, 128, 128)),
    ("e5m2", ["relu", {"op": "group_quantize", "dtype": "ue8m0"}], ("group", "block"), (128, 128, 128)),
    # The wide prefill tile (one promoted partial) the heuristics pick for per-tensor / per-row scales
    # and chains without a residual (which would spill there).
    ("bf16", ["alpha", "bias", "gelu", {"op": "clamp", "lo": -5, "hi": 5}], ("row", "row"), (128, 192, 128)),
    ("f32", [{"op": "bias", "axis": "row", "dtype": "f16"}, "gelu_tanh"], ("tensor", "tensor"), (128, 192, 128)),
    ("e4m3", ["bias", "silu", "amax"], ("tensor", "tensor"), (128, 192, 128)),
])
def test_chains_compile_to_sm90a_without_spills(out, chain, scales, tile, tmp_path, monkeypatch):
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(tmp_path))
    artifact = build(GemmSpec(out=out, scale_a=scales[0], scale_b=scales[1], tile=tile, epilogue=chain))
    assert artifact.cubin[:4] == b"\x7fELF"
    assert artifact.meta["resources"]["spill_stores"] == 0


def test_arguments_for_ops_the_chain_lacks_are_rejected():
    with pytest.raises(InputError, match="no 'residual' op"):
        checks.unused_epilogue_arguments({"bias"}, False, residual=torch.zeros(1), bias=None)
    with pytest.raises(InputError, match="out_scale applies to FP8 outputs"):
        checks.unused_epilogue_arguments(set(), False, out_scale=2.0)
    with pytest.raises(InputError, match="out_scale applies to FP8 outputs"):
        checks.unused_epilogue_arguments({"group_quantize"}, True, out_scale=2.0)
    checks.unused_epilogue_arguments({"amax"}, True, amax_out=torch.zeros(1), out_scale=2.0)


def test_epilogue_tensor_checks_name_the_argument():
    cpu = torch.device("cpu")
    column = EpilogueOp("bias", axis="column", dtype="bf16")
    assert checks.bias_argument(torch.zeros(8, dtype=torch.bfloat16), column, 4, 8, cpu)[1] == 1
    with pytest.raises(InputError, match=r"needs \(8,\), length N"):
        checks.bias_argument(torch.zeros(4, dtype=torch.bfloat16), column, 4, 8, cpu)
    with pytest.raises(InputError, match="reads torch.bfloat16"):
        checks.bias_argument(torch.zeros(8), column, 4, 8, cpu)
    residual = EpilogueOp("residual", dtype="f32")
    with pytest.raises(InputError, match=r"expected the output's \(4, 8\)"):
        checks.residual_argument(torch.zeros(8, 4), residual, 4, 8, cpu)
    with pytest.raises(InputError, match="alpha must be a number or a one-element torch.float32 tensor"):
        checks.scalar_argument("alpha", torch.zeros(2), cpu)
    with pytest.raises(InputError, match="must be a number"):
        checks.scalar_argument("alpha", True, cpu)
    assert checks.scalar_argument("alpha", 2, cpu) == (2.0, 0)


def test_call_arguments_are_checked_against_the_chain(tmp_path, monkeypatch):
    """Kernel-level epilogue checks that run before anything touches the GPU (CPU tensors suffice)."""
    import fp8gen
    from fp8gen import api

    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(tmp_path))
    cpu = torch.device("cpu")
    none = dict(alpha=None, bias=None, residual=None, beta=None, out_scale=None, amax_out=None, group_scales_out=None)
    plain = fp8gen.compile(GemmSpec())
    assert plain._epilogue_arguments(4, 8, cpu, **none) == (api._NO_EPILOGUE, None)
    with pytest.raises(InputError, match="no 'alpha' op"):
        plain._epilogue_arguments(4, 8, cpu, **{**none, "alpha": 2.0})
    fused = fp8gen.compile(GemmSpec(out="e4m3", epilogue=[{"op": "residual", "dtype": "f32"}, "amax"]))
    with pytest.raises(InputError, match="pass residual="):
        fused._epilogue_arguments(4, 8, cpu, **none)
    residual = torch.zeros(4, 8)
    with pytest.raises(InputError, match="pass amax_out="):
        fused._epilogue_arguments(4, 8, cpu, **{**none, "residual": residual})
    with pytest.raises(InputError, match="beta must be a host number"):
        fused._epilogue_arguments(4, 8, cpu, **{**none, "residual": residual, "beta": torch.ones(1),
                                                "amax_out": torch.zeros(1)})
    with pytest.raises(InputError, match="amax_out must be a one-element torch.float32"):
        fused._epilogue_arguments(4, 8, cpu, **{**none, "residual": residual, "amax_out": torch.zeros(2)})
    amax = torch.full((1,), 5.0)
    args, _ = fused._epilogue_arguments(4, 8, cpu, **{**none, "residual": residual, "beta": 0.5, "out_scale": 2.0,
                                                      "amax_out": amax})
    assert args.beta == 0.5 and args.out_scale == 2.0 and args.residual == residual.data_ptr()
    assert amax.item() == 0.0, "amax_out is zeroed before the kernel max-es into it"


def test_group_scales_out_is_checked():
    cpu = torch.device("cpu")
    op = EpilogueOp("group_quantize", group_size=128, dtype="ue8m0")
    good = torch.empty(4, 3, dtype=torch.float8_e8m0fnu)
    assert checks.group_scales_argument(good, op, 4, 300, cpu) is good
    with pytest.raises(InputError, match=r"expected \(4, 3\)"):
        checks.group_scales_argument(torch.empty(4, 2, dtype=torch.float8_e8m0fnu), op, 4, 300, cpu)
    with pytest.raises(InputError, match="reads torch.float8_e8m0fnu"):
        checks.group_scales_argument(torch.empty(4, 3), op, 4, 300, cpu)


def test_gemm_arguments_that_build_the_chain_are_checked():
    from fp8gen import api

    with pytest.raises(InputError, match="requantize='2x128' is invalid"):
        api._requantize_signature("2x128")
    with pytest.raises(InputError, match=r"requantize=\['1x128'\] is invalid"):
        api._requantize_signature(["1x128"])  # (unhashable: checked before the cached _chain_of)
    with pytest.raises(InputError, match=r"\('clamp', lo, hi\) with numbers"):
        api._activation_signature(("clamp", [0], 1))
    with pytest.raises(InputError, match=r"activation=\['relu'\] is invalid"):
        api._activation_signature(["relu"])
    with pytest.raises(InputError, match="requantize needs an FP8 out_dtype"):
        api._chain_of("bf16", False, None, None, None, False, "1x128")
    with pytest.raises(InputError, match="invalid epilogue arguments"):
        api._chain_of("bf16", False, None, None, ("clamp", 2.0, 1.0), False, None)
    with pytest.raises(InputError, match=r"expected \(8,\) per output column or \(4,\) per row"):
        api._bias_signature(torch.zeros(5, dtype=torch.bfloat16), 4, 8)
    with pytest.raises(InputError, match="bias has dtype torch.float64"):
        api._bias_signature(torch.zeros(8, dtype=torch.float64), 4, 8)
    assert api._bias_signature(torch.zeros(4, dtype=torch.float16), 4, 8) == ("row", "f16")
    chain = api._chain_of("e4m3", True, ("column", "bf16"), "f32", "gelu_tanh", True, "1x128_ue8m0")
    assert [op.op for op in chain] == ["alpha", "bias", "residual", "gelu", "amax", "group_quantize"]


def test_an_ops_error_names_its_position_in_the_chain():
    with pytest.raises(SpecError, match=r"epilogue\[1\].clamp=\(5.0, 1.0\) is invalid: needs lo <= hi"):
        GemmSpec(epilogue=["relu", {"op": "clamp", "lo": 5, "hi": 1}])
    with pytest.raises(SpecError, match=r"'bias' may appear once \(ops \[0, 1\] are each a bias\)"):
        GemmSpec(epilogue=["bias", "row_bias"])
