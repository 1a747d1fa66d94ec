"""The runner against a direct loop on the real vector env (hashing encoder, a few users)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from driftrec.cli.metrics import METRIC_NAMES
from driftrec.cli.runner import (
    BenchConfig,
    evaluate_agent,
    make_vector_env,
    run_suite,
    scenario_horizon,
    total_steps,
)


@pytest.fixture(scope="module")
def env():
    e = make_vector_env("video", 6, encoder="hashing")
    yield e
    e.close()


def _direct_returns(env, agent_factory, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Second implementation: sum each slot's rewards until its first user leaves."""
    agent = agent_factory()
    obs, info = env.reset(seed=seed)
    b = env.num_envs
    alive = np.ones(b, dtype=bool)
    returns = np.zeros(b)
    lengths = np.zeros(b, dtype=int)
    for _ in range(steps):
        action = agent.act(obs, info)
        next_obs, reward, term, trunc, info = env.step(action)
        agent.update(obs, action, reward, next_obs, term, trunc, info)
        returns += np.where(alive, reward, 0.0)
        lengths += alive
        alive &= ~(term | trunc)
        obs = next_obs
    return returns, lengths


def test_evaluate_agent_matches_direct_loop(env) -> None:
    from driftrec.agents import make_agent

    result = evaluate_agent(make_agent("linucb", env, seed=3), env, steps=12, seed=5)
    returns, lengths = _direct_returns(env, lambda: make_agent("linucb", env, seed=3), 12, 5)
    np.testing.assert_allclose(result.user_returns, returns, rtol=1e-12)
    assert result.metrics["return_mean"] == pytest.approx(returns.mean())
    assert result.metrics["session_length"] == pytest.approx(lengths.mean())
    assert set(result.metrics) == set(METRIC_NAMES)
    assert len(result.curves["reward"]) == 12
    retention = result.curves["retention"]
    assert all(a >= b for a, b in itertools.pairwise(retention))
    assert 0.0 <= result.metrics["diversity"] <= 1.0
    assert 0.0 < result.metrics["coverage"] <= 1.0


def test_evaluate_agent_is_reproducible_and_tracks_users(env) -> None:
    from driftrec.agents import make_agent

    runs = [evaluate_agent(make_agent("random", env, seed=1), env, steps=6, seed=2,
                           track_users=2) for _ in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert runs[0].trajectories == runs[1].trajectories
    assert len(runs[0].trajectories) == 2
    assert 2 <= len(runs[0].trajectories[0]) <= 7  # start + one point per measured step


def test_bench_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="users must be a positive integer, got 0"):
        BenchConfig(("video",), ("random",), (0,), users=0, steps=3, train_steps=0)
    with pytest.raises(ValueError, match="train_steps must be >= 0"):
        BenchConfig(("video",), ("random",), (0,), users=2, steps=3, train_steps=-1)
    with pytest.raises(ValueError, match="agents must not be empty"):
        BenchConfig(("video",), (), (0,), users=2, steps=3, train_steps=0)


def test_horizon_is_capped_at_the_session_limit() -> None:
    from driftrec.envs import make_scenario

    limit = make_scenario("news").max_steps
    assert scenario_horizon("news", None) == limit
    assert scenario_horizon("news", 10**6) == limit
    assert scenario_horizon("news", 3) == 3


def test_run_suite_grid_and_trajectories_on_first_seed_only() -> None:
    config = BenchConfig(("video", "news"), ("random", "popular"), (0, 1), users=3, steps=4,
                         train_steps=2, encoder="hashing")
    ticks: list[int] = []
    suite = run_suite(config, progress=ticks.append)
    assert sum(ticks) == total_steps(config) == 2 * 2 * 2 * (4 + 2)
    assert [(r.scenario, r.agent, r.seed) for r in suite.runs][:3] == [
        ("video", "random", 0), ("video", "random", 1), ("video", "popular", 0)]
    assert [r.trajectories is not None for r in suite.runs[:2]] == [True, False]
    assert set(suite.projections) == {"video", "news"}


def test_run_suite_keeps_completed_runs_and_reports_each_new_one() -> None:
    config = BenchConfig(("video",), ("random", "popular"), (0, 1), users=3, steps=4,
                         train_steps=2, encoder="hashing")
    full = run_suite(config)
    kept = {("video", "popular", 0): full.runs[2]}
    ticks: list[int] = []
    finished: list[tuple[str, str, int]] = []
    suite = run_suite(config, progress=ticks.append, completed=kept,
                      on_result=lambda r: finished.append((r.scenario, r.agent, r.seed)))
    assert suite.runs[2] is full.runs[2] and suite.resumed == 1
    assert finished == [("video", "random", 0), ("video", "random", 1), ("video", "popular", 1)]
    assert sum(ticks) == total_steps(config) == 4 * (4 + 2)
    assert [r.metrics for r in suite.runs] == [r.metrics for r in full.runs]
    assert [r.user_returns for r in suite.runs] == [r.user_returns for r in full.runs]
