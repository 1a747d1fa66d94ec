"""Agent checkpoints know the env they were trained on, and bad files are clear errors.

Issue 29, findings 5 and 6: a LinUCB trained on ``video`` loaded into ``news`` (and one trained on
other vectors into a hashing env) and acted; PPO and the transformer failed with torch's raw
``size mismatch``; truncated, empty or random files gave ``EOFError``, ``OSError`` or torch's
weights-only ``UnpicklingError``. Black-box through ``make_agent``/``save``/``load`` on tiny
hashing envs. ``CASES`` and ``ENV_CASES`` are the bad-input register of this area: run
``python tests/agents/test_checkpoint.py`` to print each one's actual error as a table row.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import pytest
import torch
from driftrec.agents import AGENTS, Agent, make_agent
from driftrec.agents.checkpoint import CheckpointError

SIZES = {"num_candidates": 10, "slate_size": 3, "history_length": 4}
USERS = 4
#: Small buffers so that every learner updates within the few training steps.
FAST: dict[str, dict[str, Any]] = {
    "slateq": {"warmup": 8, "batch_size": 8},
    "transformer": {"warmup": 8, "batch_size": 8},
    "ppo": {"n_steps": 4, "batch_size": 16, "n_epochs": 1},
    "a2c": {"n_steps": 2},
    "dqn": {"learning_starts": 8, "batch_size": 8},
}
TRAIN_STEPS = 4


# ----- tiny envs, built once per process ---------------------------------------------------------
def _hashing64_catalog() -> Any:
    from driftrec.encoders import load_encoder
    from driftrec.envs import load_catalog

    return load_catalog("video", encoder=load_encoder("hashing", dim=64))


ENV_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "video": ("driftrec/Video-v0", {}),
    "news": ("driftrec/News-v0", {}),
    "video-noise": ("driftrec/Video-v0", {"agent_view": "noise"}),
    "video-pca": ("driftrec/Video-v0", {"agent_view": "pca", "agent_dim": 16}),
    "video-hashing64": ("driftrec/Video-v0", {"catalog": _hashing64_catalog}),
    "video-N12": ("driftrec/Video-v0", {"num_candidates": 12}),
    "video-K4": ("driftrec/Video-v0", {"slate_size": 4}),
    "video-H6": ("driftrec/Video-v0", {"history_length": 6}),
}
_ENVS: dict[str, Any] = {}


def tiny_env(key: str) -> Any:
    """The vector env ``key`` of ENV_SETTINGS: B=4 users, N=10, K=3, H=4, hashing encoder."""
    if key not in _ENVS:
        import driftrec.envs  # noqa: F401  (registers the ids)

        env_id, extra = ENV_SETTINGS[key]
        extra = {k: v() if callable(v) else v for k, v in extra.items()}
        _ENVS[key] = gymnasium.make_vec(env_id, num_envs=USERS,
                                        vectorization_mode="vector_entry_point",
                                        encoder="hashing", **{**SIZES, **extra})
    return _ENVS[key]


@pytest.fixture(scope="module", autouse=True)
def _close_envs():
    yield
    for env in _ENVS.values():
        env.close()
    _ENVS.clear()


def trained(name: str, folder: Path, env_key: str = "video") -> tuple[Any, Path]:
    """Agent ``name`` trained briefly on ``env_key`` and its checkpoint in ``folder``."""
    env = tiny_env(env_key)
    agent = make_agent(name, env, seed=0, **FAST.get(name, {}))
    agent.fit(env, TRAIN_STEPS, seed=1)
    path = folder / f"{name}-{env_key}.pt"
    agent.save(path)
    return agent, path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Any, Path]]:
    """``checkpoints(name)``: (agent, path) trained on video once per module."""
    folder = tmp_path_factory.mktemp("checkpoints")
    cache: dict[str, tuple[Any, Path]] = {}

    def get(name: str) -> tuple[Any, Path]:
        if name not in cache:
            cache[name] = trained(name, folder)
        return cache[name]

    return get


def fresh(name: str, env_key: str) -> Any:
    return make_agent(name, tiny_env(env_key), seed=7, **FAST.get(name, {}))


def snapshot(agent: Any) -> list[tuple[str, np.ndarray]]:
    """Every tensor of the agent's state and its generator state, as comparable arrays."""
    out: list[tuple[str, np.ndarray]] = []

    def walk(tree: Any, where: str) -> None:
        if isinstance(tree, dict):
            for key, value in tree.items():
                walk(value, f"{where}.{key}")
        elif isinstance(tree, torch.Tensor):
            out.append((where, tree.detach().numpy().copy()))

    walk(dict(agent.state_dict()), "state")
    out.append(("rng", np.array(str(agent.rng.bit_generator.state))))
    return out


def assert_same(a: list[tuple[str, np.ndarray]], b: list[tuple[str, np.ndarray]]) -> None:
    assert [k for k, _ in a] == [k for k, _ in b]
    for (key, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y, err_msg=key)


def assert_valid_slates(agent: Any, env: Any) -> None:
    obs, info = env.reset(seed=3)
    slate = agent.act(obs, info)
    assert slate.shape == (USERS, env.single_action_space.shape[0])
    assert all(len(set(row)) == slate.shape[1] for row in slate.tolist())


# ----- finding 5: a checkpoint from another env -----------------------------------------------
@pytest.mark.parametrize("name", sorted(AGENTS))
def test_checkpoint_from_another_scenario_is_refused_naming_both_sides(name, checkpoints):
    _, path = checkpoints(name)
    agent = fresh(name, "news")
    before = snapshot(agent)
    with pytest.raises(CheckpointError, match=(
            rf"checkpoint '{path}' \({name}\) was trained on scenario 'video', catalog "
            r"sha256:[0-9a-f]{16}, C=15 categories; this env is scenario 'news', catalog "
            r"sha256:[0-9a-f]{16}, C=14 categories; pass strict=False to transfer it "
            r"deliberately where the shapes fit$")):
        agent.load(path)
    assert_same(snapshot(agent), before)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_strict_false_transfers_the_state_where_the_shapes_fit(name, checkpoints):
    source, path = checkpoints(name)
    agent = fresh(name, "video-noise")
    with pytest.raises(CheckpointError, match=r"trained on agent view 'same'; this env is agent "
                                              r"view 'noise-0.1'; pass strict=False"):
        agent.load(path)
    agent.load(path, strict=False)
    assert_same(snapshot(agent), snapshot(source))
    assert_valid_slates(agent, tiny_env("video-noise"))


def shapes(agent: Any) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, value.shape) for key, value in snapshot(agent)]


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_strict_false_names_the_tensors_that_do_not_fit(name, checkpoints):
    """d=256 -> 16: agents with input layers of size d (the transformer) cannot transfer."""
    source, path = checkpoints(name)
    agent = fresh(name, "video-pca")
    if shapes(agent) == shapes(source):
        assert name != "transformer"
        agent.load(path, strict=False)
        assert_valid_slates(agent, tiny_env("video-pca"))
        return
    before = snapshot(agent)
    with pytest.raises(CheckpointError, match=(
            rf"checkpoint '{path}' does not fit this {name} agent: state\.\S+ has shape "
            r"\(\d+, 256\) in the checkpoint and \(\d+, 16\) in this agent.* \(it was trained "
            r"on agent view 'same', embedding dim d=256, observation shapes \{'candidate_"
            r"embeddings': \(10, 256\), 'profile_embedding': \(256,\)\}; this env is agent view "
            r"'pca-16', embedding dim d=16, .*\); the state of a checkpoint can only be loaded "
            r"into an agent of the same shapes$")) as caught:
        agent.load(path, strict=False)
    assert "size mismatch" not in str(caught.value)
    assert_same(snapshot(agent), before)


def test_linucb_from_another_encoder_needs_strict_false_then_acts(checkpoints):
    _, path = checkpoints("linucb")
    agent = fresh("linucb", "video-hashing64")
    with pytest.raises(CheckpointError, match=(
            r"trained on encoder 'hashing-256@v1', embedding dim d=256, observation shapes "
            r"\{'candidate_embeddings': \(10, 256\), 'profile_embedding': \(256,\)\}; this env "
            r"is encoder 'hashing-64@v1', embedding dim d=64, observation shapes "
            r"\{'candidate_embeddings': \(10, 64\), 'profile_embedding': \(64,\)\}; ")):
        agent.load(path)
    agent.load(path, strict=False)  # the bandit's features are projected to 16 dims: they fit
    assert_valid_slates(agent, tiny_env("video-hashing64"))


class EnvCase(NamedTuple):
    """A checkpoint of ``agent`` trained on env ``source`` loaded into one on ``target``
    (strictly unless the description says strict=False): the error must match ``match``."""

    description: str
    source: str
    target: str
    agent: str
    match: str


ENV_CASES = [
    EnvCase(
        "another scenario (video -> news)", "video", "news", "linucb",
        r"trained on scenario 'video', catalog sha256:\w+, C=15 categories; this env is scenario "
        r"'news'"),
    EnvCase(
        "another encoder (hashing-256 -> hashing-64)", "video", "video-hashing64", "slateq",
        r"trained on encoder 'hashing-256@v1', embedding dim d=256"),
    EnvCase(
        "another agent view (same -> pca-16)", "video", "video-pca", "egreedy",
        r"trained on agent view 'same', embedding dim d=256.*this env is agent view 'pca-16'"),
    EnvCase(
        "another candidate count N (10 -> 12)", "video", "video-N12", "thompson",
        r"trained on N=10 candidates, observation shapes \{'candidate_categories': \(10,\)"),
    EnvCase(
        "another slate size K (3 -> 4)", "video", "video-K4", "popular",
        r"trained on slate size K=3; this env is slate size K=4; pass strict=False"),
    EnvCase(
        "another history length H (4 -> 6)", "video", "video-H6", "transformer",
        r"trained on history H=4, observation shapes \{'history_ids': \(4,\)"),
    EnvCase(
        "another scenario, strict=False, shapes differ (transformer)", "video", "news",
        "transformer", r"does not fit this transformer agent: state.model.category.weight has "
        r"shape \(15, 32\) in the checkpoint and \(14, 32\) in this agent"),
    EnvCase(
        "another encoder, strict=False, shapes differ (transformer)", "video", "video-hashing64",
        "transformer", r"does not fit this transformer agent: state.model.item_in.weight has shape "
        r"\(32, 256\) in the checkpoint and \(32, 64\) in this agent"),
]


def _env_case(case: EnvCase, folder: Path) -> Callable[[], None]:
    """The load that the case expects to fail."""
    _, path = trained(case.agent, folder, case.source)
    agent = fresh(case.agent, case.target)
    return lambda: agent.load(path, strict="strict=False" not in case.description)


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.description for c in ENV_CASES])
def test_env_mismatch_is_a_clear_error(case, tmp_path):
    with pytest.raises(CheckpointError, match=case.match):
        _env_case(case, tmp_path)()


# ----- finding 6: bad files, each a clear error naming the file; the agent unchanged ------------
_GOOD: dict[str, dict[str, Any]] = {}


def _good_payload(folder: Path) -> dict[str, Any]:
    """A linucb checkpoint of the video env whose state differs from a fresh agent's (read once;
    the cases build changed copies, never edit it)."""
    if "linucb" not in _GOOD:
        path = folder / "good.pt"
        make_agent("linucb", tiny_env("video"), seed=0).save(path)
        payload = torch.load(path, weights_only=True)
        payload["state"]["b"] = payload["state"]["b"] + 1.0
        _GOOD["linucb"] = payload
    return _GOOD["linucb"]


def _write(folder: Path, data: bytes) -> Path:
    path = folder / "agent.pt"
    path.write_bytes(data)
    return path


def _dump(payload: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _changed(payload: dict[str, Any], drop: tuple[str, ...] = (), **changes: Any) -> bytes:
    return _dump({**{k: v for k, v in payload.items() if k not in drop}, **changes})


def _state(payload: dict[str, Any], drop: tuple[str, ...] = (), **changes: Any) -> bytes:
    state = {k: v for k, v in payload["state"].items() if k not in drop}
    return _dump({**payload, "state": {**state, **changes}})


def _rng(payload: dict[str, Any], **changes: Any) -> bytes:
    return _dump({**payload, "rng": {**payload["rng"], **changes}})


def _zip_of_text() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a checkpoint")
    return buffer.getvalue()


@dataclasses.dataclass
class Foreign:
    """An arbitrary Python object: weights-only loading must refuse to unpickle it."""

    value: int = 1


_NOISE = np.random.default_rng(0).bytes(600)


class Case(NamedTuple):
    """A bad checkpoint file: ``data(good payload)`` gives its bytes (None: no file at all)."""

    description: str
    data: Callable[[dict[str, Any]], bytes | None]
    error: type
    match: str


CASES = [
    Case(
        "missing file", lambda p: None, FileNotFoundError,
        r"checkpoint '.*missing.pt' does not exist; expected a checkpoint written by Agent.save$"),
    Case(
        "empty file", lambda p: b"", CheckpointError,
        r"checkpoint '.*agent.pt' is empty \(0 bytes\); expected a checkpoint written by "
        r"Agent.save"),
    Case(
        "truncated to half", lambda p: _dump(p)[: len(_dump(p)) // 2], CheckpointError,
        r"checkpoint '.*agent.pt' \(\d+ bytes\) is truncated or corrupt \(OSError: \[Errno 22\] "
        r"Invalid argument\); expected a checkpoint written by Agent.save$"),
    Case(
        "truncated to 10 bytes", lambda p: _dump(p)[:10], CheckpointError,
        r"is truncated or corrupt \(RuntimeError: PytorchStreamReader failed reading zip archive: "
        r"not a ZIP archive\); expected a checkpoint written by Agent.save$"),
    Case(
        "random bytes", lambda p: _NOISE, CheckpointError,
        r"checkpoint '.*agent.pt' is not a torch checkpoint: it starts with b'.{4,16}', not a zip "
        r"archive's b'PK\\x03\\x04'; expected a checkpoint written by Agent.save"),
    Case(
        "a JSON text file", lambda p: b'{"agent": "linucb"}\n', CheckpointError,
        r"is not a torch checkpoint: it starts with b'\{\"ag'"),
    Case(
        "zip signature then random bytes", lambda p: b"PK\x03\x04" + _NOISE, CheckpointError,
        r"is truncated or corrupt \(RuntimeError: PytorchStreamReader failed reading zip archive"),
    Case(
        "a zip archive that is not a torch file", lambda p: _zip_of_text(), CheckpointError,
        r"is truncated or corrupt \(RuntimeError: .*file in archive is not in a subdirectory"),
    Case(
        "a pickled Python object (weights-only refuses)", lambda p: _dump({"x": Foreign()}),
        CheckpointError, r"holds objects other than tensors and plain data \(Unsupported global: GLOBAL "
        r"\S+Foreign was not an allowed global by default\); expected a checkpoint written by "
        r"Agent.save \(agents never unpickle arbitrary code\)$"),
    Case(
        "a torch file holding a bare tensor", lambda p: _dump(torch.zeros(3)), CheckpointError,
        r"is a torch file but not an agent checkpoint: it holds a Tensor; expected a dict with "
        r"keys "
        r"\['format', 'signature', 'agent', 'config', 'state', 'rng'\]"),
    Case(
        "a dict without 'state'", lambda p: _changed(p, drop=("state",)), CheckpointError,
        r"not an agent checkpoint: it holds a dict with keys \['agent', 'config', 'extra_rng', "
        r"'format', 'rng', 'signature'\]"),
    Case(
        "another agent's checkpoint (thompson into linucb)",
        lambda p: _changed(p, agent="thompson"), CheckpointError,
        r"holds agent 'thompson', not 'linucb'; load it into make_agent\('thompson', env\)"),
    Case(
        "'agent' not a str", lambda p: _changed(p, agent=3), CheckpointError,
        r"is malformed: 'agent' is a int; expected 'agent' a str"),
    Case(
        "'state' a list", lambda p: _changed(p, state=[1, 2]), CheckpointError,
        r"is malformed: 'state' is a list"),
    Case(
        "'config' a str", lambda p: _changed(p, config="alpha=1"), CheckpointError,
        r"is malformed: 'config' is a str"),
    Case(
        "a newer format (99)", lambda p: _changed(p, format=99), CheckpointError,
        r"has format 99, newer than this driftrec reads \(up to 2\); upgrade driftrec"),
    Case(
        "format as a string '2'", lambda p: _changed(p, format="2"), CheckpointError,
        r"has format '2'; expected an int from 1 to 2"),
    Case(
        "format 0", lambda p: _changed(p, format=0), CheckpointError,
        r"has format 0; expected an int from 1 to 2"),
    Case(
        "format 2 without a signature", lambda p: _changed(p, signature=None), CheckpointError,
        r"has signature None; expected a dict describing the env"),
    Case(
        "format 1 (before signatures), strict", lambda p: _changed(p, drop=("format", "signature")),
        CheckpointError, r"records no env signature \(format 1, .*\); this driftrec writes format "
        r"2; pass strict=False"),
    Case(
        "signature whose observation shapes are a list",
        lambda p: _changed(p, signature={**p["signature"], "observation": [10, 256]}),
        CheckpointError,
        r"has observation shapes \[10, 256\] in its signature; expected a dict of key -> shape "
        r"list"),
    Case(
        "signature of another catalog",
        lambda p: _changed(p, signature={**p["signature"], "catalog": "sha256:0123456789abcdef"}),
        CheckpointError, r"was trained on catalog sha256:0123456789abcdef; this env is catalog "
        r"sha256:[0-9a-f]{16}; pass strict=False"),
    Case(
        "config with another alpha", lambda p: _changed(p, config={**p["config"], "alpha": 9.0}),
        CheckpointError, r"was written by a linucb with alpha=9.0; this linucb has alpha=1.0; pass "
        r"strict=False to load its state into this config deliberately"),
    Case(
        "a state tensor of another shape", lambda p: _state(p, A=torch.zeros(3, 3)),
        CheckpointError, r"does not fit this linucb agent: state.A has shape \(3, 3\) in the "
        r"checkpoint and \(\d+, \d+\) in this agent; the state of a checkpoint can only be loaded"),
    Case(
        "a state tensor missing", lambda p: _state(p, drop=("A",)), CheckpointError,
        r"does not fit this linucb agent: state lacks \['A'\]"),
    Case(
        "an unexpected state tensor", lambda p: _state(p, W=torch.zeros(2)), CheckpointError,
        r"does not fit this linucb agent: state has unexpected \['W'\]"),
    Case(
        "a state value that is not a tensor", lambda p: _state(p, A="oops"), CheckpointError,
        r"state.A is a str; expected a tensor of shape \(\d+, \d+\)"),
    Case(
        "a state value of the wrong type", lambda p: _state(p, A={"x": torch.zeros(1)}),
        CheckpointError, r"state.A is a dict; expected a tensor of shape \(\d+, \d+\)"),
    Case(
        "a generator of another kind", lambda p: _rng(p, bit_generator="MT19937"), CheckpointError,
        r"has an invalid generator state \(ValueError: unsupported generator 'MT19937'; expected "
        r"'PCG64'\); expected a PCG64 state as Agent.save writes it"),
    Case(
        "a generator state that is not a number", lambda p: _rng(p, state="abc"), CheckpointError,
        r"has an invalid generator state \(ValueError: invalid literal for int\(\)"),
    Case(
        "a generator state without 'inc'",
        lambda p: _dump({**p, "rng": {k: v for k, v in p["rng"].items() if k != "inc"}}),
        CheckpointError, r"has an invalid generator state \(KeyError: 'inc'\); expected a PCG64 state"),
]


def _case_load(case: Case, folder: Path) -> tuple[Any, Callable[[], None]]:
    """A fresh linucb on the video env and the failing load of the case's file."""
    payload = _good_payload(folder)
    data = case.data(payload)
    path = folder / "missing.pt" if data is None else _write(folder, data)
    agent = make_agent("linucb", tiny_env("video"), seed=1)
    return agent, lambda: agent.load(path)


@pytest.mark.parametrize("case", CASES, ids=[c.description for c in CASES])
def test_bad_checkpoint_is_a_clear_error_and_the_agent_is_unchanged(case, tmp_path):
    agent, load = _case_load(case, tmp_path)
    before = snapshot(agent)
    with pytest.raises(case.error, match=case.match):
        load()
    assert_same(snapshot(agent), before)


def test_a_directory_is_not_a_checkpoint(tmp_path):
    agent = make_agent("linucb", tiny_env("video"))
    with pytest.raises(CheckpointError, match=rf"checkpoint '{tmp_path}' is a directory; "
                                              r"expected a checkpoint written by Agent.save"):
        agent.load(tmp_path)


def test_path_and_strict_of_the_wrong_type_are_rejected(tmp_path):
    agent = make_agent("linucb", tiny_env("video"))
    with pytest.raises(TypeError, match=r"checkpoint path must be a str or os.PathLike, got None"):
        agent.load(None)
    agent.save(tmp_path / "a.pt")
    with pytest.raises(TypeError, match=r"strict must be a bool, got 'no' \(str\)"):
        agent.load(tmp_path / "a.pt", strict="no")


def test_saving_onto_a_directory_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=rf"cannot save an agent to '{tmp_path}': it is a "
                                              r"directory; expected a file path"):
        make_agent("linucb", tiny_env("video")).save(tmp_path)


def test_format_1_checkpoint_loads_with_strict_false(tmp_path):
    payload = _good_payload(tmp_path)
    path = _write(tmp_path, _changed(payload, drop=("format", "signature")))
    agent = make_agent("linucb", tiny_env("video"), seed=1)
    agent.load(path, strict=False)
    np.testing.assert_array_equal(agent.state_dict()["b"], payload["state"]["b"])


def test_config_may_differ_with_strict_false_and_the_agent_keeps_its_own(tmp_path):
    payload = _good_payload(tmp_path)
    path = _write(tmp_path, _changed(payload, config={**payload["config"], "alpha": 9.0}))
    agent = make_agent("linucb", tiny_env("video"), seed=1)
    agent.load(path, strict=False)
    assert agent.config.alpha == 1.0
    np.testing.assert_array_equal(agent.state_dict()["b"], payload["state"]["b"])


def test_a_restore_that_fails_midway_is_rolled_back(tmp_path, monkeypatch):
    path = _write(tmp_path, _dump(_good_payload(tmp_path)))
    agent = make_agent("linucb", tiny_env("video"), seed=1)
    before = snapshot(agent)
    restore = agent.load_state_dict

    def restore_then_fail(state):
        restore(state)
        if state["b"].sum() != 0:  # the checkpoint's state, not the rollback's
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(agent, "load_state_dict", restore_then_fail)
    with pytest.raises(CheckpointError, match=r"could not be restored into this linucb agent "
                                              r"\(RuntimeError: disk on fire\); the agent is "
                                              r"unchanged"):
        agent.load(path)
    assert_same(snapshot(agent), before)


def test_a_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temp_file(tmp_path,
                                                                              monkeypatch):
    agent = make_agent("linucb", tiny_env("video"), seed=1)
    path = tmp_path / "agent.pt"
    agent.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(agent, "state_dict", lambda: {"A": lambda: None})  # unpicklable
    with pytest.raises(Exception, match="lambda"):
        agent.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.pt"]


class _MemoryAgent(Agent):
    """A minimal agent with per-user memory sized by the batch it last acted for."""

    name = "memory-test"
    resizable_state = ("memory_",)

    def __init__(self, env: Any, seed: int | None = None):
        super().__init__(env, seed)
        self.memory = np.zeros((0, 2))
        self.weights = np.zeros(3)

    def _act(self, obs, info):
        self.memory = np.ones((obs["candidate_ids"].shape[0], 2))
        return np.tile(np.arange(self.slate_size), (len(self.memory), 1))

    def state_dict(self):
        return {"memory_last": torch.from_numpy(self.memory.copy()),
                "weights": torch.from_numpy(self.weights.copy())}

    def load_state_dict(self, state):
        self.memory = state["memory_last"].numpy().copy()
        self.weights = state["weights"].numpy().copy()


def test_per_user_memory_declared_resizable_loads_at_any_batch_size(tmp_path):
    env = tiny_env("video")
    source = _MemoryAgent(env)
    source.act(env.reset(seed=0)[0])
    source.save(tmp_path / "m.pt")
    agent = _MemoryAgent(env)
    agent.load(tmp_path / "m.pt")
    assert agent.memory.shape == (USERS, 2)
    source.weights = np.zeros(4)  # a fixed-size tensor must still fit
    source.save(tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"state.weights has shape \(4,\) in the checkpoint "
                                              r"and \(3,\) in this agent"):
        agent.load(tmp_path / "w.pt")


def test_checkpoint_records_the_env_signature(checkpoints):
    _, path = checkpoints("linucb")
    signature = torch.load(path, weights_only=True)["signature"]
    assert {k: v for k, v in signature.items() if k not in ("catalog", "observation")} == {
        "scenario": "video", "num_items": 1800, "num_categories": 15,
        "encoder": "hashing-256@v1", "agent_view": "same", "num_candidates": 10,
        "slate_size": 3, "history_length": 4, "embedding_dim": 256}
    assert signature["observation"]["candidate_embeddings"] == [10, 256]
    assert signature["observation"]["history_responses"] == [4, 2]


def _register_rows(folder: Path) -> list[str]:
    """One Markdown row per bad input, with the error an actual run gives."""
    rows = []
    cases = [(c.description, lambda c=c: _case_load(c, folder)[1]) for c in CASES]
    cases += [(c.description, lambda c=c: _env_case(c, folder)) for c in ENV_CASES]
    agent = make_agent("linucb", tiny_env("video"))
    agent.save(folder / "a.pt")
    cases += [
        ("load(None)", lambda: lambda: agent.load(None)),
        ("load(path, strict='no')", lambda: lambda: agent.load(folder / "a.pt", strict="no")),
        ("load of a directory", lambda: lambda: agent.load(folder)),
        ("save onto a directory", lambda: lambda: agent.save(folder)),
    ]
    for description, build in cases:
        try:
            build()()
            outcome = "no error"
        except (ValueError, TypeError, FileNotFoundError) as exc:
            outcome = f"{type(exc).__name__}: {exc}".replace("|", "\\|").replace(str(folder), "…")
        rows.append(f"| agents/checkpoint | {description} | {outcome} |")
    return rows


if __name__ == "__main__":
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DRIFTREC_CACHE_DIR"] = str(Path(tmp) / "cache")
        print("\n".join(_register_rows(Path(tmp))))
    sys.exit(0)
