"""The learning-curve benchmark: argument checks and one tiny end-to-end run."""

from __future__ import annotations

import json

import pytest
from driftrec.benchmarks import learning_curves as lc


def test_checkpoints_parse_in_increasing_order_from_zero():
    assert lc.parse_checkpoints("0,512,2048", users=16) == [0, 512, 2048]


@pytest.mark.parametrize("text", ["512,256", "512,512", "-64,128", ""])
def test_checkpoints_that_do_not_increase_from_zero_are_rejected(text):
    with pytest.raises(ValueError, match=r"checkpoints \[.*\] must be increasing non-negative "
                                         r"user-step counts \(B=16 user-steps per batched step\)"):
        lc.parse_checkpoints(text, users=16)


def test_checkpoints_that_are_not_integers_are_rejected():
    with pytest.raises(ValueError, match=r"checkpoints '0,4k' must be comma-separated integers"):
        lc.parse_checkpoints("0,4k", users=16)


def test_agent_kwargs_that_are_not_json_are_rejected():
    with pytest.raises(ValueError, match=r"--agent-kwargs '\{n_steps: 8\}' is not JSON \(Expecting "
                                         r"property name enclosed in double quotes at character 1\)"):
        lc.parse_kwargs("{n_steps: 8}")


def test_agent_kwargs_are_a_json_object_with_lists_as_tuples():
    assert lc.parse_kwargs('{"n_steps": 8, "net_arch": [32, 32]}') == {
        "n_steps": 8, "net_arch": (32, 32)}
    assert lc.parse_kwargs("") == {}


def test_agent_kwargs_that_are_not_an_object_are_rejected():
    with pytest.raises(TypeError, match=r"--agent-kwargs must be a JSON object, got '\[1, 2\]'"):
        lc.parse_kwargs("[1, 2]")


@pytest.mark.slow
def test_a_tiny_run_writes_curves_references_and_provenance(tmp_path):
    out = tmp_path / "curves.json"
    lc.main(["--encoder", "hashing", "--users", "8", "--seeds", "0", "--agents", "a2c",
             "--checkpoints", "0,256", "--references", "random,oracle_budget",
             "--out", str(out)])
    result = json.loads(out.read_text())
    curve = result["summary"]["video"]["curves"]["a2c"]
    assert [p["user_steps"] for p in curve] == [0, 256]
    assert set(result["summary"]["video"]["references"]) == {"random", "oracle_budget"}
    assert result["config"]["checkpoints"] == [0, 256]
    assert result["provenance"]["git_commit"] is not None
    assert set(result["checks"]) == {"video: a2c >= 0.8 x oracle_budget"}
    assert set(curve[0]["iqm_seeds"]) == {"iqm", "ci95"}
    random = result["summary"]["video"]["references"]["random"]
    assert random["iqm_users"]["ci95"][0] <= random["iqm_users"]["iqm"] <= \
        random["iqm_users"]["ci95"][1]


def test_iqm_of_three_seeds_is_their_mean_with_a_stratified_bootstrap_interval():
    # 3 runs: the 25%-trimmed mean trims none; resampling 3 values spans [min, max] (each
    # extreme has probability 1/27 > 2.5% of being drawn three times).
    assert lc.iqm_interval([[1.0], [2.0], [3.0]]) == {"iqm": 2.0, "ci95": [1.0, 3.0]}


def test_iqm_over_users_trims_the_outlying_quarters():
    # 8 users x 1 seed: the IQM is the mean of the middle four (3, 4, 5, 6); 1000 is trimmed.
    fields = lc.iqm_fields([[1, 2, 3, 4, 5, 6, 7, 1000]])
    assert fields["iqm_users"]["iqm"] == 4.5
    assert fields["iqm_seeds"]["iqm"] == pytest.approx(128.5)


def test_iqm_is_reproducible_and_leaves_numpy_global_state_alone():
    import numpy as np

    before = np.random.get_state()[1].copy()
    first = lc.iqm_fields([[1, 5, 2, 8], [3, 3, 9, 1]])
    assert lc.iqm_fields([[1, 5, 2, 8], [3, 3, 9, 1]]) == first
    assert (np.random.get_state()[1] == before).all()


@pytest.mark.parametrize("scores", [[], [1.0, 2.0], [[[1.0]]]])
def test_iqm_of_a_score_array_that_is_not_a_matrix_is_rejected(scores):
    with pytest.raises(ValueError, match=r"scores have shape .*; expected a \(runs, tasks\)"):
        lc.iqm_interval(scores)


def test_compare_agents_says_its_rl_rows_are_a_short_budget():
    from driftrec.benchmarks.compare_agents import short_budget_note

    assert short_budget_note(64, 1.0).startswith(
        "RL agents trained for a fixed short budget (user-steps: slateq 20,480, ppo 20,480, "
        "a2c 20,480, dqn 102,400); their learning curves keep rising past it")


def test_iqm_of_seeds_with_cohorts_of_different_sizes_is_rejected():
    with pytest.raises(ValueError, match=r"per-seed user returns of sizes \[2, 3\]; expected one"):
        lc.iqm_fields([[1, 2], [1, 2, 3]])


def test_a_quick_run_does_not_overwrite_the_committed_results():
    args = lc.parse_args(["--quick"])
    assert args.out != lc.DEFAULT_OUT and args.out.name == "quick-learning_curves.json"
    assert lc.parse_args(["--quick", "--out", "x.json"]).out.name == "x.json"
