"""Settings of a calibration run: ``CalibrationConfig`` (the fit in the encoder's space) and
``AdapterConfig`` (the behaviour-tuned item space), typed and checked at construction."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check_int


@dataclass(frozen=True)
class CalibrationConfig:
    """Settings of a calibration run.

    ``max_train_steps``: held-in steps per user in the likelihood (the first ones after init; the
    rest are replayed without being scored) — bounds the cost of each L-BFGS evaluation. ``warmup``: last init items replayed through satiation before scoring starts, so the
    first scored step does not see a bored-of-nothing user. ``implicit_rating``: the rating used
    for drift when the log has none (MIND clicks). ``use_impressions``: where the data set
    records what was shown (MIND), score the held-in/held-out steps against the shown lists,
    with the no-click option (so ``no_click_utility`` is fitted); ``max_slate``: longer shown
    lists keep their clicked items and the first others up to this width.
    """

    max_train_steps: int = 48
    warmup: int = 10
    quadrature: int = 9
    fit_spread: bool = True
    max_iter: int = 25
    batch_users: int = 64
    implicit_rating: float = 4.0
    hit_k: int = 10
    max_slate: int = 100
    use_impressions: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("max_train_steps", "quadrature", "max_iter", "batch_users", "hit_k",
                     "max_slate"):
            check_int("CalibrationConfig", name, getattr(self, name))
        if self.warmup < 0:
            raise ValueError(f"CalibrationConfig.warmup must be >= 0, got {self.warmup!r}")
        if not 1.0 <= self.implicit_rating <= 5.0:
            raise ValueError("CalibrationConfig.implicit_rating must be in [1, 5]")


@dataclass(frozen=True)
class AdapterConfig:
    """Settings of an adapter fit (``adapter_fit.py``).

    ``dim``: k, the adapted space's dimension; ``valid_steps``: last held-in events per user
    scored for early stopping (never fitted); ``patience``: epochs without a better validation
    log-likelihood before stopping; ``lr_decay``: the learning rate's factor after each such
    epoch. ``max_train_steps``: held-in events scored per user (None: every one before the
    validation slice). ``init``: W's starting point, "cooccurrence" (the text map that best
    fits the held-in co-occurrence's spectral factors, ``likelihood.cooccurrence_basis``) or
    "pca" (the text space's principal directions). ``start_satiation_rate``: the satiation
    rate the fit starts from (None: the preset's) — small, because with the preset's boredom
    the fit starts in a saddle where boredom cancels the interest term it is learning (items
    like the last ones are both more interesting and more boring) and sits there for epochs;
    the data then raise the rate as far as they support it. ``residual_l2`` > 0 adds a per-item residual δ_j to W e_j for the items of the fitted catalog, with the Gaussian prior
    penalty residual_l2·||δ||² (a rare item's δ stays near zero; a new item has none).
    ``fit_spread``: also fit the per-user spread σ of the interest weight
    (``heterogeneity.interest_spread``: β_b = β exp(σ h − σ²/2)), integrated out per user by
    ``quadrature`` Gauss-Hermite nodes as the raw fit does, from ``start_spread`` (None: the
    preset's σ; 0.2 where it has none). Off by default; its effect on ml-100k is in
    docs/fidelity.md. Each node adds a softmax over the catalog per step (9 nodes: ~3x the cost).
    """

    dim: int = 128
    max_epochs: int = 40
    patience: int = 4
    batch_users: int = 32
    learning_rate: float = 0.05
    lr_decay: float = 0.5
    residual_l2: float = 1.0
    init: str = "cooccurrence"
    start_satiation_rate: float | None = 0.01
    max_train_steps: int | None = None
    valid_steps: int = 5
    warmup: int = 10
    implicit_rating: float = 4.0
    hit_k: int = 10
    seed: int = 0
    fit_spread: bool = False
    quadrature: int = 9
    start_spread: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("dim", "max_epochs", "patience", "batch_users", "valid_steps", "hit_k",
                     "quadrature"):
            check_int("AdapterConfig", name, getattr(self, name))
        check_int("AdapterConfig", "max_train_steps", self.max_train_steps, none_means="all")
        check_int("AdapterConfig", "warmup", self.warmup, minimum=0)
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise ValueError(f"AdapterConfig.learning_rate must be in (0, 10), got "
                             f"{self.learning_rate!r}")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"AdapterConfig.lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if not (isinstance(self.residual_l2, (int, float)) and self.residual_l2 >= 0):
            raise ValueError(f"AdapterConfig.residual_l2 must be a number >= 0 (0 = no per-item "
                             f"residual), got {self.residual_l2!r}")
        rate = self.start_satiation_rate
        if rate is not None and not (isinstance(rate, (int, float)) and 0 < rate < 100):
            raise ValueError(f"AdapterConfig.start_satiation_rate must be in (0, 100) or None "
                             f"(the preset's), got {rate!r}")
        if self.init not in ("cooccurrence", "pca"):
            raise ValueError(f"AdapterConfig.init must be 'cooccurrence' or 'pca', got "
                             f"{self.init!r}")
        if not 1.0 <= self.implicit_rating <= 5.0:
            raise ValueError(f"AdapterConfig.implicit_rating must be in [1, 5], got "
                             f"{self.implicit_rating!r}")
        if not isinstance(self.fit_spread, bool):
            raise TypeError(f"AdapterConfig.fit_spread must be True or False, got "
                             f"{self.fit_spread!r}")
        if self.fit_spread and self.quadrature < 2:
            raise ValueError(f"AdapterConfig.quadrature must be >= 2 to fit the spread (one "
                             f"node is h = 0: no spread), got {self.quadrature!r}")
        spread = self.start_spread
        if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, float))
                                   or not 0 < spread <= 3):
            raise ValueError(f"AdapterConfig.start_spread must be in (0, 3] or None (the "
                             f"preset's), got {spread!r}")
