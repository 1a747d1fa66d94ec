"""The side-by-side benchmark's driver (benchmarks/peers.py): its argument errors, the peers
reported skipped when their interpreter is absent or lacks them, and one tiny driftrec-only run
(the figures themselves live in benchmarks/results/peers.json, never in assertions). The bad
arguments double as the register of rejected inputs for this area."""

import json
import re
import sys

import pytest
from driftrec.benchmarks.peers import main

BAD_ARGUMENTS = [
    (["--repeats", "0"], r"--repeats=0: expected a positive number"),
    (["--repeats", "-3"], r"--repeats=-3: expected a positive number"),
    (["--repeats", "two"], r"argument --repeats: invalid int value: 'two'"),
    (["--budget-s", "0"], r"--budget-s=0.0: expected a positive number"),
    (["--budget-s", "nan"], r"--budget-s=nan: expected a positive number"),
    (["--budget-s", "-0.1"], r"--budget-s=-0.1: expected a positive number"),
    (["--items", "0"], r"--items=0: expected a positive number"),
    (["--timeout-s", "0"], r"--timeout-s=0.0: expected a positive number"),
    (["--repeats", "0", "--items", "0"], r"--repeats=0, --items=0: expected a positive"),
    (["--seed", "x"], r"argument --seed: invalid int value: 'x'"),
    (["--single", "10x20"], r"'10x20' is not a list of NxK; expected e\.g\. 10x2,100x10 with 1 <= K <= N"),
    (["--single", "0x0"], r"'0x0' is not a list of NxK"),
    (["--single", "10"], r"'10' is not a list of NxK"),
    (["--single", "10x2x3"], r"'10x2x3' is not a list of NxK"),
    (["--single", "10x2,"], r"'10x2,' is not a list of NxK"),
    (["--single", "ten x two"], r"'ten x two' is not a list of NxK"),
    (["--single", "10x-2"], r"'10x-2' is not a list of NxK"),
    (["--batches", "0"], r"'0' is not a list of batch sizes; expected positive integers"),
    (["--batches", "1,-4"], r"'1,-4' is not a list of batch sizes"),
    (["--batches", "64.5"], r"'64.5' is not a list of batch sizes"),
    (["--batches", ""], r"'' is not a list of batch sizes"),
    (["--low-dims", "0"], r"'0' is not a list of dimensions; expected positive integers, e\.g\. 10,64, or none"),
    (["--low-dims", "10,x"], r"'10,x' is not a list of dimensions"),
    (["--low-dims", ""], r"'' is not a list of dimensions"),
    (["--low-dims", "-64"], r"'-64' is not a list of dimensions"),
    (["--simulators", "recsimng"], (r"unknown name\(s\) \['recsimng'\] in 'recsimng'; expected "
     r"a comma list of driftrec, recsim, sardine")),
    (["--simulators", "driftrec,xx"], r"unknown name\(s\) \['xx'\] in 'driftrec,xx'"),
    (["--simulators", ","], r"unknown name\(s\) \[','\] in ','"),
    (["--backends", "cuda"], (r"unknown name\(s\) \['cuda'\] in 'cuda'; expected a comma list "
     r"of fast, fast-lean, fast-blas, fast-gram, fast-gram-lean, torch")),
    (["--backends", "FAST"], r"unknown name\(s\) \['FAST'\]"),
    (["--peer-python", "/tmp"], (r"--peer-python /tmp is a directory; expected the peer "
     r"environment's interpreter")),
    (["--output", "/no/such/folder/peers.json"], (r"--output /no/such/folder/peers\.json: folder "
     r"/no/such/folder does not exist")),
    (["--frobnicate"], r"unrecognized arguments: --frobnicate"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS]
)
def test_bad_arguments_exit_with_a_message_naming_the_value(argv, message, capsys, tmp_path):
    argv = argv if "--output" in argv else [*argv, "--output", str(tmp_path / "peers.json")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "peers.json").exists()


def test_peers_without_an_interpreter_are_reported_skipped_with_the_reason(tmp_path, capsys):
    out = tmp_path / "peers.json"
    missing = str(tmp_path / "no-venv" / "bin" / "python")
    assert (
        main(["--simulators", "recsim,sardine", "--peer-python", missing, "--output", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    reason = f"peer interpreter {missing} does not exist"
    assert result["peers"] == {"recsim": {"status": "skipped", "reason": reason},
                               "sardine": {"status": "skipped", "reason": reason}}  # fmt: skip
    assert (result["single_user"], result["vector"], result["comparison"]) == ([], [], [])
    assert f"recsim: skipped ({reason})" in capsys.readouterr().out


def test_a_peer_interpreter_without_the_peer_is_skipped_with_its_import_error(tmp_path):
    out = tmp_path / "peers.json"
    argv = ["--simulators", "recsim", "--single", "10x2", "--peer-python", sys.executable]
    assert main([*argv, "--output", str(out)]) == 0
    peers = json.loads(out.read_text())["peers"]
    assert peers["sardine"] == {"status": "skipped", "reason": "not selected (--simulators)"}
    assert peers["recsim"]["status"] == "skipped"
    assert peers["recsim"]["reason"] == (
        f"recsim_interest_evolution.py 10 2 0 under {sys.executable} exited with code 1 before "
        "it was ready: ModuleNotFoundError: No module named 'recsim'"
    )


def test_a_tiny_driftrec_only_run_writes_rows_floors_and_provenance(tmp_path):
    out = tmp_path / "peers.json"
    argv = ["--simulators", "driftrec", "--backends", "torch", "--single", "10x2", "--batches",
            "2", "--repeats", "2", "--budget-s", "0.004", "--items", "300", "--encoder", "hashing"]  # fmt: skip
    argv += ["--output", str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert result["command"] == "python -m driftrec.benchmarks.peers " + " ".join(argv)
    assert len(result["environment"]["loadavg_before"]) == 3
    assert result["environment"]["git_commit"] is not None
    assert result["peers"] == {
        "recsim": {"status": "skipped", "reason": "not selected (--simulators)"},
        "sardine": {"status": "skipped", "reason": "not selected (--simulators)"},
    }
    (one,), (vec,) = result["single_user"], result["vector"]
    assert (one["simulator"], one["path"], one["N"], one["K"]) == ("driftrec", "torch", 10, 2)
    assert (vec["path"], vec["B"], vec["N"], vec["K"]) == ("torch", 2, 100, 10)
    for row in (one, vec):
        assert row["wall_us_range"][0] <= row["wall_us"] <= row["wall_us_range"][1]
        assert row["floor_multiple_cpu"] > 0 and row["floor_us_cpu"] > 0
    assert vec["per_s"] == pytest.approx(2 / (vec["wall_us"] * 1e-6))
    assert result["comparison"] == []  # no fast row and no peer
    assert result["driftrec_worker"]["pool_lifetime"] == 1


def test_driftrec_runs_beside_sardine_in_each_low_dimension_on_the_fast_paths_only(tmp_path):
    from driftrec.benchmarks.peers import single_jobs

    python = tmp_path / "python"
    python.write_text("")
    jobs = single_jobs(1000, 10, ["driftrec", "sardine"], ["fast", "fast-lean", "torch"],
                       str(python), 0, {}, None, (10, 64))  # fmt: skip
    assert [(j.simulator, j.argv[1:], j.fns) for j in jobs[1:]] == [
        ("driftrec@d10", ("single", "1000", "10", "0", "fast,fast-lean", "-", "10"),
         ("fast", "fast-lean", "gather", "product", "product_np")),
        ("driftrec@d64", ("single", "1000", "10", "0", "fast,fast-lean", "-", "64"),
         ("fast", "fast-lean", "gather", "product", "product_np")),
        ("sardine", ("1000", "10", "0"), ("step",)),
    ]  # fmt: skip
    assert [j.simulator for j in single_jobs(100, 10, ["driftrec", "sardine"], ["fast"],
                                             str(python), 0, {}, None, (10,))] == ["driftrec"]
