"""Shape heuristics: tile choice and split-K."""

from fp8gen.heuristics import balanced_splits, choose_spec, split_k

H100_SMS = 132


def test_balanced_splits_never_leaves_a_range_empty():
    for k_blocks in range(1, 200):
        for splits in range(1, k_blocks + 1):
            s = balanced_splits(k_blocks, splits)
            per_split = -(-k_blocks // s)
            assert 1 <= s <= splits and (s - 1) * per_split < k_blocks


def test_split_k_only_for_shapes_that_leave_sms_idle():
    decode = choose_spec(64, 2112, 7168, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    assert split_k(64, 2112, 7168, decode.tile, H100_SMS) == 7  # 17 tiles x 7 splits of 8 K blocks
    prefill = choose_spec(4096, 7168, 2048, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    assert split_k(4096, 7168, 2048, prefill.tile, H100_SMS) == 1
    short_k = choose_spec(64, 512, 256, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    assert split_k(64, 512, 256, short_k.tile, H100_SMS) == 1  # 2 K blocks: not worth a split
    assert split_k(64, 512, 0, short_k.tile, H100_SMS) == 1


def test_decode_tiles_are_64_rows():
    assert choose_spec(64, 4096, 4096, "e4m3", "e4m3", "bf16", "tensor", "tensor").tile[0] == 64
    assert choose_spec(65, 4096, 4096, "e4m3", "e4m3", "bf16", "tensor", "tensor").tile[0] == 128
