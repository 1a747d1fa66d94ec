"""Fitting the behaviour-tuned item space: Adam on mini-batches of users, early stopping on
the validation slice, a resumable checkpoint after every epoch, and the held-out report."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_save
from tqdm.auto import tqdm

from ..config import UserModelConfig
from .likelihood import (
    ADAPTER_PARAMETERS,
    SPREAD_OVERRIDE,
    AdapterModel,
    catalog_tensors,
    cooccurrence_basis,
    mean_loglik,
    model_parameters,
    pca_basis,
    replay,
    score_events,
    set_parameters,
)
from .logs import EVAL, GAP, TRAIN, VALID, WARMUP, SequenceLog
from .settings import AdapterConfig


@dataclass
class AdapterFit:
    """A fitted adapter: W (k, d), the user-model parameters, and how the fit went."""

    weight: np.ndarray
    parameters: dict[str, float]
    residual: np.ndarray | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def overrides(self) -> dict[str, float]:
        keys = {**ADAPTER_PARAMETERS, "interest_spread": SPREAD_OVERRIDE}
        return {keys[k]: float(v) for k, v in self.parameters.items()}


def _fingerprint(log: SequenceLog, embeddings: np.ndarray, appeal: np.ndarray,
                 cfg: AdapterConfig, model: UserModelConfig) -> str:
    """Hash of what the fit sees (fitted phases only) — a checkpoint from other data or settings
    is refused, not silently resumed."""
    h = hashlib.sha256()
    fit_mask = np.isin(log.phase, (WARMUP, TRAIN, VALID, GAP))
    for arr in (log.init, log.interests, np.where(fit_mask, log.items, -2),
                np.where(fit_mask, np.nan_to_num(log.ratings, nan=-9), -9), embeddings, appeal):
        if arr is not None:
            h.update(np.ascontiguousarray(arr).tobytes())
    cfg_items = {k: v for k, v in asdict(cfg).items() if k != "progress"}
    h.update(repr(sorted(cfg_items.items())).encode())
    h.update(repr(model).encode())
    return h.hexdigest()


def fit_adapter(
    log: SequenceLog,
    embeddings: np.ndarray,
    appeal: np.ndarray,
    model: UserModelConfig,
    cfg: AdapterConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
) -> AdapterFit:
    """Fit W and the user-model parameters by maximum likelihood of the TRAIN events, with early
    stopping on the VALID events. Held-out (EVAL) events are never replayed.

    ``checkpoint``: a file rewritten atomically after every epoch; if it exists when the fit
    starts, the fit resumes from it (an error if it belongs to other data or settings)."""
    cfg = cfg or AdapterConfig()
    emb, app = catalog_tensors(embeddings, appeal)
    log.check(emb.shape[0], emb.shape[1], needs=(TRAIN, VALID))
    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.seed)  # no global draws are used; this only pins torch's own init
    basis = (cooccurrence_basis(log, emb.numpy(), cfg.dim, cfg.seed) if cfg.init == "cooccurrence"
             else pca_basis(emb.numpy(), cfg.dim))
    begin = ({} if cfg.start_satiation_rate is None
             else {"satiation_rate": cfg.start_satiation_rate})
    net = AdapterModel(basis, model, num_items=emb.shape[0] if cfg.residual_l2 > 0 else 0,
                       **_spread_options(cfg, model, begin))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    fp = _fingerprint(log, emb.numpy(), app.numpy(), cfg, model)
    start = {"epoch": 0, "best": -math.inf, "best_state": None, "bad": 0, "history": []}
    if checkpoint is not None and Path(checkpoint).exists():
        start = _load_checkpoint(Path(checkpoint), fp, net, opt)
    n_train = log.count(TRAIN)
    best, best_state, bad, history = (start["best"], start["best_state"], start["bad"],
                                      start["history"])
    epoch = start["epoch"]
    bar = tqdm(total=cfg.max_epochs, initial=epoch, desc="adapter", unit="epoch",
               disable=not cfg.progress)
    while epoch < cfg.max_epochs and bad < cfg.patience:
        train_ll = 0.0
        for rows, last in log.batches(cfg.batch_users, (TRAIN,), seed=[cfg.seed, epoch]):
            out = replay(net, log.take(rows, last), emb, app, (TRAIN,), cfg)
            loss = -out["loglik"] / max(n_train, 1)
            if net.residual is not None:
                share = out["events"] / max(n_train, 1)
                loss = loss + cfg.residual_l2 * share * net.residual.square().sum() / max(n_train, 1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            train_ll += float(out["loglik"].detach())
        valid = _mean_ll(net, log, emb, app, (VALID,), cfg)
        epoch += 1
        history.append({"epoch": epoch, "train_ll": train_ll / max(n_train, 1),
                        "valid_ll": valid})
        if valid > best + 1e-5:
            best, bad = valid, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:  # a plateau: smaller steps resolve the flat directions (beta vs satiation)
            bad += 1
            for group in opt.param_groups:
                group["lr"] *= cfg.lr_decay
        bar.update(1)
        bar.set_postfix(valid_ll=f"{valid:.4f}")
        if checkpoint is not None:
            state = {"fingerprint": fp, "epoch": epoch, "best": best, "best_state": best_state,
                     "bad": bad, "history": history, "net": net.state_dict(),
                     "opt": opt.state_dict()}
            atomic_save(checkpoint, lambda fh, st=state: torch.save(st, fh))
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    best_epoch = max(history, key=lambda r: r["valid_ll"])["epoch"] if history else 0
    return AdapterFit(
        weight=net.weight.detach().numpy().copy(), parameters=net.parameters_dict(),
        residual=None if net.residual is None else net.residual.detach().numpy().copy(),
        history=history, best_epoch=best_epoch,
        meta={"epochs": epoch, "train_events": n_train, "valid_events": log.count(VALID),
              "wall_s": round(time.perf_counter() - t0, 2),
              "cpu_s": round(time.process_time() - c0, 2), "fingerprint": fp},
    )


def _spread_options(cfg: AdapterConfig, model: UserModelConfig, start: dict[str, float]
                    ) -> dict[str, Any]:
    """``AdapterModel`` options: without ``fit_spread`` today's fit (one node, σ unused);
    with it σ is fitted too, from ``start_spread`` or the preset's σ (0.2 if it has none: a
    softplus started at 0 has no gradient), integrated over ``quadrature`` nodes."""
    if not cfg.fit_spread:
        return {"start": start}
    sigma = cfg.start_spread or model_parameters(model)["interest_spread"] or 0.2
    return {"start": {**start, "interest_spread": sigma}, "quadrature": cfg.quadrature,
            "fitted": (*ADAPTER_PARAMETERS, "interest_spread")}


def _load_checkpoint(path: Path, fp: str, net: AdapterModel, opt: torch.optim.Optimizer
                     ) -> dict[str, Any]:
    try:
        state = torch.load(path, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ValueError(f"adapter checkpoint {path} cannot be read ({type(exc).__name__}: "
                         f"{exc}); delete it to start the fit afresh") from None
    if not isinstance(state, dict) or state.get("fingerprint") != fp:
        raise ValueError(f"adapter checkpoint {path} belongs to another data set or settings "
                         "(fingerprint differs); delete it or choose another checkpoint file")
    net.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    return state


def _mean_ll(net: AdapterModel, log: SequenceLog, emb: torch.Tensor, app: torch.Tensor,
             phases: tuple[int, ...], cfg: AdapterConfig) -> float:
    """The validation score (a name the resumption test interrupts)."""
    return mean_loglik(net, log, emb, app, phases, cfg, cfg.batch_users)


def evaluate_adapter(fit: AdapterFit, log: SequenceLog, embeddings: np.ndarray,
                     appeal: np.ndarray, model: UserModelConfig, cfg: AdapterConfig,
                     rows_filter: Any = None, new_items: np.ndarray | None = None
                     ) -> dict[str, float]:
    """Held-out (EVAL) hit@k, NDCG@k, MRR (exact under random tie-breaks) and mean
    log-likelihood of a fitted adapter; ``rows_filter(items) -> bool mask`` restricts the
    events scored (e.g. cold-start targets); ``new_items`` (M,) bool: items treated as new, whose
    residual is dropped (text only)."""
    spread = "interest_spread" in fit.parameters
    net = AdapterModel(fit.weight, model, 0 if fit.residual is None else len(fit.residual),
                       quadrature=cfg.quadrature if spread else 1)
    set_parameters(net, fit.weight, fit.parameters)
    if net.residual is not None:
        keep = np.ones(len(fit.residual), bool) if new_items is None else ~np.asarray(new_items)
        with torch.no_grad():
            net.residual.copy_(torch.tensor(fit.residual * keep[:, None]))
    emb, app = catalog_tensors(embeddings, appeal)
    if fit.weight.shape[1] != emb.shape[1]:
        raise ValueError(f"the adapter maps {fit.weight.shape[1]}-d embeddings; the catalog's "
                         f"are {emb.shape[1]}-d (another encoder?); expected the fitted one's")
    log.check(emb.shape[0], emb.shape[1], needs=(EVAL,))
    if rows_filter is not None:
        keep = (log.phase != EVAL) | rows_filter(log.items)
        log = replace(log, phase=np.where(keep, log.phase, GAP).astype(np.int8))
    return score_events(net, log, emb, app, cfg, cfg.batch_users)
