"""The adapter file (npz: W, the encoder it maps, optional per-item residuals), written
atomically and checked by SHA-256, shape and encoder when read; and the simulator side: a catalog,
a user pool and an encoder mapped into the adapted space."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_write_bytes

from .adapter_fit import AdapterFit
from .likelihood import adapted_embeddings

ADAPTER_FORMAT = "driftrec-adapter"

ADAPTER_VERSION = 1

def adapter_bytes(fit: AdapterFit, encoder: str, item_ids: Any = None) -> bytes:
    """The adapter file's content (npz): W and what it maps from; with ``item_ids`` (the fitted
    catalog's ids, one per residual row) also the per-item residual, so the simulator can give
    the items seen in fitting normalise(W e + δ) (a residual without ids could not be matched
    to another catalog's items, so it is not written)."""
    extra: dict[str, np.ndarray] = {}
    if fit.residual is not None and item_ids is not None:
        if len(item_ids) != len(fit.residual):
            raise ValueError(f"{len(item_ids)} item ids for {len(fit.residual)} residual rows; "
                             "expected one id per fitted item")
        extra = {"residual": fit.residual.astype(np.float32),
                 "item_ids": np.array([str(i) for i in item_ids])}
    buf = io.BytesIO()
    np.savez(buf, format=np.array(ADAPTER_FORMAT), version=np.array(ADAPTER_VERSION),
             weight=fit.weight.astype(np.float32), encoder=np.array(encoder), **extra)
    return buf.getvalue()

def save_adapter(path: str | Path, fit: AdapterFit, encoder: str,
                 item_ids: Any = None) -> dict[str, Any]:
    """Write the adapter file atomically; returns the calibration file's reference to it."""
    data = adapter_bytes(fit, encoder, item_ids)
    atomic_write_bytes(path, data)
    k, d = fit.weight.shape
    return {"file": Path(path).name, "sha256": hashlib.sha256(data).hexdigest(),
            "dim": int(k), "input_dim": int(d), "encoder": encoder}

def load_adapter(path: str | Path, reference: dict[str, Any] | None = None) -> np.ndarray:
    """W (k, d) float32 from an adapter file, checked against the calibration file's
    ``reference`` (hash, shape, encoder): a missing, damaged or swapped file is an error naming
    it and what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"adapter file {path} does not exist; expected the .npz that "
                                "`driftrec calibrate` wrote beside the calibration file")
    data = path.read_bytes()
    if reference is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != reference.get("sha256"):
            raise ValueError(f"adapter file {path} has SHA-256 {digest[:12]}…; the calibration "
                             f"file expects {str(reference.get('sha256'))[:12]}… (the adapter was "
                             "replaced or damaged; recalibrate)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            fmt, version, weight = str(z["format"]), int(z["version"]), np.array(z["weight"])
            encoder = str(z["encoder"])
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"adapter file {path} is not a driftrec adapter ({exc}); expected an "
                         "npz with format, version, weight and encoder") from None
    if fmt != ADAPTER_FORMAT or version != ADAPTER_VERSION:
        raise ValueError(f"adapter file {path} is {fmt!r} version {version}; expected "
                         f"{ADAPTER_FORMAT!r} version {ADAPTER_VERSION}")
    if weight.ndim != 2 or weight.dtype != np.float32 or not np.isfinite(weight).all():
        raise ValueError(f"adapter file {path}: weight has shape {weight.shape} and dtype "
                         f"{weight.dtype}; expected a finite float32 (k, d) matrix")
    if reference is not None:
        expect = (reference.get("dim"), reference.get("input_dim"))
        if weight.shape != expect or encoder != reference.get("encoder"):
            raise ValueError(f"adapter file {path} maps {encoder!r} {weight.shape[1]}-d to "
                             f"{weight.shape[0]}-d; the calibration file expects "
                             f"{reference.get('encoder')!r} {expect[1]}-d to {expect[0]}-d")
    return weight

def load_residual(path: str | Path, weight: np.ndarray) -> dict[str, np.ndarray]:
    """{item id: residual δ (k,)} of an adapter file (empty when it has none). Call after
    ``load_adapter`` has checked the file's hash; shapes are checked here."""
    with np.load(Path(path), allow_pickle=False) as z:
        if "residual" not in z.files:
            return {}
        residual, ids = np.array(z["residual"]), [str(i) for i in z["item_ids"]]
    k = weight.shape[0]
    if residual.shape != (len(ids), k) or not np.isfinite(residual).all() or \
            len(set(ids)) != len(ids):
        raise ValueError(f"adapter file {path}: residual has shape {residual.shape} for "
                         f"{len(ids)} item ids; expected finite ({len(ids)}, {k}) rows, one per "
                         "distinct id")
    return dict(zip(ids, residual, strict=True))

def adapt_catalog(catalog: Any, weight: np.ndarray, tag: str,
                  residual: dict[str, np.ndarray] | None = None) -> Any:
    """``catalog`` with its embeddings replaced by normalise(W e [+ δ]) (δ for the items whose
    id the fit saw; ids, texts, categories and item attributes unchanged, nothing re-encoded):
    the catalog the engine runs on, so drift, satiation, the walk basis and trend centroids are
    computed in the adapted space. ``tag`` marks ``encoder_name`` (a cache or pool keyed by it
    must not mix the two spaces)."""
    from dataclasses import replace

    f = torch.tensor(np.asarray(catalog.embeddings, dtype=np.float32)) @ torch.tensor(weight).T
    if residual:
        rows = [i for i, item in enumerate(catalog.ids) if item in residual]
        if rows:
            f[rows] += torch.tensor(np.stack([residual[catalog.ids[i]] for i in rows]))
    return replace(catalog, embeddings=torch.nn.functional.normalize(f, dim=1).numpy(),
                   encoder_name=f"{catalog.encoder_name}|{tag}")

def adapt_pool(pool: Any, weight: np.ndarray) -> Any:
    """A real-data ``UserPool`` in the adapted space: interests (means of the users' early
    history in the text space) mapped by W and re-normalised — the linear image of the same
    history; profiles in the text space (d = W's input dim) mapped the same way, agent-side
    ones kept."""
    from ..sources.users import UserPool

    d = weight.shape[1]
    if pool.interests.shape[1] != d:
        raise ValueError(f"user_pool.interests has dim {pool.interests.shape[1]}; the adapter "
                         f"maps the encoder's {d}-d space, so expected dim {d}")
    profiles = pool.profiles
    if profiles.shape[1] == d:
        profiles = adapted_embeddings(weight, profiles)
    return UserPool(interests=adapted_embeddings(weight, pool.interests), profiles=profiles,
                    texts=pool.texts)

class AdaptedEncoder:
    """An encoder followed by the adapter: persona texts land in the adapted space (profile =
    normalise(W text embedding)), so ``persona_pool`` works unchanged on an adapted catalog."""

    def __init__(self, encoder: Any, weight: np.ndarray, name: str) -> None:
        self.encoder, self.weight, self.name = encoder, weight, name

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        return adapted_embeddings(self.weight, self.encoder.encode(texts, **kwargs))
