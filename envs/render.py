"""Text rendering: one readable line per user-step (slate titles and what the user did)."""

from __future__ import annotations

from typing import Any

import numpy as np


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
