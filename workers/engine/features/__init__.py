"""The point-in-time feature library (framework-free; never imports Django).

Importing the package registers every feature (modules below, in dependency order). Public API:
`FEATURES`, `feature`, `feature_names`, `required_lookback`, `compute_features` -> `FeatureSet`,
`compute_features_last` (the live one-bar update). Point-in-time vendor data: see `pit`.
"""

from . import cross_sectional, freshness, market, price, risk, volume  # noqa: F401  (registration)
from .compute import FeatureSet, compute_features, compute_features_last
from .registry import FEATURES, KINDS, Feature, feature, feature_names, required_lookback

__all__ = [
    "FEATURES",
    "KINDS",
    "Feature",
    "FeatureSet",
    "compute_features",
    "compute_features_last",
    "feature",
    "feature_names",
    "required_lookback",
]
