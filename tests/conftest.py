"""Shared fixtures: an isolated embedding cache per test session, and encoders loaded once."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests from reading or writing the user's real ~/.cache/driftrec."""
    os.environ["DRIFTREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("driftrec-cache"))


@pytest.fixture(scope="session")
def minilm_encoder():
    """The real bundled MiniLM model, loaded once per session (it takes seconds)."""
    from driftrec.encoders import load_encoder

    return load_encoder("minilm")


@pytest.fixture(scope="session")
def hashing_encoder():
    from driftrec.encoders import load_encoder

    return load_encoder("hashing", dim=64)


@pytest.fixture(scope="session")
def movielens_files() -> ModuleType:
    """The MovieLens fixture writers (``write_100k``, ``write_latest``) of
    ``envs/sources/test_datasets_movielens.py``, for other tests (test modules are not a package)."""
    path = Path(__file__).parent / "envs" / "sources" / "test_datasets_movielens.py"
    spec = importlib.util.spec_from_file_location("_movielens_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
