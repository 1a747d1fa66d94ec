"""Bad inputs of the fidelity references (SASRec, generated-session statistics): each is a clear
error naming the bad value and what was expected, raised before any training or writing. This
file is the executable bad-input register of the area (one case a row)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from driftrec.benchmarks import sasrec
from driftrec.envs.sources.datasets import DatasetFormatError

CONFIG_CASES = [
    ({"dim": 0}, r"SASRecConfig.dim must be an int >= 1, got 0"),
    ({"dim": True}, r"SASRecConfig.dim must be an int >= 1, got True"),
    ({"dim": 2.5}, r"SASRecConfig.dim must be an int >= 1, got 2.5"),
    ({"layers": 0}, r"SASRecConfig.layers must be an int >= 1, got 0"),
    ({"heads": 0}, r"SASRecConfig.heads must be an int >= 1, got 0"),
    ({"dim": 8, "heads": 3}, r"SASRecConfig.dim \(8\) must be a multiple of heads \(3\)"),
    ({"max_len": 0}, r"SASRecConfig.max_len must be an int >= 1, got 0"),
    ({"dropout": 1.0}, r"SASRecConfig.dropout must be in \[0, 1\), got 1.0"),
    ({"dropout": -0.1}, r"SASRecConfig.dropout must be in \[0, 1\), got -0.1"),
    ({"dropout": "0.2"}, r"SASRecConfig.dropout must be in \[0, 1\), got '0.2'"),
    ({"learning_rate": 0.0}, r"SASRecConfig.learning_rate must be in \(0, 1\), got 0.0"),
    ({"learning_rate": 1.5}, r"SASRecConfig.learning_rate must be in \(0, 1\), got 1.5"),
    ({"weight_decay": -1.0}, r"SASRecConfig.weight_decay must be >= 0, got -1.0"),
    ({"batch_size": 0}, r"SASRecConfig.batch_size must be an int >= 1, got 0"),
    ({"max_epochs": 0}, r"SASRecConfig.max_epochs must be an int >= 1, got 0"),
    ({"patience": -2}, r"SASRecConfig.patience must be an int >= 1, got -2"),
    ({"valid_steps": 0}, r"SASRecConfig.valid_steps must be an int >= 1, got 0"),
    ({"hit_k": 0}, r"SASRecConfig.hit_k must be an int >= 1, got 0"),
    ({"seed": -1}, r"SASRecConfig.seed must be an int >= 0, got -1"),
    ({"seed": True}, r"SASRecConfig.seed must be an int >= 0, got True"),
]


@pytest.mark.parametrize(("kwargs", "match"), CONFIG_CASES)
def test_bad_sasrec_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sasrec.SASRecConfig(**kwargs)


def _cli_cases(tmp: Path, real_format) -> list[tuple[list[str], type, str]]:
    _, ml = real_format("ml-100k", tmp / "ml")
    _, amazon = real_format("amazon", tmp / "amazon")
    (amazon / "meta_Other.jsonl").write_text((amazon / "meta_All_Beauty.jsonl").read_text())
    _, short = real_format("ml-100k", tmp / "short", length=6)
    _, mind = real_format("mind", tmp / "mind")
    return [
        (["--data-dir", str(tmp / "absent")], DatasetFormatError,
         r"absent: file not found: the MovieLens format expects its data folder"),
        (["--data-dir", str(mind)], DatasetFormatError, r"u.data"),
        (["--dataset", "mind", "--data-dir", str(ml)], DatasetFormatError, r"news.tsv"),
        (["--dataset", "amazon", "--data-dir", str(amazon)], DatasetFormatError,
         r"several metadata files \['meta_All_Beauty.jsonl', 'meta_Other.jsonl'\].*category="),
        (["--dataset", "amazon", "--data-dir", str(amazon), "--category", "Toys"],
         DatasetFormatError, r"Toys.jsonl"),
        (["--data-dir", str(short)], ValueError,
         r"no user of 'movielens' has the 9 interactions a cohort needs"),
        (["--data-dir", str(ml), "--dim", "0"], ValueError, r"SASRecConfig.dim must be an int"),
        (["--data-dir", str(ml), "--dim", "6", "--heads", "4"], ValueError,
         r"multiple of heads"),
        (["--data-dir", str(ml), "--threads", "0"], SystemExit, r"--threads must be >= 1, got 0"),
        (["--dataset", "netflix", "--data-dir", str(ml)], SystemExit,
         r"invalid choice: 'netflix'"),
        (["--data-dir", str(ml), "--dropout", "x"], SystemExit, r"invalid float value: 'x'"),
        (["--data-dir", str(ml), "--max-users", "0"], ValueError, r"max_users"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_sasrec_command_line(tmp_path, real_format, capsys, case: int) -> None:
    argv, kind, match = _cli_cases(tmp_path, real_format)[case]
    out = tmp_path / "never.json"
    with pytest.raises(kind) as info:
        sasrec.main([*argv, "--no-progress", "--max-epochs", "1", "--out", str(out)])
    text = capsys.readouterr().err if kind is SystemExit else str(info.value)
    assert re.search(match, text, flags=re.DOTALL), text
    assert not out.exists()


def _session_cases(tmp: Path, real_format) -> list[tuple[list[str], type, str]]:
    from driftrec.benchmarks import session_stats  # noqa: F401  (the module under test)

    _, ml = real_format("ml-100k", tmp / "ml", items=40)
    _, small = real_format("ml-100k", tmp / "small", items=6, length=6, users=3)
    (tmp / "cal.json").write_text("{not json")
    (tmp / "list.json").write_text("[1, 2]")
    base = ["--data-dir", str(ml), "--encoder", "hashing"]
    return [
        ([*base, "--calibration", str(tmp / "none.json")], SystemExit,
         r"--calibration '.*none.json': no such file; expected a `driftrec calibrate` output"),
        ([*base, "--calibration", str(tmp / "cal.json")], ValueError, r"cal.json"),
        ([*base, "--calibration", str(tmp / "list.json")], ValueError, r"list.json"),
        ([*base, "--users", "0"], SystemExit, r"--users must be >= 1, got 0"),
        ([*base, "--seed", "-1"], SystemExit, r"--seed must be >= 0, got -1"),
        ([*base, "--threads", "0"], SystemExit, r"--threads must be >= 1, got 0"),
        ([*base, "--policy", "oracle"], SystemExit, r"invalid choice: 'oracle'"),
        ([*base, "--gap-minutes", "0"], SystemExit, r"--gap-minutes must be > 0, got 0.0"),
        ([*base, "--gap-minutes", "-5"], SystemExit, r"--gap-minutes must be > 0, got -5.0"),
        ([*base, "--gap-minutes", "nan"], SystemExit, r"--gap-minutes must be > 0, got nan"),
        (["--data-dir", str(small), "--encoder", "hashing"], ValueError,
         r"no user of 'movielens' has the 9 interactions"),
        ([*base, "--encoder", "nope"], ValueError, r"nope"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_session_stats_command_line(tmp_path, real_format, capsys, case: int) -> None:
    from driftrec.benchmarks import session_stats

    argv, kind, match = _session_cases(tmp_path, real_format)[case]
    out = tmp_path / "never.json"
    with pytest.raises(kind) as info:
        session_stats.main([*argv, "--users", "2", "--out", str(out)] if "--users" not in argv
                           else [*argv, "--out", str(out)])
    text = capsys.readouterr().err if kind is SystemExit else str(info.value)
    assert re.search(match, text, flags=re.DOTALL), text
    assert not out.exists()
