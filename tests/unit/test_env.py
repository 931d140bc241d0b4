"""fp8gen/env.py: the FP8GEN_* variables' parsing."""

import pytest

from fp8gen import ConfigurationError, env

FLAGS = {"FP8GEN_TUNING": (env.tuning_enabled, True), "FP8GEN_DEPENDENT_LAUNCH": (env.dependent_launch, True),
         "FP8GEN_KEEP_GENERATED": (env.keep_generated, False),
         "FP8GEN_TRUST_SHARED_CACHE": (env.trust_shared_cache, False),
         "FP8GEN_NVRTC_PCH": (env.precompiled_headers, True)}


@pytest.mark.parametrize("name", FLAGS)
@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), (" Yes ", True), ("on", True),
                                            ("0", False), ("false", False), ("NO", False), ("off", False)])
def test_flags_take_the_usual_spellings(name, value, expected, monkeypatch):
    monkeypatch.setenv(name, value)
    assert FLAGS[name][0]() is expected


@pytest.mark.parametrize("name", FLAGS)
def test_unset_or_empty_flags_take_their_default(name, monkeypatch):
    read, default = FLAGS[name]
    monkeypatch.delenv(name, raising=False)
    assert read() is default
    monkeypatch.setenv(name, "")
    assert read() is default


@pytest.mark.parametrize("name", FLAGS)
def test_other_values_are_refused_naming_the_variable(name, monkeypatch):
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(ConfigurationError, match=f"{name}='maybe' is not understood"):
        FLAGS[name][0]()
