"""Semantic check of the built-in catalogs and personas: does the language model see the categories?

The simulator's users live in the encoder's embedding space, so the built-in text is only useful
if that space groups it the way the categories say. Two figures per domain, with MiniLM:

- **category gap**: mean cosine between items of the same category minus mean cosine between
  items of different categories (over all pairs, self-pairs excluded). Clearly positive means the
  text carries the category.
- **persona precision@k**: for each persona, the share of the k catalog items nearest to the
  persona's text embedding whose category is one of the persona's interests; *chance* is the
  share of the catalog in those categories (what k random items would score).

Also reported: nearest-centroid accuracy (an item's category is its nearest category centroid,
the item itself left out of its own centroid).

Run ``python -m driftrec.benchmarks.semantic_check``; results go to
``benchmarks/results/semantic_check.json`` (atomically, with config, versions and git commit).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from driftrec.cli.report import versions
from driftrec.encoders import load_encoder
from driftrec.encoders.io import atomic_write_json
from driftrec.envs.sources.builtin import DOMAINS
from driftrec.envs.sources.catalog import Catalog, load_catalog
from driftrec.envs.sources.personas import generate_personas

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "semantic_check.json"


def category_gap(embeddings: np.ndarray, category_ids: np.ndarray) -> dict[str, float]:
    """Mean cosine of same-category pairs, of different-category pairs, and their difference."""
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(category_ids)
    c = int(y.max()) + 1
    onehot = np.eye(c)[y]  # (M, C)
    sums = onehot.T @ x  # (C, d): per-category sum of vectors
    counts = onehot.sum(axis=0)
    # Sum of cosines over ordered pairs without forming the (M, M) matrix: |sum|^2 - sum |x|^2.
    self_sims = np.einsum("ij,ij->i", x, x)
    self_by_cat = onehot.T @ self_sims
    same_total = float(np.sum(np.einsum("cd,cd->c", sums, sums) - self_by_cat))
    same_pairs = float(np.sum(counts * (counts - 1)))
    total = x.sum(axis=0)
    all_total = float(total @ total - self_sims.sum())
    m = len(y)
    diff_pairs = float(m * (m - 1)) - same_pairs
    same = same_total / same_pairs
    diff = (all_total - same_total) / diff_pairs
    return {"same": same, "different": diff, "gap": same - diff}


def centroid_accuracy(embeddings: np.ndarray, category_ids: np.ndarray) -> float:
    """Share of items whose nearest category centroid (leaving the item out) is its own."""
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(category_ids)
    c = int(y.max()) + 1
    onehot = np.eye(c)[y]
    sums = onehot.T @ x
    counts = onehot.sum(axis=0)
    scores = x @ sums.T  # (M, C) dot with category sums
    own = scores[np.arange(len(y)), y] - np.einsum("ij,ij->i", x, x)
    scores = scores / counts
    scores[np.arange(len(y)), y] = own / np.maximum(counts[y] - 1, 1)
    return float(np.mean(scores.argmax(axis=1) == y))


def persona_precision(
    catalog: Catalog, persona_embeddings: np.ndarray, interests: list[tuple[int, ...]], k: int
) -> dict[str, float]:
    """Precision@k of the items nearest to each persona vs chance, averaged over personas."""
    sims = np.asarray(persona_embeddings, dtype=np.float32) @ catalog.embeddings.T  # (P, M)
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    cats = catalog.category_ids
    shares = np.bincount(cats, minlength=len(catalog.categories)) / len(catalog)
    precision, chance = [], []
    for row, wanted in zip(top, interests):
        wanted_set = list(wanted)
        precision.append(float(np.isin(cats[row], wanted_set).mean()))
        chance.append(float(shares[wanted_set].sum()))
    return {"precision": float(np.mean(precision)), "chance": float(np.mean(chance))}


def run(
    encoder_spec: str = "minilm",
    domains: tuple[str, ...] = DOMAINS,
    num_personas: int = 300,
    persona_seed: int = 0,
    k: int = 10,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Compute the figures for each domain; returns the results dict (also what is written)."""
    encoder = load_encoder(encoder_spec, cache_dir=cache_dir)
    rows: dict[str, Any] = {}
    for domain in domains:
        start = time.perf_counter()
        catalog = load_catalog(domain, encoder=encoder)
        personas = generate_personas(domain, num_personas, persona_seed)
        persona_emb = encoder.encode([p.text for p in personas])
        gap = category_gap(catalog.embeddings, catalog.category_ids)
        rows[domain] = {
            "items": len(catalog),
            "categories": len(catalog.categories),
            "same_category_cosine": gap["same"],
            "different_category_cosine": gap["different"],
            "category_gap": gap["gap"],
            "centroid_accuracy": centroid_accuracy(catalog.embeddings, catalog.category_ids),
            **{f"persona_{key}_at_{k}": value for key, value in persona_precision(
                catalog, persona_emb, [p.interests for p in personas], k).items()},
            "seconds": time.perf_counter() - start,
        }
    return {
        "benchmark": "semantic_check",
        "config": {
            "encoder": encoder_spec,
            "encoder_name": encoder.name,
            "domains": list(domains),
            "catalog_seed": 0,
            "num_personas": num_personas,
            "persona_seed": persona_seed,
            "k": k,
        },
        "versions": versions(),
        "results": rows,
    }


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of the figures, one row per domain."""
    k = results["config"]["k"]
    header = (f"{'domain':<10}{'items':>7}{'cats':>6}{'same':>8}{'diff':>8}{'gap':>8}"
              f"{'centroid':>10}{f'P@{k}':>8}{'chance':>8}")
    lines = [header, "-" * len(header)]
    for domain, r in results["results"].items():
        lines.append(
            f"{domain:<10}{r['items']:>7}{r['categories']:>6}{r['same_category_cosine']:>8.3f}"
            f"{r['different_category_cosine']:>8.3f}{r['category_gap']:>8.3f}"
            f"{r['centroid_accuracy']:>10.3f}{r[f'persona_precision_at_{k}']:>8.3f}"
            f"{r[f'persona_chance_at_{k}']:>8.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m driftrec.benchmarks.semantic_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--encoder", default="minilm", help="load_encoder spec (default minilm)")
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    parser.add_argument("--personas", type=int, default=300, help="personas per domain")
    parser.add_argument("--persona-seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=10, help="precision@k")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON path")
    args = parser.parse_args(argv)
    results = run(args.encoder, tuple(args.domains), args.personas, args.persona_seed, args.k,
                  args.cache_dir)
    atomic_write_json(args.output, results)
    print(format_table(results))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
