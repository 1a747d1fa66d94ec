"""``DriftRecEnv``: the single-user Gymnasium environment (by default the fast path of
``model/fast.py``; ``backend="torch"``: the batched engine at B = 1)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from .builder import build_engine
from .config import ScenarioConfig
from .model.engine import Engine
from .model.fast import O_REWARD, O_TERM, O_TRUNC, check_backend
from .render import FrameRenderer, LastStep, check_render_mode, render_user_line
from .sources.users import UserPool
from .spaces import action_space, observation_space
from .validation import validate_slate
from .vector_env import (
    check_observe_flag,
    check_options,
    check_seed,
    fork_safe_threads,
    info_to_numpy,
    observed,
    read_only,
)


class EpisodeEndedError(ValueError, RuntimeError):
    """``step()`` after the episode ended (or before the first ``reset()``)."""


class DriftRecEnv(gym.Env):
    """A simulated user whose language-model interest embedding drifts with what it consumes.

    ## Description

    Each step the recommender sees N candidate items (today's inventory, shared by all users)
    and shows a slate of K of them. The user — an interest vector ``u`` in the same embedding
    space as the items' text embeddings, a satiation vector ``s``, a session budget — picks at
    most one (choice model: ``mnl``, ``cascade`` or ``independent``), watches/reads/buys it, rates
    it, and changes: ``u`` drifts toward items it liked and away from those it disliked, ``s``
    makes it bored of regions of meaning it has seen, the budget is spent by consumption and
    refilled by quality, and the user leaves when the budget runs out or from dissatisfaction.

    ## Observation Space

    ``Dict`` (never the hidden state):

    | key | shape | dtype | meaning |
    |---|---|---|---|
    | ``candidate_ids`` | (N,) | int64 | catalog indices of the candidates |
    | ``candidate_embeddings`` | (N, d_a) | float32 | agent-side item embeddings |
    | ``candidate_categories`` | (N,) | int64 | category ids |
    | ``candidate_popularity`` | (N,) | float32 | public popularity prior |
    | ``history_ids`` | (H,) | int64 | last H consumed items, most recent first, −1 padding |
    | ``history_responses`` | (H, 2) | float32 | (completion in [0, 1], rating / 5) |
    | ``history_mask`` | (H,) | int8 | 1 where a history entry exists |
    | ``profile_embedding`` | (d_a,) | float32 | public profile (encoded persona text) |
    | ``step`` | (1,) | int64 | steps since the user arrived |

    ``env.unwrapped.item_embeddings`` is the (M, d_a) agent-side table for history lookups.

    ## Action Space

    ``MultiDiscrete([N] * K)``: K distinct positions into the candidates, position 0 = top.
    Duplicates, out-of-range positions, a wrong shape or a non-integer dtype raise
    ``ValueError``/``TypeError`` and leave the state unchanged. ``ScoreAction`` accepts ``Box(N)``
    scores instead.

    ## Rewards

    ``video``: minutes watched; ``news``: clicks; ``shopping``: revenue (purchases × price);
    configurable (``reward="rating"``, ``"mixed"`` with ``reward_weights``).

    ## Starting State

    A user drawn from a pool of persona types (interest = encoded persona text plus noise,
    heterogeneous sensitivities), no history, satiation 0, the initial budget.

    ## Episode End

    ``terminated``: the user left (budget exhausted, or the dissatisfaction hazard fired).
    ``truncated``: ``max_steps`` steps. ``step()`` after either without ``reset()`` raises
    ``EpisodeEndedError`` (a ``ValueError``).

    ## Info

    ``slate_utilities`` (K,), ``clicks`` (K,), ``chosen`` (position or −1), ``item``,
    ``engagement``, ``completion``, ``rating``, ``purchased``, ``revenue``, ``best_utility``,
    ``regret``, ``drift`` (cos(u_t, u_0)), ``boredom``, ``budget``, ``satisfaction``, ``churned``;
    and for the returned observation's candidates (hidden state, for analysis and oracle
    references only) ``candidate_utilities`` (N,) and, with ``oracle_info=True`` (or after
    ``enable_oracle_info()``), ``candidate_values`` (N,).

    ## Arguments

    ``scenario`` (``"video"``, ``"news"``, ``"shopping"`` or a ``ScenarioConfig``), ``catalog``
    (a ``Catalog``, default the built-in one of the domain), ``user_pool`` (a ``UserPool``),
    ``render_mode`` (None, ``"ansi"`` — one text line per step — or ``"rgb_array"`` — a (384, 640,
    3) uint8 frame of the slate, the response, the interest on the category map and the budget,
    see ``driftrec.envs.render``), ``observe_candidate_embeddings`` (True, the default; False
    leaves ``candidate_embeddings`` out of the observation and its space: they are the rows of the
    read-only table ``env.unwrapped.item_embeddings`` at ``candidate_ids``, which the driftrec
    agents look up themselves; on the fast path this saves the step's (N, d_a) copy, most of a
    step at N = 1000), ``backend`` (``"fast"``, the default: the numba kernels of
    ``driftrec.envs.model.fast``, an order of magnitude faster for one user; ``"fast-blas"``:
    the same kernels scoring by BLAS products, meant for the vector env; ``"fast-gram"``: the
    same kernels reading each candidate's utility from the user's scores against the whole
    catalog, kept up to date (costs O(M) a step instead of O(N d): the path for pools of
    hundreds or more out of catalogs of up to 8,192 items); ``"torch"``: the
    batched torch engine, the vector env's default; they agree to ~1e-5, see
    ``docs/performance.md``), and keyword overrides of any scenario parameter
    (``num_candidates``, ``slate_size``, ``encoder``, ``choice_model``, ``drift_enabled``, ...).

    >>> import gymnasium as gym
    >>> import driftrec.envs
    >>> env = gym.make("driftrec/News-v0", encoder="hashing", num_candidates=20, slate_size=3)
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidate_embeddings"].shape[0], env.action_space.nvec.tolist()
    (20, [20, 20, 20])
    >>> obs, reward, terminated, truncated, info = env.step(np.array([0, 1, 2]))
    >>> int(info["chosen"]) in (-1, 0, 1, 2)
    True

    ## Version History

    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | ScenarioConfig = "video",
        *,
        catalog: Any = None,
        user_pool: UserPool | None = None,
        render_mode: str | None = None,
        backend: str = "fast",
        observe_candidate_embeddings: bool = True,
        **overrides: Any,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.backend = check_backend(backend)
        self.observe_candidate_embeddings = check_observe_flag(observe_candidate_embeddings)
        self._fast = backend != "torch"
        fork_safe_threads()  # the workers of an async vector env are forked (vector_env.py)
        self.engine: Engine = build_engine(
            scenario, 1, catalog, user_pool, backend=backend, **overrides
        )
        self.engine.observe_candidate_embeddings = self.observe_candidate_embeddings
        self.config = self.engine.config
        self.render_mode = render_mode
        self._frames = FrameRenderer(self.engine) if render_mode == "rgb_array" else None
        self.observation_space = gym.spaces.Dict(
            observed(observation_space(self.engine).spaces, self.observe_candidate_embeddings)
        )
        self.action_space = action_space(self.engine)
        self._seed: int | None = None
        self._last: tuple[np.ndarray, dict[str, np.ndarray], float, int] | None = None

    @property
    def catalog(self) -> Any:
        return self.engine.catalog

    @property
    def item_embeddings(self) -> np.ndarray:
        """(M, d_a) agent-side embedding table, read-only: ``candidate_embeddings`` are its rows
        at ``candidate_ids`` (with ``observe_candidate_embeddings=False``, look them up here)."""
        return read_only(self.engine.item_embeddings)

    def _obs(self) -> dict[str, np.ndarray]:
        if self._fast:
            return self.engine.observation_one()
        obs = observed(self.engine.observation(), self.observe_candidate_embeddings)
        return {k: v[0] for k, v in obs.items()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """With a seed (or the first time): user 0 of that seed at global step 0; without: the
        next user of the slot, at the world's current step — as the vector env's autoreset."""
        seed = check_seed(seed)
        check_options(options)
        super().reset(seed=seed)
        if seed is not None or self._seed is None:
            self._seed = int(self.np_random.integers(2**63)) if seed is None else seed
            self.engine.reset(self._seed)
        else:
            first = np.zeros(1, dtype=np.int64)  # slot 0, as the engine's arrays take it
            self.engine.replace_users(first if self._fast else torch.from_numpy(first),
                                      refresh=True)  # fmt: skip
        self._last = None
        if self._frames is not None:
            self._frames.reset()
        if self._fast:  # numpy already: no round trip through tensors
            info = {k: v[0] for k, v in self.engine.candidate_info_arrays().items()}
        else:
            info = {k: v[0] for k, v in info_to_numpy(self.engine.candidate_info()).items()}
        return self._obs(), info

    def enable_oracle_info(self) -> None:
        """Add ``candidate_values`` to every later info (what the oracle-myopic agent ranks by)."""
        self.engine.enable_oracle_info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._seed is None:
            raise EpisodeEndedError("step() called before reset(); call reset() first")
        if self.engine.state.done[0] if not self._fast else self.engine.user_done(0):
            raise EpisodeEndedError(
                "step() called after the episode ended (terminated or truncated); call reset() "
                "before stepping again"
            )
        cfg = self.config
        if self._fast and self.engine.slate_ok(action):  # the common case, checked in one call
            return self._step_fast(action)
        slate = validate_slate(action, None, cfg.slate_size, cfg.num_candidates)
        if self._fast:
            return self._step_fast(slate)
        pool_ids = self.engine.world.pool_ids.cpu().numpy()
        steps_before = int(self.engine.state.steps[0])
        result = self.engine.step(
            torch.from_numpy(slate).unsqueeze(0).to(self.engine.device), autoreset=False
        )
        info = {k: v[0] for k, v in info_to_numpy(result.info).items()}
        reward = float(result.reward[0])
        self._last = LastStep(pool_ids[slate], info, reward, steps_before)
        return (
            self._obs(),
            reward,
            bool(result.terminated[0]),
            bool(result.truncated[0]),
            info,
        )

    def _step_fast(
        self, slate: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """``step`` on the fast path: numpy in and out, no tensor on the way."""
        engine = self.engine
        if self.render_mode is not None:
            pool_ids, steps_before = engine.world.pool_ids.numpy()[slate], engine.user_steps(0)
        out = engine.step_arrays(slate.reshape(1, -1), autoreset=False)[0][0]
        info = engine.info_one()
        reward = float(np.float32(out[O_REWARD]))
        if self.render_mode is not None:
            self._last = LastStep(pool_ids, info, reward, steps_before)
        return engine.observation_one(), reward, bool(out[O_TERM]), bool(out[O_TRUNC]), info

    def render(self) -> str | np.ndarray | None:
        if self._frames is not None:
            return self._frames.frames([0], [self._last])[0]
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "(no step yet)"
        slate_ids, info, reward, step = self._last[:4]
        return render_user_line(self.catalog, 0, step, slate_ids, info, reward)

    def close(self) -> None:
        """Release the ``rgb_array`` figure (a later ``render()`` draws a new one)."""
        if self._frames is not None:
            self._frames.close()
        super().close()
