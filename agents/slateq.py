"""SlateQ (Ie et al., IJCAI 2019): slate Q-values decomposed into item-level long-term values.

With a conditional-logit user choice model over the slate A plus a null (no-click) option,

    P(i | s, A) = exp(v(s, i)) / (exp(v_0(s)) + Σ_{j∈A} exp(v(s, j))),
    Q(s, A)     = Σ_{i∈A} P(i | s, A) Q(s, i) + P(0 | s, A) Q_0(s),

so only the item-level value ``Q(s, i)`` (the long-term value of the user consuming i) has to be
learned, by TD on the consumed item:

    Q(s, c) ← r + γ Q̄(s', A*'),   A*' = top-K of s' candidates by exp(v(s', j)) Q(s', j)

(Q-learning target with the paper's top-K slate optimisation; the target network Q̄ evaluates the
slate chosen by the online net, as in double DQN). The no-click case trains ``Q_0(s)``.
``v`` and ``v_0`` are learned by cross-entropy on which slate item (or none) was consumed.

Network: one MLP trunk with two outputs (Q and v) on (user features, per-item features from
``features.UserItemFeatures``, the item's logged rating/take-rate statistics from
``returns.ItemStats``), plus a learned per-item bias for each output. Statistics and bias let Q
learn what the text does not show (an item's hidden quality — which decides whether consuming
it refills the user's budget in ``video``); v learns the item's appeal. Together they separate
clickbait (high v, low Q) from quality (high Q), which is what a long-horizon ranker needs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Agent, AgentConfig, Obs, top_k, torch_seeded, with_final_obs
from .features import UserItemFeatures
from .replay import Replay, compact_obs, expand_obs
from .returns import ItemStats

USER_FEATS = 5


def user_features(obs: Obs, recent: int = 5) -> np.ndarray:
    """Public signals of the user's state (B, 5): time in session, recent engagement and rating,
    history fill, whether the last step added a consumption (recency of satisfaction)."""
    mask = obs["history_mask"][:, :recent].astype(np.float32)
    resp = obs["history_responses"][:, :recent].astype(np.float32)
    count = np.maximum(mask.sum(axis=1), 1.0)
    eng = (resp[..., 0] * mask).sum(axis=1) / count
    rating = (resp[..., 1] * mask).sum(axis=1) / count
    step = obs["step"].reshape(-1).astype(np.float32)
    fill = obs["history_mask"].astype(np.float32).mean(axis=1)
    return np.stack([np.log1p(step) / 4.0, eng, rating, fill, mask[:, 0]], axis=1)


def slate_value(
    q: torch.Tensor, v: torch.Tensor, q_null: torch.Tensor, v_null: torch.Tensor
) -> torch.Tensor:
    """Q(s, A) = Σ_i P(i|s,A) Q(s,i) + P(0|s,A) Q_0(s) for item values q, logits v (B, K)."""
    logits = torch.cat([v, v_null[:, None]], dim=1)
    values = torch.cat([q, q_null[:, None]], dim=1)
    return (torch.softmax(logits, dim=1) * values).sum(dim=1)


class ItemNet(nn.Module):
    """Item-level heads on one trunk: MLP(user ⊕ item features) → (Q, choice logit v), plus a
    learned per-item bias for each; a user-only head gives the null item's (Q_0, v_0)."""

    def __init__(self, in_dim: int, user_dim: int, num_items: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )
        self.item_bias = nn.Embedding(num_items, 2)
        nn.init.zeros_(self.item_bias.weight)
        self.null = nn.Sequential(nn.Linear(user_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, ids: torch.Tensor, user: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, N, in), ids (B, N), user (B, U) → q, v (B, N) and q_null, v_null (B,)."""
        item = self.mlp(x) + self.item_bias(ids)
        null = self.null(user)
        return item[..., 0], item[..., 1], null[:, 0], null[:, 1]


@dataclass(frozen=True)
class SlateQConfig(AgentConfig):
    """``gamma``: discount (long horizon); ``epsilon``: probability a user's slate is random while
    training, ``epsilon_eval`` once ``explore`` is switched off; ``batch_size``/``updates_per_step``:
    SGD on the replay each env step; ``target_tau``: Polyak rate of the target net;
    ``warmup``: transitions stored before learning starts."""

    gamma: float = 0.9
    hidden: int = 32
    proj_dim: int = 4
    lr: float = 3e-3
    batch_size: int = 128
    updates_per_step: int = 4
    buffer_size: int = 50_000
    warmup: int = 512
    target_tau: float = 0.01
    epsilon: float = 0.1
    epsilon_eval: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.gamma < 1:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma}")
        if min(self.hidden, self.proj_dim, self.batch_size, self.buffer_size) < 1:
            raise ValueError("hidden, proj_dim, batch_size and buffer_size must be >= 1")
        if not 0 < self.target_tau <= 1:
            raise ValueError(f"target_tau must be in (0, 1], got {self.target_tau}")
        if not 0 <= self.epsilon <= 1 or not 0 <= self.epsilon_eval <= 1:
            raise ValueError("epsilon and epsilon_eval must be in [0, 1]")


class SlateQAgent(Agent):
    """SlateQ with a learned conditional-logit choice model, replay and a target network."""

    name = "slateq"
    Config = SlateQConfig

    def __init__(self, env: Any, seed: int | None = None, config: SlateQConfig | None = None):
        super().__init__(env, seed, config)
        cfg = self.config
        self.features = UserItemFeatures(self.spec, cfg.proj_dim)
        self.stats = ItemStats(self.spec.num_items)
        with torch_seeded(int(self.rng.integers(2**31))):
            in_dim = self.features.dim + 2 + USER_FEATS
            self.net = ItemNet(in_dim, USER_FEATS, self.spec.num_items, cfg.hidden)
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.replay = Replay(cfg.buffer_size)
        self.explore = True
        self.reward_scale = torch.tensor(0.0)  # fixed from the first rewarded batch

    # ----- model evaluation ----------------------------------------------------------------
    def _inputs(self, obs: Obs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        user = torch.from_numpy(user_features(obs))
        ids = np.asarray(obs["candidate_ids"])
        items = torch.from_numpy(
            np.concatenate([self.features.bandit(obs), self.stats.features(ids)], axis=-1))
        x = torch.cat([items, user[:, None, :].expand(-1, items.shape[1], -1)], dim=-1)
        return x, torch.from_numpy(np.array(obs["candidate_ids"], dtype=np.int64)), user

    def _greedy_slates(
        self, q: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        """Top-K by exp(v) Q (Ie et al.'s top-K optimisation); per-row shift keeps exp finite."""
        score = torch.exp(v - v.max(dim=1, keepdim=True).values) * q
        return torch.from_numpy(top_k(score.numpy(), self.slate_size))

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        with torch.no_grad():
            x, ids, user = self._inputs(obs)
            q, v, _, _ = self.net(x, ids, user)
            slates = self._greedy_slates(q, v).numpy()
        eps = self.config.epsilon if self.explore else self.config.epsilon_eval
        if eps > 0:
            rand = top_k(self.rng.random(obs["candidate_ids"].shape), self.slate_size)
            pick = self.rng.random(len(slates)) < eps
            slates[pick] = rand[pick]
        return slates

    # ----- learning ------------------------------------------------------------------------
    def fit(self, env: Any, steps: int, seed: int | None = None) -> dict[str, float]:
        """Train with ε-exploration on ``env``; afterwards act greedily (``epsilon_eval``)."""
        self.explore = True
        stats = super().fit(env, steps, seed)
        self.explore = False
        return stats

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        chosen = np.asarray(info.get("chosen", np.full(len(reward), -1)), dtype=np.int64)
        shown = np.take_along_axis(np.asarray(obs["candidate_ids"]), action, axis=1)
        rows = np.flatnonzero(chosen >= 0)
        rating = np.asarray(info.get("rating", np.zeros(len(reward))), dtype=np.float64)
        self.stats.observe(shown, shown[rows, chosen[rows]], rating.reshape(-1)[rows])
        bootstrap = ~terminated
        truncated_only = np.flatnonzero(truncated & ~terminated)
        boot_obs = next_obs
        if truncated_only.size:
            if info.get("final_obs") is None:
                bootstrap = bootstrap & ~truncated  # no last observation: do not bootstrap
            else:
                boot_obs = with_final_obs(next_obs, info, truncated_only)
        if float(self.reward_scale) == 0.0 and (reward > 0).any():
            self.reward_scale = torch.tensor(float(np.mean(reward[reward > 0])))
        self.replay.add(
            **compact_obs(obs),
            **compact_obs(boot_obs, "next_"),
            action=action,
            chosen=chosen,
            reward=reward.astype(np.float32),
            bootstrap=bootstrap,
        )
        if len(self.replay) < self.config.warmup:
            return {}
        stats: dict[str, float] = {}
        for _ in range(self.config.updates_per_step):
            stats = self._sgd_step()
        return stats

    def _sgd_step(self) -> dict[str, float]:
        cfg = self.config
        rows = self.replay.sample(cfg.batch_size, self.rng)
        obs = expand_obs(rows, self.spec.item_embeddings)
        nxt = expand_obs(rows, self.spec.item_embeddings, "next_")
        chosen = torch.from_numpy(rows["chosen"])
        scale = max(float(self.reward_scale), 1e-6)
        reward = torch.from_numpy(rows["reward"]) / scale
        boot = torch.from_numpy(rows["bootstrap"].astype(np.float32))

        # Only the K shown items of s are needed: build their features alone (N/K times cheaper).
        shown = dict(obs)
        shown["candidate_ids"] = np.take_along_axis(obs["candidate_ids"], rows["action"], axis=1)
        shown["candidate_popularity"] = np.take_along_axis(
            obs["candidate_popularity"], rows["action"], axis=1)
        xs, ids_s, user = self._inputs(shown)
        q, v, q_null, v_null = self.net(xs, ids_s, user)
        consumed = chosen >= 0
        q_taken = torch.where(
            consumed, q.gather(1, chosen.clamp(min=0)[:, None]).squeeze(1), q_null
        )
        with torch.no_grad():
            nx, nids, nuser = self._inputs(nxt)
            nq, nv, _, nv_null = self.net(nx, nids, nuser)
            slate = self._greedy_slates(nq, nv)
            tq, _, tq_null, _ = self.target(nx, nids, nuser)
            value = slate_value(
                tq.gather(1, slate), nv.gather(1, slate), tq_null, nv_null
            )
            target = reward + cfg.gamma * boot * value
        q_loss = nn.functional.smooth_l1_loss(q_taken, target)
        logits = torch.cat([v, v_null[:, None]], dim=1)
        label = torch.where(consumed, chosen, torch.full_like(chosen, self.slate_size))
        choice_loss = nn.functional.cross_entropy(logits, label)
        self.opt.zero_grad()
        (q_loss + choice_loss).backward()
        self.opt.step()
        with torch.no_grad():
            for p_t, p in zip(self.target.parameters(), self.net.parameters()):
                p_t.lerp_(p, cfg.target_tau)
        return {"q_loss": q_loss.item(), "choice_loss": choice_loss.item()}

    # ----- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "reward_scale": self.reward_scale.clone(),
            **{f"stats_{k}": torch.from_numpy(v.copy()) for k, v in self.stats.state().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.reward_scale = state["reward_scale"].clone()
        self.stats.load({k[6:]: v.numpy() for k, v in state.items() if k.startswith("stats_")})
