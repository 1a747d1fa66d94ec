"""InterestTransformer: a dynamic user-interest embedding learned online from feedback.

The user is a sequence — the last H consumed items, most recent first. Each token is

    t_i = W_e e_{h_i} + W_r r_i + P[i]           (item LM embedding, response, recency position)

and a leading user token ``c + W_p profile`` (always present, so an empty history is a
well-defined sequence that falls back to the public profile). A small transformer encoder runs
over ``[user, t_1..t_H]`` with padding masked; the user token's output, projected, is the
interest embedding ``z``. A candidate with embedding e is scored by similarity plus item
features,

    logit(click) = <z, W_c e> / sqrt(D) + w·[cos(hist, e), max_recent_cos(e), cos(profile, e),
                   popularity, logged mean rating, logged take rate] + b,

and ranked (``rank_by="value"``, the default) by the expected value of showing it, P(consume) ×
value, read out of those features and the interest similarity by a closed-form ridge regression
on standardised columns, refitted on replay (``_refit_value``); the value is the reward
(minutes, purchases × price; ≡ 1 for clicks), or with ``horizon`` > 1 the user's reward over the
next ``horizon`` steps (``returns.NStepReturns``), so that items that end sessions early are
ranked down (``rank_by="click"`` ranks by P(click) alone). The logged per-item statistics
(``returns.ItemStats``) carry what the text cannot: item quality. Heads, trained jointly:
click (BCE over the shown slate), engagement (MSE on the consumed item's value, scaled) and
rating (MSE), and an auxiliary text task — category classification from ``W_c e`` (CE) — that
shapes the item tower with the catalog's semantics.

Online learning: every ``train_every`` steps the model takes ``updates`` gradient steps on
minibatches from a replay of the most recent ``buffer_size`` user-steps, so the interest
embedding follows drift within the episode (the history tokens move; the weights adapt to the
scenario). The greedy similarity ``cos(hist, e)`` is an input feature, so at initialisation the
ranker is close to embedding-greedy and learning can only refine it.

Flags: ``epsilon`` (random slate per user), ``ucb`` (bonus ``ucb / sqrt(1 + times shown)`` per
catalog item) and ``mmr`` (maximal marginal relevance re-ranking with weight ``mmr`` on
diversity; 0 = off).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Agent, AgentConfig, Obs, top_k, torch_seeded
from .features import batch_dot, history_embedding
from .replay import Replay
from .returns import ItemStats, NStepReturns

N_EXTRA = 6


class InterestModel(nn.Module):
    """History encoder (user tower), item tower and the multi-task heads."""

    def __init__(self, d_in: int, history: int, num_categories: int, d_model: int, heads: int,
                 layers: int, greedy_init: float = 5.0):
        super().__init__()
        self.item_in = nn.Linear(d_in, d_model)
        self.resp_in = nn.Linear(2, d_model)
        self.pos = nn.Embedding(history, d_model)
        self.profile_in = nn.Linear(d_in, d_model)
        self.user_token = nn.Parameter(torch.zeros(d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.user_out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, d_model))
        self.item_tower = nn.Linear(d_in, d_model)
        self.extra = nn.Linear(N_EXTRA, 1)
        with torch.no_grad():  # start close to embedding-greedy: trust cos(hist, e)
            self.extra.weight.zero_()
            self.extra.weight[0, 0] = greedy_init
            self.extra.bias.fill_(-2.0)
        self.engage = nn.Sequential(nn.Linear(2 * d_model + N_EXTRA, d_model), nn.ReLU(),
                                    nn.Linear(d_model, 2))
        self.category = nn.Linear(d_model, max(num_categories, 1))
        self.d_model = d_model

    def user(self, hist: torch.Tensor, resp: torch.Tensor, mask: torch.Tensor,
             profile: torch.Tensor) -> torch.Tensor:
        """hist (B, H, d), resp (B, H, 2), mask (B, H) bool, profile (B, d) → z (B, D)."""
        positions = torch.arange(hist.shape[1])
        tokens = self.item_in(hist) + self.resp_in(resp) + self.pos(positions)[None]
        first = (self.user_token + self.profile_in(profile))[:, None, :]
        seq = torch.cat([first, tokens], dim=1)
        pad = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)
        out = self.encoder(seq, src_key_padding_mask=pad)
        return self.user_out(out[:, 0])

    def heads(self, z: torch.Tensor, cand: torch.Tensor, extra: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """z (B, D), cand (B, N, d), extra (B, N, 6) → click logit, engagement, rating and the
        interest similarity <z, W_c e>/sqrt(D), each (B, N)."""
        g = self.item_tower(cand)
        sim = (g * z[:, None, :]).sum(-1) / math.sqrt(self.d_model)
        logit = sim + self.extra(extra).squeeze(-1)
        pair = torch.cat([g * z[:, None, :], g, extra], dim=-1)
        engage, rating = self.engage(pair).unbind(-1)
        return logit, engage, rating, sim


@dataclass(frozen=True)
class TransformerConfig(AgentConfig):
    """Model size (small for CPU), online schedule and the exploration / diversity flags.

    ``value_ridge`` and ``value_rows``: ridge strength and replayed user-steps of the closed-form
    value readout (``_refit_value``); more rows and a stronger ridge steady it when the labels
    are weak (clicks under fast drift).
    """

    d_model: int = 32
    heads: int = 2
    layers: int = 1
    lr: float = 3e-3
    batch_size: int = 256
    buffer_size: int = 20_000
    train_every: int = 1
    updates: int = 1
    greedy_init: float = 0.0
    value_ridge: float = 10.0
    value_rows: int = 1024
    refit_every: int = 1
    warmup: int = 256
    decay: float = 0.8
    category_weight: float = 0.1
    epsilon: float = 0.0
    ucb: float = 0.0
    mmr: float = 0.0
    rank_by: str = "value"
    horizon: int = 1
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by heads={self.heads}")
        if min(self.d_model, self.layers, self.batch_size, self.buffer_size, self.train_every,
               self.refit_every, self.value_rows) < 1:
            raise ValueError("d_model, layers, batch_size, buffer_size, train_every, refit_every "
                             "and value_rows must be >= 1")
        if self.updates < 0 or self.warmup < 0:
            raise ValueError("updates and warmup must be >= 0")
        if not 0 <= self.epsilon <= 1 or self.ucb < 0 or not 0 <= self.mmr < 1:
            raise ValueError("need 0 <= epsilon <= 1, ucb >= 0, 0 <= mmr < 1")
        if self.horizon < 1 or not 0 <= self.gamma <= 1:
            raise ValueError(f"need horizon >= 1, 0 <= gamma <= 1; got {self.horizon}, {self.gamma}")
        if self.rank_by not in ("value", "click"):
            raise ValueError(f"rank_by must be 'value' or 'click', got {self.rank_by!r}")


class InterestTransformerAgent(Agent):
    """Online InterestTransformer ranker (see the module docstring)."""

    name = "transformer"
    Config = TransformerConfig

    def __init__(self, env: Any, seed: int | None = None, config: TransformerConfig | None = None):
        super().__init__(env, seed, config)
        cfg = self.config
        self.table = self.spec.item_embeddings
        self.table_t = torch.from_numpy(self.table)
        with torch_seeded(int(self.rng.integers(2**31))):
            self.model = InterestModel(
                self.spec.embedding_dim, self.spec.history_length, self.spec.num_categories,
                cfg.d_model, cfg.heads, cfg.layers, cfg.greedy_init,
            )
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.replay = Replay(cfg.buffer_size)
        self.shown = np.zeros(self.spec.num_items)
        self.stats = ItemStats(self.spec.num_items)
        self.returns = NStepReturns(cfg.horizon, cfg.gamma)
        self.reward_scale = torch.tensor(0.0)
        self.steps = 0
        self.value_w = np.zeros(N_EXTRA + 2)
        self.value_w[N_EXTRA] = 1.0  # before any feedback: rank by the interest similarity

    # ----- scoring -------------------------------------------------------------------------
    def _extra(self, obs: Obs, cand: np.ndarray, ids: np.ndarray,
               item_stats: np.ndarray | None = None) -> np.ndarray:
        """Item features (B, N, 6); ``item_stats`` are the logged statistics as they were at
        decision time (replayed rows must not see feedback that came after them)."""
        user, _ = history_embedding(obs, self.table, self.config.decay, profile_fallback=False)
        profile = obs["profile_embedding"].astype(np.float32)
        last = obs["history_ids"][:, :3]
        mask = (obs["history_mask"][:, :3] > 0) & (last >= 0)
        sims = np.matmul(cand, self.table[np.clip(last, 0, None)].transpose(0, 2, 1))
        recent = np.where(mask[:, None, :], sims, -np.inf).max(axis=2)
        recent = np.where(np.isfinite(recent), recent, 0.0)
        base = np.stack(
            [batch_dot(user, cand), recent, batch_dot(profile, cand), obs["candidate_popularity"]],
            axis=-1,
        ).astype(np.float32)
        if item_stats is None:
            item_stats = self.stats.features(ids)
        return np.concatenate([base, item_stats], axis=-1)

    def _user(self, obs: Obs) -> torch.Tensor:
        ids = obs["history_ids"]
        mask = torch.from_numpy((obs["history_mask"] > 0) & (ids >= 0))
        hist = self.table_t[torch.from_numpy(np.clip(ids, 0, None))]
        resp = torch.from_numpy(obs["history_responses"].astype(np.float32))
        profile = torch.from_numpy(obs["profile_embedding"].astype(np.float32))
        return self.model.user(hist, resp * mask[..., None], mask, profile)

    def predict(self, obs: Obs, ids: np.ndarray | None = None,
                item_stats: np.ndarray | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Click logits, engagement and rating predictions for items ``ids`` (default: the
        candidates), each (B, N)."""
        return self._forward(obs, ids, item_stats)[:3]

    def _forward(self, obs: Obs, ids: np.ndarray | None = None,
                 item_stats: np.ndarray | None = None) -> tuple[torch.Tensor, ...]:
        """(logit, engagement, rating, value features (B, N, 8))."""
        if ids is None:
            ids = np.asarray(obs["candidate_ids"])
        cand = self.table[ids]
        z = self._user(obs)
        extra = torch.from_numpy(self._extra(obs, cand, ids, item_stats))
        logit, engage, rating, sim = self.model.heads(z, torch.from_numpy(cand), extra)
        ones = torch.ones_like(sim)[..., None]
        return logit, engage, rating, torch.cat([extra, sim[..., None], ones], dim=-1)

    def value(self, vfeat: torch.Tensor) -> np.ndarray:
        """Expected value of showing each item (P(consume) × value), from the ridge readout."""
        return vfeat.numpy().astype(np.float64) @ self.value_w

    def _refit_value(self) -> None:
        """Closed-form ridge readout of the slate value on the value features (item features +
        the transformer's interest similarity) over recent replay: a few SGD steps per env
        step do not learn this weak, noisy signal reliably, an (F, F) solve does."""
        rows = self.replay.sample(min(len(self.replay), self.config.value_rows), self.rng)
        obs = {k: rows[k] for k in ("history_ids", "history_responses", "history_mask",
                                    "profile_embedding", "candidate_popularity")}
        with torch.no_grad():
            x = self._forward(obs, rows["slate_ids"], rows["item_stats"])[3].numpy()
        x = x.astype(np.float64)
        x = x.reshape(-1, x.shape[-1])
        # Label of each shown item: the user's (n-step) value if they consumed it, else 0, so
        # x·w estimates P(consume) × value in one readout — the quantity the slate should rank.
        y = (rows["clicks"] * rows["reward"][:, None]).reshape(-1)
        y = y / max(float(self.reward_scale), 1e-6)
        # Ridge on standardised columns: the logged item statistics start tiny (shrunk toward
        # the global mean) and a penalty in raw units would leave their sign to noise — a
        # negative weight on the rating statistic then ranks bad items first.
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-8, scale, 1.0)
        xs = x / scale
        lam = self.config.value_ridge
        w = np.linalg.solve(xs.T @ xs + lam * np.eye(xs.shape[1]), xs.T @ y)
        self.value_w = w / scale

    def interest(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The users' interest embeddings z (B, D) — for analysis and plots."""
        from .base import check_obs

        batched, _ = check_obs(obs, self.spec)
        with torch.no_grad():
            return self._user(batched).numpy()

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        cfg = self.config
        with torch.no_grad():
            logit, _, _, vfeat = self._forward(obs)
            score = torch.sigmoid(logit).numpy().astype(np.float64)
        if cfg.rank_by == "value":
            score = self.value(vfeat)
        if cfg.ucb > 0:
            score = score + cfg.ucb / np.sqrt(1.0 + self.shown[obs["candidate_ids"]])
        if cfg.mmr > 0:
            slates = mmr_rerank(score, obs["candidate_embeddings"], self.slate_size, cfg.mmr)
        else:
            slates = top_k(score, self.slate_size)
        if cfg.epsilon > 0:
            rand = top_k(self.rng.random(score.shape), self.slate_size)
            pick = self.rng.random(len(slates)) < cfg.epsilon
            slates[pick] = rand[pick]
        return slates

    # ----- learning ------------------------------------------------------------------------
    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        batch, k = action.shape
        chosen = np.asarray(info.get("chosen", np.full(batch, -1)), dtype=np.int64).reshape(batch)
        rating = np.asarray(info.get("rating", np.zeros(batch)), dtype=np.float32).reshape(batch)
        clicks = np.zeros((batch, k), dtype=np.float32)
        rows = np.flatnonzero(chosen >= 0)
        clicks[rows, chosen[rows]] = 1.0
        slate_ids = np.take_along_axis(obs["candidate_ids"], action, axis=1)
        np.add.at(self.shown, slate_ids.reshape(-1), 1.0)
        item_stats = self.stats.features(slate_ids)  # as seen at decision time
        self.stats.observe(slate_ids, slate_ids[rows, chosen[rows]], rating[rows])
        payload = {
            "item_stats": item_stats,
            "history_ids": obs["history_ids"],
            "history_responses": obs["history_responses"].astype(np.float32),
            "history_mask": obs["history_mask"],
            "profile_embedding": obs["profile_embedding"].astype(np.float32),
            "candidate_popularity": np.take_along_axis(obs["candidate_popularity"], action, axis=1),
            "slate_ids": slate_ids,
            "clicks": clicks,
            "consumed": (chosen >= 0),
            "chosen": np.clip(chosen, 0, None),
            "rating": rating / 5.0,
        }
        for ready, value in self.returns.push(payload, reward, terminated | truncated):
            if float(self.reward_scale) == 0.0 and (value[ready["consumed"]] > 0).any():
                self.reward_scale = torch.tensor(
                    float(np.mean(value[ready["consumed"] & (value > 0)])))
            self.replay.add(**ready, reward=value.astype(np.float32))
        self.steps += 1
        if len(self.replay) < self.config.warmup or self.steps % self.config.train_every:
            return {}
        stats: dict[str, float] = {}
        for _ in range(self.config.updates):
            stats = self._sgd_step()
        if self.config.rank_by == "value" and self.steps % (
                self.config.train_every * self.config.refit_every) == 0:
            self._refit_value()
        return stats

    def _sgd_step(self) -> dict[str, float]:
        cfg = self.config
        rows = self.replay.sample(cfg.batch_size, self.rng)
        obs = {
            "history_ids": rows["history_ids"],
            "history_responses": rows["history_responses"],
            "history_mask": rows["history_mask"],
            "profile_embedding": rows["profile_embedding"],
            "candidate_popularity": rows["candidate_popularity"],
        }
        logit, engage, rating = self.predict(obs, rows["slate_ids"], rows["item_stats"])
        clicks = torch.from_numpy(rows["clicks"])
        click_loss = nn.functional.binary_cross_entropy_with_logits(logit, clicks)
        consumed = torch.from_numpy(rows["consumed"])
        chosen = torch.from_numpy(rows["chosen"])[:, None]
        loss = click_loss
        stats = {"click_loss": click_loss.item()}
        if consumed.any():
            scale = max(float(self.reward_scale), 1e-6)
            target = torch.from_numpy(rows["reward"]) / scale
            pred_e = nn.functional.softplus(engage.gather(1, chosen).squeeze(1))
            pred_r = rating.gather(1, chosen).squeeze(1)
            engage_loss = ((pred_e - target) ** 2)[consumed].mean()
            rating_loss = ((pred_r - torch.from_numpy(rows["rating"])) ** 2)[consumed].mean()
            loss = loss + engage_loss + rating_loss
            stats |= {"engage_loss": engage_loss.item(), "rating_loss": rating_loss.item()}
        if cfg.category_weight > 0 and self.spec.num_categories > 1:
            items = self.rng.integers(0, self.spec.num_items, size=cfg.batch_size)
            g = self.model.item_tower(self.table_t[torch.from_numpy(items)])
            target = torch.from_numpy(self.spec.category_ids[items])
            cat_loss = nn.functional.cross_entropy(self.model.category(g), target)
            loss = loss + cfg.category_weight * cat_loss
            stats["category_loss"] = cat_loss.item()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return stats

    # ----- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "shown": torch.from_numpy(self.shown.copy()),
            **{f"stats_{k}": torch.from_numpy(v.copy()) for k, v in self.stats.state().items()},
            "reward_scale": self.reward_scale.clone(),
            "value_w": torch.from_numpy(self.value_w.copy()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.shown = state["shown"].numpy().astype(np.float64)
        self.stats.load({k[6:]: v.numpy() for k, v in state.items() if k.startswith("stats_")})
        self.reward_scale = state["reward_scale"].clone()
        self.value_w = state["value_w"].numpy().astype(np.float64)


def mmr_rerank(score: np.ndarray, emb: np.ndarray, k: int, weight: float) -> np.ndarray:
    """Maximal marginal relevance (Carbonell & Goldstein 1998), batched over users.

    Picks ``argmax (1 − weight)·score_i − weight·max_{j∈S} cos(e_i, e_j)`` K times; scores are
    min-max scaled per user first so the trade-off means the same in every scenario.
    """
    lo = score.min(axis=1, keepdims=True)
    hi = score.max(axis=1, keepdims=True)
    rel = (score - lo) / np.maximum(hi - lo, 1e-12)
    sims = np.matmul(emb, np.swapaxes(emb, 1, 2))
    batch = score.shape[0]
    rows = np.arange(batch)
    max_sim = np.full(score.shape, -1.0)
    taken = np.zeros(score.shape, dtype=bool)
    out = np.empty((batch, k), dtype=np.int64)
    for pos in range(k):  # loop over slate positions, not users
        value = (1 - weight) * rel - weight * np.maximum(max_sim, 0.0) if pos else rel.copy()
        value[taken] = -np.inf
        pick = value.argmax(axis=1)
        out[:, pos] = pick
        taken[rows, pick] = True
        max_sim = np.maximum(max_sim, sims[rows, pick])
    return out
