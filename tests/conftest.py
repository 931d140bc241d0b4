from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh, private cache directory for one test (also set as FP8GEN_CACHE_DIR)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(path))
    return path
