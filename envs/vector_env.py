"""``DriftRecVectorEnv``: the native batched Gymnasium environment (B users in one call).

Autoreset mode ``AutoresetMode.SAME_STEP`` (``env.autoreset_mode`` and
``env.metadata["autoreset_mode"]``, as Gymnasium's own vector envs carry it): a user who leaves
(terminated) or reaches ``max_steps`` (truncated) is replaced by a new user in the same ``step``
call; the returned observation is the new user's first one, the departing user's last observation
is ``info["final_obs"][i]`` (an object array of per-user dicts, None elsewhere) and
``info["_final_obs"]`` marks who left. Not ``NEXT_STEP``: no step's action is ever ignored, so
every action the agent sends reaches a user.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.error import Error as GymnasiumError
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .builder import build_engine
from .config import ScenarioConfig
from .model.engine import Engine, StepResult
from .model.fast import O_REWARD, O_TERM, O_TRUNC
from .render import (
    FrameRenderer,
    LastStep,
    check_render_mode,
    render_user_line,
    users_to_render,
)
from .sources.users import UserPool
from .spaces import action_space, observation_space
from .validation import validate_slate

# The process that imported this module: an env built in another one is in a forked child.
_IMPORT_PID = os.getpid()


class SeedError(GymnasiumError, ValueError, TypeError):
    """A seed that is not None or a non-negative int: a ``gymnasium.error.Error``, as Gymnasium's
    own seeding raises, and a ``ValueError``/``TypeError`` for callers that catch those."""


def fresh_seed() -> int:
    """A seed from OS entropy (128 bits; seeds of any size are distinct, see ``rng.seed_keys``),
    for ``reset(seed=None)`` on a never-seeded env (no global RNG)."""
    return int(np.random.SeedSequence().entropy)


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int (None stays None): any non-negative int, of any size, is a seed of its
    own. Raises ``SeedError`` before any state changes."""
    if seed is None:
        return None
    if isinstance(seed, (list, tuple, np.ndarray)):
        raise SeedError(
            f"seed must be None or one non-negative int, got a {type(seed).__name__} {seed!r}; "
            "one seed seeds every user (user i's draws depend on the seed and i), so there are "
            "no per-env seeds"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SeedError(
            f"seed must be None or a non-negative int, got {seed!r} of type {type(seed).__name__}"
        )
    if seed < 0:
        raise SeedError(f"seed must be a non-negative int (of any size), got {int(seed)}")
    return int(seed)


MAX_NUM_ENVS = 2**31 - 1


def check_num_envs(num_envs: Any) -> None:
    """The number of users B: a positive int (the engine's message would name ``num_users``)."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
        raise TypeError(f"num_envs must be a positive int (users B), got {num_envs!r}")
    if not 1 <= num_envs <= MAX_NUM_ENVS:
        raise ValueError(f"num_envs must be a positive int (users B) of at most {MAX_NUM_ENVS:,} "
                         f"(2**31 - 1, torch's largest index), got {num_envs}")


def check_options(options: Any) -> None:
    """``reset``'s ``options``: None or an empty dict (the envs take none; an option that would be
    ignored silently is an error)."""
    if options is not None and (not isinstance(options, dict) or options):
        raise ValueError(
            f"reset options must be None or an empty dict, got {options!r}; the driftrec envs "
            "take no reset options (scenario parameters are keyword arguments of the constructor)"
        )


def fork_safe_threads() -> None:
    """In a process forked from the one that imported driftrec, compute with one torch thread.

    Why: torch's CPU thread pool is GNU OpenMP, which does not survive ``fork``. Once the parent
    has run a parallel region (building one env is enough), the child's first parallel torch
    operation waits forever at the OpenMP barrier for threads that do not exist there:
    ``gym.make_vec(id, vectorization_mode="async")`` hung with the default (fork) start method.
    One thread never enters the pool; in a vector of processes the processes are the
    parallelism (torch's ``DataLoader`` workers make the same choice).
    """
    if os.getpid() != _IMPORT_PID and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def check_observe_flag(value: Any) -> bool:
    """The envs' ``observe_candidate_embeddings``: True or False, nothing that merely converts to
    one (raised before anything is built)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"observe_candidate_embeddings must be True or False, got {value!r} of type "
            f"{type(value).__name__}"
        )
    return bool(value)


def observed(obs: dict[str, Any], observe_candidate_embeddings: bool) -> dict[str, Any]:
    """``obs`` (an observation or the observation space's dict of spaces) without
    ``candidate_embeddings`` when the env does not observe them."""
    if observe_candidate_embeddings:
        return obs
    return {k: v for k, v in obs.items() if k != "candidate_embeddings"}


def read_only(table: np.ndarray) -> np.ndarray:
    """A non-writeable view of ``table`` (the engine reads the same memory for observations)."""
    view = table.view()
    view.flags.writeable = False
    return view


def info_to_numpy(info: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.cpu().numpy() for k, v in info.items()}


class DriftRecVectorEnv(VectorEnv):
    """B simulated users stepped together; see ``DriftRecEnv`` for the observation, action,
    reward and info documentation (identical, with a leading B axis).

    Autoreset (``autoreset_mode = AutoresetMode.SAME_STEP``): when user i leaves or is truncated
    at a step, that same ``step`` returns ``terminated[i]`` or ``truncated[i]`` True, the slot's
    *new* user's first observation in ``obs`` at row i, and the departing user's last observation
    in ``info["final_obs"][i]`` (``info["_final_obs"][i]`` True); the next action for row i goes to
    the new user. There is no reset step (Gymnasium's ``NEXT_STEP`` would return the last
    observation and ignore the following action of that row).

    Args:
        num_envs: number of users B stepped in one call.
        scenario: ``"video"``, ``"news"``, ``"shopping"`` or a ``ScenarioConfig``.
        catalog: a ``Catalog``; default the built-in catalog of the scenario's domain encoded by
            the ``encoder`` override (default ``"minilm"``).
        user_pool: a ``UserPool`` of user types; default persona texts of the domain.
        render_mode: None, ``"ansi"`` (one text line per user) or ``"rgb_array"`` (one (384,
            640, 3) uint8 frame per user, ``render()`` returns a tuple of them as Gymnasium's
            vector envs do; drawing costs milliseconds per user, so ``render(max_users=n)``
            draws the first n only).
        observe_candidate_embeddings: True (default): observations carry
            ``candidate_embeddings`` (B, N, d_a). False: the key is left out of the observation
            and its space; an agent looks ``candidate_ids`` up in ``env.item_embeddings`` (the
            read-only (M, d_a) table; the driftrec agents do so themselves). On
            ``backend="fast"`` this saves the per-step copy of the N candidates' rows.
        backend: ``"torch"`` (default: the batched torch engine, for large B and GPUs),
            ``"fast"`` (the numba kernels of ``driftrec.envs.model.fast``, each user's
            candidates scored by its own dot products: the one-user path) or ``"fast-blas"``
            (the same kernels, users scored four at a time by a BLAS product: the path for tens
            to hundreds of users on a CPU) or ``"fast-gram"`` (the same kernels reading
            utilities from each user's catalog scores E u, E s, kept up to date: O(M) per user
            step instead of O(N d), for large pools from catalogs of up to 8,192 items). Each
            path is bit-identical whatever B; the paths
            agree with each other and the reference step to ~1e-5, not to the bit. The default
            does not depend on ``num_envs``, so neither do the results; see
            ``docs/performance.md``.
        **overrides: scenario parameters (see ``driftrec.envs.scenarios``).
    """

    autoreset_mode: ClassVar[AutoresetMode] = AutoresetMode.SAME_STEP
    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
    }

    def __init__(
        self,
        num_envs: int = 16,
        scenario: str | ScenarioConfig = "video",
        *,
        catalog: Any = None,
        user_pool: UserPool | None = None,
        render_mode: str | None = None,
        backend: str = "torch",
        observe_candidate_embeddings: bool = True,
        **overrides: Any,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        check_num_envs(num_envs)
        self.observe_candidate_embeddings = check_observe_flag(observe_candidate_embeddings)
        fork_safe_threads()
        self.backend = backend
        self.engine: Engine = build_engine(
            scenario, num_envs, catalog, user_pool, backend=backend, **overrides
        )
        self.engine.observe_candidate_embeddings = self.observe_candidate_embeddings
        self.config = self.engine.config
        self.num_envs = self.engine.num_users
        self.render_mode = render_mode
        self._frames = FrameRenderer(self.engine) if render_mode == "rgb_array" else None
        self.single_observation_space = spaces.Dict(
            observed(observation_space(self.engine).spaces, self.observe_candidate_embeddings)
        )
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
        """(M, d_a) agent-side embedding table (what the recommender knows of its catalog),
        read-only: ``candidate_embeddings`` are its rows at ``candidate_ids``."""
        return read_only(self.engine.item_embeddings)

    def _observation(self) -> dict[str, np.ndarray]:
        return observed(self.engine.observation(), self.observe_candidate_embeddings)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``seed`` given (or first reset): every slot gets a generation-0 user at global step 0.
        ``seed=None`` later: every slot gets a new user; the world keeps its clock."""
        seed = check_seed(seed)
        check_options(options)
        if seed is not None or self._seed is None:
            self._seed = fresh_seed() if seed is None else seed
            self.engine.reset(self._seed)
        else:
            rows = torch.arange(self.num_envs, device=self.engine.device)
            self.engine.replace_users(rows, refresh=True)
        self._last = None
        if self._frames is not None:
            self._frames.reset()
        return self._observation(), info_to_numpy(self.engine.candidate_info())

    def enable_oracle_info(self) -> None:
        """Add ``candidate_values`` to every later info (what the oracle-myopic agent ranks by)."""
        self.engine.enable_oracle_info()

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._seed is None:
            raise ValueError("step() called before reset(); call reset() first")
        cfg = self.config
        if self.backend != "torch" and self.engine.slate_ok(actions, self.num_envs):
            return self._step_fast(actions)  # the common case, checked in one compiled call
        slate = validate_slate(actions, self.num_envs, cfg.slate_size, cfg.num_candidates)
        if self.backend != "torch":
            return self._step_fast(slate)
        slate_t = torch.from_numpy(slate).to(self.engine.device)
        pool_ids = self.engine.world.pool_ids.cpu().numpy()
        result = self.engine.step(slate_t, autoreset=True)
        info: dict[str, Any] = info_to_numpy(result.info)
        if result.final_rows is not None:
            final_obs = observed(result.final_obs, self.observe_candidate_embeddings)
            self._add_final_obs(info, result.final_rows.cpu().numpy(), final_obs)
        reward = result.reward.to(torch.float64).cpu().numpy()
        self._last = (pool_ids, slate.copy(), result, reward)  # the caller may reuse its array
        return (
            self._observation(),
            reward,
            result.terminated.cpu().numpy(),
            result.truncated.cpu().numpy(),
            info,
        )

    def _add_final_obs(
        self, info: dict[str, Any], rows: np.ndarray, final_obs: dict[str, np.ndarray]
    ) -> None:
        """``info["final_obs"]``/``["_final_obs"]``: the last observation of the users in slots
        ``rows``, who left and were replaced (per-user dicts of views, no copies)."""
        keys = list(final_obs)
        per_user = zip(*(list(v) for v in final_obs.values()))
        self._put_final_obs(info, rows, [dict(zip(keys, values)) for values in per_user])

    def _put_final_obs(self, info: dict[str, Any], rows: np.ndarray, final_obs: list) -> None:
        """``info["final_obs"]``/``["_final_obs"]`` from one observation dict per slot in
        ``rows`` (the fast engine gives them so)."""
        final = np.zeros(self.num_envs, dtype=bool)
        final[rows] = True
        objs = np.full(self.num_envs, None, dtype=object)
        for row, obs in zip(rows.tolist(), final_obs):
            objs[row] = obs
        info["final_obs"] = objs
        info["_final_obs"] = final

    def _step_fast(
        self, slate: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """``step`` on the fast path (``backend="fast"``): numpy in and out."""
        engine = self.engine
        if self.render_mode is not None:  # the fast engine rewrites its pool ids in place
            pool_ids = engine.world.pool_ids.numpy().copy()
        out, rows, final_obs = engine.step_arrays(slate, autoreset=True)
        info: dict[str, Any] = engine.info_arrays()
        reward = out[:, O_REWARD].astype(np.float32).astype(np.float64)  # the engine's float32
        if self.render_mode is not None:
            result = engine.as_step_result(out, rows, final_obs, info)
            self._last = (pool_ids, slate.copy(), result, reward)
        if rows is not None:
            self._put_final_obs(info, rows, final_obs)
        return engine.observation(), reward, out[:, O_TERM] > 0, out[:, O_TRUNC] > 0, info

    def render(self, max_users: int | None = None) -> str | tuple[np.ndarray, ...] | None:
        """``ansi``: one text line per user (the first ``max_users``, default 4) for the last step;
        ``rgb_array``: a tuple of frames, one per user (the first ``max_users``, default all)."""
        if self.render_mode is None:
            return None
        default = self.num_envs if self._frames is not None else 4
        users = range(users_to_render(max_users, default, self.num_envs))
        lasts = self._last_steps(len(users))
        if self._frames is not None:
            return self._frames.frames(users, lasts)
        if self._last is None:
            return "(no step yet)"
        return "\n".join(
            render_user_line(self.catalog, i, last.step, last.slate_ids, last.info, last.reward)
            for i, last in zip(users, lasts)
        )

    def _last_steps(self, n: int) -> list[LastStep | None]:
        """The first ``n`` users' share of the last step (None before the first step)."""
        if self._last is None:
            return [None] * n
        pool_ids, slate, result, reward = self._last
        slate_ids = pool_ids[slate[:n]]
        info = info_to_numpy(result.info)
        steps = self.engine.state.steps.cpu().numpy()[:n] - 1  # the index the slate was shown at
        replaced = np.zeros(n, dtype=bool)
        if result.final_rows is not None:  # a replaced user's index comes from its final obs
            for j, row in enumerate(result.final_rows.tolist()):
                if row < n:
                    replaced[row] = True
                    steps[row] = int(result.final_obs["step"][j][0]) - 1
        return [
            LastStep(slate_ids[i], {k: v[i] for k, v in info.items()}, float(reward[i]),
                     int(steps[i]), bool(replaced[i]))
            for i in range(n)
        ]

    def close_extras(self, **kwargs: Any) -> None:
        """Release the ``rgb_array`` figure."""
        if self._frames is not None:
            self._frames.close()
