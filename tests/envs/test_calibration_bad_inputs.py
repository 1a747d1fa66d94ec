"""Bad inputs to calibration's configs, fits, logs and scenario files: each is an error that
names the bad value and what was expected, raised before any fitting. The cases are the
executable bad-input register of the calibration area."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from driftrec.envs import calibration as cal
from driftrec.envs.scenarios import make_scenario

from tests.envs.test_adapter import MODEL, synthetic_log

Call = Callable[[Path], object]


def _ccfg(**kw) -> Call:
    return lambda tmp: cal.CalibrationConfig(**kw)


def _acfg(**kw) -> Call:
    return lambda tmp: cal.AdapterConfig(**kw)


def _fit(change: Callable) -> Call:
    """``fit_adapter`` on a small synthetic log with ``change(log, emb, appeal)`` applied."""

    def call(tmp: Path) -> object:
        log, emb, appeal, _ = synthetic_log(users=6, steps=4, valid=1)
        log, emb, appeal = change(log, emb, appeal)
        return cal.fit_adapter(log, emb, appeal, MODEL,
                               cal.AdapterConfig(dim=3, max_epochs=1, progress=False))
    return call


def _fit_dim(dim: int) -> Call:
    def call(tmp: Path) -> object:
        log, emb, appeal, _ = synthetic_log(users=6, steps=4, valid=1)
        return cal.fit_adapter(log, emb, appeal, MODEL, cal.AdapterConfig(dim=dim, progress=False))
    return call


def _raw(change: Callable, fitted: tuple[str, ...] = ("drift_rate",)) -> Call:
    """The raw-space ``fit`` on a small synthetic log with ``change(log)`` applied."""

    def call(tmp: Path) -> object:
        log, emb, appeal, _ = synthetic_log(users=6, steps=4, valid=1)
        world = cal.make_world(emb, appeal, np.ones(len(appeal)), MODEL)
        return cal.fit(change(log), world, cal.model_parameters(MODEL), fitted,
                       cal.CalibrationConfig(max_iter=1, progress=False))
    return call


def _calibration_file(tmp: Path, name: str, scenario: str, meta: dict | None = None) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"format": "driftrec-calibration", "version": 1,
                                "scenario": scenario, "parameters": {"drift_rate": 0.5},
                                "fitted": ["drift_rate"], "meta": meta or {}}))
    return path


def _two_adapters(tmp: Path) -> object:
    """A chain whose two files both carry an adapter (the .npz files are valid and match)."""
    fit = cal.AdapterFit(weight=np.ones((2, 3), np.float32), parameters={})
    ref_a = cal.save_adapter(tmp / "a.adapter.npz", fit, "hashing")
    ref_b = cal.save_adapter(tmp / "b.adapter.npz", fit, "hashing")
    inner = _calibration_file(tmp, "a.json", "video", {"adapter": ref_a})
    outer = _calibration_file(tmp, "b.json", str(inner), {"adapter": ref_b})
    return make_scenario(str(outer))


def _engine_with_churn(tmp: Path) -> object:
    from driftrec.envs.model.engine import Engine

    from tests.envs.test_calibration import random_catalog

    config = make_scenario("video", num_candidates=10, slate_size=3, max_steps=2)
    engine = Engine(random_catalog(20, 4, 0), config, 4)
    return cal.log_from_engine(engine, 5)


CASES: list[tuple[str, Call, type[Exception], str]] = [
    ("CalibrationConfig max_train_steps=0", _ccfg(max_train_steps=0), ValueError,
     r"CalibrationConfig.max_train_steps must be an int >= 1, got 0"),
    ("CalibrationConfig max_train_steps=None", _ccfg(max_train_steps=None), ValueError,
     r"CalibrationConfig.max_train_steps must be an int >= 1, got None"),
    ("CalibrationConfig quadrature=0", _ccfg(quadrature=0), ValueError,
     r"quadrature must be an int >= 1, got 0"),
    ("CalibrationConfig max_iter=2.5", _ccfg(max_iter=2.5), ValueError,
     r"max_iter must be an int >= 1, got 2.5"),
    ("CalibrationConfig batch_users=True", _ccfg(batch_users=True), ValueError,
     r"batch_users must be an int >= 1, got True"),
    ("CalibrationConfig max_slate=0", _ccfg(max_slate=0), ValueError,
     r"max_slate must be an int >= 1, got 0"),
    ("CalibrationConfig hit_k=-1", _ccfg(hit_k=-1), ValueError, r"hit_k must be an int >= 1"),
    ("CalibrationConfig warmup=-1", _ccfg(warmup=-1), ValueError,
     r"CalibrationConfig.warmup must be >= 0, got -1"),
    ("CalibrationConfig implicit_rating=0.5", _ccfg(implicit_rating=0.5), ValueError,
     r"CalibrationConfig.implicit_rating must be in \[1, 5\]"),
    ("AdapterConfig max_train_steps=0", _acfg(max_train_steps=0), ValueError,
     r"AdapterConfig.max_train_steps must be an int >= 1 or None \(all\), got 0"),
    ("AdapterConfig max_train_steps='all'", _acfg(max_train_steps="all"), ValueError,
     r"max_train_steps must be an int >= 1 or None \(all\), got 'all'"),
    ("AdapterConfig max_train_steps=2.5", _acfg(max_train_steps=2.5), ValueError,
     r"max_train_steps must be an int >= 1 or None \(all\), got 2.5"),
    ("AdapterConfig init='svd'", _acfg(init="svd"), ValueError,
     r"AdapterConfig.init must be 'cooccurrence' or 'pca', got 'svd'"),
    ("AdapterConfig start_satiation_rate=0", _acfg(start_satiation_rate=0), ValueError,
     r"start_satiation_rate must be in \(0, 100\) or None \(the preset's\), got 0"),
    ("AdapterConfig start_satiation_rate='low'", _acfg(start_satiation_rate="low"), ValueError,
     r"start_satiation_rate must be in \(0, 100\) or None \(the preset's\), got 'low'"),
    ("adapter fit: dim above the catalog's size (co-occurrence start)", _fit_dim(50),
     ValueError, r"adapter dim 50 exceeds min\(M, d\) = 12 of the item embeddings \(40, 12\)"),
    ("adapter fit: appeal of the wrong length", _fit(lambda lg, e, a: (lg, e, a[:-1])),
     ValueError, r"item appeal has shape \(39,\); expected finite \(40,\), one per item"),
    ("adapter fit: NaN appeal", _fit(lambda lg, e, a: (lg, e, np.full_like(a, np.nan))),
     ValueError, r"item appeal has shape \(40,\); expected finite"),
    ("adapter fit: 1-D embeddings", _fit(lambda lg, e, a: (lg, e[0], a)), ValueError,
     r"item embeddings have shape \(12,\); expected a finite \(M, d\) matrix"),
    ("adapter fit: log item outside the catalog",
     _fit(lambda lg, e, a: (replace(lg, items=lg.items + 40), e, a)), ValueError,
     r"log items \[\d+, .*\] are outside the catalog's \[0, 40\); expected item indices"),
    ("adapter fit: ratings of another shape",
     _fit(lambda lg, e, a: (replace(lg, ratings=lg.ratings[:, :2]), e, a)), ValueError,
     r"log items \(6, 4\), ratings \(6, 2\) and phase \(6, 4\); expected three \(B, T\)"),
    ("adapter fit: interests of another dim",
     _fit(lambda lg, e, a: (replace(lg, interests=np.ones((6, 5), np.float32)), e, a)),
     ValueError, r"log interests have shape \(6, 5\); expected \(6, 12\)"),
    ("adapter fit: unavailable of another shape",
     _fit(lambda lg, e, a: (replace(lg, unavailable=np.zeros((6, 3), bool)), e, a)),
     ValueError, r"log unavailable has shape \(6, 3\); expected \(6, 40\)"),
    ("adapter fit: no VALID events (no early stopping)",
     _fit(lambda lg, e, a: (replace(lg, phase=np.full_like(lg.phase, cal.TRAIN)), e, a)),
     ValueError, r"the log has no VALID events; expected some \(users 6, steps 4\)"),
    ("adapter fit: no TRAIN events",
     _fit(lambda lg, e, a: (replace(lg, phase=np.full_like(lg.phase, cal.VALID)), e, a)),
     ValueError, r"the log has no TRAIN events"),
    ("raw fit: unknown fitted parameter 'temperature'", _raw(lambda lg: lg, ("temperature",)),
     ValueError, r"unknown fitted parameters \['temperature'\]; expected names among"),
    ("raw fit: no-click (-1) item in a catalog log",
     _raw(lambda lg: replace(lg, items=np.full_like(lg.items, -1))), ValueError,
     r"log items \[-1, -1, -1\] are outside the catalog's \[0, 40\).*only with slates"),
    ("make_world: popularity with a zero", lambda tmp: cal.make_world(
        np.eye(3, dtype=np.float32), np.ones(3), np.array([1.0, 0.0, 2.0]), MODEL), ValueError,
     r"item popularity has shape \(3,\); expected positive \(3,\) counts"),
    ("evaluate_adapter: adapter of another encoder's dim", lambda tmp: cal.evaluate_adapter(
        cal.AdapterFit(weight=np.ones((2, 7), np.float32), parameters={}),
        synthetic_log(users=4, steps=3, valid=1)[0], *synthetic_log(users=4, steps=3)[1:3],
        MODEL, cal.AdapterConfig(dim=2)), ValueError,
     r"the adapter maps 7-d embeddings; the catalog's are 12-d \(another encoder\?\)"),
    ("set_parameters: unknown 'beta' on the raw-space model", lambda tmp: cal.set_parameters(
        cal.AdapterModel(None, MODEL, fitted=()), None, {"beta": 1.0}), ValueError,
     r"unknown adapter parameters \['beta'\]"),
    ("scenario_adapter of a missing file", lambda tmp: cal.scenario_adapter(tmp / "no.json"),
     ValueError, (r"scenario adapter '.*no.json' is not a file; expected the path of a "
                  r"calibration file that carries an item adapter")),
    ("scenario_adapter of a file without an adapter", lambda tmp: cal.scenario_adapter(
        _calibration_file(tmp, "c.json", "video")), ValueError,
     (r"c.json carries no item adapter \(meta.adapter\); expected a calibration file written "
      r"by `driftrec calibrate --adapter-dim K`")),
    ("two adapters in one chain of calibration files", _two_adapters, ValueError,
     (r"calibration files .*b.json and .*a.json both carry an item adapter; expected at most "
      r"one adapter in a chain")),
    ("log_from_engine with users who leave", _engine_with_churn, ValueError,
     r"a user left during the rollout; disable budget/hazard churn and raise max_steps"),
]


@pytest.mark.parametrize(("name", "call", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(tmp_path: Path, name: str, call: Call,
                                    error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call(tmp_path)
