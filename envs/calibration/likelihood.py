"""The likelihood of logged choices under driftrec's user model — one for every fit.

The model is the reference user model's (``envs/model/reference.py``): its ``utility``,
``drift`` and ``satiation`` functions are called on the fitted values (autograd tensors), so the
fit and the simulator share one definition. Along each user's logged sequence, in the item
space f_j = normalise(W e_j [+ δ_j]):

    v_j  = γ a_j + β_b <u, f_j> − λ max(0, <s, f_j>)      ``reference.utility``
    P(j) = softmax_j(v_j / τ) over the items still available        (catalog mode), or
    P(j) = exp(v_j + pos_k) / (exp(v0) + Σ_slate exp(v_i + pos_i))  (slates, with τ; no click)
    u    ← normalise(u + η (r − r0)/2 · f_j)              ``reference.drift`` (+ normalise)
    s    ← decay · s + rate · f_j                         ``reference.satiation``

Two fits use it: the **raw-space fit** (``raw_fit.py``) has W frozen to the identity (the
encoder's own space; L-BFGS on the scalars), the **adapter fit** (``adapter_fit.py``) learns W
(k, d) and optionally per-item residuals δ with them (Adam). Why the adapter: in the raw
language-model space the calibrated user barely beats popularity on held-out next items; what
real users respond to is not what MiniLM's geometry encodes. W keeps items text-grounded — a new
item gets ``normalise(W e)`` from its text alone — while the users' next choices supervise it.

Parameters (``PARAMETER_TRANSFORMS``; each fitted one unconstrained by softplus / sigmoid): β
(interest_weight), γ (appeal_weight), η (drift_rate), r0 (drift_neutral_rating, in [1, 5]:
r0 = 1 turns the rating-signed drift into a pull toward every consumed item — recency —
without a new mechanism), satiation rate and decay, v0 (no_click_utility, identified only by
shown lists), σ (interest_spread: β_b = β exp(σ h − σ²/2), h ~ N(0, 1) integrated out per user
by Gauss-Hermite quadrature; the utility is affine in β, so the nodes' utilities come from the
reference's at β = 0 and 1). Fixed: τ and λ (only λ·rate is identified).

Initial interest: the cohort's u0 (recency-weighted liked init items in the encoder's space,
``SequenceLog.interests``) mapped as the simulator maps it (``adapt_pool``: normalise(W u0));
WARMUP steps (the last init items) then update satiation only.
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
from ..ranking import concat_ranks, ranking_metrics, target_ranks
from .logs import EVAL, GAP, PAD, TRAIN, VALID, WARMUP, SequenceLog

#: Every fittable parameter → how it is kept unconstrained.
PARAMETER_TRANSFORMS = {
    "interest_weight": "softplus", "appeal_weight": "identity", "drift_rate": "softplus",
    "drift_neutral_rating": "rating", "satiation_rate": "softplus", "satiation_decay": "sigmoid",
    "no_click_utility": "identity", "interest_spread": "softplus",
}
#: Fitted user-model parameters (beside W) of the adapter fit, and their scenario override keys.
ADAPTER_PARAMETERS = {
    "interest_weight": "choice_interest_weight",
    "appeal_weight": "choice_appeal_weight",
    "drift_rate": "drift_rate",
    "drift_neutral_rating": "drift_neutral_rating",
    "satiation_rate": "satiation_rate",
    "satiation_decay": "satiation_decay",
}
#: The scenario override key of the per-user spread (fitted by the adapter fit with
#: ``AdapterConfig.fit_spread``).
SPREAD_OVERRIDE = "heterogeneity_interest_spread"


def model_parameters(model: UserModelConfig) -> dict[str, float]:
    """The calibrated parameters' current values in a user model (the starting point)."""
    return {
        "interest_weight": model.choice.interest_weight,
        "appeal_weight": model.choice.appeal_weight,
        "drift_rate": model.drift.rate,
        "satiation_decay": model.satiation.decay,
        "satiation_rate": model.satiation.rate,
        "no_click_utility": model.choice.no_click_utility,
        "interest_spread": (model.heterogeneity.interest_spread
                            if model.heterogeneity.enabled else 0.0),
    }


def to_raw(name: str, value: float) -> float:
    """The unconstrained value of parameter ``name`` (inverse of ``from_raw``; bounds clipped)."""
    kind = PARAMETER_TRANSFORMS[name]
    if kind == "softplus":
        y = max(value, 1e-4)
        return y + math.log(-math.expm1(-y))
    if kind in ("sigmoid", "rating"):
        y = (value - 1.0) / 4.0 if kind == "rating" else value
        y = min(max(y, 1e-4), 1 - 1e-4)
        return math.log(y / (1 - y))
    return value


def from_raw(name: str, raw: torch.Tensor) -> torch.Tensor:
    kind = PARAMETER_TRANSFORMS[name]
    if kind == "softplus":
        return torch.nn.functional.softplus(raw)
    if kind == "sigmoid":
        return torch.sigmoid(raw)
    if kind == "rating":
        return 1.0 + 4.0 * torch.sigmoid(raw)
    return raw


def catalog_tensors(embeddings: Any, appeal: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, d) embeddings and (M,) appeal as float32 tensors, or an error naming the bad one."""
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    app = torch.tensor(np.asarray(appeal, dtype=np.float32))
    if emb.ndim != 2 or not bool(torch.isfinite(emb).all()):
        raise ValueError(f"item embeddings have shape {tuple(emb.shape)}; expected a finite "
                         "(M, d) matrix")
    if tuple(app.shape) != (emb.shape[0],) or not bool(torch.isfinite(app).all()):
        raise ValueError(f"item appeal has shape {tuple(app.shape)}; expected finite "
                         f"({emb.shape[0]},), one per item")
    return emb, app


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


def cooccurrence_basis(log: SequenceLog, embeddings: np.ndarray, k: int, seed: int,
                       ridge: float = 1e-2) -> np.ndarray:
    """(k, d) W0 whose image of the text embeddings best fits (ridge least squares) the top-k
    spectral factors Φ of the held-in co-occurrence cosine S = D^-½ XᵀX D^-½ (X: users × items,
    1 where a user consumed the item in a fitted phase or their init; never a held-out event).

    Why: from the text space's principal directions (``pca_basis``) the fit sits for several
    epochs on a plateau where appeal carries the likelihood and the interest term is flat, and
    a learning-rate schedule can stall it there for good; Φ Φᵀ ≈ S is the geometry item-kNN
    exploits, so W0 e starts the interest term where co-occurrence says items are alike, as far
    as text can say it. The top-k subspace is found by seeded subspace iteration (``seed``)."""
    m, d = embeddings.shape
    if k > min(m, d):
        raise ValueError(f"adapter dim {k} exceeds min(M, d) = {min(m, d)} of the item "
                         f"embeddings {(m, d)}; expected dim <= {min(m, d)}")
    fitted = np.isin(log.phase, (WARMUP, TRAIN, VALID, GAP))
    users = np.concatenate([np.nonzero(fitted)[0]] + ([] if log.init is None else
                                                      [np.nonzero(log.init >= 0)[0]]))
    items = np.concatenate([log.items[fitted]] + ([] if log.init is None else
                                                   [log.init[log.init >= 0]]))
    pairs = np.unique(users.astype(np.int64) * m + items.astype(np.int64))
    u_idx, i_idx = pairs // m, pairs % m
    degree = np.bincount(i_idx, minlength=m).astype(np.float64)
    a = torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([u_idx, i_idx])),
        torch.from_numpy(1.0 / np.sqrt(np.maximum(degree[i_idx], 1.0))),
        (len(log), m), check_invariants=True).coalesce()
    at = a.t().coalesce()
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(m, min(k + 10, m), generator=gen, dtype=torch.float64)
    for _ in range(6):
        q = torch.linalg.qr(torch.sparse.mm(at, torch.sparse.mm(a, q))).Q
    _, s, vh = torch.linalg.svd(torch.sparse.mm(a, q), full_matrices=False)
    phi = (q @ vh.T)[:, :k] * s[:k]  # (M, k): Φ Φᵀ ≈ S
    e = torch.tensor(np.asarray(embeddings, dtype=np.float64))
    gram = e.T @ e
    reg = ridge * float(gram.diagonal().mean()) * torch.eye(e.shape[1], dtype=torch.float64)
    return torch.linalg.solve(gram + reg, e.T @ phi).T.float().numpy()


class AdapterModel(torch.nn.Module):
    """The fitted quantities: W (or the identity: ``basis`` None), per-item residuals
    (``num_items`` > 0), the ``fitted`` user-model parameters (unconstrained) and the others
    held at ``start`` (default: the preset's values), exactly."""

    def __init__(self, basis: np.ndarray | None, model: UserModelConfig, num_items: int = 0, *,
                 fitted: tuple[str, ...] = tuple(ADAPTER_PARAMETERS),
                 start: dict[str, float] | None = None, positions: torch.Tensor | None = None,
                 quadrature: int = 1) -> None:
        super().__init__()
        unknown = sorted(set(fitted) - set(PARAMETER_TRANSFORMS))
        if unknown:
            raise ValueError(f"unknown fitted parameters {unknown}; expected names among "
                             f"{list(PARAMETER_TRANSFORMS)}")
        self.weight = None
        if basis is not None:
            # f = normalise(W e) ignores W's scale; entries of order one make Adam's step (about
            # ``learning_rate`` per entry) a relative change comparable to the scalars' steps.
            basis = np.asarray(basis, dtype=np.float32)
            scale = math.sqrt(basis.shape[1]) / max(float(np.linalg.norm(basis, axis=1).mean()),
                                                    1e-12)
            self.weight = torch.nn.Parameter(torch.tensor(basis * scale))
        k = None if basis is None else basis.shape[0]
        self.residual = (torch.nn.Parameter(torch.zeros(num_items, k))
                         if num_items and k else None)
        values = {**model_parameters(model), "drift_neutral_rating": model.drift.neutral_rating,
                  **(start or {})}
        self.raw = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(torch.tensor(to_raw(k, float(values[k])))) for k in fitted})
        self.fixed = {k: torch.tensor(float(v)) for k, v in values.items() if k not in fitted}
        c, sat = model.choice, model.satiation
        self.temperature = float(c.temperature)
        self.boredom_weight = float(sat.boredom_weight)
        self.satiation_on = bool(sat.enabled)
        self.drift_on = bool(model.drift.enabled)
        self.positions = positions
        self.quadrature = quadrature
        #: Unconstrained values that stand in for ``raw`` (a Hessian's input), when set.
        self.raw_override: dict[str, torch.Tensor] | None = None

    def values(self) -> dict[str, torch.Tensor]:
        """Every parameter's value."""
        raw = self.raw if self.raw_override is None else self.raw_override
        return {**self.fixed, **{k: from_raw(k, r) for k, r in raw.items()}}

    def parameters_dict(self) -> dict[str, float]:
        """The fitted parameters' values."""
        vals = self.values()
        return {k: float(vals[k].detach()) for k in self.raw}

    def item_space(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(M, k) item vectors normalise(W e [+ δ]) (the encoder's own, unit, without W)."""
        x = embeddings if self.weight is None else embeddings @ self.weight.T
        return torch.nn.functional.normalize(x if self.residual is None else x + self.residual,
                                             dim=1)

    def initial_interest(self, log: SequenceLog, f: torch.Tensor) -> torch.Tensor:
        """(B, k) u0: normalise(W u0) of the log's interests, as ``adapt_pool`` maps a user
        pool; without them, the mean adapted vector of the init items (synthetic logs)."""
        if log.interests is not None:
            x = torch.from_numpy(np.asarray(log.interests, dtype=np.float32))
            return torch.nn.functional.normalize(x if self.weight is None else x @ self.weight.T,
                                                 dim=1)
        init = torch.from_numpy(log.init)
        mask = (init >= 0).unsqueeze(2).float()
        return torch.nn.functional.normalize((f[init.clamp_min(0)] * mask).sum(1), dim=1)

    def nodes(self, spread: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gauss-Hermite nodes h (Q,) and log-weights for E[g(h)], h ~ N(0, 1) (one node, h = 0,
        without a spread)."""
        q = self.quadrature if float(spread.detach()) > 0 else 1
        x, w = np.polynomial.hermite.hermgauss(q)
        return (torch.tensor(x * math.sqrt(2.0), dtype=torch.float32),
                torch.tensor(np.log(w / math.sqrt(math.pi)), dtype=torch.float32))


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
        pool_ids=torch.arange(f.shape[0]), beta=None,
        boredom_weight=torch.full((b,), net.boredom_weight), interest=None, satiation=None,
    )
    return state, params


def _utilities(state: SimpleNamespace, params: SimpleNamespace, beta: torch.Tensor
               ) -> torch.Tensor:
    """(Q, B, M) ``reference.utility`` at β = ``beta`` (Q,) for every user. With one node it is
    one call; with several, the utility being affine in β, v(β) = v(0) + β (v(1) − v(0))."""
    b = state.boredom_weight.shape[0]
    if beta.shape[0] == 1:
        state.beta = beta.expand(b)
        return reference_utility(state, params).unsqueeze(0)
    state.beta = torch.zeros(b)
    v0 = reference_utility(state, params)
    state.beta = torch.ones(b)
    slope = reference_utility(state, params) - v0
    return v0.unsqueeze(0) + beta.view(-1, 1, 1) * slope.unsqueeze(0)


def replay(
    net: AdapterModel,
    log: SequenceLog,
    embeddings: torch.Tensor,
    appeal: torch.Tensor,
    scored: tuple[int, ...],
    cfg: Any,
    *,
    ranks: bool = False,
) -> dict[str, Any]:
    """Run the user model along ``log``; the log-likelihood of the events in ``scored`` phases.

    Returns ``loglik`` (the sum over users of each user's marginal log-likelihood: the per-user
    spread integrated out; differentiable), ``users`` (B,) those marginals, ``events``, and with
    ``ranks`` each scored event's ``ranks`` and ``lls`` — under the mixture over the spread
    weighted by the user's posterior from their TRAIN events so far. ``cfg`` gives
    ``implicit_rating`` (the drift rating of events without one)."""
    b, t_len = log.items.shape
    p = net.values()
    f = net.item_space(embeddings)
    state, params = _views(p, net, f, appeal, b)
    h, logw = net.nodes(p["interest_spread"])
    mixed = h.shape[0] > 1  # one node: no spread (the adapter fit does not integrate it out)
    sigma = p["interest_spread"] if mixed else torch.zeros(())
    beta = p["interest_weight"] * torch.exp(sigma * h - 0.5 * sigma**2)
    v0 = p["no_click_utility"]
    items = torch.from_numpy(log.items)
    phase = torch.from_numpy(log.phase.astype(np.int64))
    rating = torch.from_numpy(np.nan_to_num(log.ratings, nan=cfg.implicit_rating))
    slates = None if log.slates is None else torch.from_numpy(log.slates)
    available = None
    if slates is None and log.unavailable is not None:
        available = ~torch.from_numpy(log.unavailable)
    u = net.initial_interest(log, f)
    s = torch.zeros_like(u)
    node_ll = torch.zeros(h.shape[0], b)  # scored events, per node
    predictive = torch.zeros(b)  # scored events, each mixed by the posterior from TRAIN so far
    evidence = torch.zeros(h.shape[0], b)  # TRAIN events, per node: the posterior over nodes
    count, parts, lls = 0, [], []
    rows_b = torch.arange(b)
    eta = p["drift_rate"].expand(b)
    scored_t = torch.tensor(scored)
    for t in range(t_len):
        ph, j = phase[:, t], items[:, t]
        live = ph != PAD
        hit = torch.isin(ph, scored_t)
        needed = hit | (ph == TRAIN) if mixed else hit
        if bool(needed.any()):
            state.interest, state.satiation = u, s
            logp_all, target = _log_probs(
                _utilities(state, params, beta), j, available,
                None if slates is None else slates[:, t], v0, net)
            logp = logp_all[:, rows_b, target]  # (Q, B)
            node_ll = node_ll + torch.where(hit, logp, 0.0)
            predictive = predictive + torch.where(hit, _mix_nodes(logw, evidence, logp), 0.0)
            if mixed:
                evidence = evidence + torch.where(ph == TRAIN, logp, 0.0).detach()
            count += int(hit.sum())
            if ranks and bool(hit.any()):
                with torch.no_grad():
                    mix = _mix_nodes(logw, evidence, logp_all)
                    parts.append(target_ranks(mix[hit], target[hit]))
                    lls.append(mix[rows_b, target][hit].double())
        consumed = (j >= 0) & live
        e = f[j.clamp_min(0)]
        u = torch.nn.functional.normalize(reference_drift(
            u, e, rating[:, t], consumed & (ph != WARMUP), eta, params.model), dim=1)
        s = reference_satiation(s, e, consumed, params.model)
        if available is not None:
            available[rows_b[consumed], j[consumed]] = False
    users = torch.logsumexp(logw.unsqueeze(1) + node_ll, dim=0)
    return {"loglik": users.sum(), "users": users, "events": count, "ranks": parts, "lls": lls,
            "predictive": predictive}


def _mix_nodes(logw: torch.Tensor, evidence: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
    """log Σ_q π_q p_q: per-node log-probabilities ``logp`` (Q, B, ...) mixed by each user's
    posterior over the nodes, π ∝ w_q · P(TRAIN events so far | node q) (``evidence`` (Q, B)) —
    never a held-out event. One node: ``logp[0]`` itself, exactly."""
    if logp.shape[0] == 1:
        return logp[0]
    post = torch.log_softmax(logw.unsqueeze(1) + evidence, 0)
    return torch.logsumexp(post.view(*post.shape, *([1] * (logp.dim() - 2))) + logp, dim=0)


def _log_probs(util: torch.Tensor, j: torch.Tensor, available: torch.Tensor | None,
               slate: torch.Tensor | None, no_click: torch.Tensor, net: AdapterModel
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities (Q, B, C) over the candidates, the chosen column (B,)). Catalog mode:
    C = M, the items still available; slates (B, K, −1 pads): C = K + 1, the shown items with
    their position effect, then no click (column K)."""
    tau = net.temperature
    if slate is None:
        v = util / tau
        if available is not None:
            v = v.masked_fill(~available, -torch.inf)
        return torch.log_softmax(v, dim=2), j.clamp_min(0)
    q, b, k = util.shape[0], util.shape[1], slate.shape[1]
    v = util.gather(2, slate.clamp_min(0).unsqueeze(0).expand(q, -1, -1))
    if net.positions is not None:
        v = v + net.positions
    v = v.masked_fill((slate < 0).unsqueeze(0), -torch.inf)
    v = torch.cat([v, no_click.expand(q, b, 1)], dim=2) / tau
    pos = (slate == j.unsqueeze(1)).to(torch.int64).argmax(dim=1)
    return torch.log_softmax(v, dim=2), torch.where(j >= 0, pos, torch.full_like(pos, k))


def sample_log(
    net: AdapterModel,
    embeddings: np.ndarray,
    appeal: np.ndarray,
    init: np.ndarray,
    ratings: np.ndarray,
    phase: np.ndarray,
    seed: int,
    *,
    spread: bool = False,
) -> SequenceLog:
    """Choices drawn from the model itself — the reference's utility, drift and satiation in the
    adapted space of ``net`` — for users with ``init`` (B, L) items, given ``ratings`` (B, T) and
    ``phase`` (B, T): the ground truth of recovery tests. Every item stays a candidate. With
    ``spread`` each user draws β_b = β exp(σ h − σ²/2), h ~ N(0, 1) (σ: ``interest_spread``),
    as the engine's users do; otherwise every user has β."""
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    app = torch.tensor(np.asarray(appeal, dtype=np.float32))
    gen = torch.Generator().manual_seed(seed)
    b, t_len = ratings.shape
    items = np.zeros((b, t_len), dtype=np.int64)
    log = SequenceLog(items=items, ratings=ratings.astype(np.float32),
                      phase=phase.astype(np.int8), init=init)
    with torch.no_grad():
        p = net.values()
        f = net.item_space(emb)
        state, params = _views(p, net, f, app, b)
        u = net.initial_interest(log, f)
        s = torch.zeros_like(u)
        live = torch.ones(b, dtype=torch.bool)
        sigma = p["interest_spread"] if spread else torch.zeros(())
        h = torch.randn(b, generator=gen) if spread else torch.zeros(b)  # no draw: same log
        beta = p["interest_weight"] * torch.exp(sigma * h - 0.5 * sigma**2)
        for t in range(t_len):
            state.interest, state.satiation, state.beta = u, s, beta
            v = reference_utility(state, params) / net.temperature
            j = torch.multinomial(torch.softmax(v, dim=1), 1, generator=gen).squeeze(1)
            items[:, t] = j.numpy()
            e = f[j]
            r = torch.from_numpy(np.asarray(ratings[:, t], dtype=np.float32))
            u = torch.nn.functional.normalize(
                reference_drift(u, e, r, live, p["drift_rate"].expand(b), params.model), dim=1)
            s = reference_satiation(s, e, live, params.model)
    return log


def set_parameters(net: AdapterModel, weight: np.ndarray | None,
                   parameters: dict[str, float]) -> None:
    """Put W (unless None) and the named user-model parameters into ``net`` (e.g. a known
    truth); fitted ones go to their unconstrained values, the others are held exactly."""
    unknown = sorted(set(parameters) - set(PARAMETER_TRANSFORMS))
    if unknown:
        raise ValueError(f"unknown adapter parameters {unknown}; expected "
                         f"{list(PARAMETER_TRANSFORMS)}")
    with torch.no_grad():
        if weight is not None:
            net.weight.copy_(torch.tensor(np.asarray(weight, dtype=np.float32)))
        for k, v in parameters.items():
            if k in net.raw:
                net.raw[k].copy_(torch.tensor(to_raw(k, float(v))))
            else:
                net.fixed[k] = torch.tensor(float(v))


def mean_loglik(net: AdapterModel, log: SequenceLog, embeddings: torch.Tensor,
                appeal: torch.Tensor, phases: tuple[int, ...], cfg: Any, batch: int) -> float:
    """Mean log-likelihood per event of the ``phases`` events (no gradient). With the spread
    integrated out and TRAIN not among ``phases`` (validation), each event is scored as the
    held-out ones are: its probability mixed over the nodes by the user's posterior given their
    TRAIN events (``_mix_nodes``), so the validation and held-out figures are one quantity."""
    total, n = 0.0, 0
    key = "loglik" if TRAIN in phases else "predictive"
    with torch.no_grad():
        for rows, last in log.batches(batch, phases):
            out = replay(net, log.take(rows, last), embeddings, appeal, phases, cfg)
            total += float(out[key].sum())
            n += out["events"]
    return total / n if n else float("nan")


def score_events(net: AdapterModel, log: SequenceLog, embeddings: torch.Tensor,
                 appeal: torch.Tensor, cfg: Any, batch: int) -> dict[str, float]:
    """Held-out (EVAL) next-item hit@k, NDCG@k, MRR (ties broken at random, in expectation:
    ``ranking.py``) and mean log-likelihood, k = ``cfg.hit_k``."""
    parts, lls = [], []
    with torch.no_grad():
        for rows, last in log.batches(batch, (EVAL,)):
            out = replay(net, log.take(rows, last), embeddings, appeal, (EVAL,), cfg, ranks=True)
            parts += out["ranks"]
            lls += out["lls"]
    ll = torch.cat(lls) if lls else torch.zeros(0, dtype=torch.float64)
    return {**ranking_metrics(concat_ranks(parts), cfg.hit_k),
            "loglik": float(ll.mean()) if ll.numel() else float("nan"),
            "events": int(ll.numel())}
