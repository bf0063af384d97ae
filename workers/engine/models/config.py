"""Model and walk-forward configuration, and the one error type the model layer raises.

Configs are frozen dataclasses so that an artifact can record exactly what produced it
(`to_dict`) and rebuild it (`from_dict`), refusing unknown keys instead of ignoring them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

FEATURE_TRANSFORMS = ("raw", "cs_zscore", "cs_rank")
TARGET_NORMS = ("raw", "zscore", "rank")


class ModelError(ValueError):
    """Bad input to the model layer (shapes, NaN where not allowed, empty data), with the reason."""


C = TypeVar("C", bound="_Config")


class _Config:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise ModelError(f"{cls.__name__}: unknown config keys {sorted(unknown)}")
        return cls(**data)


def _check_choice(owner: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ModelError(f"{owner}.{name}={value!r}; expected one of {choices}")


@dataclass(frozen=True)
class LGBMConfig(_Config):
    """LightGBM route: a regressor for the forward excess return and a classifier for the downside
    event, combined into one score (see `LGBMModel.score`).

    Defaults favour speed and stability on ~1M-row daily panels: 63 histogram bins, leaves of at
    least 200 rows, bagging. Determinism: `deterministic=True`, `force_col_wise=True`, a fixed
    thread count and every LightGBM seed derived from `seed`, so the same data and config give
    the same trees bit for bit.

    `target_norm` (default "rank"): the regression target is replaced per bar by the gaussianised
    cross-sectional rank of the label. Raw daily prices carry split artefacts and fat tails; a
    per-bar rank keeps one bad print from steering the trees and removes the market-wide level,
    which a cross-sectional signal cannot use anyway.

    `downside_penalty` is lambda in score = pred_ret - lambda * p_down * typical_loss, where
    typical_loss is measured on the training rows in target units (see lgbm.py).
    """

    n_rounds: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 200
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_bin: int = 63
    num_threads: int = 2
    seed: int = 20240611
    feature_transform: str = "cs_zscore"
    target_norm: str = "rank"
    use_downside: bool = True
    downside_penalty: float = 0.5
    min_feature_coverage: float = 0.5

    def __post_init__(self) -> None:
        _check_choice("LGBMConfig", "feature_transform", self.feature_transform, FEATURE_TRANSFORMS)
        _check_choice("LGBMConfig", "target_norm", self.target_norm, TARGET_NORMS)
        if self.n_rounds < 1:
            raise ModelError(f"LGBMConfig.n_rounds must be >= 1, got {self.n_rounds}")
        if self.num_threads < 1:
            raise ModelError(f"LGBMConfig.num_threads must be >= 1, got {self.num_threads}")
        if self.downside_penalty < 0:
            raise ModelError(f"LGBMConfig.downside_penalty must be >= 0, got {self.downside_penalty}")
        if not 0.0 <= self.min_feature_coverage <= 1.0:
            raise ModelError(
                f"LGBMConfig.min_feature_coverage must be in [0, 1], got {self.min_feature_coverage}"
            )


@dataclass(frozen=True)
class RidgeConfig(_Config):
    """The transparent baseline: ridge regression on cross-sectionally z-scored features.

    Features are z-scored per bar across members and clipped at +-`clip`; a missing feature then
    becomes 0 (the cross-sectional mean), which is the neutral value for a linear model. `alpha`
    is scaled by the number of training rows (penalty alpha * n * ||beta||^2) so its meaning does
    not change with the window length. The intercept is not penalised.
    """

    alpha: float = 1e-3
    clip: float = 5.0
    feature_transform: str = "cs_zscore"
    target_norm: str = "rank"
    min_feature_coverage: float = 0.5

    def __post_init__(self) -> None:
        _check_choice("RidgeConfig", "feature_transform", self.feature_transform, FEATURE_TRANSFORMS)
        _check_choice("RidgeConfig", "target_norm", self.target_norm, TARGET_NORMS)
        if self.feature_transform == "raw":
            raise ModelError(
                "RidgeConfig.feature_transform='raw' is not supported: ridge needs comparable scales"
            )
        if self.alpha < 0:
            raise ModelError(f"RidgeConfig.alpha must be >= 0, got {self.alpha}")
        if self.clip <= 0:
            raise ModelError(f"RidgeConfig.clip must be > 0, got {self.clip}")
        if not 0.0 <= self.min_feature_coverage <= 1.0:
            raise ModelError(
                f"RidgeConfig.min_feature_coverage must be in [0, 1], got {self.min_feature_coverage}"
            )


@dataclass(frozen=True)
class WalkForwardConfig(_Config):
    """Forward-only walk-forward: test blocks of `retrain_every` bars from `test_start`; for each
    block a model is trained on past rows only.

    `label_horizon` (H) is how many future bars a label at t uses (labels.label_horizon_bars): the
    label of row t is known at the end of bar t + H. Purge: a training row t is used for a test
    block starting at a only if t + H + embargo < a, i.e. its label window [t+1, t+H] ends before
    the test block starts (and before the first test decision is made). Embargo: because training
    is forward-only, no training row ever lies after a test block, so the embargo is applied
    BEFORE the block as `embargo` extra bars between the last training label and the test start;
    it guards against serially correlated features/labels bridging the gap. Default embargo = H.

    `train_window`: None = expanding from bar 0, else the number of bars of training rows (rolling).
    `train_stride`: keep every k-th training bar (1 = all). With H-bar overlapping labels,
    neighbouring bars carry nearly the same target, so a stride up to H saves time at little cost.
    A fold with fewer than `min_train_rows` rows is skipped with a recorded reason (its block stays
    NaN in the signal); if every fold is skipped the run fails.
    """

    test_start: int
    label_horizon: int
    retrain_every: int = 63
    train_window: int | None = None
    embargo: int | None = None
    train_stride: int = 1
    min_train_rows: int = 5000
    test_end: int | None = None

    def __post_init__(self) -> None:
        if self.label_horizon < 1:
            raise ModelError(f"WalkForwardConfig.label_horizon must be >= 1, got {self.label_horizon}")
        if self.retrain_every < 1:
            raise ModelError(f"WalkForwardConfig.retrain_every must be >= 1, got {self.retrain_every}")
        if self.train_window is not None and self.train_window < 1:
            raise ModelError(f"WalkForwardConfig.train_window must be >= 1 or None, got {self.train_window}")
        if self.embargo is not None and self.embargo < 0:
            raise ModelError(f"WalkForwardConfig.embargo must be >= 0, got {self.embargo}")
        if self.train_stride < 1:
            raise ModelError(f"WalkForwardConfig.train_stride must be >= 1, got {self.train_stride}")
        if self.min_train_rows < 1:
            raise ModelError(f"WalkForwardConfig.min_train_rows must be >= 1, got {self.min_train_rows}")
        if self.test_start < 0:
            raise ModelError(f"WalkForwardConfig.test_start must be >= 0, got {self.test_start}")
        if self.test_end is not None and self.test_end <= self.test_start:
            raise ModelError(
                f"WalkForwardConfig.test_end={self.test_end} must be > test_start={self.test_start}"
            )

    @property
    def gap(self) -> int:
        """Bars between the last usable training row and the test start: H + embargo."""
        return self.label_horizon + (self.label_horizon if self.embargo is None else self.embargo)
