"""Fidelity: do simulated users choose like real ones? Held-out next-item fit of driftrec
(calibrated with and without the behaviour-tuned item adapter, and uncalibrated) against
standard next-item references, on the calibration split exactly.

    python -m driftrec.benchmarks.fidelity --data-dir ../shared/data/ml-100k

writes ``benchmarks/results/fidelity_movielens.json``. Every model is scored on the same
held-out events (the cohort's held-out tails, ``envs/calibration/logs.py``), as a distribution over the
same candidates (the catalog minus items the user already consumed, when no user consumes an
item twice), with hit@10, NDCG@10 and MRR exact under random tie-breaks (``envs/ranking.py``)
and the mean log-likelihood of the true next item. References, each with weights fitted by
likelihood on the held-in TRAIN events only:

- popularity: log of held-in counts + 1;
- content: a·(mean MiniLM cosine to the last 5 items) + b·log-popularity;
- item-kNN: a·(sum over the last 5 items of the cosine of held-in co-occurrence) + b·log-pop.

Cold start: a seeded 10% of the items are treated as new — their held-in counts are zeroed
(appeal 0, popularity 1) and they are never a fitted target — and the adapter is refitted; its
hit@10 on held-out events whose target is such an item is compared with popularity's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from driftrec.cli.report import versions
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.calibration import (
    EVAL,
    GAP,
    PAD,
    TRAIN,
    VALID,
    AdapterConfig,
    CalibrationConfig,
    SequenceLog,
    calibrate,
    evaluate_adapter,
    fit_adapter,
    sequence_log,
)
from driftrec.envs.ranking import concat_ranks, ranking_metrics, target_ranks
from driftrec.envs.scenarios import make_scenario
from driftrec.envs.sources.datasets import DATASETS, build_setup, load_dataset
from driftrec.envs.sources.datasets.cohort import item_statistics

RESULTS = Path(__file__).resolve().parent / "results"
RECENT = 5


def events(log: SequenceLog, phase: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Every ``phase`` event as (last ``RECENT`` items before it (E, 5), −1 padded; target (E,);
    available candidates (E, M) bool or None) — the references' whole input."""
    hist, target, avail = [], [], []
    m = log.unavailable.shape[1] if log.unavailable is not None else None
    for b in range(len(log)):
        init = log.init[b][log.init[b] >= 0]
        seq = log.items[b][log.phase[b] != PAD]
        ph = log.phase[b][log.phase[b] != PAD]
        n_before = len(init) - int((ph == 0).sum())  # init items not replayed
        full = np.concatenate([init[:n_before], seq])
        for t in np.flatnonzero(ph == phase):
            pos = n_before + t
            h = full[max(pos - RECENT, 0) : pos][::-1]
            hist.append(np.pad(h, (0, RECENT - len(h)), constant_values=-1))
            target.append(full[pos])
            if m is not None:
                a = np.ones(m, dtype=bool)
                a[full[:pos]] = False
                avail.append(a)
    return (torch.tensor(np.array(hist), dtype=torch.int64), torch.tensor(np.array(target)),
            torch.tensor(np.array(avail)) if m is not None else None)


def _features(sim: torch.Tensor, hist: torch.Tensor, mean: bool) -> torch.Tensor:
    rows = sim[hist.clamp_min(0)] * (hist >= 0).unsqueeze(2).float()  # (E, 5, M)
    total = rows.sum(1)
    return total / (hist >= 0).sum(1, keepdim=True).clamp_min(1) if mean else total


def _logits(w: torch.Tensor, feat: torch.Tensor, logpop: torch.Tensor,
            avail: torch.Tensor | None) -> torch.Tensor:
    v = w[0] * feat + w[1] * logpop
    return v if avail is None else v.masked_fill(~avail, -torch.inf)


def fit_two_weights(sim: torch.Tensor | None, logpop: torch.Tensor, data: tuple, mean: bool,
                    chunk: int = 2048) -> torch.Tensor:
    """(a, b) maximising the mean log-likelihood of ``data``'s events (L-BFGS)."""
    hist, target, avail = data
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=40, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        total = torch.zeros(())
        for lo in range(0, len(target), chunk):
            sl = slice(lo, lo + chunk)
            feat = _features(sim, hist[sl], mean) if sim is not None else torch.zeros(1)
            v = _logits(w, feat, logpop, None if avail is None else avail[sl])
            total = total - (v.gather(1, target[sl].unsqueeze(1)).squeeze(1)
                             - torch.logsumexp(v, 1)).sum()
        loss = total / len(target)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


def score(sim: torch.Tensor | None, w: torch.Tensor, logpop: torch.Tensor, data: tuple,
          mean: bool, keep: torch.Tensor | None = None, k: int = 10,
          chunk: int = 2048) -> dict[str, float]:
    """Held-out metrics of a two-weight reference (``keep`` (E,) bool restricts the events)."""
    hist, target, avail = data
    parts, lls = [], []
    with torch.no_grad():
        for lo in range(0, len(target), chunk):
            sl = slice(lo, lo + chunk)
            feat = _features(sim, hist[sl], mean) if sim is not None else torch.zeros(1)
            v = _logits(w, feat, logpop, None if avail is None else avail[sl]).expand(
                len(target[sl]), -1)
            sel = torch.ones(len(target[sl]), dtype=torch.bool) if keep is None else keep[sl]
            parts.append(target_ranks(v[sel], target[sl][sel]))
            lls.append((v.gather(1, target[sl].unsqueeze(1)).squeeze(1)
                        - torch.logsumexp(v, 1))[sel].double())
    ll = torch.cat(lls)
    return {**ranking_metrics(concat_ranks(parts), k), "loglik": float(ll.mean()),
            "events": int(ll.numel())}


def cooccurrence_cosine(log: SequenceLog, m: int) -> torch.Tensor:
    """(M, M) cosine of item co-occurrence in the users' init + held-in items (never held-out),
    zero diagonal."""
    x = torch.zeros(len(log), m)
    for b in range(len(log)):
        seen = np.concatenate([log.init[b][log.init[b] >= 0],
                               log.items[b][np.isin(log.phase[b], (0, TRAIN, VALID, GAP))]])
        x[b, seen] = 1.0
    co = x.T @ x
    n = co.diagonal().clamp_min(1.0).sqrt()
    sim = co / n.unsqueeze(0) / n.unsqueeze(1)
    sim.fill_diagonal_(0.0)
    return sim


def cold_setup(setup: Any, log: SequenceLog, fraction: float, seed: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, SequenceLog]:
    """Cold items (a seeded ``fraction`` of the catalog), appeal and popularity with their counts
    zeroed, and the log with their fitted events unscored (GAP)."""
    m = len(setup.catalog)
    cold = np.zeros(m, dtype=bool)
    cold[np.random.default_rng(seed).permutation(m)[: round(fraction * m)]] = True
    stats = item_statistics(setup.dataset, setup.split, setup.config)
    counts = np.asarray(stats["popularity"], dtype=np.float64) - 1.0  # held-in counts
    counts[cold] = 0.0
    appeal = (np.log1p(counts) / max(float(np.log1p(counts.max())), 1e-12)).astype(np.float32)
    phase = log.phase.copy()
    phase[np.isin(phase, (TRAIN, VALID)) & cold[log.items]] = GAP
    cold_log = SequenceLog(init=log.init, items=log.items, ratings=log.ratings, phase=phase,
                           unavailable=log.unavailable)
    return cold, appeal, (counts + 1.0).astype(np.float32), cold_log


def cold_start(setup: Any, log: SequenceLog, model: Any, args: argparse.Namespace,
               cfg: AdapterConfig, held: tuple, timed: Any) -> dict[str, Any]:
    """The adapter refitted with a seeded share of items treated as new, scored on held-out
    events whose target is such an item (text only: no residual), against popularity."""
    cat = setup.catalog
    cold, cold_appeal, cold_pop, cold_log = cold_setup(setup, log, args.cold_fraction, cfg.seed)
    ccfg = replace(cfg, max_epochs=args.cold_epochs)
    cold_fit = timed("cold_adapter_fit", lambda: fit_adapter(
        cold_log, cat.embeddings, cold_appeal, model, ccfg))
    is_cold = torch.from_numpy(cold)
    # Two readings of a new item's count-based terms: none at all (appeal 0, popularity 1), or
    # the warm items' mean (a catalog that gives a new item the average prior).
    prior_appeal = np.where(cold, cold_appeal[~cold].mean(), cold_appeal).astype(np.float32)
    prior_pop = np.where(cold, cold_pop[~cold].mean(), cold_pop).astype(np.float32)
    cold_report: dict[str, Any] = {"items": int(cold.sum())}
    for tag, app, pop in (("count 0", cold_appeal, cold_pop),
                          ("mean warm prior", prior_appeal, prior_pop)):
        lp = torch.log(torch.tensor(pop))
        cold_report[f"driftrec + adapter, text only ({tag})"] = evaluate_adapter(
            cold_fit, log, cat.embeddings, app, model, ccfg,
            rows_filter=lambda items: cold[items], new_items=cold)
        cold_report[f"popularity ({tag})"] = score(
            None, torch.tensor([0.0, 1.0]), lp - torch.logsumexp(lp, 0), held, False,
            keep=is_cold[held[1]])
    return cold_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=DATASETS)
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--max-users", type=int, default=None, help="a quick subset (smoke runs)")
    parser.add_argument("--category", default=None, help="Amazon: which category's files")
    parser.add_argument("--dim", type=int, default=AdapterConfig.dim)
    parser.add_argument("--max-epochs", type=int, default=AdapterConfig.max_epochs)
    parser.add_argument("--cold-epochs", type=int, default=15)
    parser.add_argument("--cold-fraction", type=float, default=0.1)
    parser.add_argument("--residual-l2", type=float, default=AdapterConfig.residual_l2,
                        help="per-item residuals with this Gaussian-prior weight (0: none)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-start refit")
    parser.add_argument("--cold-only", action="store_true",
                        help="only the cold-start refit (no main fit, no references)")
    parser.add_argument("--skip-raw", action="store_true",
                        help="skip the calibration in the encoder's own space (no adapter)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / f"fidelity_{args.dataset}.json"
    t0, c0 = time.perf_counter(), time.process_time()
    options = {"category": args.category} if args.category else {}
    setup = build_setup(load_dataset(args.dataset, args.data_dir, args.max_users, **options),
                        args.encoder)
    model = make_scenario(setup.dataset.domain).user_model
    cfg = AdapterConfig(dim=args.dim, max_epochs=args.max_epochs, residual_l2=args.residual_l2)
    log = sequence_log(setup, cfg)
    cat = setup.catalog
    timing: dict[str, dict[str, float]] = {}
    report: dict[str, dict[str, float]] = {}

    def timed(name: str, fn: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        value = fn()
        timing[name] = {"wall_s": round(time.perf_counter() - w, 1),
                        "cpu_s": round(time.process_time() - c, 1)}
        return value

    if args.cold_only:
        held = events(log, EVAL)
        record = {"cold_start": cold_start(setup, log, model, args, cfg, held, timed),
                  "timing": timing, "command": ["python", "-m", "driftrec.benchmarks.fidelity",
                                                *(sys.argv[1:] if argv is None else argv)]}
        atomic_write_json(out, record)
        print(json.dumps(record["cold_start"], indent=1))
        return 0
    fit = timed("adapter_fit", lambda: fit_adapter(log, cat.embeddings, cat.appeal, model, cfg))
    label = "driftrec calibrated + adapter" + (" + item residual" if args.residual_l2 else "")
    report[label] = evaluate_adapter(
        fit, log, cat.embeddings, cat.appeal, model, cfg)
    if not args.skip_raw:
        raw = timed("raw_calibration", lambda: calibrate(
            setup, config=CalibrationConfig(progress=False)))
        report["driftrec calibrated, no adapter"] = raw.report["calibrated"]
        report["driftrec defaults"] = raw.report["defaults"]
    logpop = torch.log(torch.tensor(np.asarray(cat.popularity, dtype=np.float32)))
    logpop = logpop - torch.logsumexp(logpop, 0)
    train, held = events(log, TRAIN), events(log, EVAL)
    emb = torch.tensor(np.asarray(cat.embeddings, dtype=np.float32))
    refs = {"popularity": (None, False), "MiniLM content + popularity": (emb @ emb.T, True),
            "item-kNN + popularity": (cooccurrence_cosine(log, len(cat)), False)}
    weights = {}
    for name, (sim, mean) in refs.items():
        w = (torch.tensor([0.0, 1.0]) if sim is None
             else timed(name, lambda s=sim, mn=mean: fit_two_weights(s, logpop, train, mn)))
        weights[name] = w.tolist()
        report[name] = score(sim, w, logpop, held, mean)

    cold_report = {} if args.skip_cold else cold_start(setup, log, model, args, cfg, held, timed)
    record = {
        "dataset": setup.dataset.summary(), "cohort_users": len(setup.split),
        "events": {"train": log.count(TRAIN), "valid": log.count(VALID),
                   "heldout": log.count(EVAL)},
        "report": report, "cold_start": cold_report,
        "adapter": {"parameters": fit.parameters, "best_epoch": fit.best_epoch,
                    "history": fit.history, "config": cfg.__dict__},
        "reference_weights": weights, "timing": timing,
        "total": {"wall_s": round(time.perf_counter() - t0, 1),
                  "cpu_s": round(time.process_time() - c0, 1)},
        "command": ["python", "-m", "driftrec.benchmarks.fidelity",
                    *(sys.argv[1:] if argv is None else argv)],
        "versions": versions(),
    }
    atomic_write_json(out, record)
    for name, m in {**report, **{f"cold: {k}": v for k, v in cold_report.items()
                                 if isinstance(v, dict)}}.items():
        print(f"{name:<46} hit@10 {m['hit@10']:.4f}  ndcg@10 {m['ndcg@10']:.4f}  "
              f"ll {m['loglik']:.3f}  ({m['events']} events)")
    print(f"fitted: {fit.parameters}\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
