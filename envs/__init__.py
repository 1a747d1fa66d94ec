"""driftrec.envs: the simulator behind Gymnasium's interface.

Subpackages: ``model`` (the user model: the reference step, its mechanisms and the torch and fast
paths that run it), ``sources`` (catalogs, personas, user pools, real data sets) and
``calibration`` (fitting the model to logged sessions). The modules here are the Gymnasium
surface: configs and scenarios, the builder, the single and vector envs, spaces, wrappers, Rank
ids, rendering. The public names below are the stable import paths.

Importing this module registers ``driftrec/Video-v0``, ``driftrec/News-v0`` and
``driftrec/Shopping-v0`` (single env entry point and native vector entry point), and their Rank
ids ``driftrec/VideoRank-v0``, ``driftrec/NewsRank-v0``, ``driftrec/ShoppingRank-v0`` (a score
per candidate, a compact per-candidate feature table; see ``driftrec.envs.rank``).
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from .config import (
    BudgetConfig,
    ChoiceConfig,
    DriftConfig,
    ExogenousConfig,
    HeterogeneityConfig,
    ResponseConfig,
    SatiationConfig,
    ScenarioConfig,
    UserModelConfig,
)
from .env import DriftRecEnv, EpisodeEndedError
from .model.engine import Engine
from .model.state import UserState, WorldState
from .scenarios import SCENARIOS, make_scenario
from .sources.catalog import Catalog, load_catalog
from .sources.personas import generate_personas
from .sources.users import UserPool
from .vector_env import DriftRecVectorEnv
from .wrappers import FlatObservation, ScoreAction

ENV_IDS = {
    "video": "driftrec/Video-v0",
    "news": "driftrec/News-v0",
    "shopping": "driftrec/Shopping-v0",
}

RANK_ENV_IDS = {
    "video": "driftrec/VideoRank-v0",
    "news": "driftrec/NewsRank-v0",
    "shopping": "driftrec/ShoppingRank-v0",
}

for _ids, _entry, _vector_entry in (
    (ENV_IDS, "driftrec.envs.env:DriftRecEnv", "driftrec.envs.vector_env:DriftRecVectorEnv"),
    (RANK_ENV_IDS, "driftrec.envs.rank:make_rank_env", "driftrec.envs.rank:make_rank_vector_env"),
):
    for _scenario, _env_id in _ids.items():
        if _env_id not in registry:
            register(
                id=_env_id,
                entry_point=_entry,
                vector_entry_point=_vector_entry,
                kwargs={"scenario": _scenario},
            )

__all__ = [
    "ENV_IDS",
    "RANK_ENV_IDS",
    "SCENARIOS",
    "BudgetConfig",
    "Catalog",
    "ChoiceConfig",
    "DriftConfig",
    "DriftRecEnv",
    "DriftRecVectorEnv",
    "Engine",
    "EpisodeEndedError",
    "ExogenousConfig",
    "FlatObservation",
    "HeterogeneityConfig",
    "ResponseConfig",
    "SatiationConfig",
    "ScenarioConfig",
    "ScoreAction",
    "UserModelConfig",
    "UserPool",
    "UserState",
    "WorldState",
    "generate_personas",
    "load_catalog",
    "make_scenario",
]
