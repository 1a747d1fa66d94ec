"""Bad inputs of the item adapter and of calibration files that name one: each is an error that
names the bad value and what was expected, raised before anything is written. The cases are the
executable bad-input register of the adapter (``CASES``)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from driftrec.envs import calibration as ad
from driftrec.envs import calibration as cal
from driftrec.envs.scenarios import make_scenario

MODEL = make_scenario("video", satiation_enabled=False).user_model


def _npz(path: Path, **arrays) -> dict:
    base = {"format": np.array(ad.ADAPTER_FORMAT), "version": np.array(ad.ADAPTER_VERSION),
            "weight": np.ones((2, 3), np.float32), "encoder": np.array("hashing")}
    base.update(arrays)
    buf = io.BytesIO()
    np.savez(buf, **{k: v for k, v in base.items() if v is not None})
    path.write_bytes(buf.getvalue())
    return {"file": path.name, "sha256": hashlib.sha256(buf.getvalue()).hexdigest(), "dim": 2,
            "input_dim": 3, "encoder": "hashing"}


def _load(tmp: Path, reference_changes: dict | None = None, **arrays) -> None:
    ref = _npz(tmp / "a.npz", **arrays)
    ad.load_adapter(tmp / "a.npz", {**ref, **(reference_changes or {})})


def _calibration_file(tmp: Path, adapter) -> None:
    path = tmp / "c.json"
    path.write_text(json.dumps({"format": "driftrec-calibration", "version": 1,
                                "scenario": "video", "parameters": {"drift_rate": 0.5},
                                "fitted": ["drift_rate"], "meta": {"adapter": adapter}}))
    cal.load_calibration(path)


def _checkpoint(tmp: Path, content: bytes | None) -> None:
    from tests.envs.test_adapter import synthetic_log

    log, emb, appeal, _ = synthetic_log(users=8, steps=4, valid=1)
    cfg = ad.AdapterConfig(dim=3, max_epochs=1, batch_users=8, progress=False)
    ckpt = tmp / "fit.ckpt"
    if content is None:  # a checkpoint of other settings
        ad.fit_adapter(log, emb, appeal, MODEL, cfg, checkpoint=ckpt)
        cfg = ad.AdapterConfig(dim=2, max_epochs=1, batch_users=8, progress=False)
    else:
        ckpt.write_bytes(content)
    ad.fit_adapter(log, emb, appeal, MODEL, cfg, checkpoint=ckpt)


def _cfg(**kw) -> Callable[[Path], None]:
    return lambda tmp: ad.AdapterConfig(**kw)


GOOD_REF = {"file": "a.npz", "sha256": "0" * 64, "dim": 2, "input_dim": 3, "encoder": "hashing"}

CASES: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    ("AdapterConfig dim=0", _cfg(dim=0), ValueError, r"dim must be an int >= 1, got 0"),
    ("AdapterConfig dim=True", _cfg(dim=True), ValueError, r"dim must be an int >= 1, got True"),
    ("AdapterConfig dim='64'", _cfg(dim="64"), ValueError, r"dim must be an int >= 1, got '64'"),
    ("AdapterConfig max_epochs=0", _cfg(max_epochs=0), ValueError, r"max_epochs must be an int"),
    ("AdapterConfig patience=-1", _cfg(patience=-1), ValueError, r"patience must be an int"),
    ("AdapterConfig batch_users=0", _cfg(batch_users=0), ValueError, r"batch_users must be an"),
    ("AdapterConfig valid_steps=0", _cfg(valid_steps=0), ValueError, r"valid_steps must be an"),
    ("AdapterConfig warmup=-1", _cfg(warmup=-1), ValueError, r"warmup must be an int >= 0"),
    ("AdapterConfig learning_rate=0", _cfg(learning_rate=0), ValueError,
     r"learning_rate must be in \(0, 10\), got 0"),
    ("AdapterConfig learning_rate=nan", _cfg(learning_rate=float("nan")), ValueError,
     r"learning_rate must be in \(0, 10\), got nan"),
    ("AdapterConfig lr_decay=0", _cfg(lr_decay=0), ValueError, r"lr_decay must be in \(0, 1\]"),
    ("AdapterConfig implicit_rating=6", _cfg(implicit_rating=6), ValueError,
     r"implicit_rating must be in \[1, 5\], got 6"),
    ("AdapterConfig residual_l2=-1", _cfg(residual_l2=-1), ValueError,
     r"residual_l2 must be a number >= 0 \(0 = no per-item residual\), got -1"),
    ("AdapterConfig hit_k=0", _cfg(hit_k=0), ValueError, r"hit_k must be an int >= 1"),
    ("adapter dim above min(M, d)", lambda tmp: ad.pca_basis(np.ones((5, 4)), 8), ValueError,
     r"adapter dim 8 exceeds min\(M, d\) = 4"),
    ("unknown adapter parameter", lambda tmp: ad.set_parameters(
        ad.AdapterModel(np.ones((2, 3), np.float32), MODEL), np.ones((2, 3)), {"beta": 1.0}),
     ValueError, r"unknown adapter parameters \['beta'\]"),
    ("adapter file missing", lambda tmp: ad.load_adapter(tmp / "none.npz"), FileNotFoundError,
     r"adapter file .*none.npz does not exist"),
    ("adapter file not an npz", lambda tmp: (tmp / "a.npz").write_text("x") and
     ad.load_adapter(tmp / "a.npz"), ValueError, r"is not a driftrec adapter"),
    ("adapter file hash differs", lambda tmp: _load(tmp, {"sha256": "f" * 64}), ValueError,
     r"has SHA-256 .* the calibration file expects ffffffffffff"),
    ("adapter format string wrong", lambda tmp: ad.load_adapter(
        tmp / "a.npz", None) if _npz(tmp / "a.npz", format=np.array("other")) else None,
     ValueError, r"is 'other' version 1; expected 'driftrec-adapter' version 1"),
    ("adapter version 2", lambda tmp: _load(tmp, version=np.array(2)), ValueError,
     r"version 2; expected 'driftrec-adapter' version 1"),
    ("adapter weight 1-D", lambda tmp: _load(tmp, weight=np.ones(3, np.float32)), ValueError,
     r"weight has shape \(3,\) and dtype float32; expected a finite float32 \(k, d\)"),
    ("adapter weight float64", lambda tmp: _load(tmp, weight=np.ones((2, 3))), ValueError,
     r"dtype float64; expected a finite float32"),
    ("adapter weight NaN", lambda tmp: _load(tmp, weight=np.full((2, 3), np.nan, np.float32)),
     ValueError, r"expected a finite float32"),
    ("adapter weight lacks a key", lambda tmp: _load(tmp, encoder=None), ValueError,
     r"not a driftrec adapter .*expected an npz with format, version, weight and encoder"),
    ("adapter shape differs from reference", lambda tmp: _load(tmp, {"dim": 4}), ValueError,
     r"maps 'hashing' 3-d to 2-d; the calibration file expects 'hashing' 3-d to 4-d"),
    ("adapter encoder differs", lambda tmp: _load(tmp, {"encoder": "minilm"}), ValueError,
     r"expects 'minilm' 3-d to 2-d"),
    ("calibration meta.adapter not an object", lambda tmp: _calibration_file(tmp, "a.npz"),
     ValueError, r"meta.adapter is 'a.npz'; expected an object with \['file', 'sha256'"),
    ("calibration meta.adapter lacks sha256", lambda tmp: _calibration_file(
        tmp, {"file": "a.npz"}), ValueError, r"meta.adapter is .*expected an object with"),
    ("calibration meta.adapter.file a path", lambda tmp: _calibration_file(
        tmp, {**GOOD_REF, "file": "../a.npz"}), ValueError,
     r"meta.adapter.file '../a.npz' is not a file name"),
    ("calibration's adapter file missing", lambda tmp: _calibration_file(tmp, GOOD_REF),
     ValueError, r"c.json: adapter file .*a.npz does not exist"),
    ("calibration's adapter replaced", lambda tmp: _npz(tmp / "a.npz") and _calibration_file(
        tmp, GOOD_REF), ValueError, r"c.json: adapter file .* the calibration file expects 000"),
    ("checkpoint unreadable", lambda tmp: _checkpoint(tmp, b"not a checkpoint"), ValueError,
     r"adapter checkpoint .*fit.ckpt cannot be read"),
    ("checkpoint of other settings", lambda tmp: _checkpoint(tmp, None), ValueError,
     r"belongs to another data set or settings"),
]


@pytest.mark.parametrize(("name", "call", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(tmp_path, name, call, error, match) -> None:
    with pytest.raises(error, match=match):
        call(tmp_path)
