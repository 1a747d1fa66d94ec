"""The fit in the encoder's own space: the user model's scalar parameters by maximum likelihood
of logged choices, with W frozen to the identity (``likelihood.py``: the same likelihood as the
adapter fit, through the reference step's functions).

Per-user spread: the engine draws ``beta_b = beta·exp(sigma·h − sigma²/2)``, h ~ N(0, 1)
(``users.py``); the likelihood integrates h out per user by Gauss-Hermite quadrature
(``quadrature`` nodes), so ``sigma`` = ``heterogeneity.interest_spread`` is fitted by marginal
likelihood. The other spreads (drift, boredom, no-click) and the exogenous random walk are not
integrated out (they stay at the preset's values; the walk is zero-mean noise).

Identifiability (why some parameters are fixed): the boredom weight lambda and the satiation rate
enter only as their product, so lambda stays at the preset and ``satiation_rate`` absorbs the
scale; beta and tau likewise (tau stays). ``no_click_utility`` is only identified where the log
records shown-but-not-clicked steps (slates, or MIND's impressions: ``log_from_impressions``); a
consumption log (MovieLens, Amazon) fixes it at the preset.

Fitting: full-batch L-BFGS on the unconstrained scalars, users streamed in chunks, starting from
the preset. ``tests/envs/test_calibration.py`` replays engine rollouts through the likelihood
and checks it against the engine's own choice probabilities. The report: next-item hit@10,
NDCG@10, MRR and mean log-likelihood on the held-out tails for the calibrated model, the
uncalibrated preset and a popularity baseline — conditional on a consumption, so all three are
distributions over the same candidate set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import UserModelConfig
from ..model.choice import position_effect
from .likelihood import AdapterModel, catalog_tensors, from_raw, replay, score_events
from .logs import EVAL, TRAIN, SequenceLog
from .settings import CalibrationConfig


@dataclass
class World:
    """The catalog and preset the raw-space likelihood runs on."""

    embeddings: torch.Tensor  # (M, d) unit rows
    appeal: torch.Tensor  # (M,)
    log_popularity: torch.Tensor  # (M,)
    model: UserModelConfig
    positions: torch.Tensor | None  # (K,) position effect, slate mode


def make_world(
    embeddings: np.ndarray,
    appeal: np.ndarray,
    popularity: np.ndarray,
    model: UserModelConfig,
    slate_size: int | None = None,
) -> World:
    """Tensors for the likelihood from catalog arrays; ``slate_size``: the position effect of
    ranked slates (None: catalog mode, or shown lists without positions)."""
    emb, app = catalog_tensors(embeddings, appeal)
    pop = torch.as_tensor(np.asarray(popularity, dtype=np.float64))
    if tuple(pop.shape) != (emb.shape[0],) or not bool((pop > 0).all()):
        raise ValueError(f"item popularity has shape {tuple(pop.shape)}; expected positive "
                         f"({emb.shape[0]},) counts, one per item")
    return World(
        embeddings=emb,
        appeal=app,
        log_popularity=torch.log(pop / pop.sum()).float(),
        model=model,
        positions=None if slate_size is None else position_effect(slate_size, model.choice).float(),
    )


def raw_model(world: World, start: dict[str, float], fitted: tuple[str, ...],
              cfg: CalibrationConfig) -> AdapterModel:
    """The likelihood's model in the encoder's space: W the identity, ``fitted`` free."""
    return AdapterModel(None, world.model, fitted=fitted, start=start,
                        positions=world.positions, quadrature=cfg.quadrature)


def _chunks(log: SequenceLog, cfg: CalibrationConfig) -> list[SequenceLog]:
    return [log.take(rows, last) for rows, last in log.batches(cfg.batch_users, (TRAIN,))]


def fit(
    log: SequenceLog,
    world: World,
    start: dict[str, float],
    fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> tuple[dict[str, float], dict[str, float]]:
    """Maximise the held-in marginal log-likelihood; returns (parameters, loglik per event)."""
    net = raw_model(world, start, fitted, cfg)
    log.check(*world.embeddings.shape, needs=(TRAIN,))
    n_events = max(log.count(TRAIN), 1)
    parts = _chunks(log, cfg)

    def objective(with_grad: bool) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64)
        for part in parts:
            with torch.set_grad_enabled(with_grad):
                out = replay(net, part, world.embeddings, world.appeal, (TRAIN,), cfg)
                loss = -out["loglik"].double() / n_events
                if with_grad:
                    loss.backward()
            total = total + loss.detach()
        return total

    with torch.no_grad():
        start_ll = -float(objective(False))
    optimizer = torch.optim.LBFGS(
        list(net.raw.values()), lr=1.0, max_iter=cfg.max_iter, max_eval=cfg.max_iter * 5 // 4,
        history_size=10, line_search_fn="strong_wolfe", tolerance_grad=1e-6,
        tolerance_change=1e-8,
    )
    bar = tqdm(total=cfg.max_iter * 5 // 4, desc="calibrate", unit="eval",
               disable=not cfg.progress, leave=False)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective(True)
        bar.set_postfix(loglik=f"{-float(loss):.4f}")
        bar.update(1)
        return loss

    if fitted:
        optimizer.step(closure)
    bar.close()
    with torch.no_grad():
        end_ll = -float(objective(False))
    return {**start, **net.parameters_dict()}, {"defaults": start_ll, "calibrated": end_ll}


def evaluate(
    log: SequenceLog,
    world: World,
    parameters: dict[str, float] | None,
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Held-out metrics (``likelihood.score_events``) of the user model with ``parameters``
    held fixed; None: the popularity baseline, i.e. the same likelihood with β = 0, appeal =
    τ·log-popularity, no satiation, drift, position effect or no-click utility."""
    log.check(*world.embeddings.shape, needs=(EVAL,))
    if parameters is not None:
        net = raw_model(world, parameters, (), cfg)
        return score_events(net, log, world.embeddings, world.appeal, cfg, cfg.batch_users)
    tau = world.model.choice.temperature
    net = raw_model(world, {"interest_weight": 0.0, "appeal_weight": tau, "no_click_utility": 0.0,
                            "interest_spread": 0.0}, (), cfg)
    net.satiation_on = net.drift_on = False
    net.positions = None
    return score_events(net, log, world.embeddings, world.log_popularity, cfg, cfg.batch_users)


def standard_errors(
    log: SequenceLog, world: World, parameters: dict[str, float], fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Asymptotic standard errors of the fitted parameters: the inverse observed information
    (Hessian of the negative marginal log-likelihood in the unconstrained space, by autograd),
    mapped to the constrained space by the delta method."""
    net = raw_model(world, parameters, fitted, cfg)
    raw0 = torch.stack([net.raw[k].detach().double() for k in fitted])
    parts = _chunks(log, cfg)

    def nll(raw: torch.Tensor) -> torch.Tensor:
        net.raw_override = {k: raw[i].float() for i, k in enumerate(fitted)}
        total = torch.zeros((), dtype=torch.float64)
        for part in parts:
            out = replay(net, part, world.embeddings, world.appeal, (TRAIN,), cfg)
            total = total - out["loglik"].double()
        return total

    try:
        hess = torch.autograd.functional.hessian(nll, raw0)
    finally:
        net.raw_override = None
    cov = torch.linalg.inv(hess)
    out = {}
    for i, k in enumerate(fitted):
        r = raw0[i].clone().requires_grad_(True)
        (dv,) = torch.autograd.grad(from_raw(k, r), r)
        out[k] = float(abs(dv) * cov[i, i].clamp_min(0).sqrt())
    return out
