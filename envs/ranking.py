"""Ranking metrics that ties cannot inflate: hit@k, NDCG@k and MRR of a target among scored items.

Why: counting a hit when fewer than k items score *strictly* higher than the target lets ties
favour the target. A model that scores most items exactly alike (a sparse co-occurrence count, a
score that is zero almost everywhere) would then place the target near the top almost always: one
such model read hit@10 0.447 that way and 0.029 once ties were broken at random.

Here every metric is the **exact expectation under uniformly random tie-breaking**. With ``g``
items scoring strictly higher than the target and ``t`` other items scoring the same, the target's
0-based rank is uniform on ``{g, ..., g + t}``, so

    hit@k  = P(rank < k)                  = clip((k - g) / (t + 1), 0, 1)
    NDCG@k = E[1 / log2(rank + 2); rank < k]   (one relevant item, so the ideal DCG is 1)
    MRR    = E[1 / (rank + 1)]            = (H(g + t + 1) - H(g)) / (t + 1)

with ``H`` the harmonic numbers. Expectations rather than one seeded tie-break: the figure is
deterministic and has no tie-break noise at all. Every place that ranks a target (calibration
report, benchmarks on real data) goes through :func:`ranking_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TargetRanks:
    """Per event: how many items score strictly above the target, and how many tie with it.

    ``higher`` and ``ties`` are int64 tensors of shape (E,); ``ties`` excludes the target itself.
    """

    higher: torch.Tensor
    ties: torch.Tensor

    def expected_rank(self) -> torch.Tensor:
        """(E,) float64 expected 0-based rank under uniformly random tie-breaking."""
        return self.higher.double() + self.ties.double() / 2.0

    def hit_at(self, k: int) -> torch.Tensor:
        """(E,) float64 P(rank < k)."""
        g, t = self.higher.double(), self.ties.double()
        return ((k - g) / (t + 1.0)).clamp(0.0, 1.0)

    def ndcg_at(self, k: int) -> torch.Tensor:
        """(E,) float64 E[1/log2(rank + 2) · 1{rank < k}]: a prefix sum over the k gains."""
        gains = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)
        prefix = torch.cat([torch.zeros(1, dtype=torch.float64), gains.cumsum(0)])  # (k + 1,)
        lo = self.higher.clamp(max=k)
        hi = (self.higher + self.ties + 1).clamp(max=k)
        return (prefix[hi] - prefix[lo]) / (self.ties.double() + 1.0)

    def reciprocal_rank(self) -> torch.Tensor:
        """(E,) float64 E[1/(rank + 1)], with H(n) = digamma(n + 1) + Euler's gamma."""
        g, t = self.higher.double(), self.ties.double()
        return (torch.digamma(g + t + 2.0) - torch.digamma(g + 1.0)) / (t + 1.0)


def target_ranks(scores: torch.Tensor, target: torch.Tensor) -> TargetRanks:
    """Counts above and tied with ``target`` among ``scores`` (E, C), ``target`` (E,) columns.

    A target scored ``-inf`` (unavailable) ties with every other ``-inf`` item, as it should: the
    model gives no information to order them. NaN scores are an error, not a silent rank.
    """
    if scores.dim() != 2 or target.shape != scores.shape[:1]:
        raise ValueError(f"scores must be (E, C) and target (E,), got {tuple(scores.shape)} and "
                         f"{tuple(target.shape)}")
    if bool(torch.isnan(scores).any()):
        rows = torch.isnan(scores).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"scores hold NaN at events {rows}; expected real or -inf scores")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= scores.shape[1]):
        raise ValueError(f"target columns must lie in [0, {scores.shape[1]}), got "
                         f"[{int(target.min())}, {int(target.max())}]")
    chosen = scores.gather(1, target.long().unsqueeze(1))
    higher = (scores > chosen).sum(dim=1)
    ties = (scores == chosen).sum(dim=1) - 1
    return TargetRanks(higher=higher, ties=ties)


def ranking_metrics(ranks: TargetRanks, k: int) -> dict[str, float]:
    """Means over events of hit@k, NDCG@k and MRR (NaN when there are no events)."""
    if k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    n = int(ranks.higher.numel())
    if n == 0:
        return {f"hit@{k}": float("nan"), f"ndcg@{k}": float("nan"), "mrr": float("nan")}
    return {
        f"hit@{k}": float(ranks.hit_at(k).mean()),
        f"ndcg@{k}": float(ranks.ndcg_at(k).mean()),
        "mrr": float(ranks.reciprocal_rank().mean()),
    }


def concat_ranks(parts: list[TargetRanks]) -> TargetRanks:
    """One ``TargetRanks`` from per-chunk parts (empty list: no events)."""
    if not parts:
        empty = torch.zeros(0, dtype=torch.int64)
        return TargetRanks(higher=empty, ties=empty)
    return TargetRanks(higher=torch.cat([p.higher for p in parts]),
                       ties=torch.cat([p.ties for p in parts]))
