"""SASRec-class reference for the fidelity benchmark: a causal self-attention next-item model
trained on exactly the held-in events of the calibration split, scored on its held-out events.

    python -m driftrec.benchmarks.sasrec --data-dir ../shared/data/ml-100k

writes ``benchmarks/results/fidelity_movielens_sasrec.json``. Why it is here: the strongest
standard sequential reference the calibrated simulator is measured against (issue #25), so it
must be trained properly — to convergence, with early stopping — on the same data and scored by
the same rule as every other row of ``docs/fidelity.md``.

Model (Kang & McAuley 2018, "Self-Attentive Sequential Recommendation"): item embeddings
(shared with the output layer) scaled by sqrt(d) plus learned position embeddings, ``layers``
pre-norm blocks of causal multi-head self-attention and a GELU feed-forward layer, dropout, and
at each position a full softmax over the catalog for the next item. Sequences are right-aligned
(the newest item always at the last position index) and hold at most ``max_len`` items.

Data (the split of ``benchmarks/calibration_report.py``, through ``sequence_log``):

- training targets: every item of the user's init and held-in parts except the validation slice
  (and the very first item, which has no context) — long users are cut into windows of
  ``max_len`` so every target is used once per epoch;
- early stopping: mean log-likelihood of the validation slice, the last ``valid_steps`` held-in
  events of each user, exactly the slice the driftrec adapter fit stops on; the weights of the
  best epoch are kept;
- scoring: every held-out event, with the last ``max_len`` items before it as context (earlier
  held-out items included, as for every reference) and the candidate rule of ``fidelity.py``:
  the catalog minus the items the user already consumed, when no user consumes an item twice
  (else the whole catalog). Training uses the same rule (seen items masked out of the softmax).

Held-out events are never read by the fit: training sequences end before the validation slice,
validation contexts before the held-out tail (``tests/benchmarks/test_sasrec.py`` perturbs the
held-out events and checks the weights are bit-identical).

Same-second events: the loaders order events that share a timestamp by a seeded hash of (user
id, item id) (``InteractionBuilder.build``), never by file order or item id — in the ml-latest
releases same-second rows are listed sorted by movieId, an order a sequence model would learn to
exploit. The model sees only item order, no timestamps, so within one second it sees a fixed
order that carries no information (tested: a file with its same-second rows listed in another
order gives bit-identical weights and scores).

Randomness: initialisation, dropout and the batch order are drawn from ``seed`` alone (torch's
generator is forked and seeded for the fit, so the caller's global state is untouched).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.calibration import EVAL, PAD, VALID, AdapterConfig, SequenceLog, sequence_log
from driftrec.envs.config import check_int
from driftrec.envs.ranking import concat_ranks, ranking_metrics, target_ranks
from driftrec.envs.sources.datasets import DATASETS, Dataset, build_setup, load_dataset
from torch import nn
from tqdm.auto import tqdm

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class SASRecConfig:
    """Hyper-parameters of the reference. Defaults: the SASRec paper's MovieLens model (d = 64,
    2 blocks, 1 head, 200 items of context, Adam at 1e-3) with its sparse-data dropout 0.5 and
    batches of 16 (a 100K-event log then gives ~65 Adam steps an epoch). On ml-100k they had
    the best validation log-likelihood of four settings tried (docs/fidelity.md)."""

    dim: int = 64
    layers: int = 2
    heads: int = 1
    max_len: int = 200
    dropout: float = 0.5
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 16
    max_epochs: int = 200
    patience: int = 10
    valid_steps: int = AdapterConfig.valid_steps
    hit_k: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("dim", "layers", "heads", "max_len", "batch_size", "max_epochs", "patience",
                     "valid_steps", "hit_k"):
            check_int("SASRecConfig", name, getattr(self, name))
        if self.dim % self.heads:
            raise ValueError(f"SASRecConfig.dim ({self.dim}) must be a multiple of heads "
                             f"({self.heads})")
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"SASRecConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0.0 < self.learning_rate < 1.0):
            raise ValueError(f"SASRecConfig.learning_rate must be in (0, 1), got "
                             f"{self.learning_rate!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0.0):
            raise ValueError(f"SASRecConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        check_int("SASRecConfig", "seed", self.seed, minimum=0)


# ------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class Events:
    """Scored events: ``user`` (E,) row in ``SequenceData.sequences``, ``pos`` (E,) the target's
    position in that sequence (its context is everything before it)."""

    user: np.ndarray
    pos: np.ndarray

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(frozen=True)
class SequenceData:
    """Each cohort user's whole sequence (init items, held-in, held-out) and which part is which.

    ``train_end[b]``: the user's first validation (or held-out) position — training reads
    ``sequences[b][:train_end[b]]`` only. ``mask_seen``: the candidate rule (no repeats in the
    fitted part of the log: consumed items leave the candidates).
    """

    sequences: list[np.ndarray]
    train_end: np.ndarray
    valid: Events
    heldout: Events
    num_items: int
    mask_seen: bool


def split_log(dataset: Dataset, valid_steps: int) -> SequenceLog:
    """The calibration split's ``SequenceLog`` (its phases are what the driftrec fit uses).
    SASRec reads no text and the split does not depend on the encoder, so the cheap hashing
    encoder builds the setup (no language model runs)."""
    return sequence_log(build_setup(dataset, "hashing"), AdapterConfig(valid_steps=valid_steps))


def sequence_data(log: SequenceLog, num_items: int) -> SequenceData:
    """Whole sequences in the order of ``fidelity.events``: the init items the log does not
    replay, then the replayed ones; validation and held-out positions from the log's phases."""
    sequences, train_end, valid, heldout = [], [], ([], []), ([], [])
    for b in range(len(log)):
        init = log.init[b][log.init[b] >= 0]
        keep = log.phase[b] != PAD
        ph = log.phase[b][keep]
        n_before = len(init) - int((ph == 0).sum())
        seq = np.concatenate([init[:n_before], log.items[b][keep]]).astype(np.int64)
        phase = np.concatenate([np.zeros(n_before, dtype=np.int8), ph])
        sequences.append(seq)
        scored = np.flatnonzero(np.isin(phase, (VALID, EVAL)))
        train_end.append(int(scored[0]) if scored.size else len(seq))
        for part, code in ((valid, VALID), (heldout, EVAL)):
            pos = np.flatnonzero(phase == code)
            part[0].append(np.full(pos.size, b, dtype=np.int64))
            part[1].append(pos.astype(np.int64))

    def events(part: tuple[list, list]) -> Events:
        return Events(user=np.concatenate(part[0]) if part[0] else np.zeros(0, np.int64),
                      pos=np.concatenate(part[1]) if part[1] else np.zeros(0, np.int64))

    return SequenceData(sequences=sequences, train_end=np.asarray(train_end, dtype=np.int64),
                        valid=events(valid), heldout=events(heldout), num_items=num_items,
                        mask_seen=log.unavailable is not None)


def training_windows(data: SequenceData, max_len: int) -> list[tuple[int, int, int]]:
    """(user, start, end) windows: inputs ``seq[start:end]``, targets ``seq[start+1:end+1]``;
    cut from the end of each training sequence so every target appears exactly once."""
    windows = []
    for b, n in enumerate(data.train_end.tolist()):
        end = n - 1
        while end > 0:
            start = max(0, end - max_len)
            windows.append((b, start, end))
            end = start
    return windows


# ------------------------------------------------------------------------------ the model


class Block(nn.Module):
    """Pre-norm causal self-attention + feed-forward, each with dropout and a residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout),
                                nn.Linear(dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, L, d); ``mask`` (B, 1, L, L) bool, True = may attend."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(
            2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.ff(self.norm2(x)))


class SASRec(nn.Module):
    """Item tokens are catalog index + 1 (0 = padding); ``forward`` gives (B, L, d) states whose
    dot product with ``item_table()`` are next-item logits over the M catalog items."""

    def __init__(self, num_items: int, cfg: SASRecConfig) -> None:
        super().__init__()
        self.max_len, self.scale = cfg.max_len, math.sqrt(cfg.dim)
        self.items = nn.Embedding(num_items + 1, cfg.dim, padding_idx=0)
        self.positions = nn.Embedding(cfg.max_len, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.dropout)
                                    for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        nn.init.normal_(self.items.weight, std=cfg.dim ** -0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, W) right-aligned, W <= max_len: the last column is the newest item."""
        w = tokens.shape[1]
        valid = (tokens > 0).unsqueeze(2)
        x = self.items(tokens) * self.scale + self.positions.weight[self.max_len - w:]
        x = self.drop(x) * valid
        causal = torch.ones(w, w, dtype=torch.bool).tril()
        # A padding query attends to itself only, so no row of the mask is empty (no NaN).
        mask = (causal & (tokens > 0).unsqueeze(1)) | torch.eye(w, dtype=torch.bool)
        mask = mask.unsqueeze(1)
        for block in self.blocks:
            x = block(x, mask) * valid
        return self.norm(x)

    def item_table(self) -> torch.Tensor:
        """(M, d) output embeddings (shared with the input table, padding row dropped)."""
        return self.items.weight[1:]


def _right_aligned(rows: list[np.ndarray]) -> torch.Tensor:
    """(B, W) tokens (item + 1), left-padded with 0 to the longest row."""
    width = max(len(r) for r in rows)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, width - len(r):] = r + 1
    return torch.from_numpy(out)


def _seen_mask(data: SequenceData, users: np.ndarray, upto: np.ndarray) -> torch.Tensor | None:
    """(E, M) True where event e's item was consumed before position ``upto[e]`` of its user's
    sequence (None when the candidate rule keeps every item)."""
    if not data.mask_seen:
        return None
    rows, index = np.unique(users, return_inverse=True)
    first = np.full((len(rows), data.num_items), np.iinfo(np.int64).max, dtype=np.int64)
    for i, b in enumerate(rows.tolist()):
        seq = data.sequences[b]
        first[i, seq[::-1]] = np.arange(len(seq) - 1, -1, -1)  # the first occurrence wins
    return torch.from_numpy(first[index] < upto[:, None])


def _batch_loss(model: SASRec, data: SequenceData, windows: list[tuple[int, int, int]]
                ) -> torch.Tensor:
    """Mean next-item cross-entropy over every target of the batch's windows."""
    seqs = [data.sequences[b] for b, _, _ in windows]
    tokens = _right_aligned([s[a:e] for s, (_, a, e) in zip(seqs, windows)])
    width = tokens.shape[1]
    row, col = (tokens > 0).nonzero(as_tuple=True)
    h = model(tokens)[row, col]  # (N, d) the state after each input item
    starts = np.array([a for _, a, _ in windows])
    lengths = np.array([e - a for _, a, e in windows])
    # Input at column c of row r is seq[start + c - (width - length)]; its target is the next.
    pos = starts[row.numpy()] + col.numpy() - (width - lengths[row.numpy()]) + 1
    users = np.array([b for b, _, _ in windows])[row.numpy()]
    target = torch.from_numpy(np.array([data.sequences[b][p] for b, p in zip(users, pos)]))
    logits = h @ model.item_table().T
    seen = _seen_mask(data, users, pos)
    if seen is not None:
        logits = logits.masked_fill(seen, -torch.inf)
    return F.cross_entropy(logits, target)


def score_events(model: SASRec, data: SequenceData, events: Events, k: int = 10,
                 chunk: int = 256) -> dict[str, float]:
    """hit@k, NDCG@k, MRR (exact under random tie-breaks) and mean log-likelihood of ``events``
    among the candidate rule's items, each event with the last ``max_len`` items as context."""
    model.eval()
    order = np.argsort(np.minimum(events.pos, model.max_len), kind="stable")  # similar widths
    parts, lls = [], []
    with torch.no_grad():
        for lo in range(0, len(events), chunk):
            sel = order[lo : lo + chunk]
            users, pos = events.user[sel], events.pos[sel]
            ctx = [data.sequences[b][max(0, p - model.max_len) : p] for b, p in zip(users, pos)]
            logits = model(_right_aligned(ctx))[:, -1] @ model.item_table().T
            seen = _seen_mask(data, users, pos)
            if seen is not None:
                logits = logits.masked_fill(seen, -torch.inf)
            target = torch.from_numpy(np.array([data.sequences[b][p] for b, p in zip(users, pos)]))
            parts.append(target_ranks(logits, target))
            lls.append((logits.gather(1, target.unsqueeze(1)).squeeze(1)
                        - torch.logsumexp(logits, 1)).double())
    ll = torch.cat(lls) if lls else torch.zeros(0, dtype=torch.float64)
    return {**ranking_metrics(concat_ranks(parts), k),
            "loglik": float(ll.mean()) if ll.numel() else float("nan"), "events": len(events)}


@dataclass
class SASRecFit:
    """The fitted model (best validation epoch's weights) and its training record."""

    model: SASRec
    best_epoch: int
    history: list[dict[str, float]]


def fit_sasrec(data: SequenceData, cfg: SASRecConfig) -> SASRecFit:
    """Adam on shuffled, length-bucketed batches of training windows; after each epoch the
    validation slice's mean log-likelihood; stops after ``patience`` epochs without a better one
    and returns the best epoch's weights."""
    if len(data.valid) == 0:
        raise ValueError("the split has no validation events (every user's held-in part is "
                         "shorter than 2); expected users with at least min_heldin = 2 held-in "
                         "events")
    windows = training_windows(data, cfg.max_len)
    if not windows:
        raise ValueError("the split has no training targets; expected users with at least 2 "
                         "items before the validation slice")
    lengths = np.array([e - a for _, a, e in windows])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = SASRec(data.num_items, cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate,
                               weight_decay=cfg.weight_decay)
        best, best_state, best_epoch, history = -math.inf, None, 0, []
        bar = tqdm(range(1, cfg.max_epochs + 1), desc="sasrec", unit="epoch",
                   disable=not cfg.progress)
        for epoch in bar:
            model.train()
            rng = np.random.default_rng([cfg.seed, epoch])
            batches = _length_buckets(rng.permutation(len(windows)), lengths, cfg.batch_size)
            total = 0.0
            for i in rng.permutation(len(batches)):
                loss = _batch_loss(model, data, [windows[j] for j in batches[i]])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batches[i])
            val = score_events(model, data, data.valid, cfg.hit_k)["loglik"]
            history.append({"epoch": epoch, "train_loss": round(total / len(windows), 5),
                            "valid_loglik": round(val, 5)})
            bar.set_postfix(valid_ll=f"{val:.4f}", best=best_epoch)
            if val > best:
                best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
            elif epoch - best_epoch >= cfg.patience:
                break
        bar.close()
    model.load_state_dict(best_state)
    model.eval()
    return SASRecFit(model=model, best_epoch=best_epoch, history=history)


def _length_buckets(order: np.ndarray, lengths: np.ndarray, size: int) -> list[np.ndarray]:
    """Batches of ``size`` windows of similar length (less padding): the shuffled ``order`` is
    cut into pools of 16 batches, each pool sorted by length, then cut into batches."""
    batches = []
    pool = 16 * size
    for lo in range(0, len(order), pool):
        chunk = order[lo : lo + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    return batches


# ------------------------------------------------------------------------------ the program


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--data-dir``, ``--category`` (Amazon), ``--max-users``: any data set the
    loaders read (the fidelity references share these flags)."""
    parser.add_argument("--dataset", default="movielens", choices=DATASETS)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--category", default=None, help="Amazon: which category's files")
    parser.add_argument("--max-users", type=int, default=None, help="a quick subset (smoke runs)")


def load_from_arguments(args: argparse.Namespace) -> Dataset:
    """The data set that ``add_dataset_arguments``' flags name."""
    options = {"category": args.category} if args.category else {}
    return load_dataset(args.dataset, args.data_dir, args.max_users, **options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    defaults = SASRecConfig()
    for name in ("dim", "layers", "heads", "max_len", "batch_size", "max_epochs", "patience",
                 "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("dropout", "learning_rate", "weight_decay"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float,
                            default=getattr(defaults, name))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    cfg = SASRecConfig(**{k: getattr(args, k) for k in (
        "dim", "layers", "heads", "max_len", "batch_size", "max_epochs", "patience", "seed",
        "dropout", "learning_rate", "weight_decay")}, progress=not args.no_progress)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / f"fidelity_{args.dataset}_sasrec.json"
    t0, c0 = time.perf_counter(), time.process_time()
    dataset = load_from_arguments(args)
    data = sequence_data(split_log(dataset, cfg.valid_steps), len(dataset.items))
    fit = fit_sasrec(data, cfg)
    t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
    heldout = score_events(fit.model, data, data.heldout, cfg.hit_k)
    record = {
        "dataset": dataset.summary(), "cohort_users": len(data.sequences),
        "events": {"train": int(sum(e - a for _, a, e in training_windows(data, cfg.max_len))),
                   "valid": len(data.valid), "heldout": len(data.heldout)},
        "candidates": "catalog minus consumed items" if data.mask_seen else "whole catalog",
        "report": {"SASRec": heldout}, "best_epoch": fit.best_epoch, "history": fit.history,
        "config": asdict(cfg),
        "timing": {"fit": {"wall_s": round(t_fit, 1), "cpu_s": round(c_fit, 1)},
                   "total": {"wall_s": round(time.perf_counter() - t0, 1),
                             "cpu_s": round(time.process_time() - c0, 1)},
                   "threads": args.threads},
        "command": ["python", "-m", "driftrec.benchmarks.sasrec",
                    *(sys.argv[1:] if argv is None else argv)],
        "versions": versions(),
    }
    atomic_write_json(out, record)
    print(json.dumps({"SASRec": heldout, "best_epoch": fit.best_epoch,
                      "timing": record["timing"]}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
