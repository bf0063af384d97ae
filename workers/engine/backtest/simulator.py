"""The bar loop: decide at the close of t, fill at the open of t+1, mark at the close.

Conventions (the contract the guarantee tests check):
- Orders are in shares, decided at the close of bar t from data known at t: target weight x
  equity_t x (1 - cash_buffer) / close_t (last known close when the name has no bar at t).
- Fills happen at the open of t+1 at the raw open; costs are deducted from cash (equivalent to
  buying at open + cost/qty and selling at open - cost/qty).
- A fill is at most `participation` x volume of the fill bar; names with no bar (or zero volume)
  at t+1 cannot trade; the unfilled rest is cancelled or carried (`remainder`). A new decision
  replaces whatever is still pending, since it is sized from the current position.
- Sells are processed before buys; sells never exceed the position (no shorts). Buys are scaled
  down (and floored in integer mode) so that cash after costs is never negative.
- Names that leave the universe get a target of 0 (sold), on every bar, rebalance or not.
- Target weights: NaN = keep the position (no order); negative weights are an error; each weight
  is capped at `max_weight`, and the gross is scaled down to the governor's exposure cap.
- Positions are marked to the close (last known close when a name has no bar).

Speed: the bars run in one compiled loop (barloop.py, numba); this module validates, lays the
config out as flat arrays and, on the allocator path, asks the allocator at each rebalance bar.
Records are dense (T, N) float arrays written row by row; structured order / fill records are
derived afterwards (result.py).
"""

from __future__ import annotations

import time

import numpy as np

from ..allocation import Allocator
from ..decide.step import allocate_bar, allocation_context
from ..panel import Panel
from . import barloop
from .config import BacktestConfig, BacktestInputError
from .governor import ALLOWED as GOVERNOR_ALLOWED
from .governor import STATES, GovernorError, history_from_codes
from .inputs import SimInputs, build_inputs
from .result import BacktestResult
from .sizing import loop_settings, target_shares


def _check_targets(panel: Panel, targets: np.ndarray) -> np.ndarray:
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    if targets.shape != panel.shape:
        raise BacktestInputError(
            f"target weights must have the panel's shape {panel.shape}, got {targets.shape}"
        )
    return targets


def _bad_target_error(panel: Panel, targets: np.ndarray, t: int, i: int) -> BacktestInputError:
    if np.isinf(targets[t, i]):
        return BacktestInputError(f"target weight for {panel.symbols[i]} at row {t} is infinite")
    return BacktestInputError(
        f"target weight for {panel.symbols[i]} at row {t} is negative (long-only engine)"
    )


def run_backtest(
    panel: Panel,
    config: BacktestConfig | None = None,
    *,
    targets: np.ndarray | None = None,
    allocator: Allocator | None = None,
    alpha: np.ndarray | None = None,
    inputs: SimInputs | None = None,
) -> BacktestResult:
    """Simulate `panel` either from a precomputed (T, N) target-weight panel (fast path; a row of
    all NaN means no rebalance at that bar) or by calling `allocator` every `rebalance_every` bars
    with an AllocationContext built from data known at t (`alpha` is the (T, N) signal panel).

    `inputs` (from `build_inputs(panel, config)`) may be passed to reuse the market-derived arrays
    across many runs on the same panel (parameter sweeps, the benchmark's core timing)."""
    config = config or BacktestConfig()
    if (targets is None) == (allocator is None):
        raise BacktestInputError("give exactly one of targets (fast path) or allocator")
    if allocator is not None:
        if alpha is None:
            raise BacktestInputError("the allocator path needs an alpha panel")
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.shape != panel.shape:
            raise BacktestInputError(f"alpha must have the panel's shape {panel.shape}, got {alpha.shape}")
    else:
        targets = _check_targets(panel, targets)
    if inputs is None:
        inputs = build_inputs(panel, config)
    elif inputs.panel is not panel or not inputs.matches(config):
        raise BacktestInputError(
            "inputs were prepared for another panel or another market-input configuration"
        )
    return _simulate(panel, config, inputs, targets=targets, allocator=allocator, alpha=alpha)


def _simulate(
    panel: Panel,
    config: BacktestConfig,
    inputs: SimInputs,
    *,
    targets: np.ndarray | None,
    allocator: Allocator | None,
    alpha: np.ndarray | None,
) -> BacktestResult:
    T, N = panel.shape
    fast = targets is not None
    par, flags, gov = loop_settings(config, fast)
    member = np.ascontiguousarray(panel.member)
    market = tuple(
        np.ascontiguousarray(a, dtype=np.float64)
        for a in (inputs.open0, inputs.cap, inputs.impact_coef, inputs.mark, inputs.inv_mark)
    )
    pos = np.zeros(N)
    pending = np.zeros(N)
    state = np.zeros(barloop.S_SIZE)
    state[barloop.S_CASH] = config.initial_cash
    state[barloop.S_GOV_PEAK] = -np.inf
    positions, orders, fills, target_w = (np.empty((T, N)) for _ in range(4))
    per_bar = np.empty((barloop.B_SIZE, T))
    risk_state = np.zeros(T, dtype=np.int8)
    hist = np.empty((T, 4))
    outputs = (pos, pending, state, positions, orders, fills, target_w, per_bar, risk_state, hist)
    alloc_status: list[tuple[int, str, str]] = []
    solve_ms = 0.0
    alloc_s = 0.0

    def run(t_begin: int, t_end: int, stop_at_end: bool, rows: np.ndarray) -> int:
        stop = barloop.run_bars(
            t_begin, t_end, stop_at_end, rows, member, *market, par, flags, gov, GOVERNOR_ALLOWED, *outputs
        )
        if stop == barloop.BAD_TARGET:
            t, i = int(state[barloop.S_BAD_BAR]), int(state[barloop.S_BAD_NAME])
            raise _bad_target_error(panel, rows, t, i)
        if stop == barloop.TABLE_ERROR:
            bar, src, dst, _ = hist[int(state[barloop.S_N_HIST]) - 1]
            raise GovernorError(
                f"transition {STATES[int(src)]} -> {STATES[int(dst)]} at bar {int(bar)} is not in the table"
            )
        return stop

    if fast:
        run(0, T, False, np.ascontiguousarray(targets))
    else:
        k = config.rebalance_every
        no_targets = np.zeros((1, N))  # never read: the loop takes its rows only on the fast path
        t = 0
        while True:
            rebalance = -(-t // k) * k  # the first rebalance bar >= t
            if rebalance >= T - 1:  # none before the last bar, which never decides
                run(t, T, False, no_targets)
                break
            t = run(t, rebalance + 1, True, no_targets)
            # The allocator decides at the close of t from data known at t.
            eq, cap_t = state[barloop.S_EQUITY], state[barloop.S_CAP]
            m = inputs.mark[t]
            started = time.perf_counter()
            ctx = allocation_context(
                panel=panel,
                t=t,
                alpha_t=alpha[t],
                positions=pos,
                equity=eq,
                mark_t=m,
                adv_dollar_t=inputs.adv_dollar[t],
                returns_window=inputs.returns[max(0, t - config.returns_window + 1) : t + 1],
                exposure_cap=cap_t,
                allow_buys=bool(state[barloop.S_ALLOW]),
            )
            step = allocate_bar(allocator, ctx, member_t=member[t], max_weight=config.max_weight)
            res, w = step.result, step.weights
            alloc_s += time.perf_counter() - started
            solve_ms += res.solve_ms
            alloc_status.append((t, res.status, res.reason))
            target_w[t] = w
            tgt = target_shares(w, equity=eq, inv_mark_t=inputs.inv_mark[t], config=config)
            barloop.send_order(t, tgt - pos, market[3], pos, pending, par, flags, state, orders, True)
            t += 1

    n_hist = int(state[barloop.S_N_HIST])
    return BacktestResult(
        panel=panel,
        config=config,
        equity=per_bar[barloop.B_EQUITY],
        cash=per_bar[barloop.B_CASH],
        positions=positions,
        orders=orders,
        fills=fills,
        target_weights=target_w,
        traded_value=per_bar[barloop.B_TRADED],
        cost_paid=per_bar[barloop.B_COST],
        buy_scale=per_bar[barloop.B_BUY_SCALE],
        drawdown=per_bar[barloop.B_DRAWDOWN],
        exposure_cap=per_bar[barloop.B_EXPOSURE_CAP],
        risk_state=risk_state,
        risk_history=history_from_codes(hist[:n_hist]) if config.governor is not None else None,
        inputs=inputs,
        allocation_log=alloc_status,
        allocator_seconds=alloc_s,
        solver_ms=solve_ms,
    )
