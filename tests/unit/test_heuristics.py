"""Shape heuristics: tile choice and split-K."""

import pytest

from fp8gen.epilogue import EpilogueOp
from fp8gen.heuristics import (LARGE_PROBLEM_MACS, LARGE_PROBLEM_RASTER_GROUP, NO_SPLIT, TAIL_SPLIT_COST_BLOCKS,
                               TAIL_SPLIT_COST_BLOCKS_PER_SPLIT, KSplit, balanced_splits, choose_spec, grouped_block_n,
                               split_k, tail_split, tail_wave_cost)
from fp8gen.errors import SpecError
from fp8gen.spec import DEFAULT_RASTER_GROUP, ScaleRecipe

H100_SMS = 132


def test_balanced_splits_never_leaves_a_range_empty():
    for k_blocks in range(1, 200):
        for splits in range(1, k_blocks + 1):
            s = balanced_splits(k_blocks, splits)
            per_split = -(-k_blocks // s)
            assert 1 <= s <= splits and (s - 1) * per_split < k_blocks


def test_split_k_only_for_shapes_that_leave_sms_idle():
    assert split_k(64, 2112, 7168, (64, 64, 128), H100_SMS) == 4  # 33 tiles x 4 splits of 14 K blocks: 132 units
    prefill = choose_spec(4096, 7168, 2048, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    assert split_k(4096, 7168, 2048, prefill.tile, H100_SMS) == 1
    short_k = choose_spec(64, 512, 256, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    assert split_k(64, 512, 256, short_k.tile, H100_SMS) == 1  # 2 K blocks: not worth a split
    assert split_k(64, 512, 0, short_k.tile, H100_SMS) == 1


def test_decode_splits_k_only_where_the_model_says_it_pays():
    # 64 tiles of 64x112 with 8 K blocks each: two splits would fill 128 SMs, but the reduction costs more
    # than the SMs add (H200: 64x112 and 64x128 split in two 170 and 168 TFLOP/s, 64x64 unsplit 254).
    assert split_k(64, 7168, 2048, (64, 112, 128), H100_SMS) == 1
    assert split_k(64, 7168, 16384, (64, 112, 128), H100_SMS) == 2  # 128 K blocks: the split pays
    # 66 tiles 32 wide, 56 K blocks each: unsplit with per-row scales (64x2112x7168 204 TFLOP/s, split in two
    # 172), in two with group x block scales, whose mainloop turns take longer (171 vs 158; H100, 2026-12-05)
    assert split_k(64, 2112, 7168, (64, 32, 128), H100_SMS) == 1
    assert split_k(64, 2112, 7168, (64, 32, 128), H100_SMS, k_group_scales=True) == 2
    # below the model's M: no split once the tiles occupy a quarter of the SMs, else the SM-filling rule
    assert split_k(1, 8192, 8192, (64, 128, 128), H100_SMS) == 1  # 64 tiles
    assert split_k(16, 2112, 7168, (64, 64, 128), H100_SMS) == 1  # 33 tiles (96 wide x 6 splits: 16% slower)
    assert split_k(1, 1024, 8192, (64, 64, 128), H100_SMS) == 8  # 16 tiles
    assert split_k(256, 2048, 8192, (128, 128, 128), H100_SMS) == 4  # above decode M: SM-filling rule


def test_tail_split_cuts_the_last_wave_where_the_model_says_it_pays():
    # 4096x7168 in 128x192 tiles: 32 x 38 = 1216 tiles, 9 waves of 132 and 28 tiles left; of the split
    # counts up to 4 (132 // 28) the model likes 4 (32 K blocks each) best.
    assert tail_split(4096, 7168, 16384, (128, 192, 128), H100_SMS) == KSplit(4, 9 * 132)
    assert isinstance(tail_split(4096, 7168, 16384, (128, 192, 128), H100_SMS), KSplit)  # a class, not wrapped
    assert tail_wave_cost(128, 4) == (32 + TAIL_SPLIT_COST_BLOCKS + 4 * TAIL_SPLIT_COST_BLOCKS_PER_SPLIT) / 128
    # 8192^3 in 128x128 tiles leaves 4 tiles: 16 splits of 4 K blocks would cost more in reductions than 5.
    assert tail_split(8192, 8192, 8192, (128, 128, 128), H100_SMS) == KSplit(5, 31 * 132)
    # Short K: the split's own cost outweighs the idle SMs (measured: K = 1536 and 2048 did not gain).
    assert tail_split(4096, 7168, 2048, (128, 192, 128), H100_SMS) == NO_SPLIT
    assert tail_split(4096, 24576, 1536, (128, 192, 128), H100_SMS) == NO_SPLIT
    # 1024 tiles of 128x128: a last wave of 100 tiles leaves too few SMs for two splits each.
    assert tail_split(4096, 4096, 7168, (128, 128, 128), H100_SMS) == NO_SPLIT
    # Less than one wave (heuristics.split_k's case), exact waves, too few K blocks, no K.
    assert tail_split(1024, 1024, 8192, (128, 128, 128), H100_SMS) == NO_SPLIT
    assert tail_split(128 * 132, 128, 8192, (128, 128, 128), H100_SMS) == NO_SPLIT
    assert tail_split(4096, 7168, 512, (128, 192, 128), H100_SMS) == NO_SPLIT
    assert tail_split(4096, 7168, 0, (128, 192, 128), H100_SMS) == NO_SPLIT
    # Clusters of two: 66 cluster tiles per wave; 16 x 38 = 608 = 9 x 66 + 14.
    assert tail_split(4096, 7168, 16384, (128, 192, 128), H100_SMS, cluster_m=2) == KSplit(4, 9 * 66)


def test_decode_tiles_are_64_rows():
    assert choose_spec(64, 4096, 4096, "e4m3", "e4m3", "bf16", "tensor", "tensor").tile[0] == 64
    assert choose_spec(65, 4096, 4096, "e4m3", "e4m3", "bf16", "tensor", "tensor").tile[0] == 128


def test_decode_width_follows_the_bandwidth_model():
    def tile(m, n, k, kind_b="tensor", epilogue=(), out="bf16"):
        kind_a = "group" if kind_b == "block" else kind_b
        return choose_spec(m, n, k, "e4m3", "e4m3", out, kind_a, kind_b, epilogue).tile

    # The measured best of the (width, split) configurations on the suite's decode shapes (H100, 2026-12-05):
    assert tile(64, 7168, 16384) == (64, 64, 128)     # 112 tiles unsplit beat 128 units split in two
    assert tile(64, 4096, 7168) == (64, 32, 128)      # 128 narrow tiles unsplit beat 128 units of 128 x 4 splits
    assert tile(128, 4096, 7168, "row") == (128, 32, 128)
    assert tile(64, 32768, 512) == (64, 128, 128)     # 256 units: 128 wide already fills the SMs
    assert tile(64, 24576, 1536, "block") == (64, 96, 128)  # block scales too: tiles may straddle two blocks
    assert tile(128, 2112, 7168, "block") == (128, 64, 128)  # 128x96 measured slower than 128x64
    # Below DECODE_MODEL_MIN_M rows: the width whose units fill the SMs best.
    assert tile(32, 28672, 8192) == (64, 112, 128)    # 256 units in two full waves (128 wide: 224)
    assert tile(1, 8192, 8192) == (64, 64, 128)       # 128 tiles unsplit (128 wide split in two: 20% slower)
    assert tile(16, 4096, 7168) == (64, 64, 128) and tile(32, 7168, 2048) == (64, 64, 128)
    assert tile(32, 28672, 8192, "block") == (64, 128, 128)  # 32 wide would fill the SMs better: measured 0.6x
    ue8m0 = ScaleRecipe("block", dtype="ue8m0")
    assert choose_spec(64, 24576, 1536, "e4m3", "e4m3", "bf16", ScaleRecipe("group", dtype="ue8m0"), ue8m0).tile[1] == 64
    requantize = (EpilogueOp.parse({"op": "group_quantize"}),)
    relu = (EpilogueOp.parse({"op": "relu"}),)
    assert tile(64, 7168, 16384, epilogue=requantize, out="e4m3")[1] == 128  # whole 1x128 output groups per tile
    assert tile(4096, 7168, 2048, "row") == (128, 128, 128)  # prefill: not the decode model
    # 16-wide tiles: per-tensor scales, no epilogue ops, N / 16 tiles about the SMs (H200); M need not fill the
    # tile's rows (A's box then covers only M rows: GemmSpec.a_box_rows)
    assert tile(64, 2112, 7168) == (64, 16, 128) and tile(128, 2112, 7168) == (128, 16, 128)
    assert tile(64, 2112, 7168, "row")[1] >= 32 and tile(64, 2112, 7168, epilogue=relu)[1] >= 32
    # per-row scales: 66 tiles 32 wide unsplit (64x2112x7168 204 TFLOP/s, 128x2112x7168 339) beat 64 wide in
    # four splits (161, 282); the model's per-K-block floor, not the bytes, bounds narrow tiles
    assert tile(64, 2112, 7168, "row") == (64, 32, 128) and tile(128, 2112, 7168, "row") == (128, 32, 128)
    assert tile(33, 2112, 7168) == (64, 16, 128) and tile(96, 2112, 7168) == (128, 16, 128)
    assert tile(64, 4096, 7168)[1] == 32  # 256 tiles of 16 columns: two per SM
    # FP8 output rows fill whole 32-byte store boxes: no 16-, 48-, 112- or 176-wide tiles
    assert tile(32, 28672, 8192) == (64, 112, 128) and tile(32, 28672, 8192, out="e4m3")[1] % 32 == 0
    assert tile(4096, 2112, 7168) == (128, 176, 128) and tile(4096, 2112, 7168, out="e4m3")[1] % 32 == 0
    assert tile(0, 7168, 2048)[1] == 128 and tile(64, 0, 2048)[1] == 128  # empty outputs


def test_decode_tiles_fill_shared_memory_with_stages_where_that_measured_faster():
    def spec(m, n, k):
        return choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")

    narrow = spec(64, 4096, 7168)  # 32 wide
    assert narrow.stages == narrow.max_stages() > 8
    assert spec(128, 4096, 7168).stages == spec(128, 4096, 7168).max_stages() > 8
    few_rows = spec(16, 10240, 8192)  # 96 wide, but only 16 rows of A per stage are loaded
    assert few_rows.tile[1] >= 64 and few_rows.stages == few_rows.max_stages() > 8
    assert spec(64, 7168, 16384).stages == 8 < spec(64, 7168, 16384).max_stages()  # 64 wide at M = 64: measured 0-3% slower
    assert spec(4096, 4096, 7168).stages == spec(4096, 4096, 7168).max_stages()  # prefill tiles: "auto" fills them


def test_wide_tiles_where_they_cut_waves():
    def tile(m, n, kind="tensor", epilogue=(), out="bf16"):
        kind_b = "block" if kind == "group" else kind
        return choose_spec(m, n, 4096, "e4m3", "e4m3", out, kind, kind_b, epilogue).tile

    assert tile(8192, 8192) == (128, 192, 128)          # 31.03 -> 20.85 waves
    assert tile(8192, 8192, "row") == (128, 192, 128)
    assert tile(4096, 2112, "row") == (128, 192, 128)   # 5 -> 3 waves
    assert tile(4096, 2112) == (128, 176, 128)          # per-tensor: 3 waves of narrower tiles
    assert tile(4096, 4096) == (128, 128, 128)          # 8 -> 6 waves of 1.5x the work each: no
    assert tile(4096, 7168, "row") == (128, 192, 128)   # 14 -> 9 waves and a last one split in K (tail_split)
    assert tile(4096, 4096, "row") == (128, 128, 128)   # 8 -> 5 waves and a split last: 1.5x the work each
    assert tile(4096, 7168) == (128, 176, 128)          # per-tensor: 14 -> 10 waves of 1.375x the work
    assert tile(4096, 24576) == (128, 192, 128)         # 176 would be 34 waves against 192's 32
    assert tile(200, 264) == (128, 128, 128)            # one wave either way
    assert tile(8192, 8192, "group") == (128, 192, 128)  # float32 block scales: tiles straddle two blocks
    assert tile(4096, 4096, "group") == (128, 128, 128)
    ue8m0 = ScaleRecipe("block", dtype="ue8m0")
    assert choose_spec(8192, 8192, 4096, "e4m3", "e4m3", "bf16", ScaleRecipe("group", dtype="ue8m0"),
                       ue8m0).tile == (128, 128, 128)  # read from global memory in the MMA loop: not timed wide
    requantize = (EpilogueOp.parse({"op": "group_quantize"}),)
    assert tile(8192, 8192, epilogue=requantize, out="e4m3") == (128, 128, 128)
    residual = (EpilogueOp.parse({"op": "residual", "dtype": "bf16"}),)
    assert tile(8192, 8192, epilogue=residual) == (128, 128, 128)


def test_large_problems_raster_their_wide_tiles_in_groups_of_four():
    def raster(m, n, k, kind="tensor"):
        kind_b = "block" if kind == "group" else kind
        return choose_spec(m, n, k, "e4m3", "e4m3", "bf16", kind, kind_b).raster_group

    assert LARGE_PROBLEM_MACS == 16384 * 16384 * 6144
    for kind in ("tensor", "row", "group"):
        assert raster(16384, 16384, 16384, kind) == LARGE_PROBLEM_RASTER_GROUP
        assert raster(12288, 12288, 12288, kind) == LARGE_PROBLEM_RASTER_GROUP
        assert raster(16384, 16384, 6144, kind) == LARGE_PROBLEM_RASTER_GROUP
        assert raster(8192, 8192, 8192, kind) == DEFAULT_RASTER_GROUP
        assert raster(16384, 16384, 4096, kind) == DEFAULT_RASTER_GROUP
        assert raster(4096, 32768, 512, kind) == DEFAULT_RASTER_GROUP
    # Only 128x192 tiles were timed with it: 1x128 B scales (128-wide tiles) keep the default.
    assert choose_spec(16384, 16384, 16384, "e4m3", "e4m3", "bf16", "group", "group").raster_group == \
        DEFAULT_RASTER_GROUP
    assert "_r4_" in choose_spec(16384, 16384, 16384, "e4m3", "e4m3", "bf16", "tensor", "tensor").name

def test_shapes_that_pick_the_same_kernel_share_one_spec_object():
    # New shapes (a serving loop's token counts) cost no spec construction and validation once their kernel's
    # spec exists.
    spec = choose_spec(4096, 7168, 16384, "e4m3", "e4m3", "bf16", "row", "row")
    assert choose_spec(4096 + 128, 7168, 16384, "e4m3", "e4m3", "bf16", "row", "row") is spec


def test_grouped_kernels_take_the_wide_tile_where_one_gemm_of_all_their_rows_would():
    group, block = ScaleRecipe("group"), ScaleRecipe("block")
    assert grouped_block_n(4 * 8192, 4096, 128, group, block) == 192   # DeepGEMM's contiguous shape
    assert grouped_block_n(8 * 4096, 7168, 128, group, block) == 192
    assert grouped_block_n(1 * 1024, 4096, 128, group, block) == 128   # 2 waves either way: no
    assert grouped_block_n(8 * 256, 7168, 128, ScaleRecipe("row"), ScaleRecipe("row")) == 128
    assert grouped_block_n(4 * 8192, 4096, 64, group, block) == 128    # 64-row tiles (masked, M_max % 128)
    assert grouped_block_n(4 * 8192, 4096, 128, group, ScaleRecipe("group")) == 128  # 1x128 B: not the wide tile


def test_widths_whose_tiles_would_span_three_scale_blocks_are_not_picked():
    small_blocks = ScaleRecipe("block", group_size=64)  # 192 and 112 columns can span three 64-column blocks
    assert choose_spec(8192, 8192, 4096, "e4m3", "e4m3", "bf16", ScaleRecipe("group", group_size=64),
                       small_blocks).tile == (128, 128, 128)
    assert choose_spec(64, 7168, 16384, "e4m3", "e4m3", "bf16", ScaleRecipe("group", group_size=64),
                       small_blocks).tile[1] in (128, 96, 64)


def test_invalid_block_group_size_is_a_spec_error_not_a_crash():
    with pytest.raises(SpecError, match="group_size"):
        choose_spec(64, 7168, 4096, "e4m3", "e4m3", "bf16", ScaleRecipe("group", group_size=16),
                    ScaleRecipe("block", group_size=16))


def test_group_b_tiles_are_128_wide_where_the_waves_allow_and_hold_whole_output_groups():
    tile = lambda m, *epilogue, n=7168: choose_spec(m, n, 2048, "e4m3", "e4m3", "e4m3" if epilogue else "bf16",  # noqa: E731
                                                    "group", "group", epilogue).tile
    assert tile(4096) == tile(129) == (128, 128, 128)
    assert tile(128) == (128, 64, 128) and tile(64) == (64, 64, 128)
    # 64 tiles of 128x128 would leave half the SMs idle (measured 350 vs 245 TFLOP/s for 128x64)
    assert tile(256, n=4096) == (128, 64, 128)
    requantize = EpilogueOp.parse({"op": "group_quantize", "group_size": 128})
    assert tile(64, requantize)[1] == tile(4096, requantize)[1] == 128
    wider = EpilogueOp.parse({"op": "group_quantize", "group_size": 256})
    with pytest.raises(SpecError, match=r"1xG group scales for B .* use 128-column tiles, and an output group must"):
        tile(4096, wider)
