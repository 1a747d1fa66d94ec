"""Calibration: fit the simulated user to logged choices by maximum likelihood, optionally with a
behaviour-tuned item space (a learned map from text embeddings to the interest space), and write
the result as a calibration file that is used like a preset.

Modules, one job each:

- ``settings``: ``CalibrationConfig``, ``AdapterConfig``.
- ``logs``: the logs the likelihood replays (cohort split, impressions, engine rollouts).
- ``likelihood``: the user model's likelihood, through the reference step's functions.
- ``raw_fit``: the fit in the encoder's own space (W = identity; L-BFGS, spread integrated out).
- ``adapter_fit``: the fit of the item adapter with the user model (Adam, early stopping).
- ``adapter_files``: the adapter file, and a catalog / pool / encoder mapped through it.
- ``files``: calibration files: save, load, resolve into a scenario.
- ``pipeline``: ``calibrate`` (data set in, calibration file out).
"""

from .adapter_files import (
    ADAPTER_FORMAT,
    ADAPTER_VERSION,
    AdaptedEncoder,
    adapt_catalog,
    adapt_pool,
    adapter_bytes,
    load_adapter,
    load_residual,
    save_adapter,
)
from .adapter_fit import AdapterFit, evaluate_adapter, fit_adapter
from .files import (
    FORMAT_VERSION,
    OVERRIDE_KEYS,
    PARAMETERS,
    CalibrationResult,
    calibrated_scenario,
    check_adapter_reference,
    load_calibration,
    model_parameters,
    resolve_scenario,
    scenario_adapter,
)
from .likelihood import (
    ADAPTER_PARAMETERS,
    PARAMETER_TRANSFORMS,
    AdapterModel,
    adapted_embeddings,
    cooccurrence_basis,
    mean_loglik,
    pca_basis,
    replay,
    sample_log,
    score_events,
    set_parameters,
)
from .logs import (
    EVAL,
    GAP,
    PAD,
    TRAIN,
    VALID,
    WARMUP,
    SequenceLog,
    log_from_engine,
    log_from_impressions,
    sequence_log,
)
from .pipeline import calibrate
from .raw_fit import World, evaluate, fit, make_world, standard_errors
from .settings import AdapterConfig, CalibrationConfig

__all__ = [
    "ADAPTER_FORMAT",
    "ADAPTER_PARAMETERS",
    "ADAPTER_VERSION",
    "EVAL",
    "FORMAT_VERSION",
    "GAP",
    "OVERRIDE_KEYS",
    "PAD",
    "PARAMETERS",
    "PARAMETER_TRANSFORMS",
    "TRAIN",
    "VALID",
    "WARMUP",
    "AdaptedEncoder",
    "AdapterConfig",
    "AdapterFit",
    "AdapterModel",
    "CalibrationConfig",
    "CalibrationResult",
    "SequenceLog",
    "World",
    "adapt_catalog",
    "adapt_pool",
    "adapted_embeddings",
    "adapter_bytes",
    "calibrate",
    "calibrated_scenario",
    "check_adapter_reference",
    "cooccurrence_basis",
    "evaluate",
    "evaluate_adapter",
    "fit",
    "fit_adapter",
    "load_adapter",
    "load_calibration",
    "load_residual",
    "log_from_engine",
    "log_from_impressions",
    "make_world",
    "mean_loglik",
    "model_parameters",
    "pca_basis",
    "replay",
    "resolve_scenario",
    "sample_log",
    "save_adapter",
    "scenario_adapter",
    "score_events",
    "sequence_log",
    "set_parameters",
    "standard_errors",
]
