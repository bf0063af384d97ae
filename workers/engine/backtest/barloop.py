"""The compiled bar loop (numba): fill at the open, mark at the close, governor, decide.

`simulator.py` states the contract and prepares the arrays; this module runs the bars. One loop
serves both paths: given a target-weight panel it decides inside the loop and runs every bar in
one call; with an allocator it stops at each rebalance bar after marking it, the simulator asks
the allocator in Python and hands the order back through `send_order`, and the loop resumes.

Why compiled: the per-bar numpy version spent its time on call overhead (a dozen numpy calls per
bar over ~500 names); one pass per bar over the names in machine code runs the dense 5,402 x 503
bench at ~5x the bar-symbols per second (bench/RESULTS.md). Sums run name by name in index order,
so a run is bit-identical from one call to the next.

Array layouts (all C-contiguous, float64 unless said):
- market (T, N): open0, cap, coef, mark, inv_mark (see inputs.SimInputs); member (T, N) bool.
- `par` (P_*): settings; `gov` (G_*): governor thresholds and exposures; `allowed` (4, 4) bool.
- `state` (S_*): cash, pending flag, governor state/peak, history length, the marked bar's cap,
  equity and buy permission (read by the simulator at an allocator stop), a bad target's place.
- outputs: positions, orders, fills, target_w (T, N); per_bar (B_*, T); risk_state (T,) int8;
  hist (T, 4) governor moves (bar, from code, to code, drawdown).
"""

from __future__ import annotations

import numpy as np

from .jit import jit

# par
P_INVEST, P_MAX_WEIGHT, P_MIN_ORDER, P_LIN_RATE, P_CPS, P_CMIN = range(6)
P_SIZE = 6
# flags (an int64 array)
F_FAST, F_INTEGER, F_CARRY, F_IMPACT, F_COMMISSION, F_GOVERNOR = range(6)
F_SIZE = 6
# gov
G_THRESHOLDS = 0  # 4 values: conservative, risk_off, halt, recover
G_EXPOSURES = 4  # 4 values, per state code
G_SIZE = 8
# state
S_CASH, S_PENDING, S_GOV_STATE, S_GOV_PEAK, S_N_HIST, S_CAP, S_EQUITY, S_ALLOW = range(8)
S_BAD_BAR, S_BAD_NAME = 8, 9
S_SIZE = 10
# per_bar rows
B_EQUITY, B_CASH, B_TRADED, B_COST, B_BUY_SCALE, B_DRAWDOWN, B_EXPOSURE_CAP = range(7)
B_SIZE = 7

DONE = -1  # run_bars: every bar up to t_end was run
TABLE_ERROR = -2  # a governor move outside the transition table (the last hist row names it)
BAD_TARGET = -3  # a negative or infinite target weight (S_BAD_BAR, S_BAD_NAME name it)

# The largest number of down-scalings of a buy basket before giving up on buys for the bar.
MAX_SCALE_STEPS = 60


# The drawdown governor's policy (governor.py has the states, the table and the Python class,
# which calls these two): here, beside the loop that inlines them, because numba's on-disk cache
# is invalidated by changes to the cached function's own file only; policy code in another file
# could change while a stale compiled loop kept the old one.


@jit
def peak_drawdown(peak: float, equity: float) -> tuple[float, float]:
    """(new peak, drawdown of `equity` from it); 1.0 while the peak is not positive."""
    if equity > peak:
        peak = equity
    return peak, (1.0 - equity / peak if peak > 0 else 1.0)


@jit
def target_code(state: int, drawdown: float, thresholds: np.ndarray) -> int:
    """The governor's policy on state codes (governor.STATES order): escalate at once to the
    deepest level the drawdown reaches (levels may be skipped); from any other state back to
    normal only below the recovery drawdown."""
    if drawdown >= thresholds[2]:
        deepest = 3
    elif drawdown >= thresholds[1]:
        deepest = 2
    elif drawdown >= thresholds[0]:
        deepest = 1
    else:
        deepest = 0
    if deepest > state:
        return deepest
    if state != 0 and drawdown < thresholds[3]:
        return 0
    return state


@jit
def fill_cost(qty, price, coef, cm):
    """CostModel.total for one fill of `qty` >= 0 shares (tests/engine/test_barloop.py checks the
    two agree): notional x (linear rate + coef x sqrt(qty)) + max(qty x per share, minimum)."""
    lin_rate, impact, commission, per_share, minimum = cm
    notional = qty * price
    if impact:
        cost = notional * (lin_rate + coef * np.sqrt(qty))
    else:
        cost = notional * lin_rate
    if commission and qty > 0:
        cost += max(qty * per_share, minimum)
    return cost


@jit
def _targets_ok(row, state, t):
    """False (and the bad name's index in S_BAD_NAME) when a target of bar t is negative or
    infinite; the loop then stops at that bar (S_BAD_BAR) and the simulator names it."""
    bad = False
    for i in range(row.shape[0]):  # no early exit: LLVM vectorises the scan
        x = row[i]
        bad |= (x < 0) | (x == np.inf)
    if not bad:
        return True
    for i in range(row.shape[0]):
        x = row[i]
        if x < 0 or x == np.inf:
            state[S_BAD_BAR] = t
            state[S_BAD_NAME] = i
            break
    return False


@jit
def _fill(o, cap, coef, pos, pending, q, buy, fee, cm, integer, carry, state, fills_t):
    """Fill the pending order at the open `o` of the bar (row views of the bar): participation
    cap, no shorts, sells first, buys scaled down (floored in integer mode) until cash after costs
    is not negative. `cm`: the cost model's (lin_rate, impact, commission, per_share, minimum);
    q, buy, fee: (N,) scratch.
    Returns (traded value, cost, buy scale)."""
    N = pos.shape[0]
    min_commission = cm[4] > 0
    sell_value = 0.0
    sell_cost = 0.0
    buy_value = 0.0
    buy_cost = 0.0
    for i in range(N):  # element-wise (vectorised by LLVM): the fill and its cost per name
        c = cap[i]
        x = min(pending[i], c)
        lo = -min(c, pos[i])  # never sell more than held, nor more than the cap
        if x < lo:
            x = lo
        qty = abs(x)
        price = o[i]
        cost = fill_cost(qty, price, coef[i], cm)
        if min_commission and x < 0 and qty * price < cost:
            x = 0.0  # a sell that costs more than it raises is not sent (cash could go negative)
            cost = 0.0
        q[i] = x
        fee[i] = cost
    for i in range(N):  # the sums, by side, in name order
        x = q[i]
        value = abs(x) * o[i]
        cost = fee[i]
        sell = x < 0
        sell_value += value if sell else 0.0
        sell_cost += cost if sell else 0.0
        buy_value += 0.0 if sell else value
        buy_cost += 0.0 if sell else cost
    cash = state[S_CASH] + sell_value - sell_cost
    scale = 1.0
    if buy_value > 0:
        need = buy_value + buy_cost
        if need > cash:
            # Gap up or costs: scale the basket down until it fits (impact is convex, so one step
            # nearly always suffices; integer flooring only makes it smaller).
            for i in range(N):
                buy[i] = max(q[i], 0.0)
            fits = False
            for _ in range(MAX_SCALE_STEPS):
                factor = max(cash, 0.0) / need * (1.0 - 1e-12)
                scale *= factor
                buy_value = 0.0
                buy_cost = 0.0
                for i in range(N):
                    if buy[i] > 0:
                        b = buy[i] * factor
                        if integer:
                            b = np.floor(b)
                        buy[i] = b
                        buy_value += b * o[i]
                        buy_cost += fill_cost(b, o[i], coef[i], cm)
                need = buy_value + buy_cost
                if need <= cash:
                    fits = True
                    break
            if not fits:
                buy[:] = 0.0
                buy_value = 0.0
                buy_cost = 0.0
            for i in range(N):
                if q[i] > 0:
                    q[i] = buy[i]
        cash -= buy_value + buy_cost
    left = False
    for i in range(N):
        pos[i] += q[i]
        fills_t[i] = q[i]
        if carry:
            rest = pending[i] - q[i]
            if rest < 0 and pos[i] <= 0:
                rest = 0.0  # nothing left to sell
            pending[i] = rest
            if rest != 0:
                left = True
    state[S_CASH] = cash
    state[S_PENDING] = 1.0 if left else 0.0
    return sell_value + buy_value, sell_cost + buy_cost, scale


@jit
def send_order(t, order, mark, pos, pending, par, flags, state, orders, use_band):
    """Send `order` (shares) decided at the close of t: the no-trade band (`use_band`: decisions,
    not forced exits or carried rests), no buys while the governor forbids them; it replaces what
    is still pending."""
    band = par[P_MIN_ORDER] if use_band else 0.0
    allow = state[S_ALLOW] != 0
    any_order = False
    for i in range(order.shape[0]):
        x = order[i]
        if band > 0 and abs(x) * mark[t, i] < band:
            x = 0.0
        if not allow and x > 0:
            x = 0.0
        orders[t, i] = x
        pending[i] = x
        if x != 0:
            any_order = True
    state[S_PENDING] = 1.0 if any_order else 0.0


@jit
def run_bars(
    t_begin,
    t_end,
    stop_at_end,
    targets,
    member,
    open0,
    cap,
    coef,
    mark,
    inv_mark,
    par,
    flags,
    gov,
    allowed,
    pos,
    pending,
    state,
    positions,
    orders,
    fills,
    target_w,
    per_bar,
    risk_state,
    hist,
):
    """Run bars t_begin .. t_end - 1. With `stop_at_end`, bar t_end - 1 is filled, marked and seen
    by the governor, then the loop returns it for the caller to decide (allocator path); returns
    DONE otherwise; TABLE_ERROR on a governor move the table forbids, BAD_TARGET on a negative or
    infinite target weight (checked bar by bar as the loop reads them, so a bad panel costs no
    extra pass over (T, N) when it is good)."""
    T, N = mark.shape
    q = np.empty(N)
    buy = np.empty(N)
    fee = np.empty(N)
    order = np.empty(N)
    invest = par[P_INVEST]
    max_weight = par[P_MAX_WEIGHT]
    integer = flags[F_INTEGER] != 0
    carry = flags[F_CARRY] != 0
    fast = flags[F_FAST] != 0
    governed = flags[F_GOVERNOR] != 0
    thresholds = gov[G_THRESHOLDS : G_THRESHOLDS + 4].copy()
    cm = (par[P_LIN_RATE], flags[F_IMPACT] != 0, flags[F_COMMISSION] != 0, par[P_CPS], par[P_CMIN])
    for t in range(t_begin, t_end):
        # 1. Fill the orders decided at t-1 at the open of t (cap is 0 where no bar / no volume).
        if state[S_PENDING] != 0:
            traded, cost, scale = _fill(
                open0[t], cap[t], coef[t], pos, pending, q, buy, fee, cm, integer, carry, state, fills[t]
            )
            per_bar[B_TRADED, t] = traded
            per_bar[B_COST, t] = cost
            per_bar[B_BUY_SCALE, t] = scale
        else:
            fills[t, :] = 0.0
            per_bar[B_TRADED, t] = 0.0
            per_bar[B_COST, t] = 0.0
            per_bar[B_BUY_SCALE, t] = 1.0
        # 2. Mark to the close of t.
        cash = state[S_CASH]
        eq = cash
        mark_t = mark[t]
        positions_t = positions[t]
        for i in range(N):
            eq += mark_t[i] * pos[i]
            positions_t[i] = pos[i]
        per_bar[B_EQUITY, t] = eq
        per_bar[B_CASH, t] = cash
        state[S_EQUITY] = eq
        # 3. Risk governor on the equity known at t.
        cap_t = 1.0
        allow = True
        if governed:
            code = int(state[S_GOV_STATE])
            peak, dd = peak_drawdown(state[S_GOV_PEAK], eq)
            new = target_code(code, dd, thresholds)
            if new != code:
                n = int(state[S_N_HIST])
                hist[n, 0] = t
                hist[n, 1] = code
                hist[n, 2] = new
                hist[n, 3] = dd
                state[S_N_HIST] = n + 1
                if not allowed[code, new]:
                    return TABLE_ERROR
                code = new
            state[S_GOV_STATE] = code
            state[S_GOV_PEAK] = peak
            cap_t = gov[G_EXPOSURES + code]
            allow = code != 3
            per_bar[B_DRAWDOWN, t] = dd
            risk_state[t] = code
        else:
            per_bar[B_DRAWDOWN, t] = 0.0
            risk_state[t] = 0
        per_bar[B_EXPOSURE_CAP, t] = cap_t
        state[S_CAP] = cap_t
        state[S_ALLOW] = 1.0 if allow else 0.0
        if fast and not _targets_ok(targets[t], state, t):
            return BAD_TARGET
        if t == T - 1:
            orders[t, :] = 0.0
            target_w[t, :] = np.nan
            return DONE
        if stop_at_end and t == t_end - 1:
            return t
        # 4. Decide at the close of t; orders fill at t+1.
        member_t = member[t]
        target_w_t = target_w[t]
        decide = False
        gross = 0.0
        targets_t = targets[t if fast else 0]
        inv_mark_t = inv_mark[t]
        if fast:
            for i in range(N):
                x = targets_t[i]
                if not np.isnan(x):
                    decide = True
                    if member_t[i]:
                        gross += min(x, max_weight)
        if decide:
            scale = cap_t / gross if gross > cap_t else 1.0
            size = eq * invest * scale
            for i in range(N):
                x = targets_t[i]
                if not member_t[i]:
                    order[i] = 0.0 - pos[i]  # left the universe: sell
                    target_w_t[i] = 0.0
                elif np.isnan(x):
                    order[i] = 0.0  # hold
                    target_w_t[i] = np.nan
                else:
                    w = min(x, max_weight)
                    tgt = w * inv_mark_t[i] * size
                    if integer:
                        tgt = np.floor(tgt)
                    order[i] = tgt - pos[i]
                    target_w_t[i] = w * scale
            send_order(t, order, mark, pos, pending, par, flags, state, orders, True)
        else:
            # No decision: the rest of the previous order (carry) and forced exits of names that
            # left the universe, on every bar.
            rest = carry and state[S_PENDING] != 0
            for i in range(N):
                x = pending[i] if rest else 0.0
                if not member_t[i] and pos[i] > 0:
                    x = -pos[i]
                order[i] = x
                target_w_t[i] = np.nan
            send_order(t, order, mark, pos, pending, par, flags, state, orders, False)
    return DONE
