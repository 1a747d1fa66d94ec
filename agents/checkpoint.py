"""Agent checkpoints: one file format, read defensively, checked against the env it is loaded into.

A checkpoint is a torch zip file (``torch.save``) of plain data and tensors only, read back with
``weights_only=True``::

    {"format": 2, "agent": "linucb", "signature": {...env...}, "config": {...},
     "state": {...tensors...}, "rng": {...}, "extra_rng": {...}}

Why a signature: parameters learned on one env are numbers about *that* env's items and embedding
space. Without it a LinUCB trained on ``video`` loaded into ``news`` and acted, one trained on
MiniLM vectors acted in a hashing env, and the networks failed with torch's raw ``size mismatch``.
The signature records the scenario, a fingerprint of the catalog's content, the encoder (name and
revision), the agent's view of the embeddings, N, K, H, d and the observation shapes;
``Agent.load`` compares it with the env the agent was built for and names both sides of each
difference. ``strict=False`` is the deliberate opt-in to a transfer; the state must then still fit
key by key and shape by shape, or the load fails naming the tensors that do not.

Reading trusts nothing in the file: a missing file, a directory, an empty file, one that is not a
torch zip archive, a truncated one, one holding objects other than tensors and plain data, another
agent's checkpoint, a newer format, malformed fields — each is an error naming the file and what
was expected, raised before the agent changes (``Agent.load`` restores into the agent only after
every check has passed, and rolls back if the agent's own restore fails).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Version of the file layout; 1 was the layout before the env signature (no ``format`` key).
FORMAT = 2
_ZIP_MAGIC = b"PK\x03\x04"
_EXPECTED = "a checkpoint written by Agent.save"
_MAX_LISTED = 4


class CheckpointError(ValueError):
    """A checkpoint cannot be read, is not an agent checkpoint, or does not fit this agent/env."""


# ----- the env signature -------------------------------------------------------------------------
def observation_shapes(n: int, h: int, d: int) -> dict[str, tuple[int, ...]]:
    """Single-user observation shapes the agents consume (the batched ones add a leading B)."""
    return {
        "candidate_ids": (n,),
        "candidate_embeddings": (n, d),
        "candidate_categories": (n,),
        "candidate_popularity": (n,),
        "history_ids": (h,),
        "history_responses": (h, 2),
        "history_mask": (h,),
        "profile_embedding": (d,),
        "step": (1,),
    }


def catalog_fingerprint(catalog: Any) -> str:
    """sha256 of the catalog's agent-visible content: item ids, texts and categories.

    Content, not names: a custom catalog called ``video`` with other items gets another
    fingerprint. The embeddings are left out on purpose (the encoder is recorded by name and
    revision; float vectors recomputed on another machine may differ in the last bit).
    """
    content = [list(catalog.ids), list(catalog.texts), list(catalog.categories),
               np.asarray(catalog.category_ids).tolist()]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8"))
    return "sha256:" + digest.hexdigest()[:16]


def table_fingerprint(table: np.ndarray, category_ids: np.ndarray) -> str:
    """Fingerprint of a hand-built spec without a catalog: its item table and categories."""
    digest = hashlib.sha256(np.ascontiguousarray(table, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(category_ids, dtype=np.int64).tobytes())
    return "table-sha256:" + digest.hexdigest()[:16]


def env_signature(spec: Any) -> dict[str, Any]:
    """What a checkpoint records about the env its agent was trained on (plain data only)."""
    shapes = observation_shapes(spec.num_candidates, spec.history_length, spec.embedding_dim)
    return {
        "scenario": spec.scenario,
        "catalog": spec.catalog_fingerprint,
        "num_items": spec.num_items,
        "num_categories": spec.num_categories,
        "encoder": spec.encoder_name,
        "agent_view": spec.agent_view,
        "num_candidates": spec.num_candidates,
        "slate_size": spec.slate_size,
        "history_length": spec.history_length,
        "embedding_dim": spec.embedding_dim,
        "observation": {key: list(shape) for key, shape in shapes.items()},
    }


_LABELS = {
    "scenario": "scenario {!r}",
    "catalog": "catalog {}",
    "num_items": "M={} items",
    "num_categories": "C={} categories",
    "encoder": "encoder {!r}",
    "agent_view": "agent view {!r}",
    "num_candidates": "N={} candidates",
    "slate_size": "slate size K={}",
    "history_length": "history H={}",
    "embedding_dim": "embedding dim d={}",
}


def signature_differences(saved: Mapping[str, Any], current: Mapping[str, Any]
                          ) -> tuple[list[str], list[str]]:
    """The differing fields described on each side: (as in the checkpoint, as in this env)."""
    old, new = [], []
    for key, label in _LABELS.items():
        if saved.get(key) != current.get(key):
            old.append(label.format(saved.get(key)))
            new.append(label.format(current.get(key)))
    saved_obs = saved.get("observation") or {}
    current_obs = current.get("observation") or {}
    keys = [k for k in sorted(set(saved_obs) | set(current_obs))
            if saved_obs.get(k) != current_obs.get(k)]
    if keys:
        old.append(f"observation shapes {_shapes_text(saved_obs, keys)}")
        new.append(f"observation shapes {_shapes_text(current_obs, keys)}")
    return old, new


def _shapes_text(shapes: Mapping[str, Any], keys: list[str]) -> str:
    return "{" + ", ".join(
        f"{k!r}: {'absent' if shapes.get(k) is None else tuple(shapes[k])}" for k in keys) + "}"


def check_signature(path: Path, payload: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Strict mode: the checkpoint must come from an env with this env's signature."""
    saved = payload["signature"]
    if saved is None:
        raise CheckpointError(
            f"checkpoint {str(path)!r} records no env signature (format 1, written before "
            f"driftrec recorded which env an agent was trained on); this driftrec writes format "
            f"{FORMAT}; pass strict=False to load it deliberately where the shapes fit"
        )
    old, new = signature_differences(saved, current)
    if old:
        raise CheckpointError(
            f"checkpoint {str(path)!r} ({payload['agent']}) was trained on {', '.join(old)}; "
            f"this env is {', '.join(new)}; pass strict=False to transfer it deliberately "
            "where the shapes fit"
        )


def check_config(path: Path, saved: Mapping[str, Any], current: Mapping[str, Any],
                 agent: str) -> None:
    """Strict mode: the checkpoint's agent config must equal this agent's."""
    keys = [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    if keys:
        old = ", ".join(f"{k}={saved.get(k)!r}" for k in keys)
        new = ", ".join(f"{k}={current.get(k)!r}" for k in keys)
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by a {agent} with {old}; this {agent} has "
            f"{new}; pass strict=False to load its state into this config deliberately"
        )


# ----- the state must fit, key by key and shape by shape ----------------------------------------
def state_mismatches(saved: Any, current: Any, resizable: tuple[str, ...] = ()) -> list[str]:
    """Every place where the checkpoint's state tree does not fit this agent's, described.

    ``resizable``: top-level keys (or key prefixes) whose shapes follow the users the agent last
    acted for, not the env (per-user memory); their shapes are taken from the checkpoint.
    """
    if not isinstance(saved, Mapping):
        return [f"state is a {type(saved).__name__}; expected a dict"]
    out = _key_mismatches(saved, current, "state")
    for key in current:
        if key in saved:
            sized = not (resizable and str(key).startswith(resizable))
            out += _mismatches(saved[key], current[key], f"state.{key}", sized)
    return out


def _key_mismatches(saved: Mapping[str, Any], current: Mapping[str, Any], where: str
                    ) -> list[str]:
    missing = [k for k in current if k not in saved]
    extra = [k for k in saved if k not in current]
    return ([f"{where} lacks {_listed(missing)}"] if missing else []) + (
        [f"{where} has unexpected {_listed(extra)}"] if extra else [])


def _mismatches(saved: Any, current: Any, where: str, sized: bool) -> list[str]:
    if isinstance(current, Mapping):
        if not isinstance(saved, Mapping):
            return [(f"{where} is a {type(saved).__name__}; expected a dict with keys "
                    f"{_listed(list(current))}")]
        out = _key_mismatches(saved, current, where)
        for key in current:
            if key in saved:
                out += _mismatches(saved[key], current[key], f"{where}.{key}", sized)
        return out
    if isinstance(current, torch.Tensor):
        if not isinstance(saved, torch.Tensor):
            return [(f"{where} is a {type(saved).__name__}; expected a tensor of shape "
                    f"{tuple(current.shape)}")]
        if sized and saved.shape != current.shape:
            return [(f"{where} has shape {tuple(saved.shape)} in the checkpoint and "
                    f"{tuple(current.shape)} in this agent")]
        return []
    if type(saved) is not type(current):
        return [f"{where} is a {type(saved).__name__}; expected a {type(current).__name__}"]
    return []


def _listed(keys: list[Any]) -> str:
    more = f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return f"{[str(k) for k in keys[:_MAX_LISTED]]}{more}"


def check_state_fits(path: Path, payload: Mapping[str, Any], current_state: Mapping[str, Any],
                     current_signature: Mapping[str, Any], resizable: tuple[str, ...] = ()
                     ) -> None:
    """Raise naming the tensors that do not fit (never torch's raw ``size mismatch``)."""
    problems = state_mismatches(payload["state"], current_state, resizable=resizable)
    if not problems:
        return
    shown = "; ".join(problems[:_MAX_LISTED])
    if len(problems) > _MAX_LISTED:
        shown += f"; and {len(problems) - _MAX_LISTED} more"
    hint = ""
    if payload["signature"] is not None:
        old, new = signature_differences(payload["signature"], current_signature)
        if old:
            hint = f" (it was trained on {', '.join(old)}; this env is {', '.join(new)})"
    raise CheckpointError(
        f"checkpoint {str(path)!r} does not fit this {payload['agent']} agent: {shown}{hint}; "
        "the state of a checkpoint can only be loaded into an agent of the same shapes"
    )


# ----- reading ----------------------------------------------------------------------------------
def check_path(path: Any) -> Path:
    """``path`` as a Path; anything else is a TypeError naming what was given."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint path must be a str or os.PathLike, got {path!r} "
                        f"({type(path).__name__})")
    return Path(path)


def check_save_target(path: Path) -> None:
    """Refuse to write over a directory (``os.replace`` would fail after the temp file)."""
    if path.is_dir():
        raise CheckpointError(f"cannot save an agent to {str(path)!r}: it is a directory; "
                              "expected a file path such as agent.pt")


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a directory; expected {_EXPECTED} "
                              "(a file, e.g. agent.pt)")
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; expected {_EXPECTED}")
    with path.open("rb") as handle:
        head = handle.read(len(_ZIP_MAGIC))
    if not head:
        raise CheckpointError(f"checkpoint {str(path)!r} is empty (0 bytes); expected {_EXPECTED} "
                              "(an interrupted copy?)")
    if head != _ZIP_MAGIC:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a torch checkpoint: it starts with {head!r}, not a "
            f"zip archive's {_ZIP_MAGIC!r}; expected {_EXPECTED}"
        )


def _torch_load(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds objects other than tensors and plain data "
            f"({_first_line(exc)}); expected {_EXPECTED} (agents never unpickle arbitrary code)"
        ) from exc
    except Exception as exc:  # torch reports corrupt archives as RuntimeError, EOFError, OSError
        size = path.stat().st_size
        raise CheckpointError(
            f"checkpoint {str(path)!r} ({size} bytes) is truncated or corrupt "
            f"({type(exc).__name__}: {_first_line(exc)}); expected {_EXPECTED}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    """The informative sentence of torch's multi-paragraph errors (not its advice to load with
    ``weights_only=False``, which would let the file run code)."""
    text = str(exc)
    marker = "WeightsUnpickler error: "
    if marker in text:
        text = text[text.index(marker) + len(marker):]
    first = text.strip().splitlines()[0] if text.strip() else "no message"
    return re.split(r"\. (?=[A-Z])", first, maxsplit=1)[0][:200]


_FIELDS: dict[str, type] = {"agent": str, "config": Mapping, "state": Mapping, "rng": Mapping}


def read_checkpoint(path: Path, agent: str) -> dict[str, Any]:
    """Read and validate the header of ``path`` for an agent named ``agent``.

    Returns the payload with ``format``, ``signature`` (None for format 1) and ``extra_rng``
    filled in. Raises ``FileNotFoundError`` or ``CheckpointError`` naming the file.
    """
    _check_file(path)
    payload = _torch_load(path)
    if not isinstance(payload, Mapping) or not all(k in payload for k in _FIELDS):
        found = sorted(map(str, payload))[:8] if isinstance(payload, Mapping) else None
        what = f"a dict with keys {found}" if found is not None else f"a {type(payload).__name__}"
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a torch file but not an agent checkpoint: it holds "
            f"{what}; expected a dict with keys {['format', 'signature', *_FIELDS]}"
        )
    bad = [f"{k!r} is a {type(payload[k]).__name__}" for k, kind in _FIELDS.items()
           if not isinstance(payload[k], kind)]
    if bad:
        raise CheckpointError(f"checkpoint {str(path)!r} is malformed: {', '.join(bad)}; "
                              "expected 'agent' a str and 'config', 'state', 'rng' dicts")
    if payload["agent"] != agent:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds agent {payload['agent']!r}, not {agent!r}; load it "
            f"into make_agent({payload['agent']!r}, env)"
        )
    return {**payload, "format": _format(path, payload), "signature": _signature(path, payload),
            "extra_rng": payload.get("extra_rng") or {}}


def _format(path: Path, payload: Mapping[str, Any]) -> int:
    version = payload.get("format", 1)
    if type(version) is not int or version < 1:
        raise CheckpointError(f"checkpoint {str(path)!r} has format {version!r}; expected an "
                              f"int from 1 to {FORMAT}")
    if version > FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} has format {version}, newer than this "
                              f"driftrec reads (up to {FORMAT}); upgrade driftrec to load it")
    return version


def _signature(path: Path, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    signature = payload.get("signature")
    if payload.get("format", 1) >= 2 and not isinstance(signature, Mapping):
        raise CheckpointError(f"checkpoint {str(path)!r} has signature {signature!r}; expected a "
                              f"dict describing the env (format {FORMAT} records one)")
    shapes = signature.get("observation", {}) if isinstance(signature, Mapping) else {}
    if not isinstance(shapes, Mapping) or not all(
            isinstance(v, (list, tuple)) for v in shapes.values()):
        raise CheckpointError(f"checkpoint {str(path)!r} has observation shapes {shapes!r} in its "
                              "signature; expected a dict of key -> shape list")
    return dict(signature) if isinstance(signature, Mapping) else None


def clone_state(state: Any) -> Any:
    """A deep copy of a state tree (tensors cloned), for rolling back a failed restore."""
    if isinstance(state, Mapping):
        return {key: clone_state(value) for key, value in state.items()}
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, np.ndarray):
        return state.copy()
    return state
