"""SlateQ (Ie et al., IJCAI 2019): slate Q-values decomposed into item-level long-term values.

With a conditional-logit user choice model over the slate A plus a null (no-click) option,

    P(i | s, A) = w_i / (w_0 + Σ_{j∈A} w_j),   w_i = exp(v(s, i)),  w_0 = exp(v_0(s)),
    Q(s, A)     = Σ_{i∈A} P(i | s, A) Q(s, i) + P(0 | s, A) Q_0(s),

so only the item-level value ``Q(s, i)`` (the long-term value of the user consuming i) has to be
learned, by TD on the consumed item (or ``Q_0`` on a no-click), with a double-Q target:

    Q(s, c) ← r + γ Q̄(s', A*'),   A*' = argmax_A Q(s', A) under the online net,

where Q̄ evaluates the online net's slate with the target network's item values (Polyak-averaged
copy); ``n_step`` > 1 uses n-step targets instead. Values are kept in units of (1 − γ) × the mean
reward, so Q is O(1) whatever γ; the end of a session (leaving or the ``max_steps`` limit, which
the observed step index foretells) is not bootstrapped. ``v`` and ``v_0`` — the *learned* click model — are fitted by cross-entropy on which slate
item (or none) the user consumed; they weight both the target and the slate choice.

Slate optimisation. Ie et al. rank by ``w_i Q(s, i)`` (their top-K heuristic). That is exact only
when the null option has no value; here a user who does not click stays and goes on watching, so
``Q_0`` is large and every item's Q shares that offset — ranking by ``w_i Q_i`` then ranks by click
probability and fills the slate with clickbait (measured below). The default
``slate_optimizer="exact"`` maximises the fractional objective exactly with Dinkelbach's method:
for a guess λ of the best slate value, the slate maximising Σ_{i∈A} w_i (Q_i − λ) is a top-K by
``w_i (Q_i − λ)``; setting λ to that slate's value and repeating increases λ monotonically and stops
at the optimum in a few iterations (the fixed point λ* = max_A Q(s, A), Dinkelbach 1967).

Features: the per-candidate rows of ``itemwise.CandidateFeatures`` — the same builder the
item-wise PPO/A2C actor uses (projected embedding, similarities, popularity, category share,
recent exposure, the item's *logged* rating and take rate, and session columns). The logged
per-item statistics are what lets Q learn item quality, which the text does not show and which in
``video`` decides whether a watch refills the user's budget. One MLP scores every candidate from
its own row, so the network's size does not depend on N or on the catalog size; a second, on the
session columns, gives the null item's ``(Q_0, v_0)``. (The builder's per-user memory columns
read 0: a replayed transition could not restore that memory.)

Why the version before issue 24 reached ~190 watch minutes on ``video`` (random ~110, ``quality``
~1,250), measured at 20k training user-steps: not its click model — predicted no-click 0.061 vs
0.069 observed, choice log-likelihood −2.31 vs −2.40 for a uniform guess — and not its features
(it had the logged item statistics) or its fit (mean Q of the consumed item 5.41 against a
discounted return of 5.40). Its slates were wrong: 24% clickbait (11% of the catalog), mean true
quality 0.61 where the 10 best candidates averaged 0.86. Ablations at 61k user-steps, 2 seeds
(``benchmarks/results/slateq_ablations.json``; this design: 1,635): the top-K heuristic alone
drops it to 335 (17% clickbait shown) — the main cause; gradient steps while being evaluated, on
a fresh cohort's few transitions, to 1,370; γ = 0.9 to 1,514 (650 vs 1,034 at 20k); all three
together to 288. ``compare_agents`` also trained it for only 5k user-steps (228 at 5k here).

Why it stayed near ``popular`` in ``news`` (15.0 ± 0.8 at 123k user-steps vs popular 14.6; PPO
22.5): not the training budget (16.0 at 61k, 15.0 at 123k), not the click-through rate (0.79 per
step, PPO 0.81) but retention — its users left after ~20 steps, PPO's after ~28 of 30. Two agent
causes, measured on 2 seeds at 61k user-steps (``slateq_curves --scenarios news --seeds 0,1
--checkpoints 0,20480,61440 --ablations position_bias,gamma0.9``; default 16.5): the horizon —
news sessions last at most 30 steps, and with γ = 0.99 the target is 99% bootstrap, so what one
click does to the rest of a short session is learnt slowly; γ = 0.9 gives 19.2 (16.1 vs 11.7 at
20k) — and the learned click model — position-free logits cannot express that ``news`` users
scan a cascade from the top, so its choice log-likelihood was −1.61 (uniform −1.79); a learned
logit per position (``position_bias``) brings it to −1.45 and the return to 17.5, and to 19.1
on seed 0 at 123k. The features' memory columns, zero in the replay, cost less (``memory``:
17.1 vs 14.9, seed 0). With ``position_bias`` (now the default), 3 seeds × 64 fresh users:
news 18.3 ± 0.8 at 123k user-steps (seeds 19.1, 16.2, 19.5; 144 CPU-s) against popular
14.6 ± 0.5, LinUCB 18.0, quality 19.1 (``results/slateq_news_position_bias.json``); one seed at
61k user-steps: video 1,696 (1,305 without), shopping 803 (761) — every scenario's click model
has position effects (``results/slateq_position_bias_check.json``); video seeds 1 and 2 at 61k:
1,304 and 1,718 (1,751 and 1,720 without; ``results/slateq_position_bias_video_seeds12.json``),
so on video the three seeds average 1,573 against 1,592 — no loss within the seed spread. The
3-seed video and shopping curves in ``results/slateq_curves.json`` were measured without it;
with it (this default), ``results/slateq_curves_video_shopping.json``: video 1,654 ± 71 at 61k and
1,485 ± 90 at 123k user-steps (seeds 1,707, 960, 1,789: one seed fell back late), shopping 763 ± 79.
``memory`` stays off (one seed only). γ = 0.9 is not made the default: measured on ``news``
only, and ``video``'s budget pays off over tens of steps (γ = 0.9 cost it 1,514 vs 1,635).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import Agent, AgentConfig, EnvSpec, Obs, check_obs, top_k, torch_seeded
from .itemwise import SESSION_COLUMNS, CandidateFeatures, SessionMemory
from .replay import Replay, compact_obs, expand_obs
from .returns import NStepReturns

SLATE_OPTIMIZERS = ("exact", "topk")


def candidate_features(spec: EnvSpec, proj_dim: int) -> Any:
    """The per-candidate feature builder (``itemwise.CandidateFeatures``) and its column count
    of session features: the one place SlateQ chooses its features."""
    return CandidateFeatures(spec, proj_dim), len(SESSION_COLUMNS)


def slate_value(
    q: torch.Tensor, v: torch.Tensor, q_null: torch.Tensor, v_null: torch.Tensor
) -> torch.Tensor:
    """Q(s, A) = Σ_i P(i|s,A) Q(s,i) + P(0|s,A) Q_0(s) for item values q, logits v (B, K)."""
    logits = torch.cat([v, v_null[:, None]], dim=1)
    values = torch.cat([q, q_null[:, None]], dim=1)
    return (torch.softmax(logits, dim=1) * values).sum(dim=1)


def best_slates(q: torch.Tensor, v: torch.Tensor, q_null: torch.Tensor, v_null: torch.Tensor,
                k: int, optimizer: str = "exact", max_iter: int = 20) -> torch.Tensor:
    """Positions (B, k) of the slate maximising ``slate_value`` over the N candidates (B, N).

    ``"topk"``: Ie et al.'s heuristic, top-k by exp(v)·Q. ``"exact"``: Dinkelbach's iteration
    (module docstring) from λ = Q_0, the value of showing nothing clickable; it stops when no
    user's slate changes, and orders the slate by Q, best first. Ties resolve to the lower
    position (``base.top_k``).
    """
    if optimizer not in SLATE_OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {SLATE_OPTIMIZERS}, got {optimizer!r}")
    if not 1 <= k <= q.shape[1]:
        raise ValueError(f"slate size k={k} must be in [1, N={q.shape[1]}] (the candidates)")
    shift = torch.maximum(v.max(dim=1).values, v_null)
    w = torch.exp(v - shift[:, None])
    if optimizer == "topk":
        return torch.from_numpy(top_k((w * q).numpy(), k))
    lam = q_null
    slates = torch.from_numpy(top_k((w * (q - lam[:, None])).numpy(), k))
    for _ in range(max_iter):
        lam = slate_value(q.gather(1, slates), v.gather(1, slates), q_null, v_null)
        nxt = torch.from_numpy(top_k((w * (q - lam[:, None])).numpy(), k))
        if torch.equal(nxt, slates):
            break
        slates = nxt
    # The user's choice also favours the top positions, which v (position-free) does not see:
    # put the slate's most valuable items there.
    order = torch.argsort(q.gather(1, slates), dim=1, descending=True, stable=True)
    return slates.gather(1, order)


def _mlp(in_dim: int, hidden: int, out_dim: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(hidden, out_dim))


class ItemHead(nn.Module):
    """One item-level quantity: an MLP maps each candidate's row (B, N, F) to a scalar, and a
    smaller one maps the session columns (the last ``session_dim`` of every row) to the null
    item's."""

    def __init__(self, in_dim: int, session_dim: int, hidden: int):
        super().__init__()
        self.session_dim = session_dim
        self.item = _mlp(in_dim, hidden, 1, layers=2)
        self.null = _mlp(session_dim, hidden, 1, layers=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, N, F) → per-item (B, N), null item (B,)."""
        return self.item(x)[..., 0], self.null(x[:, 0, -self.session_dim:])[:, 0]


class ItemNet(nn.Module):
    """The value Q and the choice logit v as separate heads (their losses differ in kind and
    scale; separate parameters let Adam scale each on its own), and a learned logit per slate
    position (``position``, (K,); trained only with ``SlateQConfig.position_bias``)."""

    def __init__(self, in_dim: int, session_dim: int, hidden: int, slate_size: int):
        super().__init__()
        self.q = ItemHead(in_dim, session_dim, hidden)
        self.v = ItemHead(in_dim, session_dim, hidden)
        self.position = nn.Parameter(torch.zeros(slate_size))

    def forward(self, x: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, N, F) → q, v (B, N) and q_null, v_null (B,)."""
        q, q_null = self.q(x)
        v, v_null = self.v(x)
        return q, v, q_null, v_null


@dataclass(frozen=True)
class SlateQConfig(AgentConfig):
    """``gamma``: discount — video sessions last ~100 steps and a clickbait watch costs the user
    minutes of budget many steps later, so the horizon 1/(1−γ) must be of that order;
    ``n_step``: TD target over n steps (1: SlateQ's; 10 gave 1,149 vs 1,034 at 20k user-steps but
    1,244 vs 1,635 at 61k — n-step returns of replayed ε-greedy behaviour undervalue the greedy
    policy);
    ``epsilon``: probability a user's slate is random while ``fit`` trains (``epsilon_eval``
    otherwise); ``batch_size``/``updates_per_step``: SGD on the replay per batched env step;
    ``target_tau``: Polyak rate of the target net; ``warmup``: transitions stored before learning;
    ``proj_dim``: dims of the feature builder's embedding projection;
    ``slate_optimizer``: ``"exact"`` (Dinkelbach) or ``"topk"`` (Ie et al.'s heuristic);
    ``online_updates``: take gradient steps in ``update`` outside ``fit`` too (a custom
    act/update loop, or a deployed agent that keeps training; see ``SlateQAgent``);
    ``position_bias``: a learned choice logit per slate position added to v (the learned click
    model sees that users favour the top positions — ``news`` is a cascade; see the module
    docstring for what it is worth);
    ``memory``: the features' per-user memory columns (times shown in the last slates, share of
    steps without a consumption) kept per user and stored with each transition in the replay,
    instead of reading 0."""

    gamma: float = 0.99
    hidden: int = 64
    proj_dim: int = 8
    n_step: int = 1
    lr: float = 1e-3
    batch_size: int = 256
    updates_per_step: int = 2
    buffer_size: int = 100_000
    warmup: int = 1024
    target_tau: float = 0.01
    epsilon: float = 0.1
    epsilon_eval: float = 0.0
    slate_optimizer: str = "exact"
    online_updates: bool = False
    position_bias: bool = True
    memory: bool = False

    def __post_init__(self) -> None:
        _check_types(self)
        if not 0 <= self.gamma < 1:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma}")
        for name in ("hidden", "proj_dim", "n_step", "batch_size", "buffer_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("updates_per_step", "warmup"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.target_tau <= 1:
            raise ValueError(f"target_tau must be in (0, 1], got {self.target_tau}")
        for name in ("epsilon", "epsilon_eval"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.slate_optimizer not in SLATE_OPTIMIZERS:
            raise ValueError(f"slate_optimizer must be one of {SLATE_OPTIMIZERS}, got "
                             f"{self.slate_optimizer!r}")


def _check_types(config: SlateQConfig) -> None:
    """Each field holds its declared kind (an int, a finite number, a str; bools are not
    numbers), so a typo such as ``hidden=64.5`` or ``gamma="0.99"`` fails here, not in torch;
    NumPy scalars are stored as Python numbers (checkpoints hold plain data)."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        kind = str(field.type)
        if kind == "str":
            ok, expected = isinstance(value, str), "a str"
        elif kind == "bool":
            ok, expected = type(value) is bool, "True or False"
        elif kind == "int":
            ok, expected = isinstance(value, numbers.Integral), "an int"
        else:
            ok, expected = isinstance(value, numbers.Real) and math.isfinite(value), \
                "a finite number"
        if not ok or (kind != "bool" and isinstance(value, bool)):
            raise TypeError(f"{field.name}={value!r} ({type(value).__name__}); expected {expected}")
        if kind in ("int", "float"):
            object.__setattr__(config, field.name, {"int": int, "float": float}[kind](value))


class SlateQAgent(Agent):
    """SlateQ with a learned conditional-logit choice model, replay and a target network.

    ``training`` (on while ``fit`` runs) switches on ε-exploration and gradient steps. Outside
    it the agent acts greedily (``epsilon_eval``) and ``update`` only logs the item feedback its
    features read, as the item-wise PPO/A2C agents do — unless ``online_updates`` is set: on
    ``video``, gradient steps from the few thousand transitions of a fresh evaluation cohort (the
    replay is not saved, so a loaded agent starts with an empty one) cut a trained agent's return
    from 1,635 to 1,370 (61k training user-steps, 2 seeds).
    """

    name = "slateq"
    Config = SlateQConfig
    #: with ``memory``: the per-user session memory follows the users last served (base.load).
    resizable_state = ("memory_",)

    def __init__(self, env: Any, seed: int | None = None, config: SlateQConfig | None = None):
        super().__init__(env, seed, config)
        cfg = self.config
        self.features, session_dim = candidate_features(self.spec, cfg.proj_dim)
        self.stats = self.features.stats  # the logged item statistics, saved with the agent
        self._no_memory = _empty_memory(self.features.window)
        self.memory = SessionMemory(self.features.window)  # the users ``act`` serves
        self._view: tuple[np.ndarray, np.ndarray] | None = None  # memory at the last ``act``
        with torch_seeded(int(self.rng.integers(2**31))):
            self.net = ItemNet(self.features.dim, session_dim, cfg.hidden,
                               self.slate_size)
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.replay = Replay(cfg.buffer_size)
        self.nstep = NStepWindow(cfg.n_step, cfg.gamma)
        self.training = False
        self.reward_scale = torch.tensor(0.0)  # fixed from the first rewarded batch

    # ----- model evaluation ----------------------------------------------------------------
    def _rows(self, obs: Obs, view: tuple[np.ndarray, np.ndarray] | None = None
              ) -> torch.Tensor:
        """Per-candidate feature rows (B, N, F) of a batched observation; ``view``: the session
        memory's (shown, no-click share) for these users (``memory``), else its columns read 0."""
        memory = _StoredView(*view) if view is not None else self._no_memory
        return torch.from_numpy(self.features(obs, memory))

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        view = self.memory.view(obs, self.slate_size) if self.config.memory else None
        with torch.no_grad():
            q, v, q_null, v_null = self.net(self._rows(obs, view))
            slates = best_slates(q, v, q_null, v_null, self.slate_size,
                                 self.config.slate_optimizer).numpy()
        eps = self.config.epsilon if self.training else self.config.epsilon_eval
        if eps > 0:
            rand = top_k(self.rng.random(obs["candidate_ids"].shape), self.slate_size)
            pick = self.rng.random(len(slates)) < eps
            slates[pick] = rand[pick]
        if view is not None:
            self.memory.record(obs, np.take_along_axis(obs["candidate_ids"], slates, axis=1))
            self._view = view
        return slates

    def choice_probabilities(self, obs: Mapping[str, Any], slates: Any) -> np.ndarray:
        """The learned click model: P(i | s, A) for each slate position, then no click (B, K+1).

        ``slates`` (B, K) are positions into each user's candidates, as ``act`` returns them."""
        batched, _ = check_obs(obs, self.spec)
        slates = np.asarray(slates, dtype=np.int64).reshape(len(batched["candidate_ids"]), -1)
        if slates.shape[1] != self.slate_size:
            raise ValueError(f"slates have shape {slates.shape}; expected (B, K={self.slate_size})")
        with torch.no_grad():
            _, v, _, v_null = self.net(self._rows(_shown_only(batched, slates)))
            logits = torch.cat([self._positioned(v), v_null[:, None]], dim=1)
            return torch.softmax(logits, dim=1).numpy()

    def _positioned(self, v: torch.Tensor) -> torch.Tensor:
        """Choice logits (B, K) of a slate's items in slate order: v plus the learned position
        logit with ``position_bias`` (a user scans from the top; v alone is position-free)."""
        return v + self.net.position if self.config.position_bias else v

    # ----- learning ------------------------------------------------------------------------
    def fit(self, env: Any, steps: int, seed: int | None = None) -> dict[str, float]:
        """Train (``training`` on) on ``env``; afterwards act greedily (``epsilon_eval``).

        ``fit`` resets ``env``, so steps awaiting their n-step return from before are dropped."""
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a positive int (batched env steps), got {steps!r}")
        self.nstep = NStepWindow(self.config.n_step, self.config.gamma)
        self.training = True
        try:
            return super().fit(env, steps, seed)
        finally:
            self.training = False

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        _check_feedback(reward, info.get("chosen", ()), self.slate_size)  # before any change
        self.features.observe(obs, action, info)  # raises without info['chosen'] / ['rating']
        if not (self.training or self.config.online_updates):
            return {}
        if float(self.reward_scale) == 0.0 and (reward > 0).any():
            self.reward_scale = torch.tensor(float(np.mean(reward[reward > 0])))
        step = {**compact_obs(obs), "action": action,
                "chosen": np.asarray(info["chosen"], dtype=np.int64).reshape(-1)}
        nxt = compact_obs(next_obs, "next_")
        if self.config.memory:  # what act saw for obs, and what it will see for next_obs
            step |= self._memory_rows(obs, self._view)
            nxt |= self._memory_rows(next_obs, self.memory.view(next_obs, self.slate_size),
                                     "next_")
        for row, ret, alive in self.nstep.push(step, reward, terminated | truncated):
            self.replay.add(**row, **nxt, reward=ret.astype(np.float32), bootstrap=alive)
        if len(self.replay) < max(self.config.warmup, 1):
            return {}
        stats: dict[str, float] = {}
        for _ in range(self.config.updates_per_step):
            stats = self._sgd_step()
        return stats

    def _memory_rows(self, obs: Obs, view: tuple[np.ndarray, np.ndarray] | None,
                     prefix: str = "") -> dict[str, np.ndarray]:
        """The memory view as replay columns; empty when ``act`` did not serve these users
        (an ``update`` of transitions the agent did not choose)."""
        batch = len(obs["candidate_ids"])
        if view is None or len(view[0]) != batch:
            view = (np.full((batch, self.features.window, self.slate_size), -1, np.int64),
                    np.zeros(batch, np.float32))
        return {f"{prefix}mem_shown": view[0], f"{prefix}mem_no_click": view[1]}

    def _stored_view(self, rows: dict[str, np.ndarray], prefix: str = ""
                     ) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.config.memory:
            return None
        return rows[f"{prefix}mem_shown"], rows[f"{prefix}mem_no_click"]

    def _sgd_step(self) -> dict[str, float]:
        cfg = self.config
        rows = self.replay.sample(cfg.batch_size, self.rng)
        obs = expand_obs(_shown_only(rows, rows["action"]), self.spec.item_embeddings)
        nxt = expand_obs(rows, self.spec.item_embeddings, "next_")
        chosen = torch.from_numpy(rows["chosen"])
        reward = torch.from_numpy(rows["reward"]) / max(float(self.reward_scale), 1e-6)
        boot = torch.from_numpy(rows["bootstrap"].astype(np.float32))

        q, v, q_null, v_null = self.net(self._rows(obs, self._stored_view(rows)))  # shown only
        consumed = chosen >= 0
        q_taken = torch.where(consumed, q.gather(1, chosen.clamp(min=0)[:, None]).squeeze(1),
                              q_null)
        with torch.no_grad():
            x_next = self._rows(nxt, self._stored_view(rows, "next_"))
            nq, nv, nq_null, nv_null = self.net(x_next)
            slate = best_slates(nq, nv, nq_null, nv_null, self.slate_size, cfg.slate_optimizer)
            picked = x_next.gather(1, slate[..., None].expand(-1, -1, x_next.shape[-1]))
            tq, _, tq_null, _ = self.target(picked)
            value = slate_value(tq, self._positioned(nv.gather(1, slate)), tq_null, nv_null)
            # Values in units of the mean reward per step times the horizon: Q ~ O(1).
            target = (1 - cfg.gamma) * reward + cfg.gamma**cfg.n_step * boot * value
        q_loss = nn.functional.mse_loss(q_taken, target)
        logits = torch.cat([self._positioned(v), v_null[:, None]], dim=1)
        label = torch.where(consumed, chosen, torch.full_like(chosen, self.slate_size))
        choice_loss = nn.functional.cross_entropy(logits, label)
        self.opt.zero_grad()
        (q_loss + choice_loss).backward()
        self.opt.step()
        with torch.no_grad():
            for p_t, p in zip(self.target.parameters(), self.net.parameters()):
                p_t.lerp_(p, cfg.target_tau)
        return {"q_loss": q_loss.item(), "choice_loss": choice_loss.item(),
                "q_mean": float(q_taken.detach().mean())}

    # ----- persistence ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        memory = ({f"memory_{k}": torch.from_numpy(np.array(v, copy=True))
                   for k, v in self.memory.state().items()} if self.config.memory else {})
        return {
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "reward_scale": self.reward_scale.clone(),
            **{f"stats_{k}": torch.from_numpy(v.copy()) for k, v in self.stats.state().items()},
            **memory,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.reward_scale = state["reward_scale"].clone()
        self.stats.load({k[6:]: v.numpy() for k, v in state.items() if k.startswith("stats_")})
        if self.config.memory:
            self.memory.load({k[7:]: v.numpy() for k, v in state.items()
                              if k.startswith("memory_")})


def _check_feedback(reward: np.ndarray, chosen: Any, k: int) -> None:
    """Rewards must be finite (one NaN would poison every Q-value through the targets) and
    ``info['chosen']`` a slate position or −1."""
    bad = np.flatnonzero(~np.isfinite(reward))
    if bad.size:
        raise ValueError(f"reward is not finite for users {bad[:5].tolist()} "
                         f"({reward[bad[:5]].tolist()}); expected finite numbers")
    chosen = np.asarray(chosen).reshape(-1)
    bad = np.flatnonzero((chosen < -1) | (chosen >= k))
    if bad.size:
        raise ValueError(f"info['chosen'] is {chosen[bad[:5]].tolist()} for users "
                         f"{bad[:5].tolist()}; expected a slate position in [0, K={k}) or -1")


class NStepWindow:
    """n-step TD samples from a stream of batched steps (B users per step).

    ``push(step, reward, done)`` returns, for the step n steps back, ``(step, G, alive)``: its
    discounted reward over the n steps ``G = Σ_{j<n} γ^j r_{t+j}`` (cut when the user leaves) and
    whether the user is still there to bootstrap from — so the caller pairs it with this step's
    ``next_obs``, which is s_{t+n}. A session's end (termination or the ``max_steps`` time limit)
    is not bootstrapped: the step index is in the observation and the measured objective is the
    return within one session.
    """

    def __init__(self, horizon: int, gamma: float):
        self.returns = NStepReturns(horizon, gamma)
        self.ended = NStepReturns(horizon, 1.0)  # counts the one end of session in the window

    def push(self, step: dict[str, np.ndarray], reward: np.ndarray, done: np.ndarray
             ) -> list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]:
        done = np.asarray(done, dtype=bool)
        ready = self.returns.push(step, reward, done)
        ended = self.ended.push({}, done.astype(np.float64), done)
        return [(row, ret, ends == 0) for (row, ret), (_, ends) in zip(ready, ended, strict=True)]


def _shown_only(obs: Obs, action: np.ndarray) -> Obs:
    """``obs`` (full or ``compact_obs`` rows) with only the K shown candidates, in slate order:
    the TD and choice losses need the shown items' features alone (N/K times cheaper)."""
    out = dict(obs)
    for key in ("candidate_ids", "candidate_embeddings", "candidate_categories",
                "candidate_popularity"):
        if key in obs:
            idx = action if obs[key].ndim == 2 else action[..., None]
            out[key] = np.take_along_axis(obs[key], idx, axis=1)
    return out


class _StoredView:
    """A session memory whose view is given (a replayed transition's, stored with it)."""

    def __init__(self, shown: np.ndarray, no_click: np.ndarray):
        self.shown, self.no_click = shown, no_click

    def view(self, obs: Obs, slate_size: int, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        return self.shown, self.no_click


def _empty_memory(window: int) -> Any:
    """A session memory that never records: its view is empty for every user (the memory
    columns of the features read 0; replayed transitions could not restore it)."""
    return SessionMemory(window)
