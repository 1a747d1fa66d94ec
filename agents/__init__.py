"""driftrec.agents: ranking policies behind one batched interface.

``make_agent(name, env, seed=None, **config)`` builds any registered agent; ``AGENTS`` lists them
with a one-line description. Every agent has ``act(obs) -> int64 (B, K)``,
``update(obs, action, reward, next_obs, terminated, truncated, info) -> dict``, ``save``/``load``.
"""

from .base import Agent, AgentConfig, EnvSpec, check_obs, top_k
from .registry import AGENTS, AgentSpec, make_agent

__all__ = [
    "AGENTS",
    "Agent",
    "AgentConfig",
    "AgentSpec",
    "EnvSpec",
    "check_obs",
    "make_agent",
    "top_k",
]
