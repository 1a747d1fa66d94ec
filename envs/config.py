"""Typed configuration of the user model and the scenarios.

One frozen dataclass per mechanism, each validated in ``__post_init__`` so that a bad value fails
at construction with a message naming it (never deep inside a step). ``UserModelConfig`` composes
them; ``ScenarioConfig`` adds the environment-level settings (reward, N, K, H, episode length,
encoder, agent view, device). Scenarios are named instances (``presets.py``).

Parameter meanings are given next to each field; the equations are in the mechanism modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from driftrec.encoders.device import check_device

CHOICE_MODELS = ("mnl", "cascade", "independent")
REWARDS = ("engagement", "clicks", "revenue", "rating", "mixed")
AGENT_VIEWS = ("same", "pca", "noise", "encoder")


def _check_number(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}.{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(float(value)):
        raise ValueError(f"{owner}.{name} must be finite, got {value!r}")
    return float(value)


def _nonneg(owner: str, name: str, value: object) -> None:
    if _check_number(owner, name, value) < 0:
        raise ValueError(f"{owner}.{name} must be >= 0, got {value!r}")


def _positive(owner: str, name: str, value: object) -> None:
    if _check_number(owner, name, value) <= 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def _unit(owner: str, name: str, value: object, *, closed_low: bool = True) -> None:
    v = _check_number(owner, name, value)
    ok = (0.0 <= v <= 1.0) if closed_low else (0.0 < v <= 1.0)
    if not ok:
        interval = "[0, 1]" if closed_low else "(0, 1]"
        raise ValueError(f"{owner}.{name} must be in {interval}, got {value!r}")


def _positive_int(owner: str, name: str, value: object, *, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}.{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}.{name} must be >= {minimum}, got {value!r}")


def check_int(owner: str, name: str, value: object, *, minimum: int = 1,
              none_means: str | None = None) -> None:
    """A settings field that must be an int >= ``minimum`` (bools refused; ``None`` allowed,
    meaning ``none_means``, when that is given): the one check the fit and reference settings
    (``CalibrationConfig``, ``AdapterConfig``, ``SessionFitConfig``, ``SASRecConfig``) share."""
    if value is None and none_means is not None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        alternative = f" or None ({none_means})" if none_means is not None else ""
        raise ValueError(f"{owner}.{name} must be an int >= {minimum}{alternative}, got {value!r}")


def _flag(owner: str, name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be a bool, got {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class ChoiceConfig:
    """Utility and choice: ``v = beta·<u,e> + gamma·appeal − lambda·boredom + position effect``.

    ``model``: ``"mnl"`` (multinomial logit with a no-click option), ``"cascade"`` (scan top-down,
    examine position k with probability ``examination_decay**k``, click the first attractive item),
    ``"independent"`` (every position clicked independently; multi-click).
    """

    model: str = "mnl"
    interest_weight: float = 4.0  # beta (population mean; see HeterogeneityConfig)
    appeal_weight: float = 1.0  # gamma: how much the listing's appeal attracts a click
    temperature: float = 1.0  # logit temperature tau
    no_click_utility: float = 1.0  # v0 (population mean)
    position_decay: float = 0.3  # utility penalty per log2(1 + position)
    examination_decay: float = 0.85  # cascade/independent: P(examine position k) = decay**k

    def __post_init__(self) -> None:
        o = "ChoiceConfig"
        if self.model not in CHOICE_MODELS:
            raise ValueError(f"{o}.model must be one of {list(CHOICE_MODELS)}, got {self.model!r}")
        _nonneg(o, "interest_weight", self.interest_weight)
        _nonneg(o, "appeal_weight", self.appeal_weight)
        _positive(o, "temperature", self.temperature)
        _check_number(o, "no_click_utility", self.no_click_utility)
        _nonneg(o, "position_decay", self.position_decay)
        _unit(o, "examination_decay", self.examination_decay, closed_low=False)


@dataclass(frozen=True)
class DriftConfig:
    """Interest drift after consumption: ``u ← normalise(u + eta·(rating − neutral)/2 · e)``."""

    enabled: bool = True
    rate: float = 0.08  # eta (population mean)
    neutral_rating: float = 3.0  # ratings above pull u toward the item, below push it away

    def __post_init__(self) -> None:
        o = "DriftConfig"
        _flag(o, "enabled", self.enabled)
        _nonneg(o, "rate", self.rate)
        v = _check_number(o, "neutral_rating", self.neutral_rating)
        if not 1.0 <= v <= 5.0:
            raise ValueError(f"{o}.neutral_rating must be in [1, 5], got {self.neutral_rating!r}")


@dataclass(frozen=True)
class SatiationConfig:
    """Satiation ``s ← decay·s + rate·e`` (on consumption); boredom of j is ``max(0, <s, e_j>)``."""

    enabled: bool = True
    decay: float = 0.8  # per-step retention of satiation
    rate: float = 1.0  # added per consumed item (times its embedding)
    boredom_weight: float = 1.5  # lambda (population mean)

    def __post_init__(self) -> None:
        o = "SatiationConfig"
        _flag(o, "enabled", self.enabled)
        _unit(o, "decay", self.decay)
        _nonneg(o, "rate", self.rate)
        _nonneg(o, "boredom_weight", self.boredom_weight)


@dataclass(frozen=True)
class BudgetConfig:
    """Session budget and churn.

    ``b ← min(max_budget, b − step_cost − spend_rate·c·f + refill_rate·max(0, q − refill_threshold)·c·f)``
    for consumed cost ``c``, completion ``f``, true quality ``q``: watching spends, good content
    refills (clickbait, of low quality, spends and refills little). The user leaves when
    ``b <= 0`` (if ``enabled``) or, if ``hazard_enabled``, with per-step probability
    ``hazard_rate·sigmoid(hazard_slope·(hazard_threshold − satisfaction))``.
    """

    enabled: bool = True
    initial: float = 60.0
    max_budget: float = 120.0
    step_cost: float = 1.0
    spend_rate: float = 1.0
    refill_rate: float = 2.0
    refill_threshold: float = 0.3
    hazard_enabled: bool = True
    hazard_rate: float = 0.2
    hazard_threshold: float = -0.3
    hazard_slope: float = 8.0
    satisfaction_smoothing: float = 0.7  # running satisfaction S ← a·S + (1 − a)·(rating − 3)/2

    def __post_init__(self) -> None:
        o = "BudgetConfig"
        _flag(o, "enabled", self.enabled)
        _flag(o, "hazard_enabled", self.hazard_enabled)
        _positive(o, "initial", self.initial)
        _positive(o, "max_budget", self.max_budget)
        if self.max_budget < self.initial:
            raise ValueError(
                f"{o}.max_budget ({self.max_budget!r}) must be >= initial ({self.initial!r})"
            )
        for name in ("step_cost", "spend_rate", "refill_rate", "hazard_slope"):
            _nonneg(o, name, getattr(self, name))
        _unit(o, "refill_threshold", self.refill_threshold)
        _unit(o, "hazard_rate", self.hazard_rate)
        _check_number(o, "hazard_threshold", self.hazard_threshold)
        _unit(o, "satisfaction_smoothing", self.satisfaction_smoothing)


@dataclass(frozen=True)
class ExogenousConfig:
    """Drift not caused by the recommender: a random walk in the catalog's top-``rank`` principal
    subspace (``u += walk_std·z·U_r``, z ~ N(0, I_r)) and an optional trending direction (a
    category centroid that changes every ``trend_period`` steps, ``u += trend_strength·c``)."""

    enabled: bool = True
    walk_std: float = 0.01
    rank: int = 16
    trend_strength: float = 0.0
    trend_period: int = 50

    def __post_init__(self) -> None:
        o = "ExogenousConfig"
        _flag(o, "enabled", self.enabled)
        _nonneg(o, "walk_std", self.walk_std)
        _positive_int(o, "rank", self.rank)
        _nonneg(o, "trend_strength", self.trend_strength)
        _positive_int(o, "trend_period", self.trend_period)


@dataclass(frozen=True)
class ResponseConfig:
    """Responses to the consumed item (``m = <u, e>``, ``q`` quality, ``a`` appeal, ``bo`` boredom).

    completion ``f = sigmoid(c0 + c_a·a + c_q·q + c_m·m − c_b·bo + completion_noise·L)``, L logistic;
    engagement = cost·f (minutes); rating = clip(round(1 + 4·sigmoid(r0 + r_q·q + r_m·m − r_b·bo
    + rating_noise·L')), 1, 5). Shopping funnel (``purchase_enabled``): purchase with probability
    ``sigmoid(p0 + p_q·q + p_m·m − price_sensitivity·log(price/price_reference))``; then the
    engagement is the purchase (0/1).
    """

    completion_bias: float = -1.0
    completion_appeal: float = 1.0
    completion_quality: float = 2.0
    completion_match: float = 3.0
    completion_boredom: float = 1.0
    completion_noise: float = 0.3
    rating_bias: float = -2.0
    rating_quality: float = 4.0
    rating_match: float = 2.0
    rating_boredom: float = 1.0
    rating_noise: float = 0.3
    purchase_enabled: bool = False
    purchase_bias: float = -1.0
    purchase_quality: float = 2.0
    purchase_match: float = 2.0
    price_sensitivity: float = 1.0
    price_reference: float = 0.0  # 0 → the catalog's median price

    def __post_init__(self) -> None:
        o = "ResponseConfig"
        _flag(o, "purchase_enabled", self.purchase_enabled)
        for f in fields(self):
            if f.name == "purchase_enabled":
                continue
            _check_number(o, f.name, getattr(self, f.name))
        for name in ("completion_noise", "rating_noise", "price_sensitivity"):
            _nonneg(o, name, getattr(self, name))
        _nonneg(o, "price_reference", self.price_reference)


@dataclass(frozen=True)
class HeterogeneityConfig:
    """Per-user parameters: population means (in the mechanism configs) times log-normal factors
    with these spreads; the no-click utility gets additive normal noise. The initial interest is
    the persona's encoding plus isotropic noise of norm ≈ ``interest_noise``."""

    enabled: bool = True
    interest_spread: float = 0.2  # lognormal sigma of beta
    drift_spread: float = 0.3
    boredom_spread: float = 0.3
    no_click_std: float = 0.3
    budget_spread: float = 0.2
    price_spread: float = 0.3
    interest_noise: float = 0.3
    num_personas: int = 256
    persona_seed: int = 0

    def __post_init__(self) -> None:
        o = "HeterogeneityConfig"
        _flag(o, "enabled", self.enabled)
        for name in (
            "interest_spread",
            "drift_spread",
            "boredom_spread",
            "no_click_std",
            "budget_spread",
            "price_spread",
            "interest_noise",
        ):
            _nonneg(o, name, getattr(self, name))
        _positive_int(o, "num_personas", self.num_personas)
        _positive_int(o, "persona_seed", self.persona_seed, minimum=0)


@dataclass(frozen=True)
class UserModelConfig:
    """All mechanisms of the simulated user."""

    choice: ChoiceConfig = field(default_factory=ChoiceConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    satiation: SatiationConfig = field(default_factory=SatiationConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    exogenous: ExogenousConfig = field(default_factory=ExogenousConfig)
    response: ResponseConfig = field(default_factory=ResponseConfig)
    heterogeneity: HeterogeneityConfig = field(default_factory=HeterogeneityConfig)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, MECHANISMS[f.name]):
                raise TypeError(
                    f"UserModelConfig.{f.name} must be a {MECHANISMS[f.name].__name__}, "
                    f"got {type(value).__name__}"
                )


MECHANISMS: dict[str, type] = {
    "choice": ChoiceConfig,
    "drift": DriftConfig,
    "satiation": SatiationConfig,
    "budget": BudgetConfig,
    "exogenous": ExogenousConfig,
    "response": ResponseConfig,
    "heterogeneity": HeterogeneityConfig,
}


@dataclass(frozen=True)
class ScenarioConfig:
    """Environment-level settings plus the user model.

    ``reward``: ``"engagement"`` (minutes watched/read), ``"clicks"``, ``"revenue"`` (purchases ×
    price), ``"rating"`` (rating of the consumed item, 0 if none) or ``"mixed"``: the
    ``reward_weights`` (engagement, clicks, revenue, rating) combination.
    ``pool_lifetime``: kept so that configs naming it still load; it must be 1 (every global
    step draws a new candidate pool). Pools lasting several steps were removed: no preset used
    them and their incremental updates doubled the engine's code (``docs/performance.md``).
    ``oracle_info``: also report ``info["candidate_values"]``, every candidate's immediate
    expected reward (what the oracle-myopic reference ranks by): (B, N) work per step that no
    other consumer needs, so it is off unless asked for (the oracle agent asks for it).
    ``agent_view``: how the agent sees item embeddings — ``"same"`` (the true ones), ``"pca"``
    (projected to ``agent_dim`` principal directions), ``"noise"`` (plus Gaussian noise of std
    ``agent_noise`` per coordinate, renormalised; fixed per env), ``"encoder"`` (the item texts
    encoded by ``agent_encoder``).
    ``adapter``: the calibration file whose behaviour-tuned item adapter maps the catalog into
    the simulator's space (``calibration/``); set by ``calibrated_scenario``, "" = none.
    """

    name: str = "custom"
    domain: str = "video"
    reward: str = "engagement"
    reward_weights: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    num_candidates: int = 100
    slate_size: int = 10
    history_length: int = 10
    max_steps: int = 100
    pool_lifetime: int = 1
    oracle_info: bool = False
    encoder: str = "minilm"
    agent_view: str = "same"
    agent_dim: int = 32
    agent_noise: float = 0.1
    agent_encoder: str = "hashing"
    device: str = "cpu"
    adapter: str = ""
    user_model: UserModelConfig = field(default_factory=UserModelConfig)

    def __post_init__(self) -> None:
        o = "ScenarioConfig"
        if not isinstance(self.name, str) or not isinstance(self.domain, str):
            raise TypeError(f"{o}.name and .domain must be str, got {self.name!r}, {self.domain!r}")
        if self.reward not in REWARDS:
            raise ValueError(f"{o}.reward must be one of {list(REWARDS)}, got {self.reward!r}")
        weights = tuple(self.reward_weights)
        if len(weights) != 4:
            raise ValueError(
                f"{o}.reward_weights must have 4 entries (engagement, clicks, revenue, rating), "
                f"got {self.reward_weights!r}"
            )
        for w in weights:
            _check_number(o, "reward_weights", w)
        object.__setattr__(self, "reward_weights", tuple(float(w) for w in weights))
        _positive_int(o, "num_candidates", self.num_candidates)
        _positive_int(o, "slate_size", self.slate_size)
        if self.slate_size > self.num_candidates:
            raise ValueError(
                f"{o}.slate_size K={self.slate_size} must be <= num_candidates N="
                f"{self.num_candidates}"
            )
        _positive_int(o, "history_length", self.history_length)
        _positive_int(o, "max_steps", self.max_steps)
        _positive_int(o, "pool_lifetime", self.pool_lifetime)
        if self.pool_lifetime != 1:
            raise ValueError(
                f"{o}.pool_lifetime={self.pool_lifetime} is no longer supported; expected 1 (a "
                "new candidate pool every step: pools that last several steps were removed)"
            )
        _flag(o, "oracle_info", self.oracle_info)
        if not isinstance(self.encoder, str) or not self.encoder:
            raise TypeError(
                f"{o}.encoder must be a non-empty encoder spec string, got {self.encoder!r}"
            )
        if self.agent_view not in AGENT_VIEWS:
            raise ValueError(
                f"{o}.agent_view must be one of {list(AGENT_VIEWS)}, got {self.agent_view!r}"
            )
        _positive_int(o, "agent_dim", self.agent_dim)
        _nonneg(o, "agent_noise", self.agent_noise)
        if not isinstance(self.agent_encoder, str) or not self.agent_encoder:
            raise TypeError(
                f"{o}.agent_encoder must be a non-empty string, got {self.agent_encoder!r}"
            )
        if not isinstance(self.adapter, str):
            raise TypeError(f"{o}.adapter must be the path of a calibration file (str) or '', "
                            f"got {self.adapter!r}")
        if not isinstance(self.device, str):
            raise TypeError(
                f"{o}.device must be a str such as 'cpu' or 'cuda', got {self.device!r}"
            )
        # Checked here, where every env path passes (make_scenario, apply_overrides, replace),
        # so 'cuda' without CUDA fails now and not as torch's AssertionError at the first tensor.
        try:
            check_device(self.device)
        except ValueError as exc:
            raise ValueError(f"{o}.device: {exc}") from None
        if not isinstance(self.user_model, UserModelConfig):
            raise TypeError(
                f"{o}.user_model must be a UserModelConfig, got {type(self.user_model).__name__}"
            )
