"""Tuning tables: keys, buckets, persistence, lookup, candidates (CPU; the timing itself runs on the GPU)."""

import json

import pytest

from fp8gen import GemmSpec, ScaleRecipe
from fp8gen.heuristics import choose_spec
from fp8gen import tuning
from fp8gen.version import __version__

GPU = "NVIDIA H100 80GB HBM3"
TENSOR, BLOCK, GROUP = ScaleRecipe("tensor"), ScaleRecipe("block"), ScaleRecipe("group")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(tmp_path))
    tuning.reload()
    yield
    tuning.reload()


def test_m_buckets_and_keys():
    assert [tuning.m_bucket(m) for m in (1, 16, 17, 100, 128, 129, 4096)] == [16, 16, 32, 128, 128, 256, 4096]
    key = tuning.problem_key(100, 7168, 2048, "e4m3", "e4m3", "bf16", GROUP, BLOCK, GemmSpec(epilogue=["bias"]).epilogue)
    assert key == "e4m3,e4m3,bf16,1x128,128x128,biascbf16|m128,n7168,k2048"
    assert tuning.problem_key(65, 1, 1, "e4m3", "e5m2", "f32", TENSOR, TENSOR).endswith("-|m128,n1,k1")


def test_table_round_trip_and_lookup_by_bucket():
    spec = GemmSpec(tile=(128, 192, 128), name="tuned_kernel")
    table = tuning.table(GPU)
    table.record(tuning.problem_key(3000, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR), spec, 0.1, 0.11)
    path = table.save()
    assert path.parent.name == "nvidia-h100-80gb-hbm3" and path.name == f"fp8gen-{__version__}.json"
    tuning.reload()
    assert tuning.select_spec(GPU, 2500, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR) == spec  # same bucket
    other_bucket = tuning.select_spec(GPU, 5000, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
    assert other_bucket == choose_spec(5000, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
    assert tuning.select_spec("another GPU", 2500, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR) != spec


def test_tuning_can_be_switched_off(monkeypatch):
    spec = GemmSpec(tile=(128, 192, 128))
    table = tuning.table(GPU)
    table.record(tuning.problem_key(4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR), spec, 1.0, 1.1)
    table.save()
    monkeypatch.setenv("FP8GEN_TUNING", "0")
    tuning.reload()
    assert tuning.select_spec(GPU, 4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR) != spec


def test_tables_of_other_versions_and_broken_files_are_ignored():
    path = tuning.table_path(GPU)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable tuning table"):
        assert tuning.TuningTable.load(GPU).entries == {}
    path.write_text(json.dumps({"format": 1, "fp8gen": "0.0.0", "gpu": GPU, "entries": {"k": {}}}))
    with pytest.warns(UserWarning, match="another format, version or GPU"):
        assert tuning.TuningTable.load(GPU).entries == {}


def test_a_table_others_can_write_is_ignored_unless_trusted(monkeypatch):
    spec = GemmSpec(tile=(128, 64, 128))
    table = tuning.table(GPU)
    key = tuning.problem_key(4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
    table.record(key, spec, 1.0, 1.1)
    path = table.save()
    path.chmod(0o666)
    with pytest.warns(UserWarning, match="ignoring tuning table: .* writable by group or others"):
        assert tuning.TuningTable.load(GPU).entries == {}
    monkeypatch.setenv("FP8GEN_TRUST_SHARED_CACHE", "1")
    assert tuning.TuningTable.load(GPU).spec(key) == spec


@pytest.mark.parametrize("content", ["[]", "null", '"x"', json.dumps({"format": 1, "entries": "x"})])
def test_tables_that_are_not_objects_are_ignored(content):
    path = tuning.table_path(GPU)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.warns(UserWarning, match="not a table of entries"):
        assert tuning.select_spec(GPU, 4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR) == choose_spec(
            4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)


@pytest.mark.parametrize("edit", [{"out": "f16"}, {"a": "e5m2"}, {"scale_a": "row", "scale_b": "row"},
                                  {"epilogue": ["relu"]}])
def test_an_entry_whose_spec_computes_another_problem_is_ignored(edit):
    key = tuning.problem_key(4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
    table = tuning.table(GPU)
    table.record(key, GemmSpec(tile=(128, 192, 128)), 1.0, 1.1)
    table.entries[key]["spec"].update(edit)  # a hand-edited table
    table.save()
    tuning.reload()
    with pytest.warns(UserWarning, match="its spec computes"):
        tuned = tuning.select_spec(GPU, 4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
    assert tuned == choose_spec(4096, 4096, 4096, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)


def test_candidates_are_valid_distinct_and_start_with_the_default():
    for m, recipe_a, recipe_b in ((4096, TENSOR, TENSOR), (64, TENSOR, TENSOR), (4096, GROUP, BLOCK)):
        specs = tuning.candidates(m, 7168, 2048, "e4m3", "e4m3", "bf16", recipe_a, recipe_b, allow_fast=True)
        assert specs[0] == choose_spec(m, 7168, 2048, "e4m3", "e4m3", "bf16", recipe_a, recipe_b)
        assert len(specs) == len(set(specs)) == len({s.name for s in specs}) >= 4
        fast = [s for s in specs if s.accumulation == "fast"]
        assert bool(fast) == (recipe_a.kind != "group"), "allow_fast adds fast accumulation where the recipe allows"
    decode_widths = {s.tile[1] for s in tuning.candidates(64, 7168, 2048, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
                     if s.schedule == "cooperative"}
    assert {64, 96, 112, 128} <= decode_widths  # the heuristic's decode widths are measured against each other
    block = tuning.candidates(4096, 7168, 2048, "e4m3", "e4m3", "bf16", GROUP, BLOCK, allow_fast=True)
    assert all(s.accumulation == "promoted" for s in block), "block scales never take fast accumulation"
    assert any(s.tile == (128, 192, 128) for s in tuning.candidates(4096, 7168, 2048, "e4m3", "e4m3", "bf16",
                                                                      TENSOR, TENSOR))
    for m in (4096, 16384):  # raster groups 4, 8 and 16 are all timed, whichever the heuristic picked
        groups = {s.raster_group for s in tuning.candidates(m, 16384, 16384, "e4m3", "e4m3", "bf16", TENSOR, TENSOR)
                  if s.tile == (128, 192, 128) and s.schedule == "cooperative" and s.cluster == (1, 1)}
        assert groups == {4, 8, 16}
