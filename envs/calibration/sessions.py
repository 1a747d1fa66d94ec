"""Session length: the budget parameters fitted by matching the length of logged sessions.

Next-choice likelihood (``raw_fit``, ``adapter_fit``) scores *which* item a user picks, never
*how many* they pick before leaving, so it cannot identify the session budget. Session lengths
can: this module cuts logs into sessions and fits the budget by simulation.

Log sessions. A user's events are cut wherever two consecutive events are more than ``gap_s``
seconds apart (30 minutes by default, the usual inactivity threshold of session-based
recommendation). ``part="heldin"`` keeps the sessions that start *and* end inside the user's
held-in part ``[init_end, heldout_start)`` — the split never truncates one — and no held-out
event is read (the held-out tail only decides where held-in ends, the split's own rule): the
session that reaches ``heldout_start`` is dropped, since whether it goes on into the tail is
held-out information. ``part="heldout"`` keeps the sessions that start in the held-out tail (the evaluation
side of ``benchmarks/session_stats.py``). A session's length is its number of consumed items.

What is fitted, and why these two. A simulated session ends when the budget ``b`` reaches 0
(``BudgetConfig``): ``b₀ = min(max_budget, initial·exp(σz − σ²/2))`` with ``σ =
budget_spread``, then every step spends ``step_cost`` and every consumption a net
``c·f·(spend_rate − refill)``. Consumed items per session therefore depend on the ratio of
``initial`` to the per-step drain: ``initial``, ``step_cost`` and ``spend_rate`` move the *scale*
of the length distribution together and one count per session cannot tell them apart, so only
``initial`` is fitted (the drain terms stay the preset's). ``budget_spread`` sets the *shape* —
the spread of lengths across sessions (e.g. the share of one-item sessions at a given median) —
which the scale cannot imitate. The hazard of leaving from dissatisfaction depends on ratings
the sessions do not carry; it stays the preset's.

Search (``fit_session_lengths``): for each spread on a grid, bisection on ``log(initial)`` until
the simulated mean log-length of non-empty sessions equals the logs' (it rises with the budget);
then the spread whose distribution is nearest the logs' by the two-sample KS distance, among the
spreads that reach the logs' mean below ``max_budget`` (a mean-preserving log-normal with a
large spread caps many users' budgets at ``max_budget``: such a spread cannot make sessions
long enough, and is reported as unreachable rather than chosen). Every
candidate runs the same seeded vector env (common random numbers: the same users, persona
draws and uniforms), so the comparison between candidates is not noise. Simulated sessions with
no consumed item are dropped before comparing: a log records no session without an event.

The policy. Simulated sessions need a recommender. The fit uses a stand-in (``popular`` in the
CLI, as ``session_stats``'s default; uniformly random slates in the library, which must not
import agents), so the fitted budget is *conditional on that policy*: a policy that shows
better-liked items earns longer sessions from the same budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import check_int
from .files import OVERRIDE_KEYS, calibrated_scenario, load_calibration

#: The session fit's parameters (their override keys: ``files.OVERRIDE_KEYS``).
SESSION_PARAMETERS = ("budget_initial", "budget_spread")
PARTS = ("heldin", "heldout")


class TooFewSessionsError(ValueError):
    """The logs hold fewer held-in sessions than the fit needs (``min_sessions``)."""


@dataclass(frozen=True)
class SessionFitConfig:
    """``gap_minutes``: the inactivity gap that cuts sessions; ``spreads``: the budget-spread
    grid; ``bisection_steps``: halvings of the ``log(initial)`` bracket
    ``[min_initial, max_budget]``; ``slots``: simulated sessions per candidate (None: the user
    pool's size, at least 500, so that the KS distance is not dominated by sampling noise);
    ``seed``: the common random numbers; ``min_sessions``: fewer log sessions is an error."""

    gap_minutes: float = 30.0
    spreads: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
    bisection_steps: int = 6
    min_initial: float = 0.25
    slots: int | None = None
    seed: int = 0
    min_sessions: int = 20

    def __post_init__(self) -> None:
        o = "SessionFitConfig"
        if not (isinstance(self.gap_minutes, (int, float)) and self.gap_minutes > 0):
            raise ValueError(f"{o}.gap_minutes must be > 0, got {self.gap_minutes!r}")
        if (not isinstance(self.spreads, tuple) or not self.spreads
                or not all(isinstance(s, (int, float)) and math.isfinite(s) and s >= 0
                           for s in self.spreads)):
            raise ValueError(f"{o}.spreads must be a non-empty tuple of finite numbers >= 0, "
                             f"got {self.spreads!r}")
        for name in ("bisection_steps", "min_sessions"):
            check_int(o, name, getattr(self, name))
        if not (isinstance(self.min_initial, (int, float)) and self.min_initial > 0):
            raise ValueError(f"{o}.min_initial must be > 0, got {self.min_initial!r}")
        if self.slots is not None and (isinstance(self.slots, bool)
                                       or not isinstance(self.slots, int) or self.slots < 1):
            raise ValueError(f"{o}.slots must be None or an int >= 1, got {self.slots!r}")
        check_int(o, "seed", self.seed, minimum=0)


# ------------------------------------------------------------------------------ log sessions


def session_bounds(timestamps: np.ndarray, gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the sessions of one user's time-ordered events: cut where consecutive
    events are more than ``gap_s`` seconds apart; session j is ``[starts[j], ends[j])``."""
    if not (isinstance(gap_s, (int, float)) and gap_s > 0):
        raise ValueError(f"the session gap must be > 0 seconds, got {gap_s!r}")
    cuts = np.flatnonzero(np.diff(np.asarray(timestamps)) > gap_s) + 1
    return np.concatenate([[0], cuts]), np.concatenate([cuts, [len(timestamps)]])


def log_sessions(setup: Any, gap_s: float, part: str = "heldout") -> list[np.ndarray]:
    """The cohort's sessions (item index arrays) of one side of the split (module docstring):
    ``"heldin"``: inside ``[init_end, heldout_start)``; ``"heldout"``: starting in the tail."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    inter, split = setup.dataset.interactions, setup.split
    sessions = []
    for u, ie, hs in zip(split.users.tolist(), split.init_end.tolist(),
                         split.heldout_start.tolist()):
        seq = inter.sequence(int(u))
        if part == "heldin":  # never read the held-out tail's timestamps
            items, stamps = seq.items[:hs], seq.timestamps[:hs]
        else:
            items, stamps = seq.items, seq.timestamps
        starts, ends = session_bounds(stamps, gap_s)
        keep = ((starts >= ie) & (ends < hs)) if part == "heldin" else starts >= hs
        sessions.extend(items[a:b] for a, b in zip(starts[keep], ends[keep]))
    return sessions


# ------------------------------------------------------------------------------ simulated sessions


def rollout_sessions(env: Any, agent: Any, seed: int, max_steps: int) -> tuple[
        list[np.ndarray], dict[str, int]]:
    """Each slot's first user's consumed items, from arrival to departure, under ``agent`` (an
    object with ``act(obs, info)`` and ``update(...)``, e.g. a registry agent; None: uniformly
    random slates), and the rollout's counts (steps, slots that left vs were truncated)."""
    b = env.num_envs
    rng = np.random.default_rng([seed, 1])
    nvec = env.single_action_space.nvec
    n_cand, k = int(nvec[0]), len(nvec)
    obs, info = env.reset(seed=seed)
    consumed: list[list[int]] = [[] for _ in range(b)]
    done = np.zeros(b, dtype=bool)
    left = np.zeros(b, dtype=bool)
    steps = 0
    while not done.all() and steps < max_steps:
        action = (np.argsort(rng.random((b, n_cand)), axis=1)[:, :k] if agent is None
                  else agent.act(obs, info))
        next_obs, reward, term, trunc, info = env.step(action)
        if agent is not None:
            agent.update(obs, action, reward, next_obs, term, trunc, info)
        chosen, items = np.asarray(info["chosen"]), np.asarray(info["item"])
        for i in np.flatnonzero(~done & (chosen >= 0)):
            consumed[i].append(int(items[i]))
        left |= ~done & np.asarray(term, dtype=bool)
        done |= np.asarray(term, dtype=bool) | np.asarray(trunc, dtype=bool)
        obs, steps = next_obs, steps + 1
    return ([np.asarray(c, dtype=np.int64) for c in consumed],
            {"slots": b, "steps": steps, "left": int(left.sum()),
             "truncated_or_unfinished": int(b - left.sum())})


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic sup_x |F_a(x) − F_b(x)| (NaN if one is empty)."""
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


# ------------------------------------------------------------------------------ the fit

#: ``simulate({"budget_initial": x, "budget_spread": s})`` → (n,) consumed items per session.
Simulator = Callable[[dict[str, float]], np.ndarray]


def fit_session_lengths(target: np.ndarray, simulate: Simulator, max_budget: float,
                        config: SessionFitConfig | None = None) -> tuple[
                            dict[str, float], dict[str, Any]]:
    """``{"budget_initial", "budget_spread"}`` whose simulated non-empty session lengths match
    ``target`` (the logs' lengths, all >= 1): bisection on ``log(initial)`` per spread to the
    logs' mean log-length, then the spread of least KS distance among those whose bisection
    reached that mean below ``max_budget`` (module docstring). Returns the values and a report
    (the target's summary, every candidate tried, the spreads that could not reach it)."""
    cfg = config or SessionFitConfig()
    target = _check_target(target, cfg)
    if not (math.isfinite(max_budget) and max_budget > cfg.min_initial):
        raise ValueError(f"max_budget must be a finite number > min_initial={cfg.min_initial}, "
                         f"got {max_budget!r}")
    goal = float(np.log(target).mean())
    trials: list[dict[str, float]] = []

    def run(initial: float, spread: float) -> tuple[float, float]:
        lengths = np.asarray(simulate({"budget_initial": initial, "budget_spread": spread}))
        kept = lengths[lengths > 0].astype(np.float64)
        mean_log = float(np.log(kept).mean()) if kept.size else -math.inf
        ks = ks_distance(kept, target) if kept.size else 1.0
        trials.append({"budget_initial": initial, "budget_spread": spread,
                       "mean_log_length": mean_log, "ks": ks, "sessions": int(kept.size)})
        return mean_log, ks

    best: tuple[float, float, float] | None = None  # (ks, initial, spread)
    unreachable = []
    for spread in cfg.spreads:
        lo, top = math.log(cfg.min_initial), math.log(max_budget)
        hi = top
        for _ in range(cfg.bisection_steps):
            mid = 0.5 * (lo + hi)
            mean_log, _ks = run(math.exp(mid), float(spread))
            lo, hi = (mid, hi) if mean_log < goal else (lo, mid)
        initial = math.exp(0.5 * (lo + hi))
        mean_log, ks = run(initial, float(spread))
        if hi == top and mean_log < goal:
            # Even a budget near max_budget (the cap on every user's budget) leaves the sessions
            # too short at this spread: it cannot match the logs' scale, so its KS is no match.
            unreachable.append(float(spread))
        elif best is None or ks < best[0]:
            best = (ks, initial, float(spread))
    if best is None:
        raise ValueError(f"no budget up to max_budget={max_budget} makes sessions as long as the "
                         f"logs' (mean log-length {goal:.3f}) at any spread {cfg.spreads}; "
                         "expected a scenario whose max_budget allows the logs' session length")
    values = {"budget_initial": best[1], "budget_spread": best[2]}
    report = {"target": {"sessions": int(target.size), "mean": float(target.mean()),
                         "median": float(np.median(target)),
                         "share_one_item": float((target == 1).mean()),
                         "mean_log_length": goal},
              "ks": best[0], "unreachable_spreads": unreachable, "trials": trials}
    return values, report


def _check_target(target: Any, cfg: SessionFitConfig) -> np.ndarray:
    arr = np.asarray(target, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"session lengths must be a 1-D array (one count per session), got "
                         f"shape {arr.shape}")
    if arr.size < cfg.min_sessions:
        raise TooFewSessionsError(
            f"the logs have {arr.size} held-in sessions; expected at least min_sessions="
            f"{cfg.min_sessions} to fit the session length (a longer log, or a smaller "
            "gap_minutes)")
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr >= 1) & (arr == np.round(arr))))
    if bad.size:
        raise ValueError(f"session lengths must be whole numbers >= 1 (consumed items), got "
                         f"{float(arr[bad[0]])!r} at position {int(bad[0])}")
    return arr


def fit_sessions(setup: Any, scenario: Any, config: SessionFitConfig | None = None,
                 make_agent: Callable[[Any, int], Any] | None = None) -> tuple[
                     dict[str, float], dict[str, Any]]:
    """The session fit on a data set: the held-in log sessions of ``setup`` (a
    ``RealDataSetup``) against ``scenario`` (a ``ScenarioConfig``, e.g. a calibration file's)
    run on the setup's catalog and user pool, under ``make_agent(env, seed)``'s policy (None:
    uniformly random slates)."""
    from ..presets import apply_overrides
    from ..vector_env import DriftRecVectorEnv

    cfg = config or SessionFitConfig()
    target = _check_target([len(s) for s in log_sessions(setup, 60.0 * cfg.gap_minutes,
                                                         "heldin")], cfg)
    if len(setup.catalog) < scenario.num_candidates:
        scenario = apply_overrides(scenario, num_candidates=len(setup.catalog))
    slots = cfg.slots or max(len(setup.split), 500)

    def simulate(values: dict[str, float]) -> np.ndarray:
        scen = apply_overrides(scenario, **{OVERRIDE_KEYS[k]: v
                                            for k, v in values.items()})
        env = DriftRecVectorEnv(num_envs=slots, scenario=scen, catalog=setup.catalog,
                                user_pool=setup.user_pool)
        agent = None if make_agent is None else make_agent(env, cfg.seed)
        sessions, _ = rollout_sessions(env, agent, cfg.seed, int(scen.max_steps) + 1)
        return np.array([len(s) for s in sessions])

    values, report = fit_session_lengths(target, simulate,
                                         scenario.user_model.budget.max_budget, cfg)
    report["slots"], report["gap_minutes"] = slots, cfg.gap_minutes
    return values, report


def add_session_fit(path: Any, setup: Any, config: SessionFitConfig | None = None,
                    make_agent: Callable[[Any, int], Any] | None = None,
                    policy: str = "random") -> dict[str, float]:
    """Fit the session budget for the calibration file ``path`` (its scenario, adapter included,
    on ``setup``'s catalog and pool) and write the values into it (atomically) as fitted
    parameters, with the preset's values as defaults and the search in ``meta.session_fit``
    (``policy`` names ``make_agent``'s policy there: the fit is conditional on it)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"calibration file {str(path)!r} does not exist (or is not a file); "
                         "expected the file `driftrec calibrate` wrote")
    result = load_calibration(path)
    scenario = calibrated_scenario(path)
    t0, c0 = time.perf_counter(), time.process_time()
    values, report = fit_sessions(setup, scenario, config, make_agent)
    preset = calibrated_scenario(path, **{
        OVERRIDE_KEYS[k]: result.defaults[k] for k in SESSION_PARAMETERS
        if k in result.defaults})  # the preset's values, also when the file holds a past fit
    defaults = {"budget_initial": preset.user_model.budget.initial,
                "budget_spread": preset.user_model.heterogeneity.budget_spread}
    result.parameters.update(values)
    result.defaults.update({k: float(v) for k, v in defaults.items()})
    result.fitted = tuple(k for k in result.fitted if k not in values) + SESSION_PARAMETERS
    result.meta["session_fit"] = {**report, "policy": policy,
                                  "wall_s": round(time.perf_counter() - t0, 1),
                                  "cpu_s": round(time.process_time() - c0, 1)}
    result.save(path)
    return values
