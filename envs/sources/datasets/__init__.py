"""Real data sets on local disk → the neutral structure → a catalog, users and held-out tails.

Entry points:

- ``load_dataset(name, data_dir, max_users=None, max_items=None)`` → ``Dataset`` for ``"movielens"``
  (ml-100k or ml-latest/ml-25m, detected from the files), ``"amazon"`` (Reviews 2023 JSONL) and
  ``"mind"``; no download code — the files must be there, and a bad file is a
  ``DatasetFormatError`` naming the file, the line and what was expected;
- ``build_setup(dataset, encoder)`` (or ``load_setup(name, data_dir, encoder, ...)`` for both
  steps) → ``RealDataSetup`` (``catalog``, ``user_pool``, ``split``) for
  the env constructors (``catalog=``, ``user_pool=``) and for calibration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .amazon import load_amazon
from .base import (
    Dataset,
    DatasetFileNotFoundError,
    DatasetFormatError,
    DatasetItems,
    Impressions,
    Interactions,
    UserSequence,
    restrict,
)
from .cohort import (
    CohortConfig,
    RealDataSetup,
    Split,
    build_setup,
    initial_interests,
    item_statistics,
    split_sequences,
)
from .mind import load_mind
from .movielens import load_movielens

LOADERS = {"movielens": load_movielens, "amazon": load_amazon, "mind": load_mind}
DATASETS = tuple(LOADERS)

__all__ = [
    "DATASETS",
    "CohortConfig",
    "Dataset",
    "DatasetFileNotFoundError",
    "DatasetFormatError",
    "DatasetItems",
    "Impressions",
    "Interactions",
    "RealDataSetup",
    "Split",
    "UserSequence",
    "build_setup",
    "initial_interests",
    "item_statistics",
    "load_dataset",
    "load_setup",
    "split_sequences",
]


def load_dataset(
    name: str,
    data_dir: str | Path,
    max_users: int | None = None,
    max_items: int | None = None,
    **options: Any,
) -> Dataset:
    """Load data set ``name`` from ``data_dir`` and optionally subsample it.

    ``max_items`` keeps the most-interacted items, ``max_users`` the first users (id order) who
    still have interactions — deterministic, so a subsample is reproducible from its flags.
    ``options`` go to the loader (``category=`` for Amazon).
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}")
    dataset = LOADERS[name](data_dir, **options)
    if max_users is None and max_items is None:
        return dataset
    return restrict(dataset, max_users, max_items)


def load_setup(
    name: str,
    data_dir: str | Path,
    encoder: Any = "minilm",
    *,
    max_users: int | None = None,
    max_items: int | None = None,
    config: CohortConfig | None = None,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> RealDataSetup:
    """``load_dataset`` then ``build_setup``: the catalog, user pool and held-out split of a data
    set, ready for ``catalog=``/``user_pool=`` of the env constructors and for ``calibrate``."""
    dataset = load_dataset(name, data_dir, max_users, max_items, **options)
    return build_setup(dataset, encoder, config=config, cache_dir=cache_dir)
