import pytest

from fp8gen import GemmSpec, OutOfResources, ScaleRecipe, SpecError
from fp8gen.spec import SMEM_LIMIT_BYTES


def test_defaults_are_valid_frozen_and_hashable():
    spec = GemmSpec()
    assert spec.stages == 6 and spec.promotion_interval == 128
    assert hash(spec) == hash(GemmSpec())
    assert {spec: 1}[GemmSpec()] == 1
    with pytest.raises(AttributeError):
        spec.a = "e5m2"


@pytest.mark.parametrize("field,value,fragment", [
    ("a", "e3m4", "'e4m3', 'e5m2'"),
    ("b", "fp8", "'e4m3', 'e5m2'"),
    ("out", "int8", "'bf16', 'f16', 'f32'"),
    ("accumulator", "f16", "'f32'"),
    ("accumulation", "sloppy", "'promoted', 'fast'"),
    ("schedule", "zigzag", "'cooperative', 'pingpong'"),
    ("tile", (96, 128, 128), "BM (tile[0]) must be one of 64, 128, 256"),
    ("tile", (128, 100, 128), "multiple of 16"),
    ("tile", (128, 128, 32), "BK (tile[2]) must be one of 64, 128"),
    ("tile", (128, 128), "three integers"),
    ("cluster", (1, 2), "(2, 1)"),
    ("stages", 1, ">= 2"),
    ("stages", "many", ">= 2"),
    ("raster_group", 0, "positive integer"),
    ("promotion_interval", 48, "32, 64, 128"),
    ("name", "bad name; system()", "[A-Za-z_]"),
    ("name", "x" * 129, "[A-Za-z_]"),
    ("epilogue", "relu", "must be a list of ops"),
    ("epilogue", None, "must be a list of ops"),
    ("epilogue", 5, "must be a list of ops"),
    # bool and float values equal to allowed ints would render as C++ `true` / `2.0`
    ("cluster", (True, True), "(1, 1), (2, 1)"),
    ("cluster", (2.0, 1.0), "(1, 1), (2, 1)"),
    ("promotion_interval", 64.0, "32, 64, 128"),
    ("raster_group", 2 ** 31, "at most 65536"),
    ("name", 0, "[A-Za-z_]"),
    ("scale_a", None, "recipe name or a table"),
])
def test_invalid_field_names_field_value_and_allowed(field, value, fragment):
    with pytest.raises(SpecError) as info:
        GemmSpec(**{field: value})
    message = str(info.value)
    assert info.value.field.split(" ")[0].split("[")[0] == field
    assert repr(value) in message or str(value) in message
    assert fragment in message
    assert isinstance(info.value, ValueError)


def test_stages_that_overflow_shared_memory_report_bytes_and_limit():
    with pytest.raises(OutOfResources) as info:
        GemmSpec(stages=12)
    assert info.value.required == GemmSpec().smem_bytes(12)
    assert info.value.limit == SMEM_LIMIT_BYTES
    assert "at most 6 stages" in str(info.value)


def test_auto_stages_fill_shared_memory():
    spec = GemmSpec(tile=(128, 256, 128), accumulation="fast")
    assert spec.stages == 3  # 48 KiB per stage next to the 64 KiB bf16 output tile
    assert spec.smem_bytes(spec.stages) <= SMEM_LIMIT_BYTES < spec.smem_bytes(spec.stages + 1)


def test_accumulator_register_budget():
    with pytest.raises(OutOfResources, match="accumulator registers"):
        GemmSpec(tile=(128, 256, 128))  # promotion: even one partial makes 2 fragments of 128 registers
    assert GemmSpec(tile=(128, 256, 128), accumulation="fast").accumulator_registers() == 128
    assert GemmSpec(tile=(128, 128, 128)).partial_fragments == 2  # 3 x 64 registers
    wide = GemmSpec(tile=(128, 192, 128))  # 3 x 96 would not fit: one partial
    assert wide.partial_fragments == 1 and wide.accumulator_registers() == 192
    assert GemmSpec(tile=(128, 128, 128), accumulation="fast").partial_fragments == 0
    # B's per-column 1xG factors take registers too: two partials only up to 32 registers each
    assert GemmSpec(scale_a="group", scale_b="group", tile=(128, 64, 128)).partial_fragments == 2
    assert GemmSpec(scale_a="group", scale_b="group", tile=(128, 128, 128)).partial_fragments == 1


@pytest.mark.parametrize("spec,halves", [
    (GemmSpec(tile=(128, 192, 128)), True),
    (GemmSpec(scale_a="row", scale_b="row", tile=(128, 176, 128), out="f32"), True),
    (GemmSpec(scale_a="tensor", scale_b="row", tile=(128, 192, 128)), True),
    (GemmSpec(tile=(128, 128, 128)), False),  # two partials: they alternate instead
    (GemmSpec(tile=(128, 192, 128), accumulation="fast"), False),
    (GemmSpec(scale_a="group", scale_b="block", tile=(128, 192, 128)), False),  # measured slower in halves
    (GemmSpec(scale_a="group", scale_b="group", tile=(128, 192, 128), out="f32"), False),  # spilled
    (GemmSpec(scale_a="group", scale_b="tensor", tile=(128, 192, 128)), False),
    (GemmSpec(scale_a="row", scale_b="row", tile=(256, 96, 128)), False),  # two 64-row atoms per warpgroup
])
def test_column_halves_only_where_measured_faster(spec, halves):
    assert spec.column_halves is halves


def test_per_row_epilogue_factors_take_shared_memory():
    assert GemmSpec(tile=(128, 192, 128)).epilogue_factor_bytes == 0  # per-tensor: read from global memory
    row = GemmSpec(tile=(128, 192, 128), scale_a="row", scale_b="row")
    # Per consumer warpgroup: its 64 rows' and the tile's 192 columns' factors, and an mbarrier (padded).
    assert row.epilogue_factor_bytes == 2 * (64 * 4 + 192 * 4 + 16)
    assert GemmSpec(tile=(128, 192, 128), scale_b="row").epilogue_factor_bytes == 2 * (16 + 192 * 4 + 16)
    for spec in (row, GemmSpec(tile=(128, 128, 128), scale_a="row", scale_b="row")):
        assert spec.smem_bytes(spec.stages) <= SMEM_LIMIT_BYTES
    assert GemmSpec(tile=(128, 128, 128), scale_a="row", scale_b="row").stages == GemmSpec(tile=(128, 128, 128)).stages


def test_column_bias_takes_shared_memory():
    assert GemmSpec(tile=(128, 192, 128), epilogue=("gelu_tanh",)).epilogue_column_bytes == 0
    assert GemmSpec(tile=(128, 192, 128), epilogue=({"op": "bias", "axis": "row"},)).epilogue_column_bytes == 0
    # Per consumer warpgroup: the tile's 192 bias values and an mbarrier, padded to 16 bytes.
    assert GemmSpec(tile=(128, 192, 128), epilogue=("bias",)).epilogue_column_bytes == 2 * (192 * 2 + 16)
    f32 = GemmSpec(tile=(128, 128, 128), epilogue=({"op": "bias", "dtype": "f32"}, "gelu_tanh"))
    assert f32.epilogue_column_bytes == 2 * (128 * 4 + 16)
    # The 6-stage ring of 128x128 tiles still fits next to it.
    assert f32.stages == GemmSpec(tile=(128, 128, 128)).stages == 6
    assert f32.smem_bytes(f32.stages) <= SMEM_LIMIT_BYTES


def test_promotion_interval_auto_depends_on_output():
    assert GemmSpec(out="bf16").promotion_interval == 128
    assert GemmSpec(out="f32").promotion_interval == 32
    with pytest.raises(SpecError, match="divide the K tile"):
        GemmSpec(tile=(128, 128, 64), promotion_interval=128)


def test_scale_recipes_are_expressible():
    spec = GemmSpec(scale_a={"kind": "group", "group_size": 128}, scale_b=ScaleRecipe("block", dtype="ue8m0"))
    assert spec.recipe == ("group", "block")
    assert spec.scale_b.label() == "128x128_ue8m0"
    with pytest.raises(SpecError, match="block scales are for B"):
        GemmSpec(scale_a="block")
    with pytest.raises(SpecError, match="ue8m0"):
        ScaleRecipe("tensor", dtype="ue8m0")
    with pytest.raises(SpecError, match="divides the K tile"):
        GemmSpec(scale_a=ScaleRecipe("group", group_size=256))
    with pytest.raises(SpecError, match="unknown keys"):
        ScaleRecipe.parse({"kind": "row", "colour": "red"})
    with pytest.raises(SpecError, match="use 'promoted'"):
        GemmSpec(scale_a="group", accumulation="fast")
    with pytest.raises(SpecError, match="must divide scale_b.group_size 64"):
        GemmSpec(scale_b=ScaleRecipe("block", group_size=64), promotion_interval=128)
    assert GemmSpec(scale_b=ScaleRecipe("group", group_size=64)).promotion_interval == 64
    # B's block scales: a tile may straddle two blocks of columns (BN <= G + gcd(BN, G)), not three.
    for bn in (96, 112, 160, 192):
        assert GemmSpec(scale_a="group", scale_b="block", tile=(128, bn, 128)).tile[1] == bn
    with pytest.raises(SpecError, match="more than two of B's 64-column scale blocks; BN may be 16, 32, 48, 64, 80, 96, 128"):
        GemmSpec(scale_b=ScaleRecipe("block", group_size=64), promotion_interval=64, tile=(64, 112, 64))


def test_fp8_output_rows_must_fill_whole_store_boxes():
    for bn in (16, 48, 112, 176):
        with pytest.raises(SpecError, match=f"BN \\(tile\\[1\\]\\) = {bn} makes {bn}-byte rows of e4m3 output;"
                                            ".* BN must be a multiple of 32"):
            GemmSpec(out="e4m3", tile=(64, bn, 128))
    assert GemmSpec(out="e5m2", tile=(64, 32, 128)).tile[1] == 32
    assert GemmSpec(out="bf16", tile=(64, 16, 128)).tile[1] == GemmSpec(out="f32", tile=(64, 16, 128)).tile[1] == 16


def test_dict_round_trip():
    spec = GemmSpec(a="e5m2", out="f16", tile=(64, 64, 64), stages=4, name="k1")
    assert GemmSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="unknown fields"):
        GemmSpec.from_dict({"tiles": [1, 2, 3]})


def test_ping_pong_schedule():
    spec = GemmSpec(tile=(64, 128, 128), schedule="pingpong")
    assert spec.consumer_warpgroups == 2 and spec.mma_warpgroups == 1 and spec.partial_fragments == 2
    assert spec.output_tile_bytes == 2 * 64 * 128 * 2, "one staging tile per consumer"
    assert spec.name == f"gemm_e4m3_e4m3_bf16_tensor_tensor_64x128x128_pp_s{spec.stages}_promoted128"
    with pytest.raises(SpecError, match="BM \\(tile\\[0\\]\\) must be 64"):
        GemmSpec(tile=(128, 128, 128), schedule="pingpong")
    with pytest.raises(SpecError, match="without clusters and grouping"):
        GemmSpec(tile=(64, 128, 128), schedule="pingpong", cluster=(2, 1))
    with pytest.raises(SpecError, match="without clusters and grouping"):
        GemmSpec(tile=(64, 128, 128), schedule="pingpong", grouping="masked")


def test_default_split_of_a_cooperative_kernel(monkeypatch):
    from types import SimpleNamespace

    from fp8gen import api
    from fp8gen.api import Kernel
    from fp8gen.heuristics import NO_SPLIT, KSplit

    monkeypatch.setattr(api, "_sm_count", lambda device_index: 132)
    kernel = SimpleNamespace(spec=GemmSpec(tile=(128, 192, 128)))
    # 1216 tiles: 9 whole waves, then the last 28 tiles in 4 K ranges each (heuristics.tail_split).
    assert Kernel._splits(kernel, 4096, 7168, 16384, None, 0) == KSplit(4, 9 * 132)
    assert Kernel._splits(kernel, 4096, 7168, 16384, 1, 0) == NO_SPLIT  # split_k=1: no split at all
    assert Kernel._splits(kernel, 4096, 7168, 16384, 3, 0) == KSplit(3, 0)  # explicit: every tile
    assert Kernel._splits(kernel, 256, 2048, 8192, None, 0) == KSplit(6, 0)  # 22 tiles: each split 6 ways
    # Decode: 66 tiles 32 wide with 56 K blocks each; the split follows the recipe's mainloop turn
    # (heuristics.DECODE_KBLOCK_SECONDS_K_GROUP_SCALES): group x block scales split in two, per-row ones not.
    narrow = {recipe: SimpleNamespace(spec=GemmSpec(tile=(64, 32, 128), scale_a=a, scale_b=b))
              for recipe, a, b in (("row", "row", "row"), ("block", "group", "block"))}
    assert Kernel._splits(narrow["block"], 64, 2112, 7168, None, 0) == KSplit(2, 0)
    assert Kernel._splits(narrow["row"], 64, 2112, 7168, None, 0) == NO_SPLIT


def test_ping_pong_kernels_refuse_split_k():
    from types import SimpleNamespace

    from fp8gen.api import Kernel
    from fp8gen.errors import InputError
    from fp8gen.heuristics import NO_SPLIT

    kernel = SimpleNamespace(spec=GemmSpec(tile=(64, 128, 128), schedule="pingpong"))
    assert Kernel._splits(kernel, 64, 512, 8192, None, 0) == NO_SPLIT  # no device query: ping-pong never splits
    assert Kernel._splits(kernel, 64, 512, 8192, 1, 0) == NO_SPLIT
    with pytest.raises(InputError, match="ping-pong kernels do not split K"):
        Kernel._splits(kernel, 64, 512, 8192, 4, 0)


def test_a_box_rows_cover_only_m_for_tiles_up_to_128_wide():
    assert GemmSpec(tile=(64, 16, 128)).a_box_rows(1) == 1
    assert GemmSpec(tile=(128, 128, 128)).a_box_rows(100) == 100
    assert GemmSpec(tile=(128, 128, 128)).a_box_rows(300) == 128  # the last tile's box still reaches past M
    assert GemmSpec(tile=(128, 192, 128)).a_box_rows(100) == 128  # whole boxes: measured faster (block 128x192)


@pytest.mark.parametrize("kwargs,field,fragment", [
    ({"scale_b": {"kind": "blok"}}, "scale_b.kind", "'tensor', 'row', 'group', 'block'"),
    ({"scale_b": "blok"}, "scale_b.kind", "'tensor', 'row', 'group', 'block'"),
    ({"scale_a": {"kind": "group", "dtype": "f16"}}, "scale_a.dtype", "'f32', 'ue8m0'"),
    ({"scale_a": {"kind": "row", "group_size": 64}}, "scale_a.group_size", "group and block recipes"),
    ({"accumulation": "fast", "promotion_interval": 32}, "promotion_interval", "accumulation='promoted'"),
])
def test_errors_name_the_field_as_the_spec_spells_it(kwargs, field, fragment):
    with pytest.raises(SpecError) as info:
        GemmSpec(**kwargs)
    assert info.value.field == field and fragment in str(info.value)


def test_name_none_or_empty_takes_the_default_name():
    assert GemmSpec(name=None).name == GemmSpec(name="").name == GemmSpec().default_name()


def test_fast_accumulation_round_trips_through_its_dict():
    spec = GemmSpec(accumulation="fast", tile=(128, 256, 128))
    assert GemmSpec.from_dict(spec.to_dict()) == spec


def test_from_dict_and_require_spec_reject_what_is_not_a_spec():
    from fp8gen.spec import require_spec

    with pytest.raises(SpecError, match="must be a table"):
        GemmSpec.from_dict(None)
    with pytest.raises(SpecError, match="must be a GemmSpec"):
        require_spec({"tile": [128, 128, 128]})
    assert require_spec(GemmSpec()) == GemmSpec()


def test_resource_hints_offer_only_what_would_help():
    with pytest.raises(OutOfResources) as info:
        GemmSpec(tile=(256, 256, 128), accumulation="fast")
    assert str(info.value).endswith("use a smaller BM*BN")
    with pytest.raises(OutOfResources, match="or accumulation='fast'"):
        GemmSpec(tile=(128, 256, 128))
    with pytest.raises(OutOfResources, match="not even 2 stages fit: use a smaller tile"):
        GemmSpec(tile=(256, 192, 128), accumulation="fast", out="f32", stages=2)


def test_with_changes_derives_an_automatic_name_again_and_keeps_a_custom_one():
    spec = GemmSpec(tile=(128, 192, 128))
    changed = spec.with_changes(raster_group=4)
    assert changed.raster_group == 4 and changed.tile == spec.tile
    assert changed.name == changed.default_name() != spec.name and "_r4_" in changed.name
    assert GemmSpec(name="mine").with_changes(raster_group=4).name == "mine"
    assert spec.with_changes(name="other").name == "other"
    with pytest.raises(SpecError, match="raster_group"):
        spec.with_changes(raster_group=0)
