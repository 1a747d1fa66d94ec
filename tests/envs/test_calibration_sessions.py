"""Session-length fit (``calibration/sessions.py``): the held-in sessions and their cut, recovery
of a known budget from sessions the simulator generated, no held-out leakage, and bad inputs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from driftrec.envs import make_scenario
from driftrec.envs.calibration import sessions as S
from driftrec.envs.sources.datasets.cohort import Split


def _setup(stamps: list[list[int]], init_end: list[int], heldout_start: list[int],
           catalog=None) -> SimpleNamespace:
    """A stand-in ``RealDataSetup``: user u's items are 100·u + position."""
    seqs = [SimpleNamespace(items=np.arange(len(t)) + 100 * u, timestamps=np.asarray(t))
            for u, t in enumerate(stamps)]
    inter = SimpleNamespace(sequence=lambda u: seqs[u])
    split = Split(users=np.arange(len(stamps)), init_end=np.asarray(init_end),
                  heldout_start=np.asarray(heldout_start),
                  lengths=np.array([len(t) for t in stamps]))
    return SimpleNamespace(dataset=SimpleNamespace(interactions=inter), split=split,
                           catalog=catalog, user_pool=None)


def test_session_bounds_cut_where_the_gap_exceeds_the_threshold() -> None:
    starts, ends = S.session_bounds(np.array([0, 10, 20, 100, 110, 400]), 50.0)
    assert (starts.tolist(), ends.tolist()) == ([0, 3, 5], [3, 5, 6])
    # a gap of exactly the threshold does not cut
    assert S.session_bounds(np.array([0, 50]), 50.0)[0].tolist() == [0]


def test_heldin_sessions_lie_inside_the_heldin_part_and_heldout_ones_start_in_the_tail() -> None:
    # positions 0..9; sessions [0,2) [2,5) [5,6) [6,9) [9,10); init = [0,1), held-out = [7,10)
    setup = _setup([[0, 10, 500, 510, 520, 1000, 1500, 1510, 1520, 2000]], [1], [7])
    heldin = S.log_sessions(setup, 100.0, "heldin")
    # [0,2) starts in init, [6,9) crosses into the tail: only [2,5) and [5,6) are held-in
    assert [s.tolist() for s in heldin] == [[2, 3, 4], [5]]
    assert [s.tolist() for s in S.log_sessions(setup, 100.0, "heldout")] == [[9]]


def _perturbed(setup: SimpleNamespace, seed: int) -> SimpleNamespace:
    """``setup`` with every held-out event's item and timestamp replaced."""
    rng = np.random.default_rng(seed)
    stamps = []
    for u, hs in enumerate(setup.split.heldout_start.tolist()):
        t = setup.dataset.interactions.sequence(u).timestamps.copy()
        t[hs:] = np.sort(t[hs - 1] + rng.integers(1, 10_000, t.size - hs))
        stamps.append(t.tolist())
    out = _setup(stamps, setup.split.init_end.tolist(), setup.split.heldout_start.tolist(),
                 setup.catalog)
    for u, hs in enumerate(setup.split.heldout_start.tolist()):
        out.dataset.interactions.sequence(u).items[hs:] = rng.integers(0, 240, len(stamps[u]) - hs)
    return out


def _random_log(users: int, length: int, seed: int) -> tuple[list[list[int]], list[int], list[int]]:
    """Event times with exponential gaps (mean 20 min): sessions of varied length."""
    rng = np.random.default_rng(seed)
    stamps = [np.cumsum(rng.exponential(1200.0, length)).astype(int).tolist() for _ in range(users)]
    return stamps, [2] * users, [length - 6] * users


def test_the_fit_reads_no_heldout_event(catalog) -> None:
    setup = _setup(*_random_log(30, 40, 0), catalog=catalog)
    cfg = S.SessionFitConfig(spreads=(0.0, 1.0), bisection_steps=3, slots=32, min_sessions=5)
    scenario = make_scenario("video")
    first = S.fit_sessions(setup, scenario, cfg)
    second = S.fit_sessions(_perturbed(setup, 1), scenario, cfg)
    assert first == second  # values and report, bit-identical
    assert S.log_sessions(_perturbed(setup, 1), 1800.0, "heldout") != []


@pytest.mark.slow
def test_recovers_a_known_budget_from_simulated_sessions(catalog) -> None:
    """Target: 1500 sessions generated with initial 10, spread 0.8 (seed 7); the fit runs on
    other random numbers (seed 0). Tolerance: the bisection's resolution in log(initial) is
    log(120/0.25)/2^8 ≈ 0.024, and the sampling error of the target's mean log-length (sd ≈ 0.8,
    1500 sessions: se ≈ 0.02) moves log(initial) by about as much (the mean log-length rises by
    ~1 per unit of log(initial)): 3·se + resolution ≈ 0.09, i.e. ±10%; the spread grid's step
    (0.8) is far above what KS on 1500 sessions confuses."""
    from driftrec.envs import DriftRecVectorEnv
    from driftrec.envs.scenarios import apply_overrides

    base = make_scenario("video")

    def simulate(values: dict[str, float], seed: int, slots: int) -> np.ndarray:
        scen = apply_overrides(base, budget_initial=values["budget_initial"],
                               heterogeneity_budget_spread=values["budget_spread"])
        env = DriftRecVectorEnv(num_envs=slots, scenario=scen, catalog=catalog)
        sessions, _ = S.rollout_sessions(env, None, seed, scen.max_steps + 1)
        return np.array([len(s) for s in sessions])

    truth = {"budget_initial": 10.0, "budget_spread": 0.8}
    target = simulate(truth, 7, 1500)
    target = target[target > 0]
    cfg = S.SessionFitConfig(spreads=(0.0, 0.8, 1.6), bisection_steps=8)
    values, report = S.fit_session_lengths(target, lambda v: simulate(v, 0, 1500), 120.0, cfg)
    assert values["budget_spread"] == 0.8
    assert abs(math.log(values["budget_initial"] / 10.0)) < 0.1, values
    assert report["ks"] < 0.05 and len(report["trials"]) == 3 * 9


def test_a_spread_that_cannot_reach_the_logs_scale_below_max_budget_is_not_chosen() -> None:
    """Lengths ~ budget / 2 (capped at 30) with fixed draws z: at spread 3 the cap keeps the
    mean log-length below the target's whatever the budget; spread 0.5 matches it."""
    z = np.random.default_rng(0).standard_normal(400)

    def simulate(v: dict[str, float]) -> np.ndarray:
        s = v["budget_spread"]
        return np.ceil(np.minimum(v["budget_initial"] * np.exp(s * z - s * s / 2), 30.0) / 2)

    target = simulate({"budget_initial": 20.0, "budget_spread": 0.5})
    values, report = S.fit_session_lengths(target, simulate, 30.0,
                                           S.SessionFitConfig(spreads=(3.0, 0.5)))
    assert values["budget_spread"] == 0.5 and report["unreachable_spreads"] == [3.0]
    with pytest.raises(ValueError, match=r"no budget up to max_budget=30.0 makes sessions as long"):
        S.fit_session_lengths(target, simulate, 30.0, S.SessionFitConfig(spreads=(3.0,)))


BAD_CONFIGS = [
    ({"gap_minutes": 0}, r"gap_minutes must be > 0, got 0"),
    ({"gap_minutes": "30"}, r"gap_minutes must be > 0, got '30'"),
    ({"spreads": ()}, r"spreads must be a non-empty tuple .* got \(\)"),
    ({"spreads": [0.5]}, r"spreads must be a non-empty tuple .* got \[0.5\]"),
    ({"spreads": (-0.1,)}, r"spreads must be .* >= 0, got \(-0.1,\)"),
    ({"spreads": (float("nan"),)}, r"spreads must be a non-empty tuple of finite numbers"),
    ({"bisection_steps": 0}, r"bisection_steps must be an int >= 1, got 0"),
    ({"bisection_steps": 2.5}, r"bisection_steps must be an int >= 1, got 2.5"),
    ({"min_sessions": True}, r"min_sessions must be an int >= 1, got True"),
    ({"min_initial": 0.0}, r"min_initial must be > 0, got 0.0"),
    ({"slots": 0}, r"slots must be None or an int >= 1, got 0"),
    ({"seed": -1}, r"seed must be an int >= 0, got -1"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_CONFIGS)
def test_bad_session_fit_configs(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        S.SessionFitConfig(**kwargs)


def _never(values: dict[str, float]) -> np.ndarray:
    raise AssertionError("a bad input must fail before any simulation")


BAD_TARGETS = [
    (np.ones(5), 120.0, r"the logs have 5 held-in sessions; expected at least min_sessions=20"),
    (np.ones((30, 2)), 120.0, r"session lengths must be a 1-D array .* got shape \(30, 2\)"),
    (np.r_[np.ones(29), 0.0], 120.0, r"whole numbers >= 1 \(consumed items\), got 0.0 at position 29"),
    (np.r_[np.ones(29), 1.5], 120.0, r"whole numbers >= 1 \(consumed items\), got 1.5 at position 29"),
    (np.r_[np.nan, np.ones(29)], 120.0, r"whole numbers >= 1 \(consumed items\), got nan at position 0"),
    (np.ones(30), 0.1, r"max_budget must be a finite number > min_initial=0.25, got 0.1"),
    (np.ones(30), float("inf"), r"max_budget must be a finite number > min_initial=0.25"),
]


@pytest.mark.parametrize(("target", "max_budget", "match"), BAD_TARGETS)
def test_bad_targets_fail_before_simulating(target, max_budget, match) -> None:
    with pytest.raises(ValueError, match=match):
        S.fit_session_lengths(target, _never, max_budget)


def test_bad_log_inputs() -> None:
    setup = _setup([[0, 10, 500]], [0], [2])
    with pytest.raises(ValueError, match=r"part must be one of \('heldin', 'heldout'\), got 'x'"):
        S.log_sessions(setup, 100.0, "x")
    with pytest.raises(ValueError, match=r"the session gap must be > 0 seconds, got -1.0"):
        S.log_sessions(setup, -1.0, "heldin")
    with pytest.raises(S.TooFewSessionsError, match=r"the logs have 0 held-in sessions"):
        S.fit_sessions(setup, make_scenario("video"), S.SessionFitConfig(min_sessions=1))


@pytest.mark.parametrize(("parameters", "match"), [
    ({"budget_initial": -3.0}, r"BudgetConfig.initial must be > 0, got -3.0"),
    ({"budget_initial": 500.0}, r"BudgetConfig.max_budget \(120.0\) must be >= initial \(500.0\)"),
    ({"budget_spread": "wide"}, r"parameters\['budget_spread'\] is 'wide'; expected a finite number"),
    ({"budget_spread": -1.0}, r"HeterogeneityConfig.budget_spread must be >= 0"),
])
def test_bad_session_parameters_in_a_calibration_file(tmp_path, parameters, match) -> None:
    import json

    from driftrec.envs.calibration import calibrated_scenario

    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"format": "driftrec-calibration", "scenario": "video",
                                "parameters": parameters, "fitted": list(parameters)}))
    with pytest.raises(ValueError, match=match):
        calibrated_scenario(path)


def test_add_session_fit_names_a_missing_file(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"calibration file '.*nope.json' does not exist"):
        S.add_session_fit(tmp_path / "nope.json", _setup([[0, 10, 500]], [0], [2]))


@pytest.mark.slow
def test_driftrec_calibrate_fits_the_session_budget_into_the_file(tmp_path, movielens_files
                                                                   ) -> None:
    """End to end through the CLI: 40 users whose events are 40 minutes apart (every event its
    own session, so every held-in session holds one item); the file carries the fitted budget
    and a scenario made from it runs with it."""
    import json

    from driftrec.cli.main import main as driftrec

    root = movielens_files.write_100k(tmp_path / "ml", num_users=40, num_items=30)
    rows = [r.split("\t") for r in (root / "u.data").read_text().splitlines()]
    (root / "u.data").write_text("".join(
        f"{u}\t{j}\t{r}\t{880000000 + 2400 * ((int(t) - 880000000) // 1000)}\n"
        for u, j, r, t in rows))
    out = tmp_path / "cal.json"
    assert driftrec(["calibrate", "--dataset", "movielens", "--data-dir", str(root),
                     "--encoder", "hashing", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert {"budget_initial", "budget_spread"} <= set(saved["fitted"])
    fit = saved["meta"]["session_fit"]
    assert fit["policy"] == "popular" and fit["target"]["share_one_item"] == 1.0
    assert saved["defaults"]["budget_initial"] == 60.0  # the video preset's
    scen = make_scenario(str(out))
    assert scen.user_model.budget.initial == saved["parameters"]["budget_initial"] < 60.0
    assert scen.user_model.heterogeneity.budget_spread == saved["parameters"]["budget_spread"]
