"""An item-wise actor-critic for Stable-Baselines3 whose action is a Plackett–Luce slate.

Observation: the per-candidate rows (B, N, F) of ``itemwise.CandidateFeatures``. Action: K
distinct positions into the N candidates, best first (``MultiDiscrete([N] * K)``).

- **Features extractor** (``CandidateEncoder``): one MLP applied to every candidate's row,
  (B, N, F) → (B, N, h). Its size does not depend on N and no N×d block is ever flattened.
- **Actor head**: a linear score per candidate, s (B, N).
- **Critic head**: the candidates' hidden units pooled (mean ⊕ max, (B, 2h)) → MLP → V(s).
- **Slate distribution** (``PlackettLuce``): the slate a_1..a_K is drawn without replacement from
  softmax(s), position by position, so

      log π(a | s) = Σ_k [ s_{a_k} − log Σ_{j ∉ {a_1..a_{k−1}}} exp s_j ],

  the exact log-probability of the whole ordered slate — PPO's ratio π/π_old is exact.
  Sampling uses the Gumbel-top-K trick (top K of s + Gumbel noise, in order), which draws exactly
  this distribution; the deterministic action is the top K of s.
- **Entropy**: the joint entropy of a Plackett–Luce slate has no closed form; by the chain rule
  H(A_1..A_K) = Σ_k E[H(A_k | A_<k)]. ``entropy(slate)`` returns Σ_k H(A_k | a_<k) along the given
  slate — an unbiased one-sample estimate of the joint entropy when the slate is drawn from the
  current policy (PPO/A2C evaluate it on the rollout's slates, drawn from a policy one update
  old). Without a slate it is evaluated along the mode (top-K) slate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


def sequential_terms(logits: torch.Tensor, slate: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability (B,) of the ordered ``slate`` (B, K) under Plackett–Luce(``logits`` (B, N))
    and the sum (B,) of the conditional entropies H(A_k | a_<k) along it."""
    taken = nn.functional.one_hot(slate, logits.shape[-1])  # (B, K, N)
    removed = (taken.cumsum(dim=1) - taken) > 0  # items placed at an earlier position
    log_p = logits.unsqueeze(1).masked_fill(removed, -torch.inf).log_softmax(dim=-1)
    chosen = log_p.gather(-1, slate.unsqueeze(-1)).squeeze(-1)  # (B, K)
    entropy = -(log_p.exp() * log_p.masked_fill(removed, 0.0)).sum(dim=-1)
    return chosen.sum(dim=1), entropy.sum(dim=1)


class PlackettLuce(Distribution):
    """Ordered slates of ``slate_size`` distinct candidates drawn from softmax(logits)."""

    def __init__(self, slate_size: int):
        super().__init__()
        if slate_size < 1:
            raise ValueError(f"slate_size must be >= 1, got {slate_size}")
        self.slate_size = slate_size
        self.logits: torch.Tensor | None = None

    def proba_distribution_net(self, latent_dim: int) -> nn.Module:
        """Per-candidate score: latent (B, N, h) → logits (B, N)."""
        return nn.Sequential(nn.Linear(latent_dim, 1), nn.Flatten(start_dim=-2))

    def proba_distribution(self, logits: torch.Tensor) -> PlackettLuce:  # type: ignore[override]
        if logits.ndim != 2 or logits.shape[1] < self.slate_size:
            raise ValueError(
                f"logits have shape {tuple(logits.shape)}; expected (B, N) with N >= K="
                f"{self.slate_size}")
        self.logits = logits
        return self

    def _slate(self, actions: torch.Tensor) -> torch.Tensor:
        return actions.reshape(-1, self.slate_size).long()

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return sequential_terms(self.logits, self._slate(actions))[0]

    def entropy(self, actions: torch.Tensor | None = None) -> torch.Tensor:
        slate = self.mode() if actions is None else self._slate(actions)
        return sequential_terms(self.logits, slate)[1]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        uniform = torch.rand(self.logits.shape, generator=generator, dtype=self.logits.dtype)
        gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-20)))
        return torch.topk(self.logits.detach() + gumbel, self.slate_size, dim=1).indices

    def mode(self) -> torch.Tensor:
        return torch.topk(self.logits.detach(), self.slate_size, dim=1).indices

    def actions_from_params(self, logits: torch.Tensor, deterministic: bool = False
                            ) -> torch.Tensor:
        self.proba_distribution(logits)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(logits)
        return actions, self.log_prob(actions)


class CandidateEncoder(BaseFeaturesExtractor):
    """The same MLP on every candidate's row: (B, N, F) → (B, N, net_arch[-1])."""

    def __init__(self, observation_space: spaces.Box, net_arch: tuple[int, ...] = (64, 64),
                 activation_fn: type[nn.Module] = nn.Tanh):
        if len(observation_space.shape) != 2:
            raise ValueError(
                f"the item-wise policy needs per-candidate rows of shape (N, F); got observation "
                f"shape {observation_space.shape}")
        if not net_arch or min(net_arch) < 1:
            raise ValueError(f"net_arch must be a non-empty tuple of positive widths, got "
                             f"{net_arch!r}")
        super().__init__(observation_space, features_dim=int(net_arch[-1]))
        layers: list[nn.Module] = []
        width = int(observation_space.shape[1])
        for out in net_arch:
            layers += [nn.Linear(width, int(out)), activation_fn()]
            width = int(out)
        self.mlp = nn.Sequential(*layers)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.mlp(observations)


class PooledHeads(nn.Module):
    """SB3's ``mlp_extractor`` slot: the actor keeps the per-candidate units; the critic pools
    them over candidates (mean ⊕ max, so one standout candidate is visible) and mixes."""

    def __init__(self, hidden: int, activation_fn: type[nn.Module] = nn.Tanh):
        super().__init__()
        self.latent_dim_pi = hidden
        self.latent_dim_vf = hidden
        self.critic = nn.Sequential(nn.Linear(2 * hidden, hidden), activation_fn())

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.critic(torch.cat([features.mean(dim=1), features.amax(dim=1)], dim=-1))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


class ItemwisePolicy(ActorCriticPolicy):
    """Actor-critic over per-candidate rows with a Plackett–Luce slate (module docstring).

    ``net_arch``: widths of the per-candidate MLP (the features extractor). The actor and the
    critic have separate extractors (``share_features_extractor=False``), so the value loss
    does not pull on the scores.
    """

    def __init__(self, observation_space: spaces.Box, action_space: spaces.MultiDiscrete,
                 lr_schedule: Any, net_arch: tuple[int, ...] = (64, 64),
                 activation_fn: type[nn.Module] = nn.Tanh, **kwargs: Any):
        self.slate_size = check_slate_spaces(observation_space, action_space)
        for key in ("features_extractor_class", "features_extractor_kwargs"):
            if key in kwargs:
                raise TypeError(f"ItemwisePolicy sets {key} itself (CandidateEncoder); "
                                f"pass net_arch and activation_fn instead")
        kwargs.setdefault("share_features_extractor", False)
        super().__init__(
            observation_space, action_space, lr_schedule, net_arch=list(net_arch),
            activation_fn=activation_fn, features_extractor_class=CandidateEncoder,
            features_extractor_kwargs={"net_arch": tuple(net_arch),
                                       "activation_fn": activation_fn},
            **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = PooledHeads(self.features_dim, self.activation_fn)

    def _build(self, lr_schedule: Any) -> None:
        self.action_dist = PlackettLuce(self.slate_size)
        self._build_mlp_extractor()
        self.action_net = self.action_dist.proba_distribution_net(self.features_dim)
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        if self.ortho_init:  # SB3's gains: hidden layers sqrt(2), scores 0.01, value 1
            gains = {self.pi_features_extractor: np.sqrt(2), self.vf_features_extractor: np.sqrt(2),
                     self.mlp_extractor: np.sqrt(2), self.action_net: 0.01, self.value_net: 1.0}
            for module, gain in gains.items():
                module.apply(lambda m, g=gain: self.init_weights(m, gain=g))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_action_dist_from_latent(self, latent_pi: torch.Tensor) -> PlackettLuce:
        return self.action_dist.proba_distribution(self.action_net(latent_pi))

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, exact slate log-probabilities and the entropy estimate along ``actions``."""
        pi_features, vf_features = self._split_features(obs)
        dist = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(pi_features))
        log_prob, entropy = sequential_terms(dist.logits, dist._slate(actions))
        values = self.value_net(self.mlp_extractor.forward_critic(vf_features))
        return values, log_prob, entropy

    def _split_features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.extract_features(obs)
        if self.share_features_extractor:
            return features, features
        return features


def check_slate_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> int:
    """K for a ``Box(N, F)`` observation and a ``MultiDiscrete([N] * K)`` action, K <= N."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 2:
        raise ValueError(f"the item-wise policy needs a Box observation of per-candidate rows "
                         f"(N, F); got {observation_space!r}")
    n = observation_space.shape[0]
    nvec = np.asarray(getattr(action_space, "nvec", []))
    if not isinstance(action_space, spaces.MultiDiscrete) or nvec.ndim != 1 or (nvec != n).any():
        raise ValueError(f"the item-wise policy needs a MultiDiscrete([N={n}] * K) slate action; "
                         f"got {action_space!r}")
    if nvec.size > n:
        raise ValueError(f"slate size K={nvec.size} exceeds the number of candidates N={n}")
    return int(nvec.size)
