"""Fixtures for the env tests: small catalogs encoded by the hashing encoder (fast, no model)."""

from __future__ import annotations

import numpy as np
import pytest
from driftrec.envs import Catalog

TOPICS = {
    "cooking": "recipe kitchen pasta sauce chef baking oven bread garlic",
    "football": "goal match striker league stadium penalty coach season team",
    "space": "rocket orbit planet nasa astronaut galaxy telescope moon launch",
    "music": "guitar concert album song band piano melody singer tour",
    "finance": "stocks market investing bank interest inflation budget savings trading",
    "gaming": "console level boss speedrun multiplayer controller quest arcade pixel",
}


def make_records(num_items: int = 240, seed: int = 0) -> list[dict]:
    """Items whose text shares topic words, so hashing embeddings cluster by category; every
    fifth item is clickbait (high appeal, low quality)."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    records = []
    for i in range(num_items):
        cat = names[i % len(names)]
        words = rng.choice(TOPICS[cat].split(), size=5, replace=False)
        bait = i % 5 == 0
        quality = float(rng.uniform(0.05, 0.3) if bait else rng.uniform(0.4, 1.0))
        records.append(
            {
                "id": f"item{i}",
                "title": ("You will not believe this " if bait else "") + " ".join(words[:3]),
                "description": " ".join(words) + f" {cat}",
                "category": cat,
                "quality": quality,
                "appeal": float(rng.uniform(0.8, 1.0)) if bait else quality,
                "clickbait": bait,
                "cost": float(rng.uniform(2.0, 20.0)),
                "popularity": float(rng.uniform(0.1, 1.0)),
            }
        )
    return records


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run env tests single-threaded, restoring the setting after each module.

    The engine's tensors here are tiny; on a loaded 2-core machine every parallel reduction then
    waits milliseconds on the OpenMP barrier (observed: 6 ms per ``max`` with 2 threads vs 26 µs
    with 1). Results do not depend on the thread count.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def catalog(hashing_encoder) -> Catalog:
    """240 items, 6 categories, 64-d hashing embeddings."""
    return Catalog.from_records(make_records(), encoder=hashing_encoder, domain="video")


@pytest.fixture(scope="session")
def shop_catalog(hashing_encoder) -> Catalog:
    return Catalog.from_records(make_records(seed=1), encoder=hashing_encoder, domain="shopping")


ISOLATED = {
    "drift_enabled": False,
    "satiation_enabled": False,
    "budget_enabled": False,
    "hazard_enabled": False,
    "exogenous_enabled": False,
    "heterogeneity_enabled": False,
}


def make_engine(catalog, num_users: int = 1, scenario: str = "video", seed: int = 0, **overrides):
    """An engine over ``catalog`` (hashing encoder), reset with ``seed``."""
    from driftrec.envs.builder import build_engine

    overrides.setdefault("encoder", "hashing")
    engine = build_engine(scenario, num_users, catalog, **overrides)
    engine.reset(seed)
    return engine


def positions_of(engine, category: int, k: int | None = None):
    """(K,) pool positions of the current pool's items in ``category`` (first K), as a tensor."""
    import torch

    k = engine.config.slate_size if k is None else k
    cats = engine.category_ids[engine.world.pool_ids]
    pos = torch.nonzero(cats == category).squeeze(1)[:k]
    assert pos.numel() == k, "pool lacks enough items of the category"
    return pos


@pytest.fixture(scope="session")
def h():
    """Helpers for test modules (conftest is not importable under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        ISOLATED=ISOLATED,
        make_engine=make_engine,
        positions_of=positions_of,
        make_records=make_records,
    )
