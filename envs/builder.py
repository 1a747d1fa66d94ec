"""Construct an ``Engine`` from a scenario name/config, overrides and optional catalog/user pool.

Loaded encoders and built-in catalogs are memoised per process, keyed by (spec, dim) and
(domain, encoder name, cache dir): constructing many envs (tests, make_vec in a loop) must not
re-load a language model or re-read a catalog each time.
"""

from __future__ import annotations

import os
from typing import Any

from .config import ScenarioConfig
from .model.engine import Engine
from .scenarios import apply_overrides, make_scenario
from .sources.users import UserPool

_ENCODERS: dict[tuple[str, int | None], Any] = {}
_CATALOGS: dict[tuple[str, str, str], Any] = {}


def get_encoder(spec: str, dim: int | None = None) -> Any:
    """``load_encoder(spec)`` memoised by (spec, dim)."""
    key = (spec, dim)
    if key not in _ENCODERS:
        from driftrec.encoders import load_encoder

        _ENCODERS[key] = load_encoder(spec) if dim is None else load_encoder(spec, dim=dim)
    return _ENCODERS[key]


def get_catalog(domain: str, spec: str) -> tuple[Any, Any]:
    """The built-in ``domain`` catalog encoded by ``spec`` (memoised), and that encoder."""
    encoder = get_encoder(spec)
    key = (domain, encoder.name, os.environ.get("DRIFTREC_CACHE_DIR", ""))
    if key not in _CATALOGS:
        from .sources.catalog import load_catalog

        _CATALOGS[key] = load_catalog(domain, encoder=encoder)
    return _CATALOGS[key], encoder


def _encoder_for(catalog: Any, spec: str) -> Any:
    """The encoder that produced ``catalog`` if ``spec`` names it, else None (no persona texts)."""
    from .sources.builtin import DOMAINS

    if getattr(catalog, "domain", None) not in DOMAINS:
        return None  # no persona texts for a custom domain: no need to load any encoder
    name = str(getattr(catalog, "encoder_name", ""))
    dim = int(catalog.embeddings.shape[1])
    if spec == "hashing":
        encoder = get_encoder("hashing", dim)
    elif name.startswith("hashing"):
        return None
    else:
        encoder = get_encoder(spec)
    return encoder if encoder.name == name else None


def resolve_config(scenario: str | ScenarioConfig, overrides: dict[str, Any]) -> ScenarioConfig:
    if isinstance(scenario, ScenarioConfig):
        return apply_overrides(scenario, **overrides)
    if not isinstance(scenario, str):
        raise TypeError(
            f"scenario must be a name or a ScenarioConfig, got {type(scenario).__name__}"
        )
    return make_scenario(scenario, **overrides)


def build_engine(
    scenario: str | ScenarioConfig,
    num_users: int,
    catalog: Any = None,
    user_pool: UserPool | None = None,
    *,
    backend: str = "torch",
    **overrides: Any,
) -> Engine:
    """``backend``: ``"torch"`` (``Engine``), ``"fast"``, ``"fast-blas"`` or ``"fast-gram"``
    (``model.fast.FastEngine``)."""
    from .model.fast import FastEngine, check_backend

    check_backend(backend)
    config = resolve_config(scenario, overrides)
    if catalog is None:
        catalog, encoder = get_catalog(config.domain, config.encoder)
    else:
        from .sources.catalog import require_catalog

        catalog = require_catalog(catalog)
        encoder = _encoder_for(catalog, config.encoder) if user_pool is None else None
    if config.adapter:
        catalog, user_pool, encoder = _adapted(config, catalog, user_pool, encoder)
    if backend == "torch":
        return Engine(catalog, config, num_users, user_pool=user_pool, encoder=encoder)
    return FastEngine(catalog, config, num_users, user_pool=user_pool, encoder=encoder,
                      backend=backend)  # fmt: skip


def _adapted(config: ScenarioConfig, catalog: Any, user_pool: UserPool | None, encoder: Any
             ) -> tuple[Any, UserPool | None, Any]:
    """Catalog, user pool and persona encoder mapped through the scenario's item adapter.

    The engine gets normalise(W e [+ δ for items seen in fitting]) as its item embeddings and
    users whose interests come from the same map, so every mechanism (drift, satiation, walk,
    trend centroids) runs unchanged in the adapted space. The agent's "same" view is then that
    space too (the true embeddings, as on every scenario); ``agent_view="encoder"`` gives the
    agent the raw text embeddings instead (docs/fidelity.md)."""
    from .calibration import AdaptedEncoder, adapt_catalog, adapt_pool, scenario_adapter

    weight, residual, ref = scenario_adapter(config.adapter)
    where = f"scenario adapter {ref['file']} (of {config.adapter})"
    if catalog.encoder_name != ref["encoder"] or catalog.dim != weight.shape[1]:
        raise ValueError(f"{where} maps {ref['encoder']!r} {weight.shape[1]}-d embeddings; the "
                         f"catalog is encoded by {catalog.encoder_name!r} ({catalog.dim}-d); "
                         "expected a catalog encoded by the encoder the calibration was fitted "
                         "with")
    tag = f"adapter:{ref['sha256'][:12]}"
    adapted = adapt_catalog(catalog, weight, tag, residual)
    if user_pool is not None:
        return adapted, adapt_pool(user_pool, weight), None
    wrapped = None if encoder is None else AdaptedEncoder(encoder, weight, adapted.encoder_name)
    return adapted, None, wrapped
