"""Rendering: one text line per user-step (``ansi``) and an RGB frame per user (``rgb_array``).

A frame (``FRAME_SHAPE`` = 384 × 640 × 3, uint8) shows, for one user slot after a step:

- the header: scenario, user slot, the user's step index, the step's reward; ``LEFT`` when the
  user left, ``→ new user`` when the vector env replaced it (the map then shows the new user);
- the slate: K rows ``position. title · category``, the consumed item highlighted and the user's
  response below (clicked position, completion, engagement, rating; purchase and revenue in
  ``shopping``);
- the category map: the PCA plane of the category centroids (``Projection``, the plane of the
  benchmark's interest-trajectory figure, drawn by the same ``draw_category_map``), the user's
  interest now (●) and its path since the user arrived, the slate's items (·, the consumed one ★);
- the budget bar: budget / ``max_budget`` (interest and budget are the hidden state: a frame is
  for people, never an observation).

One matplotlib ``Figure`` per env on the Agg canvas (no display, no pyplot state), created on the
first frame and reused: the static parts (category map, labels, axes) are drawn once, and a frame
restores them and draws only the changing artists over them (blitting). ``FrameRenderer.close()``
releases the figure (the envs call it from ``close()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

#: (height, width, channels) of an ``rgb_array`` frame; both sides are multiples of 16, so video
#: encoders (H.264 macroblocks) take the frames without resizing.
FRAME_SHAPE = (384, 640, 3)
_DPI = 80


class LastStep(NamedTuple):
    """What one user slot did at the env's last step (what a frame or a text line shows)."""

    slate_ids: np.ndarray  # (K,) catalog indices of the slate, position 0 first
    info: dict[str, np.ndarray]  # this user's row of the step's info
    reward: float
    step: int  # the user's step index at which the slate was shown (0 = its first slate)
    replaced: bool = False  # the user left the slot at this step (vector env autoreset)


def check_render_mode(render_mode: Any, modes: Sequence[str]) -> None:
    """Raise before anything is built if ``render_mode`` is not None or one of ``modes``."""
    if render_mode is not None and render_mode not in modes:
        expected = ", ".join(repr(m) for m in modes)
        raise ValueError(f"render_mode must be None or one of {expected}, got {render_mode!r}")


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_user_line(
    catalog: Any,
    user: int,
    step: int,
    slate_ids: np.ndarray,
    info: dict[str, np.ndarray],
    reward: float,
) -> str:
    """``[u0 t=3] 1. Title A | 2. *Title B* | ... -> clicked #2, completion 0.71, rating 4, r=6.3``"""
    titles = getattr(catalog, "titles", None) or getattr(catalog, "ids", ())
    clicks = info["clicks"]
    cells = []
    for pos, item in enumerate(slate_ids.tolist()):
        t = _short(str(titles[item])) if item < len(titles) else str(item)
        cells.append(f"{pos + 1}. *{t}*" if clicks[pos] else f"{pos + 1}. {t}")
    chosen = int(info["chosen"])
    if chosen < 0:
        what = "no click"
    else:
        what = (
            f"clicked #{chosen + 1}, completion {float(info['completion']):.2f}, "
            f"rating {int(info['rating'])}"
        )
    tail = f"budget {float(info['budget']):.1f}"
    if bool(info["churned"]):
        tail += ", LEFT"
    return f"[u{user} t={step}] " + " | ".join(cells) + f" -> {what}, reward {reward:.2f}, {tail}"


def users_to_render(max_users: Any, default: int, num_envs: int) -> int:
    """How many users (the first ones) a vector render draws: ``max_users`` or ``default``."""
    if max_users is None:
        return min(default, num_envs)
    if isinstance(max_users, bool) or not isinstance(max_users, (int, np.integer)) or max_users < 1:
        raise ValueError(f"max_users must be a positive int or None, got {max_users!r}")
    return min(int(max_users), num_envs)


# ---------------------------------------------------------------------------------------------
# The category map: shared with the benchmark's interest-trajectory figure (cli/plots.py)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """A 2-D PCA plane fitted on the category centroids, for the interest-trajectory plot.

    Fitting on centroids (not on users) makes the plane the one in which the categories are most
    spread out, so a user moving between categories moves visibly.
    """

    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, 2)
    categories: tuple[str, ...]
    centroids_2d: np.ndarray  # (C, 2)

    @classmethod
    def fit(cls, centroids: np.ndarray, categories: Sequence[str]) -> Projection:
        mean = centroids.mean(axis=0)
        centred = centroids - mean
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        basis = vt[:2].T
        if basis.shape[1] < 2:  # a single category: pad with a zero axis
            basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
        return cls(mean, basis, tuple(categories), centred @ basis)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.basis

    def to_dict(self) -> dict[str, Any]:
        return {"categories": list(self.categories),
                "centroids_2d": np.round(self.centroids_2d, 5).tolist()}


def draw_category_map(ax: Any, centroids_2d: np.ndarray, categories: Sequence[str],
                      fontsize: float = 5) -> None:
    """The category centroids as labelled grey squares (the backdrop of interest paths)."""
    cents = np.asarray(centroids_2d, dtype=np.float64).reshape(-1, 2)
    ax.scatter(cents[:, 0], cents[:, 1], c="0.6", s=18, marker="s", zorder=1)
    for name, (x, y) in zip(categories, cents):
        ax.annotate(str(name)[:14], (x, y), fontsize=fontsize, color="0.35")


# ---------------------------------------------------------------------------------------------
# rgb_array frames
# ---------------------------------------------------------------------------------------------


def _response_text(info: dict[str, np.ndarray]) -> str:
    chosen = int(info["chosen"])
    if chosen < 0:
        return "no click"
    text = (f"clicked #{chosen + 1}: completion {float(info['completion']):.2f}, "
            f"engagement {float(info['engagement']):.2f}, rating {int(info['rating'])}")
    if bool(info.get("purchased", False)):
        text += f", bought ({float(info['revenue']):.2f})"
    return text


class FrameRenderer:
    """Draws ``rgb_array`` frames of an ``Engine``'s users on one reused Agg figure."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._fig: Any = None
        # slot -> (generation, steps, path of projected interest points) since the user arrived
        self._paths: dict[int, tuple[int, int, list[tuple[float, float]]]] = {}

    def reset(self) -> None:
        """Forget the interest paths (the env was reset: every slot holds a new user)."""
        self._paths.clear()

    def close(self) -> None:
        """Release the figure; a later frame creates a new one."""
        self._fig = None
        self._paths.clear()

    def frames(
        self, users: Sequence[int], lasts: Sequence[LastStep | None]
    ) -> tuple[np.ndarray, ...]:
        """One (384, 640, 3) uint8 frame per slot in ``users``; ``lasts[i]`` is its last step
        (None before the first step)."""
        if self._fig is None:
            self._build()
        state = self.engine.state
        interest = state.interest.cpu().numpy()
        budget = state.budget.cpu().numpy()
        generation, steps = state.generation.cpu().numpy(), state.steps.cpu().numpy()
        out = []
        for user, last in zip(users, lasts):
            point = self._proj(interest[user])
            path = self._path(int(user), int(generation[user]), int(steps[user]), point)
            self._draw(int(user), last, path, float(budget[user]))
            out.append(self._blit())
        return tuple(out)

    def _blit(self) -> np.ndarray:
        """The static background (drawn once) with the changing artists drawn over it; the
        category labels, axes and titles are not drawn again."""
        self._canvas.restore_region(self._background)
        for artist in self._dynamic:
            self._fig.draw_artist(artist)
        return np.asarray(self._canvas.buffer_rgba())[..., :3].copy()

    def _path(self, user: int, generation: int, steps: int,
              point: np.ndarray) -> list[tuple[float, float]]:
        gen, seen, path = self._paths.get(user, (-1, -1, []))
        if gen != generation or steps < seen:
            path = []
        if steps != seen or not path:
            path = [*path, (float(point[0]), float(point[1]))]
        self._paths[user] = (generation, steps, path)
        return path

    def _build(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        h, w, _ = FRAME_SHAPE
        fig = Figure(figsize=(w / _DPI, h / _DPI), dpi=_DPI)
        self._canvas = FigureCanvasAgg(fig)
        self._fig = fig
        self._dynamic = [*self._build_text(fig), *self._build_map(fig), *self._build_budget(fig)]
        for artist in self._dynamic:
            artist.set_animated(True)  # left out of canvas.draw(): drawn by _blit
        self._canvas.draw()
        self._background = self._canvas.copy_from_bbox(fig.bbox)

    def _build_text(self, fig: Any) -> list[Any]:
        k = self.engine.config.slate_size
        self._header = fig.text(0.01, 0.955, "", fontsize=11, weight="bold", va="top")
        self._response = fig.text(0.01, 0.145, "", fontsize=8.5, va="top")
        self._rows = [fig.text(0.01, 0.86 - 0.66 * (i + 0.5) / k, "", fontsize=8, va="center",
                               family="monospace") for i in range(k)]
        return [self._header, self._response, *self._rows]

    def _build_map(self, fig: Any) -> list[Any]:
        catalog = self.engine.catalog
        self._proj = Projection.fit(self.engine.centroids.double().cpu().numpy(),
                                    catalog.categories)
        ax = fig.add_axes((0.585, 0.16, 0.4, 0.72))
        draw_category_map(ax, self._proj.centroids_2d, catalog.categories, fontsize=6)
        every = self._proj(catalog.embeddings)  # the map's extent: where items (and users) lie
        lo, hi = every.min(axis=0), every.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-6)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("interest on the category map (PCA of centroids)", fontsize=8)
        fig.text(0.585, 0.1, "● interest, — its path since arrival, · slate, ★ consumed",
                 fontsize=7, color="0.3")
        (self._items,) = ax.plot([], [], ".", color="tab:blue", ms=5, zorder=2)
        (self._chosen,) = ax.plot([], [], "*", color="tab:green", ms=12, zorder=4)
        (self._trail,) = ax.plot([], [], "-", color="tab:red", lw=1.2, alpha=0.7, zorder=3)
        (self._now,) = ax.plot([], [], "o", color="tab:red", ms=8, zorder=5)
        return [self._items, self._trail, self._chosen, self._now]

    def _build_budget(self, fig: Any) -> list[Any]:
        fig.text(0.01, 0.055, "budget", fontsize=8, va="center")
        ax = fig.add_axes((0.09, 0.03, 0.45, 0.05))
        ax.set_xlim(0.0, 1.0)
        ax.set_xticks([])
        ax.set_yticks([])
        self._bar = ax.barh([0.0], [0.0], height=1.0, color="tab:orange")[0]
        self._budget = fig.text(0.55, 0.055, "", fontsize=8, va="center")
        return [self._bar, self._budget]

    def _draw(self, user: int, last: LastStep | None, path: list[tuple[float, float]],
              budget: float) -> None:
        engine, cfg = self.engine, self.engine.config
        catalog = engine.catalog
        if last is None:
            head = f"{cfg.name} · user {user} · no step yet (reset)"
            rows, response, chosen = [""] * cfg.slate_size, "", -1
            items = np.zeros((0, 2))
        else:
            head = f"{cfg.name} · user {user} · step {last.step} · reward {last.reward:.2f}"
            if bool(last.info["churned"]):
                head += " · LEFT"
            if last.replaced:
                head += " → new user"
            chosen = int(last.info["chosen"])
            cats = np.asarray(catalog.category_ids)
            rows = [f"{k + 1:>2}. {_short(str(catalog.titles[i]), 40)} · "
                    f"{_short(str(catalog.categories[cats[i]]), 14)}"
                    for k, i in enumerate(last.slate_ids.tolist())]
            response = _response_text(last.info)
            items = self._proj(catalog.embeddings[last.slate_ids])
        self._header.set_text(head)
        self._response.set_text(response)
        for k, (text, row) in enumerate(zip(self._rows, rows)):
            text.set_text(row)
            on = k == chosen
            text.set_color("darkgreen" if on else "black")
            text.set_fontweight("bold" if on else "normal")
        self._items.set_data(items[:, 0], items[:, 1])
        star = items[chosen : chosen + 1] if chosen >= 0 else np.zeros((0, 2))
        self._chosen.set_data(star[:, 0], star[:, 1])
        pts = np.asarray(path)
        self._trail.set_data(pts[:, 0], pts[:, 1])
        self._now.set_data(pts[-1:, 0], pts[-1:, 1])
        budget_cfg = cfg.user_model.budget
        if budget_cfg.enabled:
            self._bar.set_width(float(np.clip(budget / budget_cfg.max_budget, 0.0, 1.0)))
            self._budget.set_text(f"{budget:.1f} / {budget_cfg.max_budget:g}")
        else:
            self._bar.set_width(0.0)
            self._budget.set_text("off (budget disabled)")
