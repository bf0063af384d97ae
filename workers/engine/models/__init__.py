"""Signal models (framework-free): LightGBM route, ridge baseline, walk-forward training,
artifacts and the signal quality report. Never imports Django."""

from .artifact import load_model, model_from_dict, model_to_dict, save_model
from .config import LGBMConfig, ModelError, RidgeConfig, WalkForwardConfig
from .lgbm import LGBMModel
from .linear import RidgeModel
from .transforms import normalise_target, transform_features

__all__ = [
    "LGBMConfig",
    "LGBMModel",
    "ModelError",
    "RidgeConfig",
    "RidgeModel",
    "WalkForwardConfig",
    "load_model",
    "model_from_dict",
    "model_to_dict",
    "normalise_target",
    "save_model",
    "transform_features",
]
