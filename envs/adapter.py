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

import hashlib
import io
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from driftrec.encoders.io import atomic_save, atomic_write_bytes
from tqdm.auto import tqdm

from .config import UserModelConfig
from .model.reference import drift as reference_drift
from .model.reference import satiation as reference_satiation
from .model.reference import utility as reference_utility
from .ranking import TargetRanks, concat_ranks, ranking_metrics, target_ranks

PAD, WARMUP, TRAIN, VALID, GAP, EVAL = -1, 0, 1, 4, 2, 3

#: Fitted user-model parameters (beside W) and their scenario override keys.
ADAPTER_PARAMETERS = {
    "interest_weight": "choice_interest_weight",
    "appeal_weight": "choice_appeal_weight",
    "drift_rate": "drift_rate",
    "drift_neutral_rating": "drift_neutral_rating",
    "satiation_rate": "satiation_rate",
    "satiation_decay": "satiation_decay",
}
ADAPTER_FORMAT = "driftrec-adapter"
ADAPTER_VERSION = 1


@dataclass(frozen=True)
class AdapterConfig:
    """Settings of an adapter fit (see the module docstring).

    ``dim``: k, the adapted space's dimension; ``valid_steps``: last held-in events per user
    scored for early stopping (never fitted); ``patience``: epochs without a better validation
    log-likelihood before stopping; ``cold_items``: catalog ids treated as new (their counts
    zeroed, never a fitted target) for the cold-start report. ``residual_l2`` > 0 adds a
    per-item residual δ_j to W e_j for the items of the fitted catalog, with the Gaussian prior
    penalty residual_l2·||δ||² (a rare item's δ stays near zero; a new item has none).
    """

    dim: int = 64
    max_epochs: int = 30
    patience: int = 3
    batch_users: int = 32
    learning_rate: float = 0.05
    lr_decay: float = 1.0
    residual_l2: float = 0.0
    max_train_steps: int = 48
    valid_steps: int = 5
    warmup: int = 10
    implicit_rating: float = 4.0
    hit_k: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("dim", "max_epochs", "patience", "batch_users", "max_train_steps",
                     "valid_steps", "hit_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"AdapterConfig.{name} must be an int >= 1, got {v!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"AdapterConfig.warmup must be an int >= 0, got {self.warmup!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise ValueError(f"AdapterConfig.learning_rate must be in (0, 10), got "
                             f"{self.learning_rate!r}")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"AdapterConfig.lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if not (isinstance(self.residual_l2, (int, float)) and self.residual_l2 >= 0):
            raise ValueError(f"AdapterConfig.residual_l2 must be a number >= 0 (0 = no per-item "
                             f"residual), got {self.residual_l2!r}")
        if not 1.0 <= self.implicit_rating <= 5.0:
            raise ValueError(f"AdapterConfig.implicit_rating must be in [1, 5], got "
                             f"{self.implicit_rating!r}")


# ------------------------------------------------------------------------------ the log


@dataclass
class SequenceLog:
    """Per-user sequences aligned at the first replayed (warm-up) step; B users, T steps.

    ``init`` (B, L): the user's init items (−1 padding) → initial interest;
    ``unavailable`` (B, M): items consumed before the first replayed step (None when some user
    consumes an item twice: then every item stays a candidate).
    """

    init: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    phase: np.ndarray
    unavailable: np.ndarray | None

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def take(self, rows: np.ndarray, last: int) -> SequenceLog:
        return SequenceLog(
            init=self.init[rows], items=self.items[rows, :last],
            ratings=self.ratings[rows, :last], phase=self.phase[rows, :last],
            unavailable=None if self.unavailable is None else self.unavailable[rows],
        )

    def last_step(self, rows: np.ndarray, phases: tuple[int, ...]) -> int:
        """1 + the last step index of ``rows`` in ``phases`` (0 if none)."""
        hit = np.isin(self.phase[rows], phases).any(axis=0)
        idx = np.flatnonzero(hit)
        return int(idx[-1]) + 1 if idx.size else 0

    def count(self, phase: int) -> int:
        return int((self.phase == phase).sum())


def sequence_log(setup: Any, cfg: AdapterConfig) -> SequenceLog:
    """The ``SequenceLog`` of a ``RealDataSetup`` (the cohort split of ``calibration.py``):
    WARMUP = last ``warmup`` init items, TRAIN = the first ``max_train_steps`` held-in events
    before the validation slice, VALID = the last ``valid_steps`` held-in events (at most half of
    held-in), GAP = the rest of held-in, EVAL = the held-out tail."""
    inter, split = setup.dataset.interactions, setup.split
    m, n_u = len(setup.catalog), len(split)
    starts = np.maximum(split.init_end - cfg.warmup, 0)
    t_len = int((split.lengths - starts).max())
    l_init = int(split.init_end.max())
    init = np.full((n_u, l_init), -1, dtype=np.int64)
    items = np.zeros((n_u, t_len), dtype=np.int64)
    ratings = np.full((n_u, t_len), np.nan, dtype=np.float32)
    phase = np.full((n_u, t_len), PAD, dtype=np.int8)
    unavailable = np.zeros((n_u, m), dtype=bool)
    repeats = False
    for i, u in enumerate(split.users):
        seq = inter.sequence(int(u))
        s0, ie, hs = int(starts[i]), int(split.init_end[i]), int(split.heldout_start[i])
        n = int(split.lengths[i]) - s0
        init[i, :ie] = seq.items[:ie]
        items[i, :n] = seq.items[s0:]
        ratings[i, :n] = seq.ratings[s0:]
        n_valid = min(cfg.valid_steps, (hs - ie) // 2)
        ph = np.full(n, GAP, dtype=np.int8)
        ph[: ie - s0] = WARMUP
        ph[ie - s0 : min(hs - n_valid, ie + cfg.max_train_steps) - s0] = TRAIN
        ph[hs - n_valid - s0 : hs - s0] = VALID
        ph[hs - s0 :] = EVAL
        phase[i, :n] = ph
        unavailable[i, seq.items[:s0]] = True
        # Repeats are judged on the fitted part only, so held-out events cannot change the fit.
        repeats = repeats or np.unique(seq.items[:hs]).shape[0] < hs
    return SequenceLog(init=init, items=items, ratings=ratings, phase=phase,
                       unavailable=None if repeats else unavailable)


# ------------------------------------------------------------------------------ the model


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


# ------------------------------------------------------------------------------ fitting


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
        return {ADAPTER_PARAMETERS[k]: float(v) for k, v in self.parameters.items()}


def _fingerprint(log: SequenceLog, embeddings: np.ndarray, appeal: np.ndarray,
                 cfg: AdapterConfig, model: UserModelConfig) -> str:
    """Hash of what the fit sees (fitted phases only) — a checkpoint from other data or settings
    is refused, not silently resumed."""
    h = hashlib.sha256()
    fit_mask = np.isin(log.phase, (WARMUP, TRAIN, VALID, GAP))
    for arr in (log.init, np.where(fit_mask, log.items, -2),
                np.where(fit_mask, np.nan_to_num(log.ratings, nan=-9), -9), embeddings, appeal):
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
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    app = torch.tensor(np.asarray(appeal, dtype=np.float32))
    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.seed)  # no global draws are used; this only pins torch's own init
    net = AdapterModel(pca_basis(embeddings, cfg.dim), model,
                       num_items=emb.shape[0] if cfg.residual_l2 > 0 else 0)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    fp = _fingerprint(log, emb.numpy(), app.numpy(), cfg, model)
    start = {"epoch": 0, "best": -math.inf, "best_state": None, "bad": 0, "history": []}
    if checkpoint is not None and Path(checkpoint).exists():
        start = _load_checkpoint(Path(checkpoint), fp, net, opt)
    users = np.arange(len(log))
    n_train = log.count(TRAIN)
    best, best_state, bad, history = (start["best"], start["best_state"], start["bad"],
                                      start["history"])
    epoch = start["epoch"]
    bar = tqdm(total=cfg.max_epochs, initial=epoch, desc="adapter", unit="epoch",
               disable=not cfg.progress)
    while epoch < cfg.max_epochs and bad < cfg.patience:
        order = np.random.default_rng([cfg.seed, epoch]).permutation(users)
        train_ll = 0.0
        for lo in range(0, len(order), cfg.batch_users):
            rows = np.sort(order[lo : lo + cfg.batch_users])
            last = log.last_step(rows, (TRAIN,))
            if last == 0:
                continue
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
    total, n = 0.0, 0
    with torch.no_grad():
        for lo in range(0, len(log), cfg.batch_users):
            rows = np.arange(lo, min(lo + cfg.batch_users, len(log)))
            last = log.last_step(rows, phases)
            if last:
                out = replay(net, log.take(rows, last), emb, app, phases, cfg)
                total += float(out["loglik"])
                n += out["events"]
    return total / n if n else float("nan")


def evaluate_adapter(fit: AdapterFit, log: SequenceLog, embeddings: np.ndarray,
                     appeal: np.ndarray, model: UserModelConfig, cfg: AdapterConfig,
                     rows_filter: Any = None, new_items: np.ndarray | None = None
                     ) -> dict[str, float]:
    """Held-out (EVAL) hit@k, NDCG@k, MRR (exact under random tie-breaks) and mean
    log-likelihood of a fitted adapter; ``rows_filter(items) -> bool mask`` restricts the
    events scored (e.g. cold-start targets); ``new_items`` (M,) bool: items treated as new, whose
    residual is dropped (text only)."""
    net = AdapterModel(fit.weight, model, 0 if fit.residual is None else len(fit.residual))
    set_parameters(net, fit.weight, fit.parameters)
    if net.residual is not None:
        keep = np.ones(len(fit.residual), bool) if new_items is None else ~np.asarray(new_items)
        with torch.no_grad():
            net.residual.copy_(torch.tensor(fit.residual * keep[:, None]))
    emb = torch.tensor(np.asarray(embeddings, dtype=np.float32))
    app = torch.tensor(np.asarray(appeal, dtype=np.float32))
    parts, lls = [], []
    with torch.no_grad():
        for lo in range(0, len(log), cfg.batch_users):
            rows = np.arange(lo, min(lo + cfg.batch_users, len(log)))
            last = log.last_step(rows, (EVAL,))
            if not last:
                continue
            sub = log.take(rows, last)
            if rows_filter is not None:
                sub.phase = np.where((sub.phase == EVAL) & ~rows_filter(sub.items), GAP,
                                     sub.phase).astype(np.int8)
            out = replay(net, sub, emb, app, (EVAL,), cfg, ranks=True)
            parts += out["ranks"]
            lls += out["lls"]
    ll = torch.cat(lls) if lls else torch.zeros(0, dtype=torch.float64)
    return {**ranking_metrics(concat_ranks(parts), cfg.hit_k),
            "loglik": float(ll.mean()) if ll.numel() else float("nan"),
            "events": int(ll.numel())}


def _unconstrain(name: str, value: float) -> float:
    if name in ("interest_weight", "drift_rate", "satiation_rate"):
        return _softplus_inv(value)
    if name == "satiation_decay":
        return _logit(value)
    if name == "drift_neutral_rating":
        return _logit((value - 1.0) / 4.0)
    return value


# ------------------------------------------------------------------------------ the file


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


# ------------------------------------------------------------------------------ the simulator


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
    from .users import UserPool

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
