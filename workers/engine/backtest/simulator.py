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

Speed: all per-bar work is numpy over N; the Python loop only sequences bars. Records are dense
(T, N) float arrays written row by row; structured order / fill records are derived afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..allocation import Allocator
from ..decide.step import allocate_bar, allocation_context
from ..panel import Panel
from .config import BacktestConfig, BacktestInputError
from .governor import STATE_CODE, Governor
from .inputs import SimInputs, build_inputs
from .result import BacktestResult

# The largest number of down-scalings of a buy basket before giving up on buys for the bar.
_MAX_SCALE_STEPS = 60


def _check_targets(panel: Panel, targets: np.ndarray) -> np.ndarray:
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != panel.shape:
        raise BacktestInputError(
            f"target weights must have the panel's shape {panel.shape}, got {targets.shape}"
        )
    if np.isinf(targets).any():
        raise BacktestInputError("target weights contain infinite values")
    with np.errstate(invalid="ignore"):
        if (targets < 0).any():
            t, i = np.argwhere(targets < 0)[0]
            raise BacktestInputError(
                f"target weight for {panel.symbols[i]} at row {t} is negative (long-only engine)"
            )
    return targets


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


def _prepare_fast_targets(panel: Panel, config: BacktestConfig, inputs: SimInputs, targets: np.ndarray):
    """Vectorised over the whole panel: member mask, per-name cap, each row's gross, and the
    shares per unit of invested equity (weight / close_t), so a bar's decision is one multiply."""
    decide = ~np.isnan(targets).all(axis=1)
    hold = np.isnan(targets) & panel.member
    w = np.where(panel.member, np.minimum(np.nan_to_num(targets), config.max_weight), 0.0)
    gross = w.sum(axis=1)
    return w, w * inputs.inv_mark, hold, hold.any(axis=1), gross, decide


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
    costs = config.costs
    zero_cost = costs.is_zero
    has_impact = costs.impact_eta > 0
    simple_cost = not (costs.commission_per_share or costs.commission_min)
    lin_rate = costs.linear_rate
    has_min_commission = costs.commission_min > 0
    integer = config.integer_shares
    carry = config.remainder == "carry"
    invest = 1.0 - config.cash_buffer
    member = panel.member
    open0, cap, coef_all = inputs.open0, inputs.cap, inputs.impact_coef
    mark, inv_mark = inputs.mark, inputs.inv_mark
    governor = Governor(config.governor) if config.governor is not None else None
    fast = targets is not None
    if fast:
        w_fast, shares_per_ccy, hold_fast, hold_any, gross_fast, decide_fast = _prepare_fast_targets(
            panel, config, inputs, targets
        )
        w_scale = np.zeros(T)  # the governor's scaling of row t (0 = no decision)
    else:
        target_w = np.full((T, N), np.nan)

    positions = np.empty((T, N))
    orders = np.zeros((T, N))
    fills = np.zeros((T, N))
    equity = np.zeros(T)
    cash_hist = np.zeros(T)
    traded_value = np.zeros(T)
    cost_paid = np.zeros(T)
    buy_scale = np.ones(T)
    drawdown = np.zeros(T)
    exposure_cap = np.ones(T)
    risk_state = np.zeros(T, dtype=np.int8)
    alloc_status: list[tuple[int, str, str]] = []
    solve_ms = 0.0
    alloc_s = 0.0

    pos = np.zeros(N)
    pending = np.zeros(N)
    has_pending = False
    cash = float(config.initial_cash)
    zeros_n = np.zeros(N)

    if fast:
        # next_decision[t]: the first bar >= t with a decision (T when none)
        idx = np.where(decide_fast, np.arange(T), T)
        next_decision = np.minimum.accumulate(idx[::-1])[::-1]

        def nxt(t: int) -> int:
            return int(next_decision[t + 1]) if t + 1 < T else T
    else:
        k = config.rebalance_every

        def nxt(t: int) -> int:
            return min((t // k + 1) * k, T)

    ctx_quiet = _Quiet(member, mark, equity, cash_hist, positions, drawdown, risk_state, exposure_cap)
    t = -1
    while t < T - 1:
        t += 1
        # 1. Fill the orders decided at t-1 at the open of t (cap is 0 where no bar / no volume).
        if has_pending:
            o = open0[t]
            c = cap[t]
            q = np.minimum(pending, c)
            lo = np.minimum(c, pos)  # never sell more than held, nor more than the cap
            np.negative(lo, out=lo)
            np.maximum(q, lo, out=q)
            sq = np.minimum(q, 0.0)
            buy = np.maximum(q, 0.0)
            sell_value = -float(sq @ o)
            buy_value = float(buy @ o)
            if zero_cost:
                sell_cost = buy_cost = 0.0
            elif simple_cost:
                # No commission: cost = notional x (linear rate + coef x sqrt(qty)); split by side.
                sell_cost = sell_value * lin_rate
                buy_cost = buy_value * lin_rate
                if has_impact:
                    ok = o * coef_all[t] * np.sqrt(np.abs(q))
                    sell_cost -= float(sq @ ok)
                    buy_cost += float(buy @ ok)
            else:
                cost = costs.total(np.abs(q), o, coef_all[t])
                sell_mask = q < 0
                if has_min_commission:
                    # A sell that costs more than it raises is not sent (cash could go negative).
                    bad = sell_mask & (-sq * o < cost)
                    if bad.any():
                        q[bad] = sq[bad] = cost[bad] = 0.0
                        sell_mask &= ~bad
                        sell_value = -float(sq @ o)
                sell_cost = float(np.where(sell_mask, cost, 0.0).sum())
                buy_cost = float(np.where(q > 0, cost, 0.0).sum())
            cash += sell_value - sell_cost
            if buy_value > 0:
                need = buy_value + buy_cost
                if need > cash:
                    # Gap up or costs: scale the basket down until it fits (impact is convex, so
                    # one step nearly always suffices; integer flooring only makes it smaller).
                    scale = 1.0
                    for _ in range(_MAX_SCALE_STEPS):
                        factor = max(cash, 0.0) / need * (1.0 - 1e-12)
                        scale *= factor
                        buy = np.floor(buy * factor) if integer else buy * factor
                        buy_value = float(buy @ o)
                        buy_cost = 0.0 if zero_cost else float(costs.total(buy, o, coef_all[t]).sum())
                        need = buy_value + buy_cost
                        if need <= cash:
                            break
                    else:
                        buy = zeros_n.copy()
                        buy_value = buy_cost = 0.0
                    buy_scale[t] = scale
                    q = sq + buy
                cash -= buy_value + buy_cost
            pos += q
            fills[t] = q
            traded_value[t] = sell_value + buy_value
            cost_paid[t] = sell_cost + buy_cost
            if carry:
                pending = pending - q
                pending[(pending < 0) & (pos <= 0)] = 0.0  # nothing left to sell
                has_pending = bool(pending.any())
            else:
                has_pending = False

        # 2. Mark to the close of t.
        m = mark[t]
        eq = cash + float((m * pos).sum())  # the same per-row reduction as the quiet stretches
        equity[t] = eq
        cash_hist[t] = cash
        positions[t] = pos

        # 3. Risk governor on the equity known at t.
        cap_t, allow_buys = 1.0, True
        if governor is not None:
            drawdown[t] = governor.update(t, eq)
            cap_t, allow_buys = governor.exposure_cap, governor.allow_buys
            risk_state[t] = STATE_CODE[governor.state]
            exposure_cap[t] = cap_t
        if t == T - 1:
            break

        # 4. Decide at the close of t; orders fill at t+1.
        order = None
        if fast:
            if decide_fast[t]:
                g = gross_fast[t]
                scale = cap_t / g if g > cap_t else 1.0
                w_scale[t] = scale
                tgt = shares_per_ccy[t] * (eq * invest * scale)
                if integer:
                    np.floor(tgt, out=tgt)
                order = tgt - pos
                if hold_any[t]:
                    order[hold_fast[t]] = 0.0
                if allow_buys and not config.min_order_value:
                    # Common case: skip the generic tail (each numpy call counts at this scale).
                    orders[t] = order
                    pending = order
                    has_pending = True
                    continue  # (an order was just sent: nothing quiet to skip)
        elif t % config.rebalance_every == 0:
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
                allow_buys=allow_buys,
            )
            step = allocate_bar(allocator, ctx, member_t=member[t], max_weight=config.max_weight)
            res, w = step.result, step.weights
            alloc_s += time.perf_counter() - started
            solve_ms += res.solve_ms
            alloc_status.append((t, res.status, res.reason))
            target_w[t] = w
            tgt = w * (eq * invest) * inv_mark[t]
            if integer:
                np.floor(tgt, out=tgt)
            order = tgt - pos
        if order is not None:
            if config.min_order_value > 0:
                order[np.abs(order) * m < config.min_order_value] = 0.0
        else:
            order = pending if (carry and has_pending) else zeros_n
            leaving = ~member[t] & (pos > 0)
            if leaving.any():
                order = order.copy()
                order[leaving] = -pos[leaving]
        if not allow_buys:
            order = np.minimum(order, 0.0)
        orders[t] = order
        pending = order
        has_pending = bool(order.any())
        if not has_pending:
            t = _mark_quiet_stretch(t, nxt(t), ctx_quiet, pos, cash, governor)

    if fast:
        target_w = np.where(decide_fast[:, None], w_fast * w_scale[:, None], np.nan)
        target_w[hold_fast & decide_fast[:, None]] = np.nan

    return BacktestResult(
        panel=panel,
        config=config,
        equity=equity,
        cash=cash_hist,
        positions=positions,
        orders=orders,
        fills=fills,
        target_weights=target_w,
        traded_value=traded_value,
        cost_paid=cost_paid,
        buy_scale=buy_scale,
        drawdown=drawdown,
        exposure_cap=exposure_cap,
        risk_state=risk_state,
        risk_history=governor.history_array() if governor is not None else None,
        inputs=inputs,
        allocation_log=alloc_status,
        allocator_seconds=alloc_s,
        solver_ms=solve_ms,
    )


@dataclass(frozen=True)
class _Quiet:
    member: np.ndarray
    mark: np.ndarray
    equity: np.ndarray
    cash: np.ndarray
    positions: np.ndarray
    drawdown: np.ndarray
    risk_state: np.ndarray
    exposure_cap: np.ndarray


def _mark_quiet_stretch(
    t: int, stop: int, q: _Quiet, pos: np.ndarray, cash: float, governor: Governor | None
) -> int:
    """Bars t+1 .. stop-1 have no fill (nothing pending) and no decision: only marks, in one
    vectorised pass, up to the first bar where a held name leaves the universe (that bar needs
    its forced sell). Returns the last bar handled; the loop resumes after it.

    Why: rule strategies trade on a few bars; marking the quiet bars in bulk makes their cost
    per bar a fraction of a numpy call instead of a dozen."""
    a = t + 1
    if stop <= a:
        return t
    held = pos > 0
    if held.any():
        leaving = np.flatnonzero((~q.member[a:stop][:, held]).any(axis=1))
        if len(leaving):
            stop = a + int(leaving[0])
            if stop <= a:
                return t
    eqs = cash + (q.mark[a:stop] * pos).sum(axis=1)
    q.equity[a:stop] = eqs
    q.cash[a:stop] = cash
    q.positions[a:stop] = pos
    if governor is not None:
        for j in range(a, stop):
            q.drawdown[j] = governor.update(j, float(eqs[j - a]))
            q.risk_state[j] = STATE_CODE[governor.state]
            q.exposure_cap[j] = governor.exposure_cap
    return stop - 1
