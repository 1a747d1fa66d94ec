"""Named scenario presets and the override rules used by the Gymnasium constructors.

``apply_overrides(SCENARIOS[name], **overrides)`` is a preset with overrides applied
(``scenarios.make_scenario`` also resolves calibration files; this module imports nothing of
calibration, so calibration can build on the presets without an import circle). An override
key is

- a field of ``ScenarioConfig`` (``num_candidates``, ``slate_size``, ``encoder``, ``reward`` ...);
- a whole mechanism config by its name (``drift=DriftConfig(...)``), or ``user_model=...``;
- ``<mechanism>_<field>`` for any mechanism field (``choice_model``, ``drift_enabled``,
  ``budget_initial``, ``exogenous_walk_std`` ...);
- a bare mechanism field name when it is unique across mechanisms (``boredom_weight``,
  ``hazard_rate``, ``walk_std``, ``temperature`` ...).

Anything else is an ``UnknownOverrideError`` listing the valid keys — a typo must not silently do
nothing. It is both a ``ValueError`` and the ``TypeError`` ("unexpected keyword argument") that a
Python constructor raises, so libraries that probe optional keywords by catching ``TypeError``
(TorchRL's ``GymEnv`` passes ``frameskip``) drop the keyword and go on, as with Gymnasium's envs.

Presets:
- ``video``: reward = minutes watched. Clickbait (high appeal, low quality) is clicked and watched
  now but spends the session budget without refilling it and disappoints; boredom punishes
  showing one region again and again. A myopic ranker burns the user's budget.
- ``news``: reward = clicks. Fast satiation, trending drift, short sessions.
- ``shopping``: reward = revenue (purchases × price), click → purchase funnel with per-user price
  sensitivity; patience budget.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from .config import (
    MECHANISMS,
    BudgetConfig,
    ChoiceConfig,
    DriftConfig,
    ExogenousConfig,
    HeterogeneityConfig,
    ResponseConfig,
    SatiationConfig,
    ScenarioConfig,
    UserModelConfig,
)

SCENARIOS: dict[str, ScenarioConfig] = {
    "video": ScenarioConfig(
        name="video",
        domain="video",
        reward="engagement",
        num_candidates=100,
        slate_size=10,
        history_length=10,
        max_steps=100,
        user_model=UserModelConfig(
            choice=ChoiceConfig(model="mnl", interest_weight=4.0, appeal_weight=2.0),
            drift=DriftConfig(rate=0.08),
            satiation=SatiationConfig(decay=0.8, rate=1.0, boredom_weight=2.0),
            budget=BudgetConfig(
                initial=60.0,
                max_budget=120.0,
                step_cost=1.0,
                spend_rate=1.0,
                refill_rate=2.5,  # quality >= 0.8 sustains the session; clickbait burns it
                refill_threshold=0.4,
                hazard_rate=0.1,
            ),
            exogenous=ExogenousConfig(walk_std=0.01, trend_strength=0.0),
            response=ResponseConfig(completion_appeal=1.5, completion_quality=1.0),
        ),
    ),
    "news": ScenarioConfig(
        name="news",
        domain="news",
        reward="clicks",
        num_candidates=50,
        slate_size=5,
        history_length=10,
        max_steps=30,
        user_model=UserModelConfig(
            choice=ChoiceConfig(model="cascade", interest_weight=4.0, appeal_weight=1.0),
            drift=DriftConfig(rate=0.05),
            satiation=SatiationConfig(decay=0.6, rate=1.5, boredom_weight=3.0),
            budget=BudgetConfig(
                initial=20.0,
                max_budget=40.0,
                step_cost=1.0,
                spend_rate=0.5,
                refill_rate=1.0,
                hazard_rate=0.1,
            ),
            exogenous=ExogenousConfig(walk_std=0.02, trend_strength=0.05, trend_period=10),
        ),
    ),
    "shopping": ScenarioConfig(
        name="shopping",
        domain="shopping",
        reward="revenue",
        num_candidates=100,
        slate_size=10,
        history_length=10,
        max_steps=50,
        user_model=UserModelConfig(
            choice=ChoiceConfig(model="mnl", interest_weight=4.0, appeal_weight=1.0),
            drift=DriftConfig(rate=0.04),
            satiation=SatiationConfig(decay=0.9, rate=1.0, boredom_weight=1.0),
            budget=BudgetConfig(
                initial=15.0,
                max_budget=30.0,
                step_cost=1.0,
                spend_rate=0.0,
                refill_rate=0.0,
                hazard_rate=0.05,
            ),
            exogenous=ExogenousConfig(walk_std=0.005),
            response=ResponseConfig(purchase_enabled=True),
            heterogeneity=HeterogeneityConfig(price_spread=0.4),
        ),
    ),
}

_SCENARIO_FIELDS = tuple(f.name for f in fields(ScenarioConfig) if f.name != "user_model")


class UnknownOverrideError(ValueError, TypeError):
    """An override key that names no scenario parameter (see the module docstring)."""


def _mechanism_fields() -> dict[str, list[tuple[str, str]]]:
    """Bare field name → [(mechanism, field)] over all mechanism configs."""
    table: dict[str, list[tuple[str, str]]] = {}
    for mech, cls in MECHANISMS.items():
        for f in fields(cls):
            table.setdefault(f.name, []).append((mech, f.name))
    return table


def override_keys() -> list[str]:
    """Every accepted override key, sorted (for error messages and documentation)."""
    keys = set(_SCENARIO_FIELDS) | set(MECHANISMS) | {"user_model"}
    for bare, targets in _mechanism_fields().items():
        for mech, name in targets:
            keys.add(f"{mech}_{name}")
        if len(targets) == 1 and bare not in _SCENARIO_FIELDS:
            keys.add(bare)
    return sorted(keys)


def _resolve(key: str) -> tuple[str, str | None]:
    """Map an override key to (scenario field | mechanism, mechanism field or None)."""
    if key in _SCENARIO_FIELDS or key == "user_model":
        return key, None
    if key in MECHANISMS:
        return key, None
    for mech in MECHANISMS:
        prefix = mech + "_"
        if key.startswith(prefix):
            name = key[len(prefix) :]
            if name in {f.name for f in fields(MECHANISMS[mech])}:
                return mech, name
    targets = _mechanism_fields().get(key, [])
    if len(targets) == 1:
        return targets[0]
    if len(targets) > 1:
        options = ", ".join(f"{m}_{n}" for m, n in targets)
        raise ValueError(f"override {key!r} is ambiguous; use one of: {options}")
    raise UnknownOverrideError(
        f"unknown override {key!r} (unexpected keyword argument {key!r}); expected one of: "
        f"{', '.join(override_keys())}"
    )


def apply_overrides(config: ScenarioConfig, **overrides: Any) -> ScenarioConfig:
    """Return ``config`` with ``overrides`` applied (see the module docstring for the key rules)."""
    scenario_updates: dict[str, Any] = {}
    user_model = config.user_model
    mech_updates: dict[str, dict[str, Any]] = {}
    whole: dict[str, Any] = {}
    for key, value in overrides.items():
        target, name = _resolve(key)
        if target == "user_model":
            if not isinstance(value, UserModelConfig):
                raise TypeError(f"user_model must be a UserModelConfig, got {type(value).__name__}")
            user_model = value
        elif name is None and target in MECHANISMS:
            if not isinstance(value, MECHANISMS[target]):
                raise TypeError(
                    f"override {target!r} must be a {MECHANISMS[target].__name__}, "
                    f"got {type(value).__name__}"
                )
            whole[target] = value
        elif name is None:
            scenario_updates[target] = value
        else:
            mech_updates.setdefault(target, {})[name] = value
    if whole:
        user_model = replace(user_model, **whole)
    if mech_updates:
        user_model = replace(
            user_model,
            **{m: replace(getattr(user_model, m), **kv) for m, kv in mech_updates.items()},
        )
    return replace(config, user_model=user_model, **scenario_updates)


def is_calibration_path(name: str) -> bool:
    """Whether ``name`` names an existing ``.json`` file (a calibration file, if it loads)."""
    path = Path(name)
    return path.suffix == ".json" and path.is_file()
