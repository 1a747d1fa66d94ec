"""Calibrate the simulated user to logged sequences by maximum likelihood of their choices.

The likelihood is that of the simulator itself (``engine.py``): for user b at step t, with
interest u, satiation s, shown items S_t (a slate, or every not-yet-consumed item when the log has
no slates) at positions k,

    v_j   = beta_b·<u, e_j> + gamma·appeal_j − lambda·max(0, <s, e_j>) + pos_k      (choice.py)
    P(j)  = exp(v_j/tau) / (exp(v0/tau) [slates only] + sum_{i in S_t} exp(v_i/tau))   (MNL)

then, after the logged consumption j with rating r (``satiation.py``, ``drift.py``):

    s ← decay·s + rate·e_j          u ← normalise(u + eta·(r − neutral)/2 · e_j)

Computing in *score space* keeps this exact and cheap: with the Gram matrix G = E Eᵀ (M, M) the
vectors a = E u and c = E s (M,) follow a ← (a + k·G_j) / sqrt(1 + 2k·a_j + k²·G_jj) and
c ← decay·c + rate·G_j, so a step costs O(M) per user instead of O(M·d) — and the drift and
boredom maps are the engine's own functions (``drift_strength``, ``boredom``,
``position_effect``). ``tests/envs/test_calibration.py`` replays engine rollouts through this
and checks the utilities against the engine's.

Per-user spread: the engine draws ``beta_b = beta·exp(sigma·h − sigma²/2)``, h ~ N(0, 1)
(``users.py``); the likelihood integrates h out per user by Gauss-Hermite quadrature
(``quadrature`` nodes), so ``sigma`` = ``heterogeneity.interest_spread`` is fitted by marginal
likelihood. The other spreads (drift, boredom, no-click) and the exogenous random walk are not
integrated out (they stay at the preset's values; the walk is zero-mean noise).

Identifiability (why some parameters are fixed): the boredom weight lambda and the satiation rate
enter only as their product, so lambda stays at the preset and ``satiation_rate`` absorbs the
scale; beta and tau likewise (tau stays). ``no_click_utility`` is only identified where the log
records shown-but-not-clicked steps (slates, or MIND's impressions: ``log_from_impressions``); a
consumption log (MovieLens, Amazon) fixes it at the preset.

Fitting: full-batch L-BFGS on unconstrained parameters (softplus for weights and rates, sigmoid
for the decay), users streamed in chunks, starting from the preset. Validation on the held-out
tails: next-item hit@10, NDCG@10 and MRR (exact expectations under random tie-breaking,
``ranking.py``) and mean log-likelihood of the true next item among the candidates, for
the calibrated model, the uncalibrated preset and a popularity baseline — conditional on a
consumption, so all three are distributions over the same candidate set.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_write_json
from tqdm.auto import tqdm

from .choice import position_effect
from .config import ScenarioConfig, UserModelConfig
from .drift import drift_strength
from .presets import SCENARIOS, apply_overrides, is_calibration_path
from .ranking import TargetRanks, concat_ranks, ranking_metrics, target_ranks
from .satiation import boredom

#: Fitted parameter → scenario override key (``make_scenario(name, **overrides)``).
OVERRIDE_KEYS = {
    "interest_weight": "choice_interest_weight",
    "appeal_weight": "choice_appeal_weight",
    "drift_rate": "drift_rate",
    "satiation_decay": "satiation_decay",
    "satiation_rate": "satiation_rate",
    "no_click_utility": "choice_no_click_utility",
    "interest_spread": "heterogeneity_interest_spread",
    "drift_neutral_rating": "drift_neutral_rating",  # fitted with the adapter (adapter.py)
}
#: Parameters of the fit in the encoder's own space (``fit``); a file may hold any of OVERRIDE_KEYS.
PARAMETERS = tuple(k for k in OVERRIDE_KEYS if k != "drift_neutral_rating")
_SOFTPLUS = ("interest_weight", "appeal_weight", "drift_rate", "satiation_rate", "interest_spread")

PAD, WARMUP, TRAIN, GAP, EVAL = -1, 0, 1, 2, 3
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CalibrationConfig:
    """Settings of a calibration run.

    ``max_train_steps``: held-in steps per user in the likelihood (the first ones after init; the
    rest are replayed without being scored) — bounds the memory of back-propagation through
    time. ``warmup``: last init items replayed through satiation before scoring starts, so the
    first scored step does not see a bored-of-nothing user. ``implicit_rating``: the rating used
    for drift when the log has none (MIND clicks). ``use_impressions``: where the data set
    records what was shown (MIND), score the held-in/held-out steps against the shown lists,
    with the no-click option (so ``no_click_utility`` is fitted); ``max_slate``: longer shown
    lists keep their clicked items and the first others up to this width.
    """

    max_train_steps: int = 48
    warmup: int = 10
    quadrature: int = 9
    fit_spread: bool = True
    max_iter: int = 25
    batch_users: int = 64
    implicit_rating: float = 4.0
    hit_k: int = 10
    max_gram_items: int = 12000
    max_slate: int = 100
    use_impressions: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("max_train_steps", "quadrature", "max_iter", "batch_users", "hit_k",
                     "max_gram_items", "max_slate"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"CalibrationConfig.{name} must be an int >= 1, got {v!r}")
        if self.warmup < 0:
            raise ValueError(f"CalibrationConfig.warmup must be >= 0, got {self.warmup!r}")
        if not 1.0 <= self.implicit_rating <= 5.0:
            raise ValueError("CalibrationConfig.implicit_rating must be in [1, 5]")


@dataclass
class ChoiceLog:
    """Padded per-user steps (B users, T steps) — the likelihood's input, from any source.

    ``items[b, t]``: the consumed item, or −1 for a shown slate with no click (slates only);
    ``phase``: PAD, WARMUP (satiation only, not scored), TRAIN (scored for the fit), GAP (state
    update only), EVAL (scored for validation); ``slates``: (B, T, K) item ids in position order,
    or None when the candidates are the whole catalog minus ``unavailable`` (B, M) items (already
    consumed before the first step; updated as the replay consumes).
    """

    interests: np.ndarray  # (B, d) initial interest u0, unit rows
    items: np.ndarray  # (B, T) int64
    ratings: np.ndarray  # (B, T) float32 (NaN = none)
    phase: np.ndarray  # (B, T) int8
    slates: np.ndarray | None = None  # (B, T, K) int64
    unavailable: np.ndarray | None = None  # (B, M) bool, catalog mode with exclusion
    user_ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def take(self, rows: np.ndarray, last: int | None = None) -> ChoiceLog:
        """Users ``rows``, steps [0, last)."""
        t = slice(None, last)
        return ChoiceLog(
            interests=self.interests[rows],
            items=self.items[rows, t],
            ratings=self.ratings[rows, t],
            phase=self.phase[rows, t],
            slates=None if self.slates is None else self.slates[rows, t],
            unavailable=None if self.unavailable is None else self.unavailable[rows],
            user_ids=tuple(self.user_ids[i] for i in rows) if self.user_ids else (),
        )

    def count(self, phase: int) -> int:
        return int((self.phase == phase).sum())


@dataclass
class CalibrationResult:
    """Fitted parameters, the preset they start from, and the held-out report."""

    scenario: str
    parameters: dict[str, float]
    defaults: dict[str, float]
    fitted: tuple[str, ...]
    report: dict[str, dict[str, float]]  # {"calibrated"|"defaults"|"popularity": metrics}
    train_loglik: dict[str, float]  # mean held-in log-likelihood per event, defaults vs calibrated
    meta: dict[str, Any] = field(default_factory=dict)

    def overrides(self) -> dict[str, float]:
        """Scenario overrides (``make_scenario(result.scenario, **result.overrides())``)."""
        return {OVERRIDE_KEYS[k]: float(v) for k, v in self.parameters.items() if k in self.fitted}

    def scenario_config(self, base: str | ScenarioConfig | None = None) -> ScenarioConfig:
        """The calibrated scenario: ``base`` (default: the preset it was fitted on) + overrides."""
        base = self.scenario if base is None else base
        if isinstance(base, ScenarioConfig):
            return apply_overrides(base, **self.overrides())
        return resolve_scenario(base, **self.overrides())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "driftrec-calibration",
            "version": FORMAT_VERSION,
            "scenario": self.scenario,
            "parameters": self.parameters,
            "defaults": self.defaults,
            "fitted": list(self.fitted),
            "overrides": self.overrides(),
            "report": self.report,
            "train_loglik": self.train_loglik,
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_json())


def load_calibration(path: str | Path) -> CalibrationResult:
    """Read a parameter file written by ``calibrate(..., out=path)``.

    Every field is checked here, so a damaged or hand-edited file fails with an error naming
    the file, the field and what was expected — not a ``KeyError`` or a float conversion error.
    """
    path = Path(path)
    data = _read_calibration_json(path)
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: calibration file version {version!r}; this driftrec reads "
                         f"version {FORMAT_VERSION}")
    missing = [key for key in ("scenario", "parameters", "fitted") if key not in data]
    if missing:
        raise ValueError(f"{path}: calibration file lacks {missing}; expected the keys "
                         "'scenario', 'parameters' and 'fitted' that `driftrec calibrate` writes")
    scenario = data["scenario"]
    if not isinstance(scenario, str) or not scenario.strip():
        raise ValueError(f"{path}: 'scenario' is {scenario!r}; expected a preset name or the "
                         "path of another calibration file")
    parameters = _parameter_values(path, "parameters", data["parameters"])
    fitted = data["fitted"]
    if not isinstance(fitted, list) or not all(isinstance(k, str) for k in fitted):
        raise ValueError(f"{path}: 'fitted' is {fitted!r}; expected a list of parameter names")
    stray = [k for k in fitted if k not in parameters]
    if stray or len(set(fitted)) != len(fitted):
        raise ValueError(f"{path}: 'fitted' {fitted} names {stray or 'a parameter twice'}; "
                         f"expected distinct names among 'parameters' {list(parameters)}")
    extras = {key: data.get(key, {}) for key in ("report", "train_loglik", "meta")}
    for key, value in extras.items():
        if not isinstance(value, dict):  # a file's content, not an argument: ValueError
            raise ValueError(  # noqa: TRY004
                f"{path}: {key!r} is {type(value).__name__}; expected an object")
    adapter = extras["meta"].get("adapter")
    if adapter is not None:
        check_adapter_reference(path, adapter)
    return CalibrationResult(
        scenario=scenario,
        parameters=parameters,
        defaults=_parameter_values(path, "defaults", data.get("defaults", {})),
        fitted=tuple(fitted),
        **extras,
    )


def check_adapter_reference(path: Path, reference: Any) -> np.ndarray:
    """W of the adapter a calibration file names (``meta.adapter``), checked: the file beside
    it exists, its SHA-256, shape and encoder match — or an error naming both files."""
    from .adapter import load_adapter

    keys = ("file", "sha256", "dim", "input_dim", "encoder")
    if not isinstance(reference, dict) or any(k not in reference for k in keys):
        raise ValueError(f"{path}: meta.adapter is {reference!r}; expected an object with "
                         f"{list(keys)} as `driftrec calibrate` writes it")
    name = reference["file"]
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"{path}: meta.adapter.file {name!r} is not a file name; expected the "
                         "name of the .npz beside the calibration file")
    try:
        return load_adapter(path.parent / name, reference)
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _read_calibration_json(path: Path) -> dict[str, Any]:
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected "
                         "a JSON calibration file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON calibration file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != "driftrec-calibration":
        raise ValueError(f"{path}: not a driftrec calibration file (expected "
                         f"\"format\": \"driftrec-calibration\")")
    return data


def _parameter_values(path: Path, key: str, values: Any) -> dict[str, float]:
    """``{name: finite number}`` over known parameter names, or an error naming the entry."""
    if not isinstance(values, dict):  # a file's content, not an argument: ValueError
        raise ValueError(  # noqa: TRY004
            f"{path}: {key!r} is {values!r}; expected an object {{parameter: number}} over "
            f"{list(OVERRIDE_KEYS)}")
    unknown = sorted(set(values) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown {key} {unknown}; expected {list(OVERRIDE_KEYS)}")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{path}: {key}[{name!r}] is {value!r}; expected a finite number")
    return {name: float(value) for name, value in values.items()}


def calibrated_scenario(path: str | Path, base: str | ScenarioConfig | None = None,
                        **overrides: Any) -> ScenarioConfig:
    """A scenario preset with a calibration file applied (then ``overrides`` on top).

    A file's ``scenario`` may be another calibration file; the chain is followed to its preset
    and each file's parameters applied from the innermost out. A chain that comes back to a
    file (one that names itself, or A → B → A) is an error naming the files. A file that
    carries an item adapter sets the scenario's ``adapter`` to its path: the engine then runs
    in the adapted space (``builder.build_engine``).
    """
    path = Path(path)
    chain = [(path, load_calibration(path))] if base is not None else _calibration_chain(path)
    adapter = _chain_adapter(chain)
    if base is not None:
        config = _with_file(path, chain[0][1].scenario_config, base)
    else:
        config = _with_file(chain[-1][0], resolve_scenario, chain[-1][1].scenario)
        for file, result in reversed(chain):
            config = _with_file(file, apply_overrides, config, **result.overrides())
    if adapter:
        config = apply_overrides(config, adapter=adapter)
    return apply_overrides(config, **overrides) if overrides else config


def _chain_adapter(chain: list[tuple[Path, CalibrationResult]]) -> str:
    """The calibration file (absolute path) whose item adapter the scenario runs through, or "".

    Parameters fitted with an adapter live in the adapted space, so the engine must map its
    catalog through it (``builder.build_engine``). Two adapters in one chain would be two
    different spaces: an error naming both files."""
    carriers = [file for file, result in chain if "adapter" in result.meta]
    if len(carriers) > 1:
        raise ValueError(f"calibration files {carriers[0]} and {carriers[1]} both carry an item "
                         "adapter; expected at most one adapter in a chain of calibration files "
                         "(each maps the text space to its own interest space)")
    return str(carriers[0].resolve()) if carriers else ""


def scenario_adapter(path: str | Path
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """W (k, d), the per-item residuals ({item id: δ}, empty if none) and the reference
    (``meta.adapter``: file, sha256, dim, input_dim, encoder) of the calibration file ``path``,
    checked again (hash, shape, encoder) when an engine is built: the adapter file may have
    changed since the scenario was resolved."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scenario adapter {str(path)!r} is not a file; expected the path of a "
                         "calibration file that carries an item adapter")
    reference = load_calibration(path).meta.get("adapter")
    if reference is None:
        raise ValueError(f"scenario adapter {path} carries no item adapter (meta.adapter); "
                         "expected a calibration file written by `driftrec calibrate "
                         "--adapter-dim K`")
    from .adapter import load_residual

    weight = check_adapter_reference(path, reference)
    try:
        residual = load_residual(path.parent / reference["file"], weight)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return weight, residual, reference


def resolve_scenario(name: str | Path, **overrides: Any) -> ScenarioConfig:
    """``scenarios.make_scenario``'s work: a preset or a calibration file by name, with
    ``overrides``. It lives here, beside the calibration files it resolves, so that neither
    module imports the other in a circle (presets ← calibration ← scenarios)."""
    if not isinstance(name, (str, Path)):
        raise TypeError(f"scenario name must be a str (one of {sorted(SCENARIOS)} or the path of "
                        f"a calibration file), got {name!r} ({type(name).__name__})")
    name = str(name)
    if name not in SCENARIOS:
        if is_calibration_path(name):
            return calibrated_scenario(name, **overrides)
        if name.endswith(".json"):
            raise ValueError(f"calibration file {name!r} does not exist (or is not a file); "
                             f"expected the path of a file written by `driftrec calibrate`, or "
                             f"one of the presets {sorted(SCENARIOS)}")
        raise ValueError(f"unknown scenario {name!r}; expected one of {sorted(SCENARIOS)} or the "
                         "path of a calibration file (.json)")
    return apply_overrides(SCENARIOS[name], **overrides)


def _calibration_chain(path: Path) -> list[tuple[Path, CalibrationResult]]:
    """The files from ``path`` to the one whose ``scenario`` is not a calibration file."""
    chain: list[tuple[Path, CalibrationResult]] = []
    seen: dict[Path, int] = {}
    current = path
    while True:
        key = current.resolve()
        if key in seen:
            names = " -> ".join([str(p) for p, _ in chain] + [str(current)])
            problem = ("names itself as its scenario" if len(chain) == 1
                       else f"is part of a cycle of calibration files ({names})")
            raise ValueError(f"calibration file {chain[seen[key]][0]} {problem}; expected the "
                             f"'scenario' chain to end at a preset {sorted(SCENARIOS)}")
        seen[key] = len(chain)
        result = load_calibration(current)
        chain.append((current, result))
        if not is_calibration_path(result.scenario):
            return chain
        current = Path(result.scenario)


def _with_file(path: Path, build: Any, *args: Any, **kwargs: Any) -> ScenarioConfig:
    """``build(*args, **kwargs)``; a config error (unknown preset, value out of range) names
    the calibration file it came from."""
    try:
        return build(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def model_parameters(model: UserModelConfig) -> dict[str, float]:
    """The calibrated parameters' current values in a user model (the starting point)."""
    return {
        "interest_weight": model.choice.interest_weight,
        "appeal_weight": model.choice.appeal_weight,
        "drift_rate": model.drift.rate,
        "satiation_decay": model.satiation.decay,
        "satiation_rate": model.satiation.rate,
        "no_click_utility": model.choice.no_click_utility,
        "interest_spread": (model.heterogeneity.interest_spread
                            if model.heterogeneity.enabled else 0.0),
    }


# ------------------------------------------------------------------------------ likelihood


class _Params(torch.nn.Module):
    """Unconstrained raw parameters for the fitted ones; the rest are constants."""

    def __init__(self, start: dict[str, float], fitted: tuple[str, ...]) -> None:
        super().__init__()
        self.fitted = fitted
        self.const = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in start.items()}
        self.raw = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(_to_raw(k, float(start[k]))) for k in fitted}
        )

    def values(self) -> dict[str, torch.Tensor]:
        out = dict(self.const)
        for k, raw in self.raw.items():
            out[k] = _from_raw(k, raw)
        return out

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.values().items()}


def _to_raw(name: str, value: float) -> torch.Tensor:
    if name in _SOFTPLUS:
        y = max(value, 1e-4)
        return torch.tensor(y + math.log(-math.expm1(-y)), dtype=torch.float64)  # softplus⁻¹
    if name == "satiation_decay":
        y = min(max(value, 1e-4), 1 - 1e-4)
        return torch.tensor(math.log(y / (1 - y)), dtype=torch.float64)
    return torch.tensor(value, dtype=torch.float64)


@dataclass
class _World:
    """What the likelihood needs of the catalog and the preset (tensors, float32 unless noted)."""

    embeddings: torch.Tensor  # (M, d) unit rows
    gram: torch.Tensor  # (M, M) E Eᵀ
    appeal: torch.Tensor  # (M,)
    log_popularity: torch.Tensor  # (M,)
    model: UserModelConfig
    positions: torch.Tensor | None  # (K,) position effect, slate mode


def _nodes(q: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Hermite nodes/weights for E[f(h)], h ~ N(0, 1): h = √2·x, w/√π."""
    x, w = np.polynomial.hermite.hermgauss(q)
    return (torch.tensor(x * math.sqrt(2.0), dtype=torch.float64),
            torch.tensor(w / math.sqrt(math.pi), dtype=torch.float64))


def _replay(
    p: dict[str, torch.Tensor] | None,
    log: ChoiceLog,
    world: _World,
    cfg: CalibrationConfig,
    *,
    evaluate: bool,
) -> dict[str, torch.Tensor]:
    """Run the user model along ``log``. ``p`` None = popularity baseline (no user state).

    Returns ``train`` (Q, B) summed held-in log-likelihood per quadrature node (differentiable
    when ``p`` requires grad) and, when ``evaluate``, per-event held-out ``ranks`` and ``loglik``
    (flattened over EVAL events), the mixture over nodes weighted by each user's posterior from
    their held-in steps.
    """
    b, t_len = log.items.shape
    gram = world.gram
    m = gram.shape[0]
    items = torch.from_numpy(log.items)
    phase = torch.from_numpy(log.phase.astype(np.int64))
    ratings = torch.from_numpy(np.nan_to_num(log.ratings, nan=cfg.implicit_rating))
    slates = None if log.slates is None else torch.from_numpy(log.slates)
    tau = world.model.choice.temperature
    lam = world.model.satiation.boredom_weight
    e0 = torch.from_numpy(log.interests).float()
    if p is not None:
        a = e0 @ world.embeddings.T  # (B, M) interest scores E u0
        c = torch.zeros(b, m)  # satiation scores E s0, s0 = 0
        sigma = p["interest_spread"]
        x, w = _nodes(cfg.quadrature if float(sigma.detach()) > 0 else 1)
        beta_q = (p["interest_weight"] * torch.exp(sigma * x - 0.5 * sigma**2)).float()  # (Q,)
        gamma = p["appeal_weight"].float()
        decay = p["satiation_decay"].float()
        rate = p["satiation_rate"].float()
        eta = p["drift_rate"].float()
        v0 = p["no_click_utility"].float()
    else:
        x, w = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    q = x.shape[0]
    logw = torch.log(w).float()
    available = None
    if log.slates is None and log.unavailable is not None:
        available = ~torch.from_numpy(log.unavailable).clone()
    train = torch.zeros(q, b)
    ranks: list[TargetRanks] = []
    lls: list[torch.Tensor] = []
    arange_b = torch.arange(b)
    for t in range(t_len):
        ph = phase[:, t]
        if bool((ph == PAD).all()):
            break
        j = items[:, t]
        consumed = (j >= 0) & (ph != PAD)
        jj = j.clamp_min(0)
        scored = (ph == TRAIN) | (evaluate & (ph == EVAL))
        if bool(scored.any()):
            if slates is None:
                # Catalog mode: only two (Q, B, M) passes (addcmul, logsumexp); tau and the mask
                # are folded into the (B, M) base, the chosen item's utility is gathered in (B,).
                if p is None:
                    base = world.log_popularity.expand(b, m)
                    scale = torch.zeros(1)
                else:
                    base = (gamma * world.appeal - lam * boredom(c)) / tau
                    scale = beta_q / tau
                if available is not None:
                    base = base.masked_fill(~available, -torch.inf)
                util = torch.addcmul(base.unsqueeze(0), scale.view(-1, 1, 1), a.unsqueeze(0)
                                     if p is not None else torch.zeros(1, 1, 1))
                lse = torch.logsumexp(util, dim=2)  # (Q, B)
                a_chosen = a[arange_b, jj] if p is not None else torch.zeros(b)
                logp = scale.view(-1, 1) * a_chosen + base[arange_b, jj] - lse
                if evaluate:
                    logp_all = (util - lse.unsqueeze(2)).detach()
            else:
                if p is None:
                    util = world.log_popularity.expand(1, b, m)
                else:
                    base = gamma * world.appeal - lam * boredom(c)  # (B, M)
                    util = beta_q.view(q, 1, 1) * a.unsqueeze(0) + base.unsqueeze(0)  # (Q, B, M)
                sl = slates[:, t]  # (B, K); −1 pads shown lists shorter than K
                pad = sl < 0
                v = util.gather(2, sl.clamp_min(0).unsqueeze(0).expand(q, -1, -1))
                v = (v + world.positions).masked_fill(pad.unsqueeze(0), -torch.inf)
                if p is not None:
                    v = torch.cat([v, v0.expand(q, b, 1)], dim=2) / tau
                else:
                    v = torch.cat([v, torch.zeros(q, b, 1)], dim=2)  # popularity: v0 = 0
                logp_all = torch.log_softmax(v, dim=2)
                pos = (sl == j.unsqueeze(1)).to(torch.int64).argmax(dim=1)
                target = torch.where(j >= 0, pos, torch.full_like(pos, sl.shape[1]))
                logp = logp_all[:, arange_b, target]
            is_train = ph == TRAIN
            train = train + torch.where(is_train.unsqueeze(0), logp, 0.0)
            if evaluate and bool((ph == EVAL).any()):
                with torch.no_grad():
                    post = torch.log_softmax(logw.unsqueeze(1) + train.detach(), dim=0)  # (Q, B)
                    mix = torch.logsumexp(post.unsqueeze(2) + logp_all.detach(), dim=0)  # (B, ·)
                    ev = (ph == EVAL) & (j >= 0)
                    target_col = jj if slates is None else target
                    ranks.append(target_ranks(mix[ev], target_col[ev]))
                    lls.append(mix[arange_b, target_col][ev])
        if p is not None:
            upd = ph != PAD
            g_j = gram[jj]  # (B, M)
            cons = (consumed & upd).float()
            c = torch.where(upd.unsqueeze(1), decay * c + (rate * cons).unsqueeze(1) * g_j, c)
            moving = consumed & ((ph == TRAIN) | (ph == GAP) | (ph == EVAL))
            k = drift_strength(ratings[:, t], moving, eta.expand(b), world.model.drift)
            a_j = a[arange_b, jj]
            norm = torch.sqrt((1.0 + 2.0 * k * a_j + k * k * g_j[arange_b, jj]).clamp_min(1e-12))
            a = torch.where(moving.unsqueeze(1), (a + k.unsqueeze(1) * g_j) / norm.unsqueeze(1), a)
        if available is not None:
            available[arange_b[consumed], jj[consumed]] = False
    out = {"train": train, "logw": logw}
    if evaluate:
        out["ranks"] = concat_ranks(ranks)
        out["loglik"] = torch.cat(lls) if lls else torch.zeros(0)
    return out


def _marginal(train: torch.Tensor, logw: torch.Tensor) -> torch.Tensor:
    """(B,) log ∫ prod_t p_t(h) dN(h): log-sum-exp over quadrature nodes."""
    return torch.logsumexp(logw.unsqueeze(1) + train, dim=0)


def _chunks(log: ChoiceLog, size: int) -> list[np.ndarray]:
    """User chunks sorted by length (less padding), deterministic."""
    lengths = (log.phase != PAD).sum(axis=1)
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + size] for i in range(0, len(order), size)]


def _last_step(log: ChoiceLog, rows: np.ndarray, phases: tuple[int, ...]) -> int:
    mask = np.isin(log.phase[rows], phases)
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(cols[-1]) + 1 if cols.size else 0


def fit(
    log: ChoiceLog,
    world: _World,
    start: dict[str, float],
    fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> tuple[dict[str, float], dict[str, float]]:
    """Maximise the held-in marginal log-likelihood; returns (parameters, loglik per event)."""
    params = _Params(start, fitted)
    n_events = max(log.count(TRAIN), 1)
    chunks = _chunks(log, cfg.batch_users)
    lasts = [_last_step(log, rows, (TRAIN,)) for rows in chunks]
    parts = [log.take(rows, last) for rows, last in zip(chunks, lasts) if last > 0]

    def objective(with_grad: bool) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64)
        for part in parts:
            vals = params.values()
            with torch.set_grad_enabled(with_grad):
                out = _replay(vals, part, world, cfg, evaluate=False)
                loss = -_marginal(out["train"], out["logw"]).sum().double() / n_events
                if with_grad:
                    loss.backward()
            total = total + loss.detach()
        return total

    with torch.no_grad():
        start_ll = -float(objective(False))
    optimizer = torch.optim.LBFGS(
        list(params.parameters()), lr=1.0, max_iter=cfg.max_iter, max_eval=cfg.max_iter * 5 // 4,
        history_size=10,
        line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-8,
    )
    bar = tqdm(total=cfg.max_iter * 5 // 4, desc="calibrate", unit="eval", disable=not cfg.progress,
               leave=False)
    state = {"loss": float("nan")}

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective(True)
        state["loss"] = float(loss)
        bar.set_postfix(loglik=f"{-float(loss):.4f}")
        bar.update(1)
        return loss

    if fitted:
        optimizer.step(closure)
    bar.close()
    with torch.no_grad():
        end_ll = -float(objective(False))
    return params.as_floats(), {"defaults": start_ll, "calibrated": end_ll}


def evaluate(
    log: ChoiceLog,
    world: _World,
    parameters: dict[str, float] | None,
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Held-out next-item hit@k, NDCG@k, MRR (ties broken at random, in expectation: see
    ``ranking.py``) and mean log-likelihood (``parameters`` None = popularity)."""
    vals = None
    if parameters is not None:
        vals = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in parameters.items()}
    ranks, lls = [], []
    with torch.no_grad():
        for rows in _chunks(log, cfg.batch_users):
            last = _last_step(log, rows, (EVAL,))
            if last == 0:
                continue
            out = _replay(vals, log.take(rows, last), world, cfg, evaluate=True)
            ranks.append(out["ranks"])
            lls.append(out["loglik"])
    ll = torch.cat(lls).double() if lls else torch.zeros(0)
    return {
        **ranking_metrics(concat_ranks(ranks), cfg.hit_k),
        "loglik": float(ll.mean()) if ll.numel() else float("nan"),
        "events": int(ll.numel()),
    }


# ------------------------------------------------------------------------------ data sets


def make_world(
    embeddings: np.ndarray,
    appeal: np.ndarray,
    popularity: np.ndarray,
    model: UserModelConfig,
    slate_size: int | None = None,
    max_items: int = 12000,
) -> _World:
    """Tensors for the likelihood from catalog arrays (the Gram matrix is (M, M) float32)."""
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    m = emb.shape[0]
    if m > max_items:
        raise ValueError(
            f"calibration keeps the (M, M) item Gram matrix in memory; M={m} items exceeds "
            f"max_gram_items={max_items} — subsample with max_items (--max-items)"
        )
    pop = torch.as_tensor(np.asarray(popularity, dtype=np.float64))
    return _World(
        embeddings=emb,
        gram=emb @ emb.T,
        appeal=torch.tensor(np.asarray(appeal, dtype=np.float32)),
        log_popularity=torch.log(pop / pop.sum()).float(),
        model=model,
        positions=None if slate_size is None else position_effect(slate_size, model.choice),
    )


def log_from_setup(setup: Any, cfg: CalibrationConfig) -> ChoiceLog:
    """The ``ChoiceLog`` of a ``RealDataSetup``: warm-up = last init items, TRAIN = the first
    ``max_train_steps`` held-in steps, GAP = the rest of held-in, EVAL = the held-out tail.
    Candidates: the whole catalog; items already consumed are excluded when no user ever
    consumes an item twice (each MovieLens movie is rated once), else none are."""
    inter = setup.dataset.interactions
    split = setup.split
    m = len(setup.catalog)
    n_u = len(split)
    starts = np.maximum(split.init_end - cfg.warmup, 0)
    length = split.lengths - starts
    t_len = int(length.max())
    items = np.full((n_u, t_len), 0, dtype=np.int64)
    ratings = np.full((n_u, t_len), np.nan, dtype=np.float32)
    phase = np.full((n_u, t_len), PAD, dtype=np.int8)
    repeats = False
    unavailable = np.zeros((n_u, m), dtype=bool)
    for i, u in enumerate(split.users):
        seq = inter.sequence(int(u))
        s0, ie, hs = int(starts[i]), int(split.init_end[i]), int(split.heldout_start[i])
        n = int(split.lengths[i]) - s0
        items[i, :n] = seq.items[s0:]
        ratings[i, :n] = seq.ratings[s0:]
        ph = np.full(n, GAP, dtype=np.int8)
        ph[: ie - s0] = WARMUP
        ph[ie - s0 : min(hs, ie + cfg.max_train_steps) - s0] = TRAIN
        ph[hs - s0 :] = EVAL
        phase[i, :n] = ph
        unavailable[i, seq.items[:s0]] = True
        repeats = repeats or np.unique(seq.items).shape[0] < seq.items.shape[0]
    return ChoiceLog(
        interests=np.asarray(setup.user_pool.interests, dtype=np.float32),
        items=items, ratings=ratings, phase=phase, slates=None,
        unavailable=None if repeats else unavailable,
        user_ids=tuple(inter.user_ids[int(u)] for u in split.users),
    )


def log_from_impressions(setup: Any, cfg: CalibrationConfig) -> ChoiceLog:
    """Slate-mode ``ChoiceLog`` of a data set that records its shown lists (MIND impressions).

    Per cohort user: WARMUP = the last ``warmup`` consumptions logged before the user's first
    held-in interaction (its time ``t_in``); then one step per impression at or after ``t_in``,
    in time order — one per click (the shown list is the slate, the clicked item the choice) or,
    with no click, one no-click step. Impressions before the user's first held-out interaction
    (time ``t_out``) are TRAIN (the first ``max_train_steps``, the rest GAP), later ones EVAL.
    Shown lists are padded with −1 to the widest one (at most ``max_slate``; a longer list keeps
    its clicked items and the first others).
    """
    inter, imp = setup.dataset.interactions, setup.dataset.impressions
    split = setup.split
    order = np.lexsort((np.arange(len(imp)), imp.timestamps, imp.users))
    first = np.searchsorted(imp.users[order], np.arange(len(inter.user_ids) + 1))
    users: list[tuple[list[int], list[np.ndarray], list[int]]] = []
    for i, u in enumerate(split.users):
        seq = inter.sequence(int(u))
        t_in = int(seq.timestamps[split.init_end[i]])
        t_out = int(seq.timestamps[split.heldout_start[i]])
        early = seq.items[: split.init_end[i]][seq.timestamps[: split.init_end[i]] < t_in]
        early = early[max(len(early) - cfg.warmup, 0):]
        items = [int(j) for j in early]
        phases = [WARMUP] * len(items)
        slates: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(items)
        n_train = 0
        for r in order[first[u] : first[u + 1]]:
            ts = int(imp.timestamps[r])
            if ts < t_in:
                continue
            shown = imp.items[imp.offsets[r] : imp.offsets[r + 1]]
            clicked = imp.clicks[imp.offsets[r] : imp.offsets[r + 1]] > 0
            if len(shown) > cfg.max_slate:
                keep = np.flatnonzero(clicked)
                rest = np.flatnonzero(~clicked)[: max(cfg.max_slate - len(keep), 0)]
                idx = np.sort(np.concatenate([keep, rest]))[: cfg.max_slate]
                shown, clicked = shown[idx], clicked[idx]
            choices = [int(j) for j in shown[clicked]] or [-1]
            for j in choices:
                if ts >= t_out:
                    ph = EVAL
                elif n_train < cfg.max_train_steps:
                    ph, n_train = TRAIN, n_train + 1
                else:
                    ph = GAP
                items.append(j)
                phases.append(ph)
                slates.append(shown.astype(np.int64))
        users.append((items, slates, phases))
    n_u = len(users)
    t_len = max(len(it) for it, _, _ in users)
    width = max([len(sl) for _, sls, _ in users for sl in sls] + [1])
    items = np.full((n_u, t_len), 0, dtype=np.int64)
    phase = np.full((n_u, t_len), PAD, dtype=np.int8)
    slates = np.full((n_u, t_len, width), -1, dtype=np.int64)
    for i, (its, sls, phs) in enumerate(users):
        items[i, : len(its)] = its
        phase[i, : len(phs)] = phs
        for t, sl in enumerate(sls):
            slates[i, t, : len(sl)] = sl
    return ChoiceLog(
        interests=np.asarray(setup.user_pool.interests, dtype=np.float32),
        items=items, ratings=np.full((n_u, t_len), np.nan, dtype=np.float32), phase=phase,
        slates=slates, user_ids=tuple(inter.user_ids[int(u)] for u in split.users),
    )


def calibrate(
    dataset: Any,
    encoder: Any = "minilm",
    *,
    scenario: str | ScenarioConfig | None = None,
    config: CalibrationConfig | None = None,
    cohort: Any = None,
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
    adapter: Any = None,
    checkpoint: str | Path | None = None,
) -> CalibrationResult:
    """Fit the user model to ``dataset`` (a ``Dataset`` or a ``RealDataSetup``), report held-out
    fit, and write the parameter file to ``out`` (atomically) if given.

    Args:
        dataset: from ``load_dataset``; or a ``RealDataSetup`` from ``build_setup`` to reuse
            its catalog.
        encoder: ``TextEncoder`` or spec (ignored for a ``RealDataSetup``).
        scenario: the preset to start from and to apply the result to (default: the data set's
            domain: ``video`` for MovieLens, ``shopping`` for Amazon, ``news`` for MIND).
        config: ``CalibrationConfig``; cohort: ``CohortConfig`` for the split.
        adapter: an ``AdapterConfig`` to fit the behaviour-tuned item space with the user model
            (``adapter.py``) instead of the fit in the encoder's space; with ``out``, W is
            written to ``<out stem>.adapter.npz`` beside it and referenced by its SHA-256.
            ``checkpoint``: the adapter fit's resumable checkpoint file.
    """
    from .datasets import RealDataSetup, build_setup

    cfg = config or CalibrationConfig()
    t0 = time.perf_counter()
    setup = dataset if isinstance(dataset, RealDataSetup) else build_setup(
        dataset, encoder, config=cohort, cache_dir=cache_dir)
    base = scenario if scenario is not None else setup.dataset.domain
    scen = base if isinstance(base, ScenarioConfig) else resolve_scenario(base)
    model = scen.user_model
    imp = setup.dataset.impressions
    shown = cfg.use_impressions and imp is not None and len(imp) > 0
    log = log_from_impressions(setup, cfg) if shown else log_from_setup(setup, cfg)
    cat = setup.catalog
    world = make_world(cat.embeddings, cat.appeal, cat.popularity, model,
                       max_items=cfg.max_gram_items)
    if shown:  # shown lists are not ranked slates: no position effect
        world.positions = torch.zeros(log.slates.shape[2])
    if adapter is not None:
        if shown:
            raise ValueError("the item adapter is fitted on consumption logs (catalog mode); "
                             "this data set records shown lists: pass use_impressions=False")
        result = _calibrate_adapter(setup, scen, log, world, cfg, adapter, out, checkpoint)
        result.meta["wall_s"] = round(time.perf_counter() - t0, 2)
        if out is not None:
            result.save(out)
        return result
    start = model_parameters(model)
    # A consumption log never shows a declined slate: no-click utility is identified only from
    # shown lists.
    fitted = tuple(k for k in PARAMETERS if (shown or k != "no_click_utility")
                   and (cfg.fit_spread or k != "interest_spread"))
    if not cfg.fit_spread:
        start["interest_spread"] = 0.0
    params, train_ll = fit(log, world, start, fitted, cfg)
    defaults = model_parameters(model)
    report = {
        "calibrated": evaluate(log, world, params, cfg),
        "defaults": evaluate(log, world, defaults, cfg),
        "popularity": evaluate(log, world, None, cfg),
    }
    result = CalibrationResult(
        scenario=scen.name,
        parameters=params,
        defaults=defaults,
        fitted=fitted,
        report=report,
        train_loglik=train_ll,
        meta={
            "dataset": setup.dataset.summary(),
            "cohort_users": len(setup.split),
            "train_events": log.count(TRAIN),
            "eval_events": log.count(EVAL),
            "candidates": "shown lists (impressions) + no click" if shown else
                          "catalog" + (" minus consumed" if log.unavailable is not None else ""),
            "encoder": cat.encoder_name,
            "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
            "cohort": {k: getattr(setup.config, k) for k in setup.config.__dataclass_fields__},
            "wall_s": round(time.perf_counter() - t0, 2),
        },
    )
    if out is not None:
        result.save(out)
    return result


def _calibrate_adapter(setup: Any, scen: ScenarioConfig, log: ChoiceLog, world: _World,
                       cfg: CalibrationConfig, acfg: Any, out: str | Path | None,
                       checkpoint: str | Path | None) -> CalibrationResult:
    """``calibrate`` with the behaviour-tuned item space: fit, report, write the adapter."""
    from .adapter import (
        ADAPTER_PARAMETERS,
        evaluate_adapter,
        fit_adapter,
        save_adapter,
        sequence_log,
    )

    cat, model = setup.catalog, scen.user_model
    seq = sequence_log(setup, acfg)
    fit = fit_adapter(seq, cat.embeddings, cat.appeal, model, acfg, checkpoint=checkpoint)
    defaults = model_parameters(model)
    defaults["drift_neutral_rating"] = model.drift.neutral_rating
    report = {
        "adapted": evaluate_adapter(fit, seq, cat.embeddings, cat.appeal, model, acfg),
        "defaults": evaluate(log, world, model_parameters(model), cfg),
        "popularity": evaluate(log, world, None, cfg),
    }
    meta: dict[str, Any] = {
        "dataset": setup.dataset.summary(), "cohort_users": len(setup.split),
        "train_events": seq.count(1), "valid_events": seq.count(4), "eval_events": seq.count(3),
        "candidates": "catalog" + (" minus consumed" if seq.unavailable is not None else ""),
        "encoder": cat.encoder_name, "adapter_fit": {**fit.meta, "history": fit.history,
                                                     "best_epoch": fit.best_epoch},
        "adapter_config": {k: getattr(acfg, k) for k in acfg.__dataclass_fields__},
        "cohort": {k: getattr(setup.config, k) for k in setup.config.__dataclass_fields__},
    }
    if out is not None:
        out = Path(out)
        meta["adapter"] = save_adapter(out.with_name(out.stem + ".adapter.npz"), fit,
                                       cat.encoder_name, item_ids=cat.ids)
    return CalibrationResult(
        scenario=scen.name, parameters=dict(fit.parameters),
        defaults={k: float(v) for k, v in defaults.items() if k in fit.parameters},
        fitted=tuple(ADAPTER_PARAMETERS), report=report,
        train_loglik={"calibrated": fit.history[fit.best_epoch - 1]["train_ll"]
                      if fit.history else float("nan")},
        meta=meta,
    )


def log_from_engine(engine: Any, steps: int, seed: int = 0) -> tuple[ChoiceLog, dict[str, np.ndarray]]:
    """Roll ``engine`` (reset here with ``seed``) for ``steps`` steps with uniformly random slates
    and record what a log with slates would hold — the ground truth for recovery tests.

    Every step is TRAIN. Returns the log and the engine's own per-step numbers (``logp`` (B, T):
    log-probability of the recorded outcome under the engine's choice model, from its slate
    utilities and ``click_probabilities``) so a test can compare the two implementations.
    Users must not leave during the rollout (disable budget and hazard, max_steps > steps).
    """
    from .choice import click_probabilities

    engine.reset(seed)
    b, k = engine.num_users, engine.config.slate_size
    n = engine.config.num_candidates
    gen = torch.Generator().manual_seed(seed)
    interests = engine.state.interest.clone().numpy()
    items = np.zeros((b, steps), dtype=np.int64)
    ratings = np.zeros((b, steps), dtype=np.float32)
    slates = np.zeros((b, steps, k), dtype=np.int64)
    logp = np.zeros((b, steps), dtype=np.float64)
    for t in range(steps):
        slate = torch.rand(b, n, generator=gen).argsort(dim=1)[:, :k]
        slates[:, t] = engine.world.pool_ids[slate].numpy()
        v0 = engine.state.no_click_utility.clone()
        res = engine.step(slate, autoreset=False)
        if bool((res.terminated | res.truncated).any()):
            raise ValueError("a user left during the rollout; disable budget/hazard churn and "
                             "raise max_steps above steps")
        info = res.info
        items[:, t] = info["item"].numpy()
        ratings[:, t] = info["rating"].numpy()
        probs = click_probabilities(info["slate_utilities"], v0, engine.model.choice)
        outcome = torch.where(info["chosen"] >= 0, info["chosen"], torch.full_like(info["chosen"], k))
        logp[:, t] = torch.log(probs.gather(1, outcome.unsqueeze(1)).squeeze(1)).numpy()
    log = ChoiceLog(
        interests=interests, items=items, ratings=ratings,
        phase=np.full((b, steps), TRAIN, dtype=np.int8), slates=slates,
    )
    return log, {"logp": logp}


def standard_errors(
    log: ChoiceLog, world: _World, parameters: dict[str, float], fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Asymptotic standard errors of the fitted parameters: the inverse observed information
    (Hessian of the negative marginal log-likelihood in the unconstrained space, by autograd),
    mapped to the constrained space by the delta method."""
    start = dict(parameters)
    base = _Params(start, fitted)
    raw0 = torch.stack([base.raw[k].detach() for k in fitted])

    def nll(raw: torch.Tensor) -> torch.Tensor:
        p = _Params(start, fitted)
        vals = p.values()
        for i, k in enumerate(fitted):
            vals[k] = _from_raw(k, raw[i])
        total = torch.zeros((), dtype=torch.float64)
        for rows in _chunks(log, cfg.batch_users):
            last = _last_step(log, rows, (TRAIN,))
            if last:
                out = _replay(vals, log.take(rows, last), world, cfg, evaluate=False)
                total = total - _marginal(out["train"], out["logw"]).double().sum()
        return total

    hess = torch.autograd.functional.hessian(nll, raw0)
    cov = torch.linalg.inv(hess)
    out = {}
    for i, k in enumerate(fitted):
        r = raw0[i].clone().requires_grad_(True)
        (dv,) = torch.autograd.grad(_from_raw(k, r), r)
        out[k] = float(abs(dv) * cov[i, i].clamp_min(0).sqrt())
    return out


def _from_raw(name: str, raw: torch.Tensor) -> torch.Tensor:
    if name in _SOFTPLUS:
        return torch.nn.functional.softplus(raw)
    if name == "satiation_decay":
        return torch.sigmoid(raw)
    return raw
