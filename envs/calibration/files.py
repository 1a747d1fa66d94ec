"""Calibration files: the fitted parameters as JSON (atomic), read back with every field checked,
and turned into a scenario (``calibrated_scenario``, ``resolve_scenario``), following chains of
files and the item adapter a file carries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.encoders.io import atomic_write_json

from ..config import ScenarioConfig
from ..presets import SCENARIOS, apply_overrides, is_calibration_path
from .adapter_files import load_adapter, load_residual
from .likelihood import model_parameters  # noqa: F401 - re-exported

#: Fitted parameter → scenario override key (``make_scenario(name, **overrides)``).
OVERRIDE_KEYS = {
    "interest_weight": "choice_interest_weight",
    "appeal_weight": "choice_appeal_weight",
    "drift_rate": "drift_rate",
    "satiation_decay": "satiation_decay",
    "satiation_rate": "satiation_rate",
    "no_click_utility": "choice_no_click_utility",
    "interest_spread": "heterogeneity_interest_spread",
    "drift_neutral_rating": "drift_neutral_rating",  # fitted with the adapter (likelihood.py)
    "budget_initial": "budget_initial",  # fitted to session lengths (sessions.py)
    "budget_spread": "heterogeneity_budget_spread",  # fitted to session lengths (sessions.py)
}

#: Parameters of the fit in the encoder's own space (``fit``); a file may hold any of OVERRIDE_KEYS.
PARAMETERS = tuple(k for k in OVERRIDE_KEYS
                   if k not in ("drift_neutral_rating", "budget_initial", "budget_spread"))

FORMAT_VERSION = 1

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
