"""``DriftRecVectorEnv``: the native batched Gymnasium environment (B users in one call).

Autoreset mode ``SAME_STEP``: a user who leaves (terminated) or reaches ``max_steps``
(truncated) is replaced by a new user in the same ``step`` call; the returned observation is the
new user's first one, the departing user's last observation is ``info["final_obs"][i]`` (an
object array of per-user dicts, None elsewhere) and ``info["_final_obs"]`` marks who left.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .builder import build_engine
from .config import ScenarioConfig
from .engine import Engine, StepResult
from .render import render_user_line
from .spaces import action_space, observation_space
from .users import UserPool
from .validation import validate_slate


def fresh_seed() -> int:
    """A seed from OS entropy, for ``reset(seed=None)`` on a never-seeded env (no global RNG)."""
    return int(np.random.SeedSequence().entropy % (2**31))


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def info_to_numpy(info: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.cpu().numpy() for k, v in info.items()}


class DriftRecVectorEnv(VectorEnv):
    """B simulated users stepped together; see ``DriftRecEnv`` for the observation, action,
    reward and info documentation (identical, with a leading B axis).

    Args:
        num_envs: number of users B stepped in one call.
        scenario: ``"video"``, ``"news"``, ``"shopping"`` or a ``ScenarioConfig``.
        catalog: a ``Catalog``; default the built-in catalog of the scenario's domain encoded by
            the ``encoder`` override (default ``"minilm"``).
        user_pool: a ``UserPool`` of user types; default persona texts of the domain.
        render_mode: None or ``"ansi"``.
        **overrides: scenario parameters (see ``driftrec.envs.scenarios``).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": ["ansi"],
    }

    def __init__(
        self,
        num_envs: int = 16,
        scenario: str | ScenarioConfig = "video",
        *,
        catalog: Any = None,
        user_pool: UserPool | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.engine: Engine = build_engine(scenario, num_envs, catalog, user_pool, **overrides)
        self.config = self.engine.config
        self.num_envs = self.engine.num_users
        self.render_mode = render_mode
        self.single_observation_space = observation_space(self.engine)
        self.single_action_space = action_space(self.engine)
        self._observation_space: Any = None  # built on first access (see observation_space)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._seed: int | None = None
        # (pool ids, slate, result, reward) of the last step, for render (ids looked up there).
        self._last: tuple[np.ndarray, np.ndarray, StepResult, np.ndarray] | None = None

    @property
    def observation_space(self) -> Any:
        """The batched Dict space, built on first access: Gymnasium's ``Box`` stores its bounds as
        full arrays, B·N·d_a·8 bytes for ``candidate_embeddings`` (1.3 GB at B=4096, N=100,
        d_a=384), which no step needs."""
        if self._observation_space is None:
            self._observation_space = batch_space(self.single_observation_space, self.num_envs)
        return self._observation_space

    @observation_space.setter
    def observation_space(self, value: Any) -> None:
        self._observation_space = value

    @property
    def catalog(self) -> Any:
        return self.engine.catalog

    @property
    def item_embeddings(self) -> np.ndarray:
        """(M, d_a) agent-side embedding table (what the recommender knows of its catalog)."""
        return self.engine.item_embeddings

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``seed`` given (or first reset): every slot gets a generation-0 user at global step 0.
        ``seed=None`` later: every slot gets a new user; the world keeps its clock."""
        seed = check_seed(seed)
        if seed is not None or self._seed is None:
            self._seed = fresh_seed() if seed is None else seed
            self.engine.reset(self._seed)
        else:
            rows = torch.arange(self.num_envs, device=self.engine.device)
            self.engine.replace_users(rows, refresh=True)
        self._last = None
        return self.engine.observation(), info_to_numpy(self.engine.candidate_info())

    def enable_oracle_info(self) -> None:
        """Add ``candidate_values`` to every later info (what the oracle-myopic agent ranks by)."""
        self.engine.enable_oracle_info()

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._seed is None:
            raise ValueError("step() called before reset(); call reset() first")
        cfg = self.config
        slate = validate_slate(actions, self.num_envs, cfg.slate_size, cfg.num_candidates)
        slate_t = torch.from_numpy(slate).to(self.engine.device)
        pool_ids = self.engine.world.pool_ids.cpu().numpy()
        result = self.engine.step(slate_t, autoreset=True)
        info: dict[str, Any] = info_to_numpy(result.info)
        final = np.zeros(self.num_envs, dtype=bool)
        if result.final_rows is not None:
            rows = result.final_rows.cpu().numpy()
            final[rows] = True
            objs = np.full(self.num_envs, None, dtype=object)
            keys = list(result.final_obs)
            per_user = zip(*(list(v) for v in result.final_obs.values()))  # views, no copies
            for row, values in zip(rows.tolist(), per_user):
                objs[row] = dict(zip(keys, values))
            info["final_obs"] = objs
            info["_final_obs"] = final
        reward = result.reward.to(torch.float64).cpu().numpy()
        self._last = (pool_ids, slate.copy(), result, reward)  # the caller may reuse its array
        return (
            self.engine.observation(),
            reward,
            result.terminated.cpu().numpy(),
            result.truncated.cpu().numpy(),
            info,
        )

    def render(self, max_users: int = 4) -> str | None:
        """ANSI text: one line per user (first ``max_users``) for the last step."""
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "(no step yet)"
        pool_ids, slate, result, reward = self._last
        slate_ids = pool_ids[slate[:max_users]]
        info = info_to_numpy(result.info)
        lines = []
        for i in range(min(max_users, self.num_envs)):
            row = {k: v[i] for k, v in info.items()}
            step = int(self.engine.state.steps[i])
            lines.append(
                render_user_line(self.catalog, i, step, slate_ids[i], row, float(reward[i]))
            )
        return "\n".join(lines)
