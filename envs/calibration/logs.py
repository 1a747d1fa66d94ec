"""The logs the likelihood replays: per-user padded steps with a phase per step (warm-up,
fitted, validation, gap, held-out), built from a real data set's cohort split, from its
impressions (MIND), or from an engine rollout (the ground truth of recovery tests).

The split is the cohort split of ``datasets``: held-out (EVAL) steps come after every fitted
step, and nothing fitted depends on them (``tests/envs/test_adapter.py`` perturbs them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .settings import AdapterConfig, CalibrationConfig

#: Step phases. PAD: no step; WARMUP: replayed, not scored; TRAIN: scored for the fit; GAP:
#: replayed, not scored; EVAL: held out, scored for the report; VALID: scored for early stopping.
PAD, WARMUP, TRAIN, GAP, EVAL, VALID = -1, 0, 1, 2, 3, 4


@dataclass
class SequenceLog:
    """Padded per-user steps (B users, T steps) — the likelihood's input, from any source.

    ``items[b, t]``: the consumed item, or −1 for a shown slate with no click (slates only);
    ``phase[b, t]``: PAD, WARMUP (satiation only, not scored), TRAIN, VALID, GAP, EVAL;
    ``interests`` (B, d): each user's initial interest in the encoder's space (the cohort's
    recency-weighted liked init items, ``datasets.cohort.initial_interests``) — the likelihood
    maps it into the adapted space as the simulator does (``adapt_pool``); None: the mean of the
    init items' adapted vectors (synthetic logs). ``init`` (B, L): the init items (−1 padding).
    ``slates`` (B, T, K): shown item ids in position order (−1 pads), or None when the
    candidates are the whole catalog minus ``unavailable`` (B, M) items (consumed before the
    first step; updated as the replay consumes; None when some user consumes an item twice).
    """

    items: np.ndarray  # (B, T) int64
    ratings: np.ndarray  # (B, T) float32 (NaN = none)
    phase: np.ndarray  # (B, T) int8
    init: np.ndarray | None = None  # (B, L) int64, −1 padded
    interests: np.ndarray | None = None  # (B, d) float32, unit rows
    slates: np.ndarray | None = None  # (B, T, K) int64
    unavailable: np.ndarray | None = None  # (B, M) bool
    user_ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def take(self, rows: np.ndarray, last: int | None = None) -> SequenceLog:
        """Users ``rows``, steps [0, last)."""
        t = slice(None, last)
        pick = lambda a: None if a is None else a[rows]
        return SequenceLog(
            items=self.items[rows, t], ratings=self.ratings[rows, t], phase=self.phase[rows, t],
            init=pick(self.init), interests=pick(self.interests),
            slates=None if self.slates is None else self.slates[rows, t],
            unavailable=pick(self.unavailable),
            user_ids=tuple(self.user_ids[i] for i in rows) if self.user_ids else (),
        )

    def last_step(self, rows: np.ndarray, phases: tuple[int, ...]) -> int:
        """1 + the last step index of ``rows`` in ``phases`` (0 if none)."""
        idx = np.flatnonzero(np.isin(self.phase[rows], phases).any(axis=0))
        return int(idx[-1]) + 1 if idx.size else 0

    def batches(self, size: int, phases: tuple[int, ...], seed: list[int] | None = None
                ) -> list[tuple[np.ndarray, int]]:
        """(rows, last step) per mini-batch, users of similar length together (a batch replays
        to its longest user, so this keeps padding small).

        ``seed`` None: batches of ``size`` users, all sorted by length (deterministic passes).
        With a ``seed`` (SGD): users shuffled, sorted by length within windows of 8·``size``,
        each window cut into batches of about ``size`` × (mean events per user) events in
        ``phases`` — so every optimiser step sees as many events, whether its users are long
        or short (a batch of heavy users would otherwise dominate Adam's step sizes) — and the
        batches shuffled."""
        users = np.arange(len(self))
        hit = np.isin(self.phase, phases)
        length = np.where(hit.any(axis=1), hit.shape[1] - np.argmax(hit[:, ::-1], axis=1), 0)
        if seed is None:
            order = users[np.argsort(-length, kind="stable")]
            cuts = [order[i : i + size] for i in range(0, len(order), size)]
        else:
            gen = np.random.default_rng(seed)
            events = hit.sum(axis=1)
            budget = size * max(float(events.mean()), 1.0)
            perm = gen.permutation(users)
            cuts = []
            for lo in range(0, len(perm), 8 * size):
                window = perm[lo : lo + 8 * size]
                window = window[np.argsort(-length[window], kind="stable")]
                ends = np.cumsum(events[window])
                starts = np.searchsorted(ends, np.arange(budget, ends[-1] + budget, budget),
                                         side="left")
                edges = np.unique(np.concatenate([[0], np.minimum(starts + 1, len(window))]))
                cuts += np.split(window, edges[1:-1])
            cuts = [cuts[i] for i in gen.permutation(len(cuts))]
        return [(np.sort(c), int(length[c].max())) for c in cuts if len(c) and length[c].max() > 0]

    def count(self, phase: int) -> int:
        return int((self.phase == phase).sum())

    def check(self, num_items: int, dim: int, needs: tuple[int, ...] = ()) -> None:
        """An error naming the bad field unless the log fits a catalog of ``num_items`` items of
        ``dim``-d embeddings and has events in each of the ``needs`` phases."""
        b, t = self.items.shape if self.items.ndim == 2 else (None, None)
        if b is None or self.ratings.shape != (b, t) or self.phase.shape != (b, t):
            raise ValueError(f"log items {self.items.shape}, ratings {self.ratings.shape} and "
                             f"phase {self.phase.shape}; expected three (B, T) arrays")
        low = -1 if self.slates is not None else 0
        bad = self.items[(self.phase != PAD) & ((self.items < low) | (self.items >= num_items))]
        if bad.size:
            raise ValueError(f"log items {bad[:3].tolist()} are outside the catalog's "
                             f"[{low}, {num_items}); expected item indices of this catalog"
                             + (" (-1, no click, only with slates)" if low == 0 else ""))
        if self.interests is not None and self.interests.shape != (b, dim):
            raise ValueError(f"log interests have shape {self.interests.shape}; expected "
                             f"({b}, {dim}) = (users, the embeddings' dim)")
        if self.unavailable is not None and self.unavailable.shape != (b, num_items):
            raise ValueError(f"log unavailable has shape {self.unavailable.shape}; expected "
                             f"({b}, {num_items}) = (users, items)")
        names = {WARMUP: "WARMUP", TRAIN: "TRAIN", GAP: "GAP", EVAL: "EVAL", VALID: "VALID"}
        for phase in needs:
            if not self.count(phase):
                raise ValueError(f"the log has no {names[phase]} events; expected some "
                                 f"(users {b}, steps {t})")


def log_from_impressions(setup: Any, cfg: CalibrationConfig) -> SequenceLog:
    """Slate-mode ``SequenceLog`` of a data set that records its shown lists (MIND impressions).

    Per cohort user: WARMUP = the last ``warmup`` consumptions logged before the user's first
    held-in interaction (its time ``t_in``); then one step per impression at or after ``t_in``,
    in time order — one per click (the shown list is the slate, the clicked item the choice) or,
    with no click, one no-click step. Impressions before the user's first held-out interaction
    (time ``t_out``) are TRAIN (the first ``max_train_steps``, the rest GAP), later ones EVAL.
    Shown lists are padded with −1 to the widest one (at most ``max_slate``; a longer list keeps
    its clicked items and the first others).
    """
    inter, imp = setup.dataset.interactions, setup.dataset.impressions
    split = setup.split
    order = np.lexsort((np.arange(len(imp)), imp.timestamps, imp.users))
    first = np.searchsorted(imp.users[order], np.arange(len(inter.user_ids) + 1))
    users: list[tuple[list[int], list[np.ndarray], list[int]]] = []
    for i, u in enumerate(split.users):
        seq = inter.sequence(int(u))
        t_in = int(seq.timestamps[split.init_end[i]])
        t_out = int(seq.timestamps[split.heldout_start[i]])
        early = seq.items[: split.init_end[i]][seq.timestamps[: split.init_end[i]] < t_in]
        early = early[max(len(early) - cfg.warmup, 0):]
        items = [int(j) for j in early]
        phases = [WARMUP] * len(items)
        slates: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(items)
        n_train = 0
        for r in order[first[u] : first[u + 1]]:
            ts = int(imp.timestamps[r])
            if ts < t_in:
                continue
            shown = imp.items[imp.offsets[r] : imp.offsets[r + 1]]
            clicked = imp.clicks[imp.offsets[r] : imp.offsets[r + 1]] > 0
            if len(shown) > cfg.max_slate:
                keep = np.flatnonzero(clicked)
                rest = np.flatnonzero(~clicked)[: max(cfg.max_slate - len(keep), 0)]
                idx = np.sort(np.concatenate([keep, rest]))[: cfg.max_slate]
                shown, clicked = shown[idx], clicked[idx]
            choices = [int(j) for j in shown[clicked]] or [-1]
            for j in choices:
                if ts >= t_out:
                    ph = EVAL
                elif cfg.max_train_steps is None or n_train < cfg.max_train_steps:
                    ph, n_train = TRAIN, n_train + 1
                else:
                    ph = GAP
                items.append(j)
                phases.append(ph)
                slates.append(shown.astype(np.int64))
        users.append((items, slates, phases))
    n_u = len(users)
    t_len = max(len(it) for it, _, _ in users)
    width = max([len(sl) for _, sls, _ in users for sl in sls] + [1])
    items = np.full((n_u, t_len), 0, dtype=np.int64)
    phase = np.full((n_u, t_len), PAD, dtype=np.int8)
    slates = np.full((n_u, t_len, width), -1, dtype=np.int64)
    for i, (its, sls, phs) in enumerate(users):
        items[i, : len(its)] = its
        phase[i, : len(phs)] = phs
        for t, sl in enumerate(sls):
            slates[i, t, : len(sl)] = sl
    return SequenceLog(
        interests=np.asarray(setup.user_pool.interests, dtype=np.float32),
        items=items, ratings=np.full((n_u, t_len), np.nan, dtype=np.float32), phase=phase,
        slates=slates, user_ids=tuple(inter.user_ids[int(u)] for u in split.users),
    )

def log_from_engine(engine: Any, steps: int, seed: int = 0
                    ) -> tuple[SequenceLog, dict[str, np.ndarray]]:
    """Roll ``engine`` (reset here with ``seed``) for ``steps`` steps with uniformly random slates
    and record what a log with slates would hold — the ground truth for recovery tests.

    Every step is TRAIN. Returns the log and the engine's own per-step numbers (``logp`` (B, T):
    log-probability of the recorded outcome under the engine's choice model, from its slate
    utilities and ``click_probabilities``) so a test can compare the two implementations.
    Users must not leave during the rollout (disable budget and hazard, max_steps > steps).
    """
    from ..model.choice import click_probabilities

    engine.reset(seed)
    b, k = engine.num_users, engine.config.slate_size
    n = engine.config.num_candidates
    gen = torch.Generator().manual_seed(seed)
    interests = engine.state.interest.clone().numpy()
    items = np.zeros((b, steps), dtype=np.int64)
    ratings = np.zeros((b, steps), dtype=np.float32)
    slates = np.zeros((b, steps, k), dtype=np.int64)
    logp = np.zeros((b, steps), dtype=np.float64)
    for t in range(steps):
        slate = torch.rand(b, n, generator=gen).argsort(dim=1)[:, :k]
        slates[:, t] = engine.world.pool_ids[slate].numpy()
        v0 = engine.state.no_click_utility.clone()
        res = engine.step(slate, autoreset=False)
        if bool((res.terminated | res.truncated).any()):
            raise ValueError("a user left during the rollout; disable budget/hazard churn and "
                             "raise max_steps above steps")
        info = res.info
        items[:, t] = info["item"].numpy()
        ratings[:, t] = info["rating"].numpy()
        probs = click_probabilities(info["slate_utilities"], v0, engine.model.choice)
        outcome = torch.where(info["chosen"] >= 0, info["chosen"], torch.full_like(info["chosen"], k))
        logp[:, t] = torch.log(probs.gather(1, outcome.unsqueeze(1)).squeeze(1)).numpy()
    log = SequenceLog(
        interests=interests, items=items, ratings=ratings, init=np.zeros((b, 0), np.int64),
        phase=np.full((b, steps), TRAIN, dtype=np.int8), slates=slates,
    )
    return log, {"logp": logp}

def sequence_log(setup: Any, cfg: AdapterConfig | CalibrationConfig) -> SequenceLog:
    """The catalog-mode ``SequenceLog`` of a ``RealDataSetup`` (the cohort split of
    ``datasets``): WARMUP = the last ``warmup`` init items, TRAIN = the held-in events before
    the validation slice (the first ``max_train_steps`` of them; None = all), VALID = the last
    ``valid_steps`` held-in events (an ``AdapterConfig``'s; at most half of held-in), GAP = the
    rest of held-in, EVAL = the held-out tail. Candidates: the whole catalog; items already
    consumed are excluded when no user consumes an item twice in the fitted part (each
    MovieLens movie is rated once), else none are."""
    inter, split = setup.dataset.interactions, setup.split
    m, n_u = len(setup.catalog), len(split)
    valid_steps = cfg.valid_steps if isinstance(cfg, AdapterConfig) else 0
    max_train = cfg.max_train_steps or int(split.lengths.max())
    starts = np.maximum(split.init_end - cfg.warmup, 0)
    t_len = int((split.lengths - starts).max())
    init = np.full((n_u, int(split.init_end.max())), -1, dtype=np.int64)
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
        n_valid = min(valid_steps, (hs - ie) // 2)
        ph = np.full(n, GAP, dtype=np.int8)
        ph[: ie - s0] = WARMUP
        ph[ie - s0 : min(hs - n_valid, ie + max_train) - s0] = TRAIN
        ph[hs - n_valid - s0 : hs - s0] = VALID
        ph[hs - s0 :] = EVAL
        phase[i, :n] = ph
        unavailable[i, seq.items[:s0]] = True
        # Repeats are judged on the fitted part only, so held-out events cannot change the fit.
        repeats = repeats or np.unique(seq.items[:hs]).shape[0] < hs
    return SequenceLog(
        items=items, ratings=ratings, phase=phase, init=init,
        interests=np.asarray(setup.user_pool.interests, dtype=np.float32),
        unavailable=None if repeats else unavailable,
        user_ids=tuple(inter.user_ids[int(u)] for u in split.users),
    )
