"""Calibrate the simulated user to logged sequences by maximum likelihood of their choices.

The likelihood is that of the simulator itself (``engine.py``): for user b at step t, with
interest u, satiation s, shown items S_t (a slate, or every not-yet-consumed item when the log has
no slates) at positions k,

    v_j   = beta_b·<u, e_j> + gamma·appeal_j − lambda·max(0, <s, e_j>) + pos_k      (choice.py)
    P(j)  = exp(v_j/tau) / (exp(v0/tau) [slates only] + sum_{i in S_t} exp(v_i/tau))   (MNL)

then, after the logged consumption j with rating r (``satiation.py``, ``drift.py``):

    s ← decay·s + rate·e_j          u ← normalise(u + eta·(r − neutral)/2 · e_j)

Computing in *score space* keeps this exact and cheap: with the Gram matrix G = E Eᵀ (M, M) the
vectors a = E u and c = E s (M,) follow a ← (a + k·G_j) / sqrt(1 + 2k·a_j + k²·G_jj) and
c ← decay·c + rate·G_j, so a step costs O(M) per user instead of O(M·d) — and the drift and
boredom maps are the engine's own functions (``drift_strength``, ``boredom``,
``position_effect``). ``tests/envs/test_calibration.py`` replays engine rollouts through this
and checks the utilities against the engine's.

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

Fitting: full-batch L-BFGS on unconstrained parameters (softplus for weights and rates, sigmoid
for the decay), users streamed in chunks, starting from the preset. Validation on the held-out
tails: next-item hit@10, NDCG@10 and MRR (exact expectations under random tie-breaking,
``ranking.py``) and mean log-likelihood of the true next item among the candidates, for
the calibrated model, the uncalibrated preset and a popularity baseline — conditional on a
consumption, so all three are distributions over the same candidate set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import UserModelConfig
from ..model.choice import position_effect
from ..model.drift import drift_strength
from ..model.satiation import boredom
from ..ranking import TargetRanks, concat_ranks, ranking_metrics, target_ranks
from .logs import EVAL, GAP, PAD, TRAIN, ChoiceLog
from .settings import CalibrationConfig

_SOFTPLUS = ("interest_weight", "appeal_weight", "drift_rate", "satiation_rate", "interest_spread")

class _Params(torch.nn.Module):
    """Unconstrained raw parameters for the fitted ones; the rest are constants."""

    def __init__(self, start: dict[str, float], fitted: tuple[str, ...]) -> None:
        super().__init__()
        self.fitted = fitted
        self.const = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in start.items()}
        self.raw = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(_to_raw(k, float(start[k]))) for k in fitted}
        )

    def values(self) -> dict[str, torch.Tensor]:
        out = dict(self.const)
        for k, raw in self.raw.items():
            out[k] = _from_raw(k, raw)
        return out

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.values().items()}

def _to_raw(name: str, value: float) -> torch.Tensor:
    if name in _SOFTPLUS:
        y = max(value, 1e-4)
        return torch.tensor(y + math.log(-math.expm1(-y)), dtype=torch.float64)  # softplus⁻¹
    if name == "satiation_decay":
        y = min(max(value, 1e-4), 1 - 1e-4)
        return torch.tensor(math.log(y / (1 - y)), dtype=torch.float64)
    return torch.tensor(value, dtype=torch.float64)

def _from_raw(name: str, raw: torch.Tensor) -> torch.Tensor:
    if name in _SOFTPLUS:
        return torch.nn.functional.softplus(raw)
    if name == "satiation_decay":
        return torch.sigmoid(raw)
    return raw

@dataclass
class _World:
    """What the likelihood needs of the catalog and the preset (tensors, float32 unless noted)."""

    embeddings: torch.Tensor  # (M, d) unit rows
    gram: torch.Tensor  # (M, M) E Eᵀ
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
    max_items: int = 12000,
) -> _World:
    """Tensors for the likelihood from catalog arrays (the Gram matrix is (M, M) float32)."""
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    m = emb.shape[0]
    if m > max_items:
        raise ValueError(
            f"calibration keeps the (M, M) item Gram matrix in memory; M={m} items exceeds "
            f"max_gram_items={max_items} — subsample with max_items (--max-items)"
        )
    pop = torch.as_tensor(np.asarray(popularity, dtype=np.float64))
    return _World(
        embeddings=emb,
        gram=emb @ emb.T,
        appeal=torch.tensor(np.asarray(appeal, dtype=np.float32)),
        log_popularity=torch.log(pop / pop.sum()).float(),
        model=model,
        positions=None if slate_size is None else position_effect(slate_size, model.choice),
    )

def _nodes(q: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Hermite nodes/weights for E[f(h)], h ~ N(0, 1): h = √2·x, w/√π."""
    x, w = np.polynomial.hermite.hermgauss(q)
    return (torch.tensor(x * math.sqrt(2.0), dtype=torch.float64),
            torch.tensor(w / math.sqrt(math.pi), dtype=torch.float64))

def _replay(
    p: dict[str, torch.Tensor] | None,
    log: ChoiceLog,
    world: _World,
    cfg: CalibrationConfig,
    *,
    evaluate: bool,
) -> dict[str, torch.Tensor]:
    """Run the user model along ``log``. ``p`` None = popularity baseline (no user state).

    Returns ``train`` (Q, B) summed held-in log-likelihood per quadrature node (differentiable
    when ``p`` requires grad) and, when ``evaluate``, per-event held-out ``ranks`` and ``loglik``
    (flattened over EVAL events), the mixture over nodes weighted by each user's posterior from
    their held-in steps.
    """
    b, t_len = log.items.shape
    gram = world.gram
    m = gram.shape[0]
    items = torch.from_numpy(log.items)
    phase = torch.from_numpy(log.phase.astype(np.int64))
    ratings = torch.from_numpy(np.nan_to_num(log.ratings, nan=cfg.implicit_rating))
    slates = None if log.slates is None else torch.from_numpy(log.slates)
    tau = world.model.choice.temperature
    lam = world.model.satiation.boredom_weight
    e0 = torch.from_numpy(log.interests).float()
    if p is not None:
        a = e0 @ world.embeddings.T  # (B, M) interest scores E u0
        c = torch.zeros(b, m)  # satiation scores E s0, s0 = 0
        sigma = p["interest_spread"]
        x, w = _nodes(cfg.quadrature if float(sigma.detach()) > 0 else 1)
        beta_q = (p["interest_weight"] * torch.exp(sigma * x - 0.5 * sigma**2)).float()  # (Q,)
        gamma = p["appeal_weight"].float()
        decay = p["satiation_decay"].float()
        rate = p["satiation_rate"].float()
        eta = p["drift_rate"].float()
        v0 = p["no_click_utility"].float()
    else:
        x, w = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    q = x.shape[0]
    logw = torch.log(w).float()
    available = None
    if log.slates is None and log.unavailable is not None:
        available = ~torch.from_numpy(log.unavailable).clone()
    train = torch.zeros(q, b)
    ranks: list[TargetRanks] = []
    lls: list[torch.Tensor] = []
    arange_b = torch.arange(b)
    for t in range(t_len):
        ph = phase[:, t]
        if bool((ph == PAD).all()):
            break
        j = items[:, t]
        consumed = (j >= 0) & (ph != PAD)
        jj = j.clamp_min(0)
        scored = (ph == TRAIN) | (evaluate & (ph == EVAL))
        if bool(scored.any()):
            if slates is None:
                # Catalog mode: only two (Q, B, M) passes (addcmul, logsumexp); tau and the mask
                # are folded into the (B, M) base, the chosen item's utility is gathered in (B,).
                if p is None:
                    base = world.log_popularity.expand(b, m)
                    scale = torch.zeros(1)
                else:
                    base = (gamma * world.appeal - lam * boredom(c)) / tau
                    scale = beta_q / tau
                if available is not None:
                    base = base.masked_fill(~available, -torch.inf)
                util = torch.addcmul(base.unsqueeze(0), scale.view(-1, 1, 1), a.unsqueeze(0)
                                     if p is not None else torch.zeros(1, 1, 1))
                lse = torch.logsumexp(util, dim=2)  # (Q, B)
                a_chosen = a[arange_b, jj] if p is not None else torch.zeros(b)
                logp = scale.view(-1, 1) * a_chosen + base[arange_b, jj] - lse
                if evaluate:
                    logp_all = (util - lse.unsqueeze(2)).detach()
            else:
                if p is None:
                    util = world.log_popularity.expand(1, b, m)
                else:
                    base = gamma * world.appeal - lam * boredom(c)  # (B, M)
                    util = beta_q.view(q, 1, 1) * a.unsqueeze(0) + base.unsqueeze(0)  # (Q, B, M)
                sl = slates[:, t]  # (B, K); −1 pads shown lists shorter than K
                pad = sl < 0
                v = util.gather(2, sl.clamp_min(0).unsqueeze(0).expand(q, -1, -1))
                v = (v + world.positions).masked_fill(pad.unsqueeze(0), -torch.inf)
                if p is not None:
                    v = torch.cat([v, v0.expand(q, b, 1)], dim=2) / tau
                else:
                    v = torch.cat([v, torch.zeros(q, b, 1)], dim=2)  # popularity: v0 = 0
                logp_all = torch.log_softmax(v, dim=2)
                pos = (sl == j.unsqueeze(1)).to(torch.int64).argmax(dim=1)
                target = torch.where(j >= 0, pos, torch.full_like(pos, sl.shape[1]))
                logp = logp_all[:, arange_b, target]
            is_train = ph == TRAIN
            train = train + torch.where(is_train.unsqueeze(0), logp, 0.0)
            if evaluate and bool((ph == EVAL).any()):
                with torch.no_grad():
                    post = torch.log_softmax(logw.unsqueeze(1) + train.detach(), dim=0)  # (Q, B)
                    mix = torch.logsumexp(post.unsqueeze(2) + logp_all.detach(), dim=0)  # (B, ·)
                    ev = (ph == EVAL) & (j >= 0)
                    target_col = jj if slates is None else target
                    ranks.append(target_ranks(mix[ev], target_col[ev]))
                    lls.append(mix[arange_b, target_col][ev])
        if p is not None:
            upd = ph != PAD
            g_j = gram[jj]  # (B, M)
            cons = (consumed & upd).float()
            c = torch.where(upd.unsqueeze(1), decay * c + (rate * cons).unsqueeze(1) * g_j, c)
            moving = consumed & ((ph == TRAIN) | (ph == GAP) | (ph == EVAL))
            k = drift_strength(ratings[:, t], moving, eta.expand(b), world.model.drift)
            a_j = a[arange_b, jj]
            norm = torch.sqrt((1.0 + 2.0 * k * a_j + k * k * g_j[arange_b, jj]).clamp_min(1e-12))
            a = torch.where(moving.unsqueeze(1), (a + k.unsqueeze(1) * g_j) / norm.unsqueeze(1), a)
        if available is not None:
            available[arange_b[consumed], jj[consumed]] = False
    out = {"train": train, "logw": logw}
    if evaluate:
        out["ranks"] = concat_ranks(ranks)
        out["loglik"] = torch.cat(lls) if lls else torch.zeros(0)
    return out

def _marginal(train: torch.Tensor, logw: torch.Tensor) -> torch.Tensor:
    """(B,) log ∫ prod_t p_t(h) dN(h): log-sum-exp over quadrature nodes."""
    return torch.logsumexp(logw.unsqueeze(1) + train, dim=0)

def _chunks(log: ChoiceLog, size: int) -> list[np.ndarray]:
    """User chunks sorted by length (less padding), deterministic."""
    lengths = (log.phase != PAD).sum(axis=1)
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + size] for i in range(0, len(order), size)]

def _last_step(log: ChoiceLog, rows: np.ndarray, phases: tuple[int, ...]) -> int:
    mask = np.isin(log.phase[rows], phases)
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(cols[-1]) + 1 if cols.size else 0

def fit(
    log: ChoiceLog,
    world: _World,
    start: dict[str, float],
    fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> tuple[dict[str, float], dict[str, float]]:
    """Maximise the held-in marginal log-likelihood; returns (parameters, loglik per event)."""
    params = _Params(start, fitted)
    n_events = max(log.count(TRAIN), 1)
    chunks = _chunks(log, cfg.batch_users)
    lasts = [_last_step(log, rows, (TRAIN,)) for rows in chunks]
    parts = [log.take(rows, last) for rows, last in zip(chunks, lasts) if last > 0]

    def objective(with_grad: bool) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64)
        for part in parts:
            vals = params.values()
            with torch.set_grad_enabled(with_grad):
                out = _replay(vals, part, world, cfg, evaluate=False)
                loss = -_marginal(out["train"], out["logw"]).sum().double() / n_events
                if with_grad:
                    loss.backward()
            total = total + loss.detach()
        return total

    with torch.no_grad():
        start_ll = -float(objective(False))
    optimizer = torch.optim.LBFGS(
        list(params.parameters()), lr=1.0, max_iter=cfg.max_iter, max_eval=cfg.max_iter * 5 // 4,
        history_size=10,
        line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-8,
    )
    bar = tqdm(total=cfg.max_iter * 5 // 4, desc="calibrate", unit="eval", disable=not cfg.progress,
               leave=False)
    state = {"loss": float("nan")}

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective(True)
        state["loss"] = float(loss)
        bar.set_postfix(loglik=f"{-float(loss):.4f}")
        bar.update(1)
        return loss

    if fitted:
        optimizer.step(closure)
    bar.close()
    with torch.no_grad():
        end_ll = -float(objective(False))
    return params.as_floats(), {"defaults": start_ll, "calibrated": end_ll}

def evaluate(
    log: ChoiceLog,
    world: _World,
    parameters: dict[str, float] | None,
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Held-out next-item hit@k, NDCG@k, MRR (ties broken at random, in expectation: see
    ``ranking.py``) and mean log-likelihood (``parameters`` None = popularity)."""
    vals = None
    if parameters is not None:
        vals = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in parameters.items()}
    ranks, lls = [], []
    with torch.no_grad():
        for rows in _chunks(log, cfg.batch_users):
            last = _last_step(log, rows, (EVAL,))
            if last == 0:
                continue
            out = _replay(vals, log.take(rows, last), world, cfg, evaluate=True)
            ranks.append(out["ranks"])
            lls.append(out["loglik"])
    ll = torch.cat(lls).double() if lls else torch.zeros(0)
    return {
        **ranking_metrics(concat_ranks(ranks), cfg.hit_k),
        "loglik": float(ll.mean()) if ll.numel() else float("nan"),
        "events": int(ll.numel()),
    }

def standard_errors(
    log: ChoiceLog, world: _World, parameters: dict[str, float], fitted: tuple[str, ...],
    cfg: CalibrationConfig,
) -> dict[str, float]:
    """Asymptotic standard errors of the fitted parameters: the inverse observed information
    (Hessian of the negative marginal log-likelihood in the unconstrained space, by autograd),
    mapped to the constrained space by the delta method."""
    start = dict(parameters)
    base = _Params(start, fitted)
    raw0 = torch.stack([base.raw[k].detach() for k in fitted])

    def nll(raw: torch.Tensor) -> torch.Tensor:
        p = _Params(start, fitted)
        vals = p.values()
        for i, k in enumerate(fitted):
            vals[k] = _from_raw(k, raw[i])
        total = torch.zeros((), dtype=torch.float64)
        for rows in _chunks(log, cfg.batch_users):
            last = _last_step(log, rows, (TRAIN,))
            if last:
                out = _replay(vals, log.take(rows, last), world, cfg, evaluate=False)
                total = total - _marginal(out["train"], out["logw"]).double().sum()
        return total

    hess = torch.autograd.functional.hessian(nll, raw0)
    cov = torch.linalg.inv(hess)
    out = {}
    for i, k in enumerate(fitted):
        r = raw0[i].clone().requires_grad_(True)
        (dv,) = torch.autograd.grad(_from_raw(k, r), r)
        out[k] = float(abs(dv) * cov[i, i].clamp_min(0).sqrt())
    return out
