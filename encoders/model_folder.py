"""Check a local model folder before handing it to sentence-transformers or transformers.

Why: given an empty or half-copied folder, the libraries fail with messages about their own
internals ("Couldn't instantiate the backend tokenizer from one of: (1) a `tokenizers` library
serialization file ..."), which do not say that a file is missing or which one. Here the error
names the folder, what is missing and the layout that was expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ST_MARKERS = ("modules.json", "config_sentence_transformers.json")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")
TOKENIZER_PATTERNS = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")
TRANSFORMERS_LAYOUT = (
    "a transformers folder with config.json, weights (model.safetensors or pytorch_model.bin) "
    "and tokenizer files (tokenizer.json, vocab.txt, vocab.json or a sentencepiece *.model)"
)
ST_LAYOUT = (
    "a sentence-transformers folder (modules.json listing its modules, and the Transformer "
    "module's config.json, weights and tokenizer)"
)


def check_model_folder(path: Path) -> str:
    """Return ``"sentence-transformers"`` or ``"transformers"`` for a complete model folder.

    Raises:
        ValueError: naming the folder, the missing or malformed file and the expected layout.
    """
    if not any(path.iterdir()):
        raise ValueError(f"model folder {str(path)!r} is empty; expected {ST_LAYOUT} or "
                         f"{TRANSFORMERS_LAYOUT}")
    if not any((path / marker).is_file() for marker in ST_MARKERS):
        _check_transformers_folder(path, path)
        return "transformers"
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        _check_transformers_folder(path, path)  # sentence-transformers wraps the root folder
        return "sentence-transformers"
    modules = _read_json(modules_file, path, ST_LAYOUT)
    if not isinstance(modules, list) or not modules or not all(
        isinstance(m, dict) and isinstance(m.get("path"), str) for m in modules
    ):
        raise ValueError(f"model folder {str(path)!r}: modules.json is {_short(modules)}; "
                         "expected a non-empty list of modules, each with a 'path'")
    for module in modules:
        if str(module.get("type", "")).endswith("Transformer"):
            _check_transformers_folder(path / module["path"], path)
    return "sentence-transformers"


def _check_transformers_folder(folder: Path, root: Path) -> None:
    where = f"model folder {str(root)!r}" + ("" if folder == root else f" (module {folder.name})")
    if not folder.is_dir():
        raise ValueError(f"{where}: module folder {str(folder)!r} is missing; expected {ST_LAYOUT}")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{where} has no config.json; expected {TRANSFORMERS_LAYOUT}")
    config = _read_json(config_file, root, TRANSFORMERS_LAYOUT)
    if not isinstance(config, dict):
        # A file's content, not an argument's type: ValueError, as for malformed JSON.
        raise ValueError(  # noqa: TRY004
            f"{where}: config.json is {_short(config)}; expected a JSON object"
        )
    for what, patterns in (("weights", WEIGHT_PATTERNS), ("tokenizer files", TOKENIZER_PATTERNS)):
        if not any(next(folder.glob(p), None) for p in patterns):
            raise ValueError(f"{where} has no {what} (looked for {', '.join(patterns)}); "
                             f"expected {TRANSFORMERS_LAYOUT}")


def _read_json(file: Path, root: Path, layout: str) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model folder {str(root)!r}: {file.name} is not valid UTF-8 JSON "
                         f"({exc}); expected {layout}") from None


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
