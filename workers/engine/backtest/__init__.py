"""The backtester: a compiled bar loop (numba) with costs, next-open fills, participation, cash and a
risk governor."""

from .config import BacktestConfig, BacktestConfigError, BacktestInputError
from .governor import STATES, TRANSITIONS, Governor, GovernorConfig, GovernorError
from .inputs import SimInputs, build_inputs
from .result import FILL_DTYPE, ORDER_DTYPE, BacktestResult
from .simulator import run_backtest

__all__ = [
    "BacktestConfig",
    "BacktestConfigError",
    "BacktestInputError",
    "BacktestResult",
    "FILL_DTYPE",
    "Governor",
    "GovernorConfig",
    "GovernorError",
    "ORDER_DTYPE",
    "STATES",
    "SimInputs",
    "build_inputs",
    "TRANSITIONS",
    "run_backtest",
]
