"""The one agent interface, the environment facts agents need, and observation checks.

Every agent ranks candidates for a batch of B users at once:

- ``act(obs) -> int64 (B, K)``: K distinct positions into each user's N candidates;
- ``update(obs, action, reward, next_obs, terminated, truncated, info) -> dict[str, float]``:
  the batched transition exactly as the vector env returned it; returns training statistics;
- ``save(path)`` / ``load(path, strict=True)``: torch state dicts (plus the generator state, so a
  reloaded agent acts identically) and the signature of the env the agent was trained on, written
  atomically and read back with ``weights_only=True``; ``load`` refuses a checkpoint from another
  env unless ``strict=False`` (``checkpoint.py``).

Why one base class: the observation checks, the single-user (unbatched) convenience and the
save/load format are the same for every agent, and the runner and the CLI rely on exactly this
surface (DESIGN.md §9). Agents own their generators (``np.random.default_rng(seed)`` /
``torch.Generator``); nothing here touches a global RNG.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from driftrec.encoders.io import atomic_save
from driftrec.envs.interface import OBS_KEYS, top_k  # noqa: F401  (top_k: agents rank with it)

from . import checkpoint as ckpt

Obs = dict[str, np.ndarray]


@dataclass(frozen=True)
class EnvSpec:
    """What an agent may know about the environment: sizes and the agent-side item table.

    ``item_embeddings`` (M, d) is the agent-side embedding table (a real recommender knows its own
    catalog); ``category_ids`` (M,) the public category of each item. ``scenario``,
    ``encoder_name`` (model and revision), ``agent_view`` and ``catalog_fingerprint`` (content of
    the catalog; of the item table when there is none) identify the env in checkpoints.
    """

    num_candidates: int
    slate_size: int
    history_length: int
    embedding_dim: int
    item_embeddings: np.ndarray
    category_ids: np.ndarray
    num_categories: int
    scenario: str = "custom"
    encoder_name: str = "unknown"
    agent_view: str = "same"
    catalog_fingerprint: str = ""

    def __post_init__(self) -> None:
        if self.slate_size > self.num_candidates:
            raise ValueError(
                f"slate_size K={self.slate_size} exceeds num_candidates N={self.num_candidates}"
            )
        if self.item_embeddings.ndim != 2 or self.item_embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"item_embeddings has shape {self.item_embeddings.shape}; "
                f"expected (M, d={self.embedding_dim})"
            )
        if not self.catalog_fingerprint:
            fingerprint = ckpt.table_fingerprint(self.item_embeddings, self.category_ids)
            object.__setattr__(self, "catalog_fingerprint", fingerprint)

    @property
    def num_items(self) -> int:
        return int(self.item_embeddings.shape[0])

    @classmethod
    def from_env(cls, env: Any) -> EnvSpec:
        """Read the spec from a driftrec env: vector env, single env, or an ``EnvSpec`` itself."""
        if isinstance(env, EnvSpec):
            return env
        action_space = getattr(env, "single_action_space", None) or env.action_space
        obs_space = getattr(env, "single_observation_space", None) or env.observation_space
        nvec = np.asarray(getattr(action_space, "nvec", []))
        if nvec.ndim != 1 or nvec.size == 0:
            raise ValueError(
                f"expected a driftrec env with a MultiDiscrete([N]*K) slate action space, got "
                f"{action_space!r} (wrap score/flat wrappers around the env, not under the agent)"
            )
        spaces = getattr(obs_space, "spaces", None)
        if not isinstance(spaces, Mapping) or "candidate_ids" not in spaces:
            raise ValueError(
                f"expected a Dict observation space with keys {list(OBS_KEYS)}, got {obs_space!r}"
            )
        base = env.unwrapped
        table = _to_numpy(base.item_embeddings).astype(np.float32, copy=False)
        if not table.flags.writeable:  # the env's read-only view: the agent keeps its own copy
            table = table.copy()
        catalog = getattr(base, "catalog", None)
        if catalog is not None:
            cat_ids = np.asarray(catalog.category_ids, dtype=np.int64)
            n_cat = len(catalog.categories)
        else:
            cat_ids = np.zeros(table.shape[0], dtype=np.int64)
            n_cat = 1
        config = getattr(base, "config", None)
        scenario = getattr(config, "name", None) or "custom"
        return cls(
            num_candidates=int(nvec[0]),
            slate_size=int(nvec.size),
            history_length=int(spaces["history_ids"].shape[-1]),
            embedding_dim=int(table.shape[1]),
            item_embeddings=table,
            category_ids=cat_ids,
            num_categories=int(n_cat),
            scenario=str(scenario),
            encoder_name=str(getattr(catalog, "encoder_name", "unknown")),
            agent_view=_agent_view(config, int(table.shape[1])),
            catalog_fingerprint=ckpt.catalog_fingerprint(catalog) if catalog is not None else "",
        )


def _agent_view(config: Any, dim: int) -> str:
    """How the agent sees the embeddings, e.g. ``same``, ``pca-32``, ``encoder:hashing-256``."""
    kind = getattr(config, "agent_view", "same")
    if kind == "noise":
        return f"noise-{config.agent_noise}"
    if kind == "encoder":
        return f"encoder:{config.agent_encoder}-{dim}"
    return kind if kind == "same" else f"{kind}-{dim}"


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_obs(obs: Mapping[str, Any], spec: EnvSpec) -> tuple[Obs, bool]:
    """Validate an observation against the contract; return it batched and whether it was single.

    Errors name the key and the expected shape, e.g. ``observation['candidate_embeddings'] has
    shape (4, 10, 32); expected (B, N=20, d=32)``.
    """
    if not isinstance(obs, Mapping):
        raise TypeError(
            f"expected a dict observation with keys {list(OBS_KEYS)}, got "
            f"{type(obs).__name__} (agents take the driftrec Dict observation, "
            "not the FlatObservation Box)"
        )
    missing = [k for k in OBS_KEYS if k not in obs and k != "candidate_embeddings"]
    if missing:
        raise ValueError(f"observation is missing keys {missing}; expected keys {list(OBS_KEYS)}")
    out = {k: _to_numpy(obs[k]) for k in OBS_KEYS if k in obs}
    if "candidate_embeddings" not in out:  # an env with observe_candidate_embeddings=False
        out["candidate_embeddings"] = candidate_rows(out["candidate_ids"], spec.item_embeddings)
    single = out["candidate_ids"].ndim == 1
    if single:
        out = {k: v[None] for k, v in out.items()}
    n, h, d = spec.num_candidates, spec.history_length, spec.embedding_dim
    batch = out["candidate_ids"].shape[0]
    for key, shape in ckpt.observation_shapes(n, h, d).items():
        if out[key].shape != (batch, *shape):
            if key == "step" and out[key].shape == (batch,):
                out[key] = out[key][:, None]
                continue
            raise ValueError(
                f"observation[{key!r}] has shape {out[key].shape}; expected "
                + _SHAPE_TEXT[key].format(n=n, h=h, d=d)
            )
    return out, single


def candidate_rows(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The candidates' rows of the agent-side item table: what ``candidate_embeddings`` carries,
    for observations that leave it out (``observe_candidate_embeddings=False``)."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"observation['candidate_ids'] has dtype {ids.dtype}; expected integer "
                        "catalog ids to look candidate_embeddings up in the item table")  # fmt: skip
    if ids.size and (ids.min() < 0 or ids.max() >= len(table)):
        raise ValueError(
            f"observation['candidate_ids'] holds ids in [{ids.min()}, {ids.max()}], outside the "
            f"agent's item table of {len(table)} items; the observation has no "
            "candidate_embeddings, so the agent looks the ids up there (is the agent made with "
            "this env?)"
        )
    return table.take(ids, axis=0)


_SHAPE_TEXT = {
    "candidate_ids": "(B, N={n})",
    "candidate_embeddings": "(B, N={n}, d={d})",
    "candidate_categories": "(B, N={n})",
    "candidate_popularity": "(B, N={n})",
    "history_ids": "(B, H={h})",
    "history_responses": "(B, H={h}, 2)",
    "history_mask": "(B, H={h})",
    "profile_embedding": "(B, d={d})",
    "step": "(B, 1)",
}


def batch_info(info: Mapping[str, Any] | None, single: bool) -> dict[str, Any]:
    """Give a single env's info dict the leading batch axis the agents expect."""
    if not info:
        return {}
    if not single:
        return dict(info)
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, (np.ndarray, np.generic, int, float, bool, torch.Tensor)):
            out[key] = _to_numpy(value)[None]
        else:
            out[key] = value
    return out


def with_final_obs(next_obs: Obs, info: Mapping[str, Any], rows: np.ndarray) -> Obs:
    """``next_obs`` with the departing users' last observations put back in ``rows``.

    The vector env autoresets in the same step: ``next_obs[i]`` of a user who left is already
    their successor's. ``info["final_obs"]`` holds the departed user's last observation (an
    object array of per-user dicts, Gymnasium's convention; a dict of batched arrays is accepted
    too). Bootstrapping a truncated user's value needs that one, not the successor's.
    """
    final = info.get("final_obs")
    if final is None or len(rows) == 0:
        return next_obs
    out = {k: np.array(v, copy=True) for k, v in next_obs.items()}
    for row in rows.tolist():
        entry = final[row] if not isinstance(final, Mapping) else {
            k: np.asarray(v)[row] for k, v in final.items()}
        if entry is None:
            continue
        for key, array in out.items():
            array[row] = np.asarray(_to_numpy(entry[key])).reshape(array.shape[1:])
    return out


@dataclass(frozen=True)
class AgentConfig:
    """Base of every agent's typed config; fields are validated in ``__post_init__``."""


class Agent:
    """Base class: batched ``act``/``update`` over the vector env's values, save/load, reseed.

    Subclasses implement ``_act(obs, info) -> (B, K)`` on a validated, batched observation and,
    if they learn, ``_update(...)``. They keep tensors that define their behaviour in
    ``state_dict()`` (torch modules' state plus plain tensors) so save/load round-trips exactly.
    """

    name: ClassVar[str] = "agent"
    Config: ClassVar[type[AgentConfig]] = AgentConfig
    #: whether the agent reads hidden state from ``info`` (oracle); the runner labels it.
    reads_hidden_state: ClassVar[bool] = False
    #: ``state_dict()`` keys (or key prefixes) whose shapes follow the users the agent last acted
    #: for rather than the env (per-user memory): ``load`` takes their shapes from the checkpoint
    #: instead of requiring this agent's; the agent's ``load_state_dict`` must accept any batch.
    resizable_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env: Any, seed: int | None = None, config: AgentConfig | None = None):
        self.spec = EnvSpec.from_env(env)
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise TypeError(
                f"{type(self).__name__} expects a {self.Config.__name__}, "
                f"got {type(self.config).__name__}"
            )
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    # ----- the interface -------------------------------------------------------------------
    @property
    def num_candidates(self) -> int:
        return self.spec.num_candidates

    @property
    def slate_size(self) -> int:
        return self.spec.slate_size

    def act(self, obs: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Return int64 (B, K) slates (or (K,) for a single-user observation).

        ``info`` is only read by agents that are labelled ``reads_hidden_state`` (the oracle).
        """
        batched, single = check_obs(obs, self.spec)
        slate = self._act(batched, batch_info(info, single))
        return slate[0] if single else slate

    def update(
        self,
        obs: Mapping[str, Any],
        action: Any,
        reward: Any,
        next_obs: Mapping[str, Any],
        terminated: Any,
        truncated: Any,
        info: Mapping[str, Any] | None = None,
    ) -> dict[str, float]:
        """Learn from one batched transition; return training statistics (may be empty)."""
        b_obs, single = check_obs(obs, self.spec)
        b_next, _ = check_obs(next_obs, self.spec)
        batch = b_obs["candidate_ids"].shape[0]
        action = np.asarray(_to_numpy(action), dtype=np.int64).reshape(batch, -1)
        if action.shape[1] != self.slate_size:
            raise ValueError(
                f"action has shape {action.shape}; expected (B={batch}, K={self.slate_size})"
            )
        reward = np.asarray(_to_numpy(reward), dtype=np.float64).reshape(batch)
        terminated = np.asarray(_to_numpy(terminated), dtype=bool).reshape(batch)
        truncated = np.asarray(_to_numpy(truncated), dtype=bool).reshape(batch)
        return self._update(
            b_obs, action, reward, b_next, terminated, truncated, batch_info(info, single)
        )

    def reset(self, seed: int | None = None) -> None:
        """Reseed the agent's own generator (learned parameters are kept)."""
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def fit(self, env: Any, steps: int, seed: int | None = None) -> dict[str, float]:
        """Train by interacting with ``env`` (a vector env) for ``steps`` batched steps.

        The default is the plain online loop: act, step, update. Agents whose learner owns its
        loop (Stable-Baselines3) override this.
        """
        obs, info = env.reset(seed=seed)
        stats: dict[str, float] = {}
        for _ in range(steps):
            action = self.act(obs, info)
            next_obs, reward, terminated, truncated, info = env.step(action)
            stats = self.update(obs, action, reward, next_obs, terminated, truncated, info)
            obs = next_obs
        return stats

    # ----- to override ---------------------------------------------------------------------
    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def _update(
        self,
        obs: Obs,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: Obs,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: dict[str, Any],
    ) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Tensors that define the agent's behaviour (learned parameters, counts)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"{self.name} has no state, got keys {sorted(state)}")

    # ----- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write config, parameters, generator state and the env's signature atomically."""
        path = ckpt.check_path(path)
        ckpt.check_save_target(path)
        payload = {
            "format": ckpt.FORMAT,
            "agent": self.name,
            "signature": ckpt.env_signature(self.spec),
            "config": dataclasses.asdict(self.config),
            "state": self.state_dict(),
            "rng": _rng_state(self.rng),
            "extra_rng": self._extra_rng_state(),
        }
        atomic_save(path, lambda handle: torch.save(payload, handle))

    def load(self, path: str | Path, strict: bool = True) -> None:
        """Restore what ``save`` wrote, after checking it was written for this agent and env.

        ``strict=True`` requires the checkpoint's env signature (scenario, catalog, encoder,
        agent view, N, K, H, d, observation shapes) and config to equal this agent's;
        ``strict=False`` is a deliberate transfer: those may differ, the state must still fit
        key by key and shape by shape. Every check runs before anything is assigned, and a
        failing restore is rolled back, so a failed load leaves the agent as it was.
        """
        path = ckpt.check_path(path)
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool, got {strict!r} ({type(strict).__name__})")
        payload = ckpt.read_checkpoint(path, self.name)
        signature = ckpt.env_signature(self.spec)
        if strict:
            ckpt.check_signature(path, payload, signature)
            ckpt.check_config(path, payload["config"], dataclasses.asdict(self.config), self.name)
        ckpt.check_state_fits(path, payload, self.state_dict(), signature, self.resizable_state)
        rng = _checked_rng(path, payload["rng"])
        self._restore(path, payload["state"], payload["extra_rng"])
        self.rng = rng

    def _restore(self, path: Path, state: Mapping[str, Any], extra_rng: Mapping[str, Any]) -> None:
        """Hand the checked state to the agent's own restore; roll back if that fails."""
        backup = ckpt.clone_state(self.state_dict())
        backup_rng = ckpt.clone_state(self._extra_rng_state())
        try:
            self.load_state_dict(state)
            self._load_extra_rng_state(extra_rng)
        except Exception as exc:
            self.load_state_dict(backup)
            self._load_extra_rng_state(backup_rng)
            raise ckpt.CheckpointError(
                f"checkpoint {str(path)!r} could not be restored into this {self.name} agent "
                f"({type(exc).__name__}: {exc}); the agent is unchanged"
            ) from exc

    def _extra_rng_state(self) -> dict[str, Any]:
        """Other generators (e.g. a torch.Generator) to persist; override when used."""
        return {}

    def _load_extra_rng_state(self, state: Mapping[str, Any]) -> None:
        return None


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Build torch modules from ``seed`` without consuming or changing the global torch RNG.

    Module constructors draw their initial weights from the global generator; forking it keeps
    agents reproducible and leaves everyone else's random stream untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    # PCG64 state holds 128-bit integers; store them as strings so weights_only loading accepts them.
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": str(state["state"]["state"]),
        "inc": str(state["state"]["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _checked_rng(path: Path, saved: Mapping[str, Any]) -> np.random.Generator:
    """The checkpoint's generator, or an error naming the file (before the agent changes)."""
    try:
        return _rng_from_state(saved)
    except (KeyError, TypeError, ValueError) as exc:
        raise ckpt.CheckpointError(
            f"checkpoint {str(path)!r} has an invalid generator state ({type(exc).__name__}: "
            f"{exc}); expected a PCG64 state as Agent.save writes it"
        ) from exc


def _rng_from_state(saved: Mapping[str, Any]) -> np.random.Generator:
    if saved["bit_generator"] != "PCG64":
        raise ValueError(f"unsupported generator {saved['bit_generator']!r}; expected 'PCG64'")
    rng = np.random.default_rng()
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": int(saved["has_uint32"]),
        "uinteger": int(saved["uinteger"]),
    }
    return rng
