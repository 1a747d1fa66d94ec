"""The item-wise actor-critic of ``itemwise_policy`` as an RLlib ``RLModule`` (new API stack).

RLlib trains the same architecture as the Stable-Baselines3 agent, built from the same torch
modules (imported, not copied):

- ``CandidateEncoder``: one MLP on every candidate's row, (B, N, F) → (B, N, h), a separate one
  for the actor and for the critic (SB3's ``share_features_extractor=False``);
- the score head of ``PlackettLuce.proba_distribution_net``: a linear score per candidate (B, N);
- ``PooledHeads`` + a linear value: the critic pools the candidates (mean ⊕ max);
- SB3's orthogonal initialisation with the same gains (hidden √2, scores 0.01, value 1).

**Observation**: a ``Box`` of per-candidate rows, (N, F) or flattened (N·F,) — the ``*Rank-v0``
ids' observation; N is read from the action space. **Action**: ``Box(N)`` scores in [-1, 1], of
which the env shows the top K. RLlib's action distribution (``PlackettLuceScores``) draws an
ordered slate from Plackett–Luce(softmax of the scores) — Gumbel-top-K, as SB3's agent does — and
writes it as scores the env ranks back into the same slate: position k of the slate gets
``1 − k/K`` and every other candidate ``−1``. Its ``logp`` decodes the top K of a score vector
and returns the exact log-probability of that ordered slate (``sequential_terms``), so PPO's
ratio is exact. Entropy is Σ_k H(A_k | a_<k) along the mode (top-K) slate, and ``kl`` is the
chain-rule KL along the same slate (PL has neither in closed form; the trainer here sets
``use_kl_loss=False``, as SB3's PPO has no KL term).

``slate_size`` K must be given in ``model_config`` (the env's ``Box(N)`` does not carry it);
``itemwise_module_spec(env)`` reads it from a driftrec env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from .itemwise_policy import CandidateEncoder, PlackettLuce, PooledHeads, sequential_terms

#: The score every candidate outside the slate gets (the low end of the ``Box(N)`` action).
OFF_SLATE = -1.0


def slate_to_scores(slate: torch.Tensor, num_candidates: int) -> torch.Tensor:
    """Scores (B, N) whose top K, best first, is the ordered ``slate`` (B, K)."""
    k = slate.shape[-1]
    scores = torch.full((*slate.shape[:-1], num_candidates), OFF_SLATE, dtype=torch.float32,
                        device=slate.device)
    rank = 1.0 - torch.arange(k, dtype=torch.float32, device=slate.device) / k
    return scores.scatter(-1, slate, rank.expand_as(slate).contiguous())


def scores_to_slate(scores: torch.Tensor, slate_size: int) -> torch.Tensor:
    """The ordered top ``slate_size`` positions (B, K) of ``scores`` (B, N)."""
    return torch.topk(scores, slate_size, dim=-1).indices


class PlackettLuceScores(Distribution):
    """Plackett–Luce slates of ``slate_size`` candidates, written as ``Box(N)`` scores (module
    docstring). ``logits``: the per-candidate scores (B, N) of the actor."""

    def __init__(self, logits: torch.Tensor, slate_size: int):
        self.pl = PlackettLuce(slate_size).proba_distribution(logits)
        self.logits = logits
        self.slate_size = slate_size

    @classmethod
    def from_logits(cls, logits: torch.Tensor, **kwargs: Any) -> PlackettLuceScores:
        return cls(logits, **kwargs)

    def sample(self, *, sample_shape: Any = None, return_logp: bool = False,
               **kwargs: Any) -> Any:
        scores = slate_to_scores(self.pl.sample(), self.logits.shape[-1])
        return (scores, self.logp(scores)) if return_logp else scores

    def rsample(self, **kwargs: Any) -> Any:
        raise NotImplementedError("a Plackett-Luce slate is discrete: it has no "
                                  "reparameterised sample")

    def logp(self, value: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return sequential_terms(self.logits, scores_to_slate(value, self.slate_size))[0]

    def entropy(self, **kwargs: Any) -> torch.Tensor:
        return self.pl.entropy()

    def kl(self, other: Distribution, **kwargs: Any) -> torch.Tensor:
        """Σ_k KL(P_k(· | a_<k) ‖ Q_k(· | a_<k)) along this distribution's mode slate."""
        slate = self.pl.mode()
        taken = nn.functional.one_hot(slate, self.logits.shape[-1])
        removed = (taken.cumsum(dim=1) - taken) > 0
        log_p = self.logits.unsqueeze(1).masked_fill(removed, -torch.inf).log_softmax(dim=-1)
        log_q = other.logits.unsqueeze(1).masked_fill(removed, -torch.inf).log_softmax(dim=-1)
        diff = (log_p - log_q).masked_fill(removed, 0.0)
        return (log_p.exp() * diff).sum(dim=(1, 2))

    @staticmethod
    def required_input_dim(space: gym.Space, **kwargs: Any) -> int:
        return int(space.shape[0])

    def to_deterministic(self) -> Distribution:
        from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic

        return TorchDeterministic(loc=slate_to_scores(self.pl.mode(), self.logits.shape[-1]))


class ItemwiseRLModule(TorchRLModule, ValueFunctionAPI):
    """The item-wise actor-critic (module docstring). ``model_config``: ``slate_size`` (K,
    required), ``net_arch`` (widths of the per-candidate MLP, default (64, 64))."""

    def setup(self) -> None:
        self.num_candidates, width = candidate_shape(self.observation_space, self.action_space)
        k = self.model_config.get("slate_size") if self.model_config else None
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= self.num_candidates:
            raise ValueError(f"ItemwiseRLModule needs model_config['slate_size'] = K, an int in "
                             f"[1, N={self.num_candidates}]; got {k!r}")
        self.slate_size = k
        net_arch = tuple(self.model_config.get("net_arch", (64, 64)))
        rows = gym.spaces.Box(-np.inf, np.inf, (self.num_candidates, width), np.float32)
        self.pi_encoder = CandidateEncoder(rows, net_arch, nn.Tanh)
        self.vf_encoder = CandidateEncoder(rows, net_arch, nn.Tanh)
        hidden = self.pi_encoder.features_dim
        self.score = PlackettLuce(k).proba_distribution_net(hidden)
        self.heads = PooledHeads(hidden, nn.Tanh)
        self.vf = nn.Linear(hidden, 1)
        # SB3's gains (ItemwisePolicy._build): hidden layers sqrt(2), scores 0.01, value 1.
        for module, gain in ((self.pi_encoder, np.sqrt(2)), (self.vf_encoder, np.sqrt(2)),
                             (self.heads, np.sqrt(2)), (self.score, 0.01), (self.vf, 1.0)):
            module.apply(lambda m, g=gain: ActorCriticPolicy.init_weights(m, gain=g))
        self.action_dist_cls = PlackettLuceScores.get_partial_dist_cls(slate_size=k)

    def _rows(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.reshape(*obs.shape[:-len(self.observation_space.shape)],
                           self.num_candidates, -1)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits = self.score(self.pi_encoder(self._rows(batch[Columns.OBS])))
        return {Columns.ACTION_DIST_INPUTS: logits}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        features = self.vf_encoder(self._rows(batch[Columns.OBS]))
        return self.vf(self.heads.forward_critic(features)).squeeze(-1)

    def get_exploration_action_dist_cls(self) -> type[Distribution]:
        return self.action_dist_cls

    def get_inference_action_dist_cls(self) -> type[Distribution]:
        return self.action_dist_cls

    def get_train_action_dist_cls(self) -> type[Distribution]:
        return self.action_dist_cls


def candidate_shape(observation_space: gym.Space, action_space: gym.Space) -> tuple[int, int]:
    """(N, F) for a ``Box(N)`` score action and a ``Box`` of N per-candidate rows ((N, F) or
    (N·F,))."""
    if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
        raise ValueError(f"ItemwiseRLModule needs a Box(N) score action (a *Rank-v0 id); got "
                         f"{action_space!r}")
    n = int(action_space.shape[0])
    size = int(np.prod(observation_space.shape)) if isinstance(
        observation_space, gym.spaces.Box) else 0
    if not size or size % n or (len(observation_space.shape) == 2
                                and observation_space.shape[0] != n):
        raise ValueError(f"ItemwiseRLModule needs a Box observation of N={n} per-candidate rows, "
                         f"shape (N, F) or (N*F,); got {observation_space!r}")
    return n, size // n


def itemwise_module_spec(env: Any, net_arch: tuple[int, ...] = (64, 64)) -> RLModuleSpec:
    """``RLModuleSpec`` of the item-wise module for a driftrec ``*Rank-v0`` env (K read from its
    scenario config): ``config.rl_module(rl_module_spec=itemwise_module_spec(env))``."""
    k = int(env.unwrapped.config.slate_size)
    return RLModuleSpec(module_class=ItemwiseRLModule,
                        model_config={"slate_size": k, "net_arch": tuple(net_arch)})
