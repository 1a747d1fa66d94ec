"""A plain ``transformers`` encoder for any local model directory (AutoTokenizer + AutoModel).

Pooling turns the last hidden states ``(n, L, h)`` into one vector per text:

- ``"mean"``: average over non-padding tokens — how sentence encoders (BERT, MiniLM) are trained;
- ``"last"``: the hidden state of the last non-padding token — for decoder LLMs, where only the
  last position has attended to the whole text. Works with left or right padding, because the
  position is read from the attention mask rather than assumed.

Texts are sorted by length before batching so each batch pads little; results return in input
order. The output does not depend on ``batch_size`` or the padding side beyond float rounding:
padding is masked and position ids count from each text's first real token.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import (
    batches,
    l2_normalize,
    validate_batch_size,
    validate_texts,
    want_progress_bar,
)
from .cleaning import clean_text
from .device import check_device
from .revision import directory_revision
from .sentence import force_offline

POOLINGS = ("mean", "last")
_DEFAULT_MAX_LENGTH = 512


class TransformersEncoder:
    """A ``TextEncoder`` built from a local Hugging Face model directory."""

    def __init__(
        self,
        path: str | Path,
        *,
        pooling: str = "mean",
        device: str = "cpu",
        max_length: int | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        """``cache_dir`` holds the memo of the weights' digests (see ``revision``)."""
        path = Path(path)
        if not path.is_dir():
            raise ValueError(f"model directory {str(path)!r} does not exist")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
        if max_length is not None and max_length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}")
        device = check_device(device)
        force_offline()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.path = path
        self.pooling = pooling
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        if self.tokenizer.pad_token is None:
            # Decoder LLMs often ship without a pad token; any token works because padding is
            # masked out of both poolings.
            if self.tokenizer.eos_token is None:
                raise ValueError(f"tokenizer in {str(path)!r} has neither a pad nor an eos token")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.model.to(self.device).eval()
        self._takes_position_ids = (
            "position_ids" in inspect.signature(self.model.forward).parameters
        )
        self.max_length = self._resolve_max_length(max_length)
        hidden = getattr(self.model.config, "hidden_size", None) or getattr(
            self.model.config, "d_model", None
        )
        if hidden is None:
            raise ValueError(f"cannot tell the hidden size of the model in {str(path)!r}")
        self.dim = int(hidden)
        revision = directory_revision(path, cache_dir=cache_dir)
        self.name = f"hf:{path.name}:{pooling}:{self.max_length}@{revision}"

    def _resolve_max_length(self, max_length: int | None) -> int:
        """Truncate to the smallest of the request, the tokenizer's and the model's limits.

        ``model_max_length`` is a huge sentinel when a tokenizer does not know its limit, so the
        model's position-embedding count and a default cap apply too.
        """
        limits = [max_length or _DEFAULT_MAX_LENGTH]
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_limit, int) and 0 < tok_limit < 10**6:
            limits.append(tok_limit)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        return min(limits)

    def __repr__(self) -> str:
        return (
            f"TransformersEncoder({str(self.path)!r}, pooling={self.pooling!r}, "
            f"device={str(self.device)!r}, max_length={self.max_length})"
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Return float32 (n, dim) unit rows for the cleaned texts, in input order."""
        import torch

        items = [clean_text(t) for t in validate_texts(texts)]
        batch_size = validate_batch_size(batch_size)
        order = np.argsort([-len(t) for t in items], kind="stable")
        out = np.empty((len(items), self.dim), dtype=np.float32)
        progress = want_progress_bar(show_progress_bar, len(items))
        with torch.inference_mode():
            for part in batches(len(items), batch_size, progress=progress, desc=self.name):
                index = order[part]
                tokens = self.tokenizer(
                    [items[i] for i in index],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                inputs = dict(tokens)
                if self._takes_position_ids:
                    # Count positions from the first real token, so a left-padded text sees the
                    # same positions as when encoded alone (absolute and rotary embeddings alike).
                    inputs["position_ids"] = (tokens["attention_mask"].cumsum(dim=1) - 1).clamp(
                        min=0
                    )
                hidden = self.model(**inputs).last_hidden_state
                pooled = pool(hidden, tokens["attention_mask"], self.pooling)
                out[index] = pooled.float().cpu().numpy()
        return l2_normalize(out)


def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """Pool hidden states ``(n, L, h)`` with attention mask ``(n, L)`` into ``(n, h)``."""
    import torch

    if pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    if pooling == "last":
        # Index of the last 1 in each mask row: right padding → length − 1, left padding → L − 1.
        positions = torch.arange(mask.shape[1], device=mask.device)
        last = (mask.to(torch.long) * (positions + 1)).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
