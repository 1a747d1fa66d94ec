"""Behaviour-tuned item space: a linear adapter from the encoder's item embeddings to the
simulator's interest space, fitted jointly with the user model by likelihood of next choices.

Why: in the raw language-model space the calibrated user barely beats popularity on held-out
next items (``benchmarks/results/calibration_movielens.json``); what real users respond to is
not what MiniLM's geometry encodes. A learned map W (k, d) keeps items text-grounded — a new item
gets ``normalise(W e)`` from its text alone — while the users' next choices supervise it.

The likelihood is the reference user model's (``envs/model/reference.py``), run along each
user's logged sequence in the adapted space f_j = normalise(W e_j):

    v_j  = γ a_j + β <u, f_j> − λ max(0, <s, f_j>)        ``reference.utility``
    P(j) = softmax_j(v_j / τ) over the items still available (catalog mode, no slates)
    u    ← normalise(u + η (r − r0)/2 · f_j)              ``reference.drift`` (+ normalise)
    s    ← decay · s + rate · f_j                         ``reference.satiation``

Fitted: W, β (interest_weight), γ (appeal_weight), η (drift_rate), r0 (drift_neutral_rating,
in [1, 5]: r0 = 1 turns the rating-signed drift into a pull toward every consumed item —
recency — without a new mechanism), and the satiation rate and decay. Fixed: τ, λ (only λ·rate
is identified) and the per-user spreads; no-click utility is not identified by a consumption
log. Initial interest: u0 = normalise(mean of f over the user's init items), then the last
``warmup`` init items are replayed through drift and satiation unscored.

Fitting: Adam on mini-batches of users, early stopping on the mean log-likelihood of a
validation slice (the last ``valid_steps`` held-in events of each user), a checkpoint after
every epoch (atomic; an interrupted fit resumes from it and ends bit-identical to an
uninterrupted one), the adapter file written atomically with its SHA-256 in the calibration file.
Held-out events are never replayed by the fit (``tests/envs/test_adapter.py`` perturbs them and
checks the fit is bit-identical).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from ..config import UserModelConfig
from ..model.reference import drift as reference_drift
from ..model.reference import satiation as reference_satiation
from ..model.reference import utility as reference_utility
from ..ranking import TargetRanks, target_ranks
from .logs import PAD, SequenceLog
from .settings import AdapterConfig

#: Fitted user-model parameters (beside W) and their scenario override keys.
ADAPTER_PARAMETERS = {
    "interest_weight": "choice_interest_weight",
    "appeal_weight": "choice_appeal_weight",
    "drift_rate": "drift_rate",
    "drift_neutral_rating": "drift_neutral_rating",
    "satiation_rate": "satiation_rate",
    "satiation_decay": "satiation_decay",
}

def _softplus_inv(y: float) -> float:
    y = max(y, 1e-4)
    return y + math.log(-math.expm1(-y))

def _logit(y: float) -> float:
    y = min(max(y, 1e-4), 1 - 1e-4)
    return math.log(y / (1 - y))

def pca_basis(embeddings: np.ndarray, k: int) -> np.ndarray:
    """(k, d) top-k principal directions of the item embeddings: W's starting point (the
    adapted space starts as the text space's best k-d summary). Sign-fixed for determinism."""
    x = torch.tensor(np.asarray(embeddings, dtype=np.float64))
    if k > min(x.shape):
        raise ValueError(f"adapter dim {k} exceeds min(M, d) = {min(x.shape)} of the item "
                         f"embeddings {tuple(x.shape)}; expected dim <= {min(x.shape)}")
    _, _, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
    basis = vh[:k]
    sign = torch.sign(basis[torch.arange(k), basis.abs().argmax(1)])
    return (basis * sign.unsqueeze(1)).float().numpy()

class AdapterModel(torch.nn.Module):
    """W and the user-model parameters, unconstrained (softplus / sigmoid maps)."""

    def __init__(self, basis: np.ndarray, model: UserModelConfig, num_items: int = 0) -> None:
        super().__init__()
        # f = normalise(W e) ignores W's scale; entries of order one make Adam's step (about
        # ``learning_rate`` per entry) a relative change comparable to the scalars' steps.
        basis = np.asarray(basis, dtype=np.float32)
        scale = math.sqrt(basis.shape[1]) / max(float(np.linalg.norm(basis, axis=1).mean()), 1e-12)
        self.weight = torch.nn.Parameter(torch.tensor(basis * scale))
        self.residual = (torch.nn.Parameter(torch.zeros(num_items, basis.shape[0]))
                         if num_items else None)
        c, dr, sat = model.choice, model.drift, model.satiation
        self.raw = torch.nn.ParameterDict({
            "interest_weight": _param(_softplus_inv(c.interest_weight)),
            "appeal_weight": _param(c.appeal_weight),
            "drift_rate": _param(_softplus_inv(dr.rate)),
            "drift_neutral_rating": _param(_logit((dr.neutral_rating - 1.0) / 4.0)),
            "satiation_rate": _param(_softplus_inv(sat.rate)),
            "satiation_decay": _param(_logit(sat.decay)),
        })
        self.temperature = float(c.temperature)
        self.boredom_weight = float(sat.boredom_weight)
        self.satiation_on = bool(sat.enabled)
        self.drift_on = bool(dr.enabled)

    def values(self) -> dict[str, torch.Tensor]:
        sp, r = torch.nn.functional.softplus, self.raw
        return {
            "interest_weight": sp(r["interest_weight"]),
            "appeal_weight": r["appeal_weight"],
            "drift_rate": sp(r["drift_rate"]),
            "drift_neutral_rating": 1.0 + 4.0 * torch.sigmoid(r["drift_neutral_rating"]),
            "satiation_rate": sp(r["satiation_rate"]),
            "satiation_decay": torch.sigmoid(r["satiation_decay"]),
        }

    def parameters_dict(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.values().items()}

    def item_space(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(M, k) adapted, re-normalised item vectors normalise(W e [+ δ])."""
        x = embeddings @ self.weight.T
        return torch.nn.functional.normalize(x if self.residual is None else x + self.residual,
                                             dim=1)

def _param(x: float) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(float(x), dtype=torch.float32))

def adapted_embeddings(weight: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(M, k) float32 normalise(W e): the item vectors the simulator runs on (new items too)."""
    f = torch.tensor(np.asarray(embeddings, dtype=np.float32)) @ torch.tensor(weight).T
    return torch.nn.functional.normalize(f, dim=1).numpy()

def _views(
    p: dict[str, torch.Tensor], net: AdapterModel, f: torch.Tensor, appeal: torch.Tensor, b: int
) -> tuple[SimpleNamespace, SimpleNamespace]:
    """The reference's ``state`` / ``params`` views over the likelihood's tensors: the reference
    functions read only these attributes, so the fitted values (autograd tensors) flow through
    the reference's own formulas."""
    model = SimpleNamespace(
        choice=SimpleNamespace(appeal_weight=p["appeal_weight"]),
        drift=SimpleNamespace(enabled=net.drift_on, neutral_rating=p["drift_neutral_rating"]),
        satiation=SimpleNamespace(enabled=net.satiation_on, decay=p["satiation_decay"],
                                  rate=p["satiation_rate"]),
    )
    params = SimpleNamespace(embeddings=f, appeal=appeal, model=model)
    state = SimpleNamespace(
        pool_ids=torch.arange(f.shape[0]), beta=p["interest_weight"].expand(b),
        boredom_weight=torch.full((b,), net.boredom_weight), interest=None, satiation=None,
    )
    return state, params

def replay(
    net: AdapterModel,
    log: SequenceLog,
    embeddings: torch.Tensor,
    appeal: torch.Tensor,
    scored: tuple[int, ...],
    cfg: AdapterConfig,
    *,
    ranks: bool = False,
) -> dict[str, Any]:
    """Run the reference user model along ``log`` in the adapted space; sum the log-likelihood
    of events in ``scored`` phases (differentiable), and collect their ranks if asked."""
    b, t_len = log.items.shape
    p = net.values()
    f = net.item_space(embeddings)
    items = torch.from_numpy(log.items)
    phase = torch.from_numpy(log.phase.astype(np.int64))
    rating = torch.from_numpy(np.nan_to_num(log.ratings, nan=cfg.implicit_rating))
    init = torch.from_numpy(log.init)
    state, params = _views(p, net, f, appeal, b)
    mask = (init >= 0).unsqueeze(2).float()
    u = torch.nn.functional.normalize((f[init.clamp_min(0)] * mask).sum(1), dim=1)
    s = torch.zeros_like(u)
    available = (None if log.unavailable is None
                 else ~torch.from_numpy(log.unavailable).clone())
    total, count = torch.zeros(()), 0
    parts: list[TargetRanks] = []
    lls: list[torch.Tensor] = []
    rows_b = torch.arange(b)
    eta = p["drift_rate"].expand(b)
    scored_t = torch.tensor(scored)
    for t in range(t_len):
        ph = phase[:, t]
        j = items[:, t]
        live = ph != PAD
        hit = torch.isin(ph, scored_t)
        if bool(hit.any()):
            state.interest, state.satiation = u, s
            v = reference_utility(state, params) / net.temperature
            if available is not None:
                v = v.masked_fill(~available, -torch.inf)
            logp = v[rows_b, j] - torch.logsumexp(v, dim=1)
            total = total + logp[hit].sum()
            count += int(hit.sum())
            if ranks:
                parts.append(target_ranks(v[hit].detach(), j[hit]))
                lls.append(logp[hit].detach().double())
        e = f[j]
        u = torch.nn.functional.normalize(
            reference_drift(u, e, rating[:, t], live, eta, params.model), dim=1)
        s = reference_satiation(s, e, live, params.model)
        if available is not None:
            taken = torch.nn.functional.one_hot(j, f.shape[0]).bool() & live.unsqueeze(1)
            available = available & ~taken
    return {"loglik": total, "events": count, "ranks": parts, "lls": lls}

def sample_log(
    net: AdapterModel,
    embeddings: np.ndarray,
    appeal: np.ndarray,
    init: np.ndarray,
    ratings: np.ndarray,
    phase: np.ndarray,
    seed: int,
) -> SequenceLog:
    """Choices drawn from the model itself — the reference's utility, drift and satiation in the
    adapted space of ``net`` — for users with ``init`` (B, L) items, given ``ratings`` (B, T) and
    ``phase`` (B, T): the ground truth of recovery tests. Every item stays a candidate."""
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    app = torch.tensor(np.asarray(appeal, dtype=np.float32))
    gen = torch.Generator().manual_seed(seed)
    b, t_len = ratings.shape
    items = np.zeros((b, t_len), dtype=np.int64)
    with torch.no_grad():
        p = net.values()
        f = net.item_space(emb)
        state, params = _views(p, net, f, app, b)
        init_t = torch.from_numpy(init)
        mask = (init_t >= 0).unsqueeze(2).float()
        u = torch.nn.functional.normalize((f[init_t.clamp_min(0)] * mask).sum(1), dim=1)
        s = torch.zeros_like(u)
        live = torch.ones(b, dtype=torch.bool)
        for t in range(t_len):
            state.interest, state.satiation = u, s
            v = reference_utility(state, params) / net.temperature
            j = torch.multinomial(torch.softmax(v, dim=1), 1, generator=gen).squeeze(1)
            items[:, t] = j.numpy()
            e = f[j]
            r = torch.from_numpy(np.asarray(ratings[:, t], dtype=np.float32))
            u = torch.nn.functional.normalize(
                reference_drift(u, e, r, live, p["drift_rate"].expand(b), params.model), dim=1)
            s = reference_satiation(s, e, live, params.model)
    return SequenceLog(init=init, items=items, ratings=ratings.astype(np.float32),
                       phase=phase.astype(np.int8), unavailable=None)

def set_parameters(net: AdapterModel, weight: np.ndarray, parameters: dict[str, float]) -> None:
    """Put W and the named user-model parameters into ``net`` (e.g. a known truth)."""
    unknown = sorted(set(parameters) - set(ADAPTER_PARAMETERS))
    if unknown:
        raise ValueError(f"unknown adapter parameters {unknown}; expected {list(ADAPTER_PARAMETERS)}")
    with torch.no_grad():
        net.weight.copy_(torch.tensor(np.asarray(weight, dtype=np.float32)))
        for k, v in parameters.items():
            net.raw[k].copy_(torch.tensor(_unconstrain(k, float(v))))

def _unconstrain(name: str, value: float) -> float:
    if name in ("interest_weight", "drift_rate", "satiation_rate"):
        return _softplus_inv(value)
    if name == "satiation_decay":
        return _logit(value)
    if name == "drift_neutral_rating":
        return _logit((value - 1.0) / 4.0)
    return value
