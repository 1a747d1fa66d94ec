"""The throughput benchmark's measurement on a tiny configuration (the figures themselves live in
benchmarks/results/throughput.json, never in assertions)."""

import math

from driftrec.benchmarks.throughput import format_table, measure, synthetic_catalog


def test_measure_pairs_step_and_gather_blocks_and_records_the_pool_lifetime():
    catalog = synthetic_catalog(300, 16)
    rows = [
        measure(8, 20, 3, 16, catalog, repeats=3, budget_s=0.005),
        measure(16, 20, 3, 16, catalog, repeats=3, budget_s=0.005),
    ]
    assert [r["pool_lifetime"] for r in rows] == [1, 1]  # a new pool every step
    for r in rows:
        assert r["step_ms"] > 0 and r["gather_ms"] > 0
        assert r["ratio_min"] <= r["ratio"] <= r["ratio_max"]
        assert r["product_ratio"] > 0 and r["blas_product_ratio"] > 0
        assert math.isclose(r["user_steps_per_s"], r["B"] / (r["step_ms"] / 1e3))
    table = format_table(rows).splitlines()
    assert len(table) == 4 and table[3].split()[:5] == ["16", "20", "3", "16", "1"]
