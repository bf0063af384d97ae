"""Portfolio construction for Engine I: the cvxpy optimizer and the top-k equal-weight baseline,
both implementing `workers.engine.allocation.Allocator`. Framework-free (never imports Django)."""

from .allocator import OptimizerAllocator
from .baseline import TopKEqualWeight
from .bounds import AllocationInputError, Bounds, compute_bounds
from .config import OptimizerConfig, OptimizerConfigError
from .risk_model import FactorRiskModel, estimate_factor_model

__all__ = [
    "AllocationInputError",
    "Bounds",
    "FactorRiskModel",
    "OptimizerAllocator",
    "OptimizerConfig",
    "OptimizerConfigError",
    "TopKEqualWeight",
    "compute_bounds",
    "estimate_factor_model",
]
