"""The throughput benchmark's measurement on a tiny configuration (the figures themselves live in
benchmarks/results/throughput.json, never in assertions)."""

import math

import pytest
from driftrec.benchmarks.throughput import format_table, measure, synthetic_catalog


@pytest.fixture(scope="module")
def catalog_for_paths():
    return synthetic_catalog(300, 16)


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


def test_paths_measure_every_path_for_one_user_and_the_vector_env(catalog_for_paths):
    from driftrec.benchmarks.throughput import (
        format_paths,
        measure_reference,
        measure_single,
        measure_vector_paths,
    )

    single = measure_single(20, 3, repeats=3, budget_s=0.003, catalog=catalog_for_paths,
                            encoder="hashing")  # fmt: skip
    vector = measure_vector_paths(4, 20, 3, catalog_for_paths, repeats=3, budget_s=0.003)
    assert [r["path"] for r in single] == ["fast", "fast-lean", "fast-gram", "fast-gram-lean",
                                           "torch"]  # fmt: skip
    assert [r["path"] for r in vector] == ["fast", "fast-blas", "torch"]
    for r in single:
        assert (r["N"], r["K"], r["d_a"], r["M"]) == (20, 3, 16, 300)
        assert math.isclose(r["steps_per_s"], 1e6 / r["step_us"])
        assert r["step_us_range"][0] <= r["step_us"] <= r["step_us_range"][1]
        assert r["cpu_us"] > 0 and r["obs_copy_us"] > 0
    for r in vector:
        assert (r["B"], r["N"], r["K"], r["d"]) == (4, 20, 3, 16)
        assert math.isclose(r["user_steps_per_s"], 4e3 / r["step_ms"])
    reference = measure_reference(2, 20, 3, catalog_for_paths, repeats=2, budget_s=0.003)
    assert (reference["path"], reference["B"], reference["N"], reference["K"]) == (
        "reference", 2, 20, 3)  # fmt: skip
    assert math.isclose(reference["user_steps_per_s"], 2e3 / reference["step_ms"])
    lines = format_paths(single, [*vector, reference]).splitlines()
    assert len(lines) == 11 and lines[1].split()[:3] == ["fast", "20", "3"]
    assert lines[2].split()[:3] == ["fast-lean", "20", "3"]
    assert lines[4].split()[:3] == ["fast-gram-lean", "20", "3"]
    assert lines[7].split()[:4] == ["fast", "4", "20", "3"]
    assert lines[10].split()[:4] == ["reference", "2", "20", "3"]


def test_paths_merge_into_the_results_file_and_keep_the_rest(tmp_path, monkeypatch):
    import json

    from driftrec.benchmarks import throughput

    out = tmp_path / "throughput.json"
    out.write_text(json.dumps({"results": [1, 2], "paths": {"old": True}}))
    monkeypatch.setattr(throughput, "run_paths", lambda args, argv: {"single_user": ["new"]})
    assert throughput.main(["--paths", "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == {"results": [1, 2], "paths": {"single_user": ["new"]}}
