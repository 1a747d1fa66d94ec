"""Run scenario × agent × seed episodes and collect their metrics.

Protocol of one run (scenario s, agent a, seed k):

1. build the scenario's native vector env with B users (one env per scenario, reused: a seeded
   ``reset`` fully determines the users, so reuse changes nothing but saves catalog loading);
2. ``make_agent(a, env, seed=k)``; if ``train_steps > 0`` and the agent learns, ``agent.fit`` on
   *training* users (reset seed ``k + TRAIN_SEED_OFFSET``), so the evaluation users are held out;
3. evaluate for T steps on users drawn from seed ``k``: act, step, and — as a deployed recommender
   would — keep learning online (``agent.update``) unless ``learn=False``.

Metrics are computed by :class:`driftrec.cli.metrics.EpisodeAccumulator` on the cohort of
users present at reset. The true (hidden) user state is read from the engine for analysis only;
agents never see it unless they are labelled ``reads_hidden_state`` (the oracle, which reads
``info``).

:func:`evaluate_agent` is the reusable piece (``compare_agents.py`` and ``driftrec train`` call it);
:func:`run_suite` loops over the grid for ``driftrec bench``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from driftrec.envs.render import Projection

from .metrics import EpisodeAccumulator, category_centroids

#: Training users come from a different seed than evaluation users (held-out evaluation).
TRAIN_SEED_OFFSET = 1_000_003

Progress = Callable[[int], None]
#: One cell of the bench grid: (scenario, agent, seed).
RunKey = tuple[str, str, int]

#: The standard per-scenario agent settings, shared by ``driftrec bench`` and
#: ``compare_agents.py`` (stored in their results files). In ``news`` the bandits
#: label a decision with the user's clicks over the next 10 steps: a click on a good article
#: extends the session (budget refill), a myopic click label cannot see that (the transformer
#: did better with the immediate label in a pilot run: 12.8 vs 11.1, so it keeps it). In
#: ``shopping`` the 10-step revenue sum is too noisy (prices span 10-150), and in ``video`` the
#: logged item statistics already carry quality, so both keep the immediate reward.
AGENT_KWARGS: dict[str, dict[str, dict[str, Any]]] = {
    "news": {
        "egreedy": {"horizon": 10}, "linucb": {"horizon": 10}, "thompson": {"horizon": 10},
    },
}


def agent_kwargs(scenario: str, agent: str) -> dict[str, Any]:
    """The standard settings of ``agent`` in ``scenario`` (``AGENT_KWARGS``; empty if none)."""
    return dict(AGENT_KWARGS.get(scenario, {}).get(agent, {}))



@dataclass(frozen=True)
class BenchConfig:
    """Everything that determines a bench run; stored verbatim in ``results.json``."""

    scenarios: tuple[str, ...]
    agents: tuple[str, ...]
    seeds: tuple[int, ...]
    users: int
    steps: int | None  # None: each scenario's session limit (max_steps)
    train_steps: int
    encoder: str = "minilm"
    device: str = "cpu"
    track_users: int = 4
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be a positive integer, got {self.users}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps}")
        if self.train_steps < 0:
            raise ValueError(f"train_steps must be >= 0, got {self.train_steps}")
        for name in ("scenarios", "agents", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpisodeResult:
    """One (scenario, agent, seed) run: metric dict, per-step curves, per-user returns."""

    scenario: str
    agent: str
    seed: int
    metrics: dict[str, float]
    curves: dict[str, list[float]]
    user_returns: list[float]
    trajectories: list[list[list[float]]] | None = None  # tracked users × steps × 2 (PCA plane)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Access to the engine (true state), kept in one place so an engine change touches only this.


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def true_interest(env: Any) -> np.ndarray:
    """The users' hidden interest vectors ``(B, d)`` in the catalog's true embedding space."""
    return _numpy(env.unwrapped.engine.state.interest).astype(np.float64)


def true_item_embeddings(env: Any) -> np.ndarray:
    """The catalog's true item embeddings ``(M, d)`` (what users' interests live among)."""
    return np.asarray(env.unwrapped.catalog.embeddings, dtype=np.float64)


def make_vector_env(scenario: str, users: int, **kwargs: Any) -> Any:
    """The scenario's native batched env with ``users`` users (keyword overrides pass through).

    ``scenario`` is a preset name or a calibration file (the env of its preset, with the
    calibrated parameters)."""
    import driftrec.envs  # noqa: F401  (registers the ids)
    import gymnasium
    from driftrec.envs.scenarios import is_calibration_path, make_scenario

    name = scenario
    if is_calibration_path(scenario):
        kwargs["scenario"] = make_scenario(scenario)
        name = kwargs["scenario"].name
    return gymnasium.make_vec(scenario_env_id(name), num_envs=users,
                              vectorization_mode="vector_entry_point", **kwargs)


def scenario_env_id(scenario: str) -> str:
    """Gymnasium id of a built-in scenario: ``video`` → ``driftrec/Video-v0``."""
    return f"driftrec/{scenario.capitalize()}-v0"


# ---------------------------------------------------------------------------------------------


def scenario_geometry(env: Any) -> tuple[np.ndarray, Projection]:
    """Category centroids ``(C, d)`` of the env's catalog and the PCA plane through them."""
    catalog = env.unwrapped.catalog
    centroids = category_centroids(true_item_embeddings(env), np.asarray(catalog.category_ids),
                                   len(catalog.categories))
    return centroids, Projection.fit(centroids, catalog.categories)


def evaluate_agent(agent: Any, env: Any, *, steps: int, seed: int, learn: bool = True,
                   track_users: int = 0, projection: Projection | None = None,
                   centroids: np.ndarray | None = None, progress: Progress | None = None,
                   stop_when_empty: bool = True) -> EpisodeResult:
    """Run ``agent`` for ``steps`` batched steps on users drawn from ``seed``; measure the cohort.

    ``env`` is a driftrec vector env (``make_vector_env``). With ``learn`` the agent updates online
    from every transition. ``track_users`` > 0 records the first users' interest vectors projected
    on ``projection`` (fitted on the catalog's categories when not given) for trajectory plots.
    ``progress`` is called with the number of steps done (1 per step). With ``stop_when_empty``
    the episode ends once every cohort user has left — later steps would only serve unmeasured
    replacements — and the curves are padded to ``steps`` (reward and retention 0, the rest
    undefined), so every result has the same length and the metrics are unchanged.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if centroids is None or (track_users and projection is None):
        centroids_, projection_ = scenario_geometry(env)
        centroids = centroids if centroids is not None else centroids_
        projection = projection if projection is not None else projection_
    item_emb = true_item_embeddings(env).astype(np.float32)
    popularity = np.asarray(env.unwrapped.catalog.popularity, dtype=np.float64)
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    interest = true_interest(env)
    acc = EpisodeAccumulator(interest, centroids, num_items=item_emb.shape[0])
    n_track = min(track_users, interest.shape[0])
    tracks: list[list[list[float]]] = [[] for _ in range(n_track)]
    if n_track and projection is not None:
        for i, p in enumerate(projection(interest[:n_track])):
            tracks[i].append([round(float(p[0]), 5), round(float(p[1]), 5)])
    rows = np.arange(interest.shape[0])[:, None]
    for t in range(steps):
        if stop_when_empty and not acc.active.any():
            acc.pad_to(steps)
            if progress is not None:
                progress(steps - t)
            break
        action = np.asarray(agent.act(obs, info), dtype=np.int64)
        next_obs, reward, terminated, truncated, step_info = env.step(action)
        done = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        slate_ids = np.asarray(obs["candidate_ids"])[rows, action]
        new_interest = _interest_before_autoreset(env, step_info, done, acc.last_interest)
        was_active = acc.active.copy()
        acc.record(
            reward=_numpy(reward), clicks=_numpy(step_info["clicks"]),
            engagement=_numpy(step_info["engagement"]), regret=_numpy(step_info["regret"]),
            slate_item_ids=slate_ids, slate_embeddings=item_emb[slate_ids],
            slate_popularity=popularity[slate_ids], interest=new_interest, done=done,
            churned=_numpy(step_info["churned"]), drift_cos=_numpy(step_info["drift"]))
        if n_track and projection is not None:
            pts = projection(new_interest[:n_track])
            for i in range(n_track):
                if was_active[i]:
                    tracks[i].append([round(float(pts[i, 0]), 5), round(float(pts[i, 1]), 5)])
        if learn:
            agent.update(obs, action, reward, next_obs, terminated, truncated, step_info)
        obs, info = next_obs, step_info
        if progress is not None:
            progress(1)
    metrics = acc.finish()
    return EpisodeResult(
        scenario=str(getattr(getattr(env.unwrapped, "config", None), "name", "custom")),
        agent=str(getattr(agent, "name", type(agent).__name__)), seed=int(seed),
        metrics={k: _finite_or_none(v) for k, v in metrics.items()},
        curves={k: [_finite_or_none(x) for x in v] for k, v in acc.curves.items()},
        user_returns=[float(r) for r in acc.returns],
        trajectories=tracks if n_track else None,
        eval_seconds=time.perf_counter() - start)


def _interest_before_autoreset(env: Any, info: dict[str, Any], done: np.ndarray,
                               previous: np.ndarray) -> np.ndarray:
    """True interests after the step, with departing users' last interest, not their successor's.

    The vector env autoresets in the same call, so the engine already holds the replacement user in
    a departing slot. The departing user's interest after its last step is gone; their interest
    before that step (``previous``) stands in for entropy and homogenisation (one step stale).
    Drift is exact: the env reports ``info["drift"] = cos(u_t, u_0)`` before replacing anyone.
    """
    interest = true_interest(env)
    if done.any():
        interest = interest.copy()
        interest[done] = previous[done]
    return interest


def _finite_or_none(x: float) -> float | None:
    """JSON has no NaN: undefined values (e.g. CTR with nobody left) are stored as null."""
    x = float(x)
    return x if math.isfinite(x) else None


def run_episode(scenario: str, agent_name: str, seed: int, env: Any, *, steps: int,
                train_steps: int, track_users: int, centroids: np.ndarray,
                projection: Projection, progress: Progress | None = None) -> EpisodeResult:
    """One grid cell: build the agent, train it on held-out users, evaluate it."""
    from driftrec.agents import AGENTS, make_agent

    agent = make_agent(agent_name, env, seed=seed, **agent_kwargs(scenario, agent_name))
    train_seconds = 0.0
    if train_steps > 0 and AGENTS[agent_name].learns:
        t0 = time.perf_counter()
        agent.fit(env, train_steps, seed=seed + TRAIN_SEED_OFFSET)
        train_seconds = time.perf_counter() - t0
    if progress is not None and train_steps > 0:
        progress(train_steps)  # counted even when skipped, so the bar's total is exact
    result = evaluate_agent(agent, env, steps=steps, seed=seed, learn=True,
                            track_users=track_users, projection=projection, centroids=centroids,
                            progress=progress)
    result.scenario, result.agent, result.train_seconds = scenario, agent_name, train_seconds
    return result


def scenario_horizon(scenario: Any, steps: int | None) -> int:
    """Evaluation steps: ``steps`` capped at the scenario's session limit ``max_steps``.

    ``scenario`` is a preset name or a ``ScenarioConfig``. Every cohort user has left by the
    session limit (truncation), so stepping further would only serve unmeasured replacements.
    """
    if isinstance(scenario, str):
        from driftrec.envs import make_scenario

        scenario = make_scenario(scenario)
    limit = int(scenario.max_steps)
    return limit if steps is None else min(steps, limit)


def total_steps(config: BenchConfig, scenario_configs: dict[str, Any] | None = None) -> int:
    """Batched env steps of the whole suite (the progress bar's total)."""
    configs = scenario_configs or {}
    per_cell = sum(scenario_horizon(configs.get(s, s), config.steps) + config.train_steps
                   for s in config.scenarios)
    return per_cell * len(config.agents) * len(config.seeds)


@dataclass
class SuiteResult:
    """All runs of a suite plus what the plots need about each scenario's geometry."""

    config: BenchConfig
    runs: list[EpisodeResult]
    projections: dict[str, dict[str, Any]]
    seconds: float
    resumed: int = 0  # runs taken from ``completed`` instead of run again


EnvFactory = Callable[[str], Any]


def run_suite(config: BenchConfig, progress: Progress | None = None,
              on_status: Callable[[str], None] | None = None,
              env_factory: EnvFactory | None = None,
              completed: Mapping[RunKey, EpisodeResult] | None = None,
              on_result: Callable[[EpisodeResult], None] | None = None) -> SuiteResult:
    """Every (scenario, agent, seed) of ``config``; trajectories are kept for the first seed.

    ``env_factory(label)`` builds the vector env of a scenario label (default: the built-in preset
    of that name with ``config``'s users, encoder, device and ``env_kwargs``); real-data benches
    pass one that builds the env on the data set's catalog and users. Runs found in ``completed``
    (an interrupted suite's finished runs) are kept, not redone: each run depends only on its
    own seeds, so the suite's results are those of an uninterrupted one. ``on_result`` is called
    with each run as it finishes (``driftrec bench`` writes it to disk there).
    """
    if env_factory is None:
        def env_factory(name: str) -> Any:
            return make_vector_env(name, config.users, encoder=config.encoder,
                                   device=config.device, **config.env_kwargs)
    completed = completed or {}
    t0 = time.perf_counter()
    runs: list[EpisodeResult] = []
    projections: dict[str, dict[str, Any]] = {}
    resumed = 0
    for scenario in config.scenarios:
        env = env_factory(scenario)
        try:
            steps = scenario_horizon(env.unwrapped.config, config.steps)
            centroids, projection = scenario_geometry(env)
            projections[scenario] = projection.to_dict()
            for agent_name in config.agents:
                for i, seed in enumerate(config.seeds):
                    done = completed.get((scenario, agent_name, seed))
                    if done is not None:
                        runs.append(done)
                        resumed += 1
                        if progress is not None:
                            progress(steps + config.train_steps)
                        continue
                    if on_status is not None:
                        on_status(f"{scenario}/{agent_name}/seed {seed}")
                    result = run_episode(
                        scenario, agent_name, seed, env, steps=steps,
                        train_steps=config.train_steps,
                        track_users=config.track_users if i == 0 else 0,
                        centroids=centroids, projection=projection, progress=progress)
                    if on_result is not None:
                        on_result(result)
                    runs.append(result)
        finally:
            env.close()
    return SuiteResult(config, runs, projections, time.perf_counter() - t0, resumed)


def grid(config: BenchConfig) -> list[RunKey]:
    """The suite's runs in the order ``run_suite`` does them."""
    return [(s, a, k) for s in config.scenarios for a in config.agents for k in config.seeds]
