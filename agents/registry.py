"""Agent registry: build any agent by name with keyword overrides of its typed config.

``AGENTS`` maps each name to an ``AgentSpec`` (where the class lives and a one-line description
that the CLI prints). Classes are imported lazily so that listing agents, or using a bandit, does
not import Stable-Baselines3.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from .base import Agent


@dataclass(frozen=True)
class AgentSpec:
    """Where an agent class lives and what it is, in one line."""

    name: str
    module: str
    class_name: str
    description: str
    learns: bool

    def load_class(self) -> type[Agent]:
        module = importlib.import_module(f"driftrec.agents.{self.module}")
        return getattr(module, self.class_name)


_SPECS = (
    AgentSpec("random", "baselines", "RandomAgent", "uniformly random slate", False),
    AgentSpec("popular", "baselines", "PopularAgent",
              "most consumed items so far (running counts, public popularity prior)", True),
    AgentSpec("quality", "baselines", "QualityAgent",
              "highest estimated quality (running mean rating of consumed items)", True),
    AgentSpec("greedy", "baselines", "GreedyAgent",
              "embedding-greedy: cosine to the decayed mean of consumed item embeddings", False),
    AgentSpec("oracle", "baselines", "OracleMyopicAgent",
              "oracle-myopic: top immediate expected reward from the hidden state (reference, "
              "reads info)", False),
    AgentSpec("egreedy", "bandits", "EpsilonGreedyAgent",
              "epsilon-greedy linear bandit on history x item LM features", True),
    AgentSpec("linucb", "bandits", "LinUCBAgent",
              "LinUCB on history x item LM features, shared ridge model", True),
    AgentSpec("thompson", "bandits", "ThompsonAgent",
              "linear Thompson sampling on history x item LM features", True),
    AgentSpec("slateq", "slateq", "SlateQAgent",
              "SlateQ: item-level Q-learning, slate value via conditional-logit choice", True),
    AgentSpec("ppo", "sb3", "PPOAgent",
              "Stable-Baselines3 PPO, item-wise actor, Plackett-Luce slate", True),
    AgentSpec("a2c", "sb3", "A2CAgent",
              "Stable-Baselines3 A2C, item-wise actor, Plackett-Luce slate", True),
    AgentSpec("dqn", "sb3", "DQNAgent",
              "Stable-Baselines3 DQN choosing one of a few ranking rules per user-step", True),
    AgentSpec("transformer", "transformer", "InterestTransformerAgent",
              "InterestTransformer: online transformer over history -> interest embedding", True),
)

AGENTS: dict[str, AgentSpec] = {spec.name: spec for spec in _SPECS}


def make_config(config_cls: type, overrides: dict[str, Any]) -> Any:
    """Build ``config_cls(**overrides)``; an unknown keyword is a ``TypeError`` listing valid ones."""
    valid = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown option(s) {unknown} for {config_cls.__name__}; valid options: {valid}"
        )
    return config_cls(**overrides)


def make_agent(name: str, env: Any, seed: int | None = None, **kw: Any) -> Agent:
    """Build agent ``name`` for ``env`` (vector or single env) with config overrides ``kw``.

    >>> sorted(AGENTS)[:3]
    ['a2c', 'dqn', 'egreedy']
    """
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; available agents: {sorted(AGENTS)}")
    cls = AGENTS[name].load_class()
    config = make_config(cls.Config, kw)
    return cls(env, seed=seed, config=config)
