"""What the ``driftrec`` subcommands share: defaults, the one-line ``CLIError``, and the checks of
names, devices, encoders and output folders.

A module of its own so that the command modules (``realdata``, ``training``, ``runfolder``,
``rllib_training``, ``bench_command``) import these without importing ``cli`` (which imports
them): the dependency runs one way, ``cli`` → commands → ``options``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

#: Standard suite when ``driftrec bench`` has no flags (sized to finish within 10 minutes on two
#: CPU cores with a cached catalog; see docs/metrics.md for the measurement).
#: SlateQ, the transformer and the SB3 learners are one `--agents` away; each alone costs more than
#: this whole default suite on two cores (measured: SlateQ ≈ 440 s of a 565 s run).
DEFAULT_AGENTS: tuple[str, ...] = ("random", "popular", "greedy", "oracle", "linucb", "thompson")
DEFAULT_SEEDS = 3
DEFAULT_USERS = 64
DEFAULT_STEPS: int | None = None  # None: each scenario's session limit (max_steps)
DEFAULT_TRAIN_STEPS = 200  # the bandits need ~200 logged steps to beat popular in news

#: ``--quick``: a smoke-test run (seconds) — two seeds so the bands exist.
QUICK = {"agents": ("random", "popular", "greedy"), "seeds": 2, "users": 8, "steps": 8,
         "train_steps": 4}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _names(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """Accept ``--agents a b``, ``--agents a,b`` or a mix; keep order, drop repeats."""
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if name and name not in out:
                out.append(name)
    return tuple(out)


def scenario_names() -> dict[str, str]:
    """Scenario name → one-line description."""
    import driftrec.envs.presets as presets_module
    from driftrec.envs import SCENARIOS

    doc = presets_module.__doc__ or ""
    return {name: _describe_scenario(name, cfg, doc) for name, cfg in SCENARIOS.items()}


def _describe_scenario(name: str, cfg: Any, doc: str) -> str:
    """The preset's own description if it has one, else its first sentence in the presets
    module's "Presets" list, plus the facts that matter when choosing one."""
    text = str(getattr(cfg, "description", "") or "").strip()
    if not text:
        marker = f"- ``{name}``:"
        lines = [line.strip() for line in doc.splitlines()]
        for i, line in enumerate(lines):
            if line.startswith(marker):
                bullet = [line[len(marker):]]
                for more in lines[i + 1:]:
                    if not more or more.startswith("- "):
                        break
                    bullet.append(more)
                text = " ".join(" ".join(bullet).split()).split(". ")[0].rstrip(".")
                break
    facts = (f"{cfg.domain} catalog, N={cfg.num_candidates} candidates, K={cfg.slate_size}, "
             f"sessions up to {cfg.max_steps} steps")
    return f"{text} ({facts})" if text else facts


def agent_names() -> dict[str, str]:
    """Agent name → one-line description."""
    from driftrec.agents import AGENTS

    return {name: spec.description for name, spec in AGENTS.items()}


def _calibration_file(name: str, flag: str = "--scenarios") -> bool:
    """Whether a ``--scenarios`` entry is a calibration file (one that does not load is a
    one-line error)."""
    from driftrec.envs.scenarios import is_calibration_path

    if not is_calibration_path(name):
        return False
    from driftrec.envs.calibration import load_calibration

    try:
        load_calibration(name)
    except (ValueError, KeyError, OSError) as exc:
        raise CLIError(f"{flag} {name!r}: {exc}") from None
    return True


def check_names(kind: str, names: Sequence[str], valid: Sequence[str]) -> None:
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise CLIError(f"unknown {kind} {', '.join(map(repr, unknown))}; "
                       f"valid {kind}s: {', '.join(valid)}")


def check_device(device: str) -> None:
    """``--device`` through the library's one device check, as a CLI error."""
    from driftrec.encoders.device import check_device as check_torch_device

    try:
        check_torch_device(device)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"invalid --device {device!r}: {exc}") from None


def check_encoder(spec: str) -> None:
    if spec in ("minilm", "hashing"):
        return
    if not Path(spec).is_dir():
        raise CLIError(f"--encoder {spec!r}: expected minilm, hashing or an existing local "
                       "model folder")


def prepare_out_dir(out: str | None, default_name: str, overwrite: bool,
                    resume: bool = False) -> Path:
    """Create (or accept) the output folder; refuse a non-empty one unless allowed; probe it.

    ``resume`` needs an existing folder (the run to continue): a mistyped ``--out`` is an error,
    not a new empty run."""
    if resume:
        _check_resume(out, overwrite)
    path = Path(out) if out else Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{default_name}"
    if resume and not path.is_dir():
        raise CLIError(f"--resume: no run folder {str(path)!r}; expected the --out folder of an "
                       "earlier run")
    if path.exists() and not path.is_dir():
        raise CLIError(f"output folder {str(path)!r} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not (overwrite or resume):
        raise CLIError(f"output folder {str(path)!r} is not empty; use --overwrite to write "
                       "into it anyway (or choose another --out)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".driftrec-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"cannot write to output folder {str(path)!r}: "
                       f"{exc.strerror or exc}") from None
    return path


def _check_resume(out: str | None, overwrite: bool) -> None:
    if overwrite:
        raise CLIError("--resume and --overwrite contradict each other (--resume continues the "
                       "run in --out, --overwrite starts a new one there); give one of them")
    if not out:
        raise CLIError("--resume needs --out, the folder of the run to continue")
