"""``calibrate``: a data set in, the fitted user model (and adapter) and its held-out report
out, written as a calibration file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..config import ScenarioConfig
from .adapter_files import save_adapter
from .adapter_fit import evaluate_adapter, fit_adapter
from .files import PARAMETERS, CalibrationResult, resolve_scenario
from .likelihood import model_parameters
from .logs import EVAL, TRAIN, VALID, log_from_impressions, sequence_log
from .raw_fit import World, evaluate, fit, make_world
from .settings import CalibrationConfig


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
            (``adapter_fit.py``) instead of the fit in the encoder's space; with ``out``, W is
            written to ``<out stem>.adapter.npz`` beside it and referenced by its SHA-256.
            ``checkpoint``: the adapter fit's resumable checkpoint file.
    """
    from ..sources.datasets import RealDataSetup, build_setup

    cfg = config or CalibrationConfig()
    t0 = time.perf_counter()
    setup = dataset if isinstance(dataset, RealDataSetup) else build_setup(
        dataset, encoder, config=cohort, cache_dir=cache_dir)
    base = scenario if scenario is not None else setup.dataset.domain
    scen = base if isinstance(base, ScenarioConfig) else resolve_scenario(base)
    model = scen.user_model
    imp = setup.dataset.impressions
    shown = cfg.use_impressions and imp is not None and len(imp) > 0
    if adapter is not None and shown:
        raise ValueError("the item adapter is fitted on consumption logs (catalog mode); "
                         "this data set records shown lists: pass use_impressions=False")
    cat = setup.catalog
    # Shown lists are not ranked slates: no position effect (None).
    world = make_world(cat.embeddings, cat.appeal, cat.popularity, model)
    if adapter is not None:
        result = _calibrate_adapter(setup, scen, world, cfg, adapter, out, checkpoint)
        result.meta["wall_s"] = round(time.perf_counter() - t0, 2)
        if out is not None:
            result.save(out)
        return result
    log = log_from_impressions(setup, cfg) if shown else sequence_log(setup, cfg)
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


def _calibrate_adapter(setup: Any, scen: ScenarioConfig, world: World,
                       cfg: CalibrationConfig, acfg: Any, out: str | Path | None,
                       checkpoint: str | Path | None) -> CalibrationResult:
    """``calibrate`` with the behaviour-tuned item space: fit, report, write the adapter."""
    cat, model = setup.catalog, scen.user_model
    seq = sequence_log(setup, acfg)
    fit = fit_adapter(seq, cat.embeddings, cat.appeal, model, acfg, checkpoint=checkpoint)
    defaults = model_parameters(model)
    defaults["drift_neutral_rating"] = model.drift.neutral_rating
    report = {
        "adapted": evaluate_adapter(fit, seq, cat.embeddings, cat.appeal, model, acfg),
        "defaults": evaluate(seq, world, model_parameters(model), cfg),
        "popularity": evaluate(seq, world, None, cfg),
    }
    meta: dict[str, Any] = {
        "dataset": setup.dataset.summary(), "cohort_users": len(setup.split),
        "train_events": seq.count(TRAIN), "valid_events": seq.count(VALID),
        "eval_events": seq.count(EVAL),
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
        fitted=tuple(fit.parameters), report=report,
        train_loglik={"calibrated": fit.history[fit.best_epoch - 1]["train_ll"]
                      if fit.history else float("nan")},
        meta=meta,
    )
