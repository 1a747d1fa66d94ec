"""The agent's view of item (and profile) embeddings — the "agent view" knob.

A real recommender does not see the simulator's embedding space. Views:
``same`` (identity), ``pca`` (projection on the catalog's top ``agent_dim`` principal directions,
unit rows: a cheaper, lossy view), ``noise`` (true embedding + N(0, agent_noise²) per coordinate,
renormalised, fixed per env: a mis-specified feature extractor), ``encoder`` (the item texts
encoded by another encoder: a different language model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import rng
from .config import ScenarioConfig


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class AgentView:
    """Maps catalog-space vectors (·, d) to agent-side vectors (·, d_a)."""

    kind: str
    dim: int
    mean: np.ndarray | None = None  # (d,) for pca
    components: np.ndarray | None = None  # (d_a, d) for pca

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Agent-side version of catalog-space vectors (profiles). Identity for same/noise."""
        x = np.asarray(x, dtype=np.float32)
        if self.kind == "pca":
            return _unit((x - self.mean) @ self.components.T)
        return x


def build_agent_view(catalog, config: ScenarioConfig) -> tuple[AgentView, np.ndarray, object]:
    """Returns (view, item embeddings (M, d_a) float32, agent encoder or None)."""
    emb = np.asarray(catalog.embeddings, dtype=np.float32)
    m, d = emb.shape
    if config.agent_view == "same":
        return AgentView("same", d), emb, None
    if config.agent_view == "pca":
        if config.agent_dim >= d:
            raise ValueError(
                f"agent_dim={config.agent_dim} must be < the embedding dim {d} for pca"
            )
        mean = emb.mean(axis=0)
        _, _, vh = np.linalg.svd((emb - mean).astype(np.float64), full_matrices=False)
        comps = vh[: config.agent_dim].astype(np.float32)
        view = AgentView("pca", config.agent_dim, mean.astype(np.float32), comps)
        return view, view.transform(emb), None
    if config.agent_view == "noise":
        key = rng.mix(rng.STREAM_AGENT_VIEW, torch.arange(m))
        z = rng.normal(key, d).numpy()
        return AgentView("noise", d), _unit(emb + config.agent_noise * z), None
    from driftrec.encoders import load_encoder

    encoder = load_encoder(config.agent_encoder)
    items = np.asarray(encoder.encode(list(catalog.texts)), dtype=np.float32)
    return AgentView("encoder", int(items.shape[1])), items, encoder
