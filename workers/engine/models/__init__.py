"""Signal models (framework-free): LightGBM route, ridge baseline, walk-forward training,
artifacts and the signal quality report. Never imports Django."""

from .artifact import load_model, model_from_dict, model_to_dict, save_model
from .config import LGBMConfig, ModelError, RidgeConfig, WalkForwardConfig
from .lgbm import LGBMModel
from .linear import RidgeModel
from .report import SignalReport, signal_report, top_features
from .transforms import normalise_target, transform_features
from .walkforward import FoldRecord, WalkForwardResult, fold_bounds, walk_forward

__all__ = [
    "FoldRecord",
    "LGBMConfig",
    "LGBMModel",
    "ModelError",
    "RidgeConfig",
    "RidgeModel",
    "SignalReport",
    "WalkForwardConfig",
    "WalkForwardResult",
    "fold_bounds",
    "load_model",
    "model_from_dict",
    "model_to_dict",
    "normalise_target",
    "save_model",
    "signal_report",
    "top_features",
    "transform_features",
    "walk_forward",
]
