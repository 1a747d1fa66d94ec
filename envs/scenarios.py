"""``make_scenario``: a preset by name, or a ``driftrec calibrate`` file, with overrides applied.

The layers, each importing only those before it: the presets and override rules
(``presets.py``) ← calibration files and fitting (``calibration/``) ← this resolver, which
accepts either kind of name. The presets and override helpers are re-exported here for the
names that have always been imported from ``driftrec.envs.scenarios``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .calibration import resolve_scenario
from .config import ScenarioConfig
from .presets import (
    SCENARIOS,
    UnknownOverrideError,
    apply_overrides,
    is_calibration_path,
    override_keys,
)

__all__ = ["SCENARIOS", "UnknownOverrideError", "apply_overrides", "is_calibration_path",
           "make_scenario", "override_keys"]


def make_scenario(name: str | Path, **overrides: Any) -> ScenarioConfig:
    """The preset ``name`` (``video``, ``news``, ``shopping``) with ``overrides`` applied.

    ``name`` may also be the path of a ``driftrec calibrate`` parameter file (``.json``): its
    preset with the calibrated parameters — a calibrated scenario is used like any preset.
    """
    return resolve_scenario(name, **overrides)
