"""Rule strategies, the one implementation: per-kind scores with the strategy registry's parameters,
and the target-weight panels built on those scores for baselines and peer cross-checks.

Scores (`ma_crossover`, `momentum`, `mean_reversion`) are (T, N) float64: a finite value is a long
view whose size ranks names, NaN is "no view" (never bought). They take exactly the parameters,
names and defaults of the desk's strategy registry (apps.strategies.registry), so a desk strategy
and a bench baseline are the same rule; `RULES` maps a kind's name to its score function and
`rule_signal` applies the point-in-time membership mask for the allocators.

Every rule reads rows <= t to produce row t (trailing windows only), so its output can be fed to
the backtest, which fills at the open of t+1. Weight panels use the backtest convention: a row of
NaN means "no decision at this bar" (positions are held), so a crossover strategy trades only on
its crossings instead of re-balancing drift every bar.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .features.ops import default_min_count, rmean, rstd, safe_div, safe_log, shift
from .panel import Panel


class RuleError(ValueError):
    """A rule parameter or input that makes no sense, named."""


def _as_2d(close: np.ndarray) -> np.ndarray:
    c = np.asarray(close, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2:
        raise RuleError(f"close must be (T,) or (T, N), got shape {c.shape}")
    return c


def _check_int(name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise RuleError(f"{name} must be an integer >= {lo}, got {value!r}")


def _finite_or_nan(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, np.nan)


def sma(close: np.ndarray, window: int) -> np.ndarray:
    """Trailing simple moving average (T, N) over the bars present in the last `window` rows: NaN
    until `window` rows exist, and where fewer than `default_min_count(window)` of them have a bar
    (all of a short window, 90% of a window of 10+, as the feature library's rolling means), so
    one missing hourly bar does not blank a 100-bar average for 100 bars. Each window is summed on
    its own (no running sum), so the value at t never depends on rows after t, nor on rounding
    carried from far earlier rows; without gaps it is the plain mean of the window."""
    _check_int("window", window, 1)
    c = _as_2d(close)
    out = np.full(c.shape, np.nan)
    if len(c) < window:
        return out
    missing = np.isnan(c)
    if not missing.any():
        out[window - 1 :] = sliding_window_view(c, window, axis=0).sum(axis=-1) / window
        return out
    present = (~missing).astype(np.float64)
    total = sliding_window_view(np.where(missing, 0.0, c), window, axis=0).sum(axis=-1)
    count = sliding_window_view(present, window, axis=0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[window - 1 :] = np.where(count >= default_min_count(window), total / count, np.nan)
    return out


def crossovers(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(up, down) bool (T, N): fast crosses above / below slow at t (the sign of fast - slow
    changes between t-1 and t; ties keep the previous sign, as backtrader's CrossOver does)."""
    diff = fast - slow
    sign = np.sign(diff)
    sign[~np.isfinite(diff)] = np.nan
    # carry the last non-zero sign through exact ties
    last = np.where(sign == 0, np.nan, sign)
    ties = sign == 0
    for t in np.flatnonzero(ties.any(axis=1)):
        if t > 0:
            last[t, ties[t]] = last[t - 1, ties[t]]
    up = np.zeros(diff.shape, dtype=bool)
    down = np.zeros(diff.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (last[:-1] < 0) & (diff[1:] > 0)
        down[1:] = (last[:-1] > 0) & (diff[1:] < 0)
    return up, down


# --- scores: (T, N), finite = long view (bigger = stronger), NaN = no view -------------------------


def ma_spread(close: np.ndarray, *, fast: int = 20, slow: int = 100) -> np.ndarray:
    """fast SMA / slow SMA - 1, signed (NaN until both windows are full). For positive prices its
    sign is exactly the sign of fast SMA - slow SMA (correctly rounded division never rounds a
    ratio of distinct floats to 1), so crossings of it are crossings of the two averages."""
    _check_int("fast", fast, 1)
    _check_int("slow", slow, 2)
    if fast >= slow:
        raise RuleError(f"fast window ({fast}) must be shorter than slow window ({slow})")
    c = _as_2d(close)
    return _finite_or_nan(safe_div(sma(c, fast), sma(c, slow)) - 1.0)


def ma_crossover(close: np.ndarray, *, fast: int = 20, slow: int = 100) -> np.ndarray:
    """Long names whose fast SMA is above the slow SMA; score = how far above (fast/slow - 1)."""
    spread = ma_spread(close, fast=fast, slow=slow)
    with np.errstate(invalid="ignore"):
        return np.where(spread > 0, spread, np.nan)


def momentum(close: np.ndarray, *, lookback: int = 120, skip: int = 5) -> np.ndarray:
    """Trailing log return from t-lookback to t-skip: the most recent `skip` bars are left out, as
    short-horizon returns tend to reverse. skip=0 is the plain trailing return."""
    _check_int("lookback", lookback, 1)
    _check_int("skip", skip, 0)
    if skip >= lookback:
        raise RuleError(f"skip ({skip}) must be less than lookback ({lookback})")
    log_close = safe_log(_as_2d(close))
    return _finite_or_nan(shift(log_close, skip) - shift(log_close, lookback))


def mean_reversion(close: np.ndarray, *, lookback: int = 20, entry_z: float = 1.0) -> np.ndarray:
    """Long names more than `entry_z` standard deviations (sample, over the trailing `lookback`
    bars including t) below their `lookback` mean; score = -z, so the most stretched rank first.
    A flat window (zero deviation) has no z and no view."""
    _check_int("lookback", lookback, 2)
    if (
        isinstance(entry_z, bool)
        or not isinstance(entry_z, int | float | np.number)
        or not np.isfinite(entry_z)
        or entry_z <= 0
    ):
        raise RuleError(f"entry_z must be a finite number > 0, got {entry_z!r}")
    c = _as_2d(close)
    z = safe_div(c - rmean(c, lookback), rstd(c, lookback))
    with np.errstate(invalid="ignore"):
        return np.where(z < -entry_z, -z, np.nan)


RuleFn = Callable[..., np.ndarray]

# Kind name -> score function. The strategy registry names these; nothing resolves a rule from a
# module path, so user input can only select one of them.
RULES: dict[str, RuleFn] = {
    "ma_crossover": ma_crossover,
    "momentum": momentum,
    "mean_reversion": mean_reversion,
}


def rule_params(rule: str) -> dict[str, Any]:
    """{parameter: default} of a registered rule (the registry's params schema must match it)."""
    fn = _rule(rule)
    return {
        name: p.default for name, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY
    }


def _rule(rule: str) -> RuleFn:
    try:
        return RULES[rule]
    except (KeyError, TypeError):
        raise RuleError(f"unknown rule {rule!r}; registered: {', '.join(RULES)}") from None


def rule_signal(panel: Panel, *, rule: str, params: Mapping[str, Any]) -> np.ndarray:
    """(T, N) scores of a registered rule on the panel's closes, for the desk's allocators: NaN
    for non-members at t (never bought) and wherever the rule has no view."""
    fn = _rule(rule)
    unknown = sorted(set(params) - set(rule_params(rule)))
    if unknown:
        raise RuleError(
            f"rule {rule!r} has no parameter(s) {', '.join(unknown)}; it takes {', '.join(rule_params(rule))}"
        )
    scores = fn(panel.close, **params)
    return np.where(panel.member & np.isfinite(scores), scores, np.nan)


# --- weight panels (backtest targets; NaN row = no decision) for baselines and peer checks -----


def ma_crossover_weights(close: np.ndarray, *, fast: int = 10, slow: int = 30) -> np.ndarray:
    """Long-only MA crossover, all-in per name split equally across names: enter when the fast SMA
    crosses above the slow one (the `ma_crossover` spread turns positive), exit when it crosses
    below. Rows without any crossing are NaN (no decision); on a decision row each name gets 1/N if
    it is (or becomes) long, else 0. Like backtrader, a name already above at the start waits for
    its first crossing."""
    spread = ma_spread(close, fast=fast, slow=slow)
    up, down = crossovers(spread, np.zeros_like(spread))
    T, N = spread.shape
    state = np.zeros(N)
    weights = np.full((T, N), np.nan)
    for t in np.flatnonzero(up.any(axis=1) | down.any(axis=1)):
        state = np.where(up[t], 1.0, np.where(down[t], 0.0, state))
        weights[t] = state / N
    return weights


def momentum_weights(
    close: np.ndarray, *, lookback: int = 60, skip: int = 0, top_k: int = 10, every: int = 20
) -> np.ndarray:
    """Cross-sectional momentum baseline: every `every` bars, equal weight on the `top_k` names
    with the highest `momentum` score (names without a full window are skipped)."""
    score = momentum(close, lookback=lookback, skip=skip)
    return _top_k_weights(score, top_k=top_k, every=every, start=lookback)


def mean_reversion_weights(
    close: np.ndarray, *, lookback: int = 5, entry_z: float = 1.0, top_k: int = 10, every: int = 5
) -> np.ndarray:
    """Mean-reversion baseline: every `every` bars, equal weight on the `top_k` names most
    stretched below their mean by the `mean_reversion` score (none qualifying: all cash)."""
    score = mean_reversion(close, lookback=lookback, entry_z=entry_z)
    return _top_k_weights(score, top_k=top_k, every=every, start=lookback)


def _top_k_weights(score: np.ndarray, *, top_k: int, every: int, start: int) -> np.ndarray:
    """Decision rows start, start + every, ... (start = the rule's lookback: the first bar with a
    full lookback of history behind it, the same schedule for every ranked rule); on each, 1/k
    on the k <= top_k best finite scores (ties: lower column first), 0 elsewhere."""
    _check_int("top_k", top_k, 1)
    _check_int("every", every, 1)
    T, N = score.shape
    weights = np.full((T, N), np.nan)
    for t in range(start, T, every):
        ok = np.flatnonzero(np.isfinite(score[t]))
        row = np.zeros(N)
        if len(ok):
            chosen = ok[np.argsort(-score[t, ok], kind="stable")[:top_k]]
            row[chosen] = 1.0 / len(chosen)
        weights[t] = row
    return weights
