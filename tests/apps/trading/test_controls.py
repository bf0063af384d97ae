"""Pre-trade controls, pure: each limit at limit - 1, limit and limit + 1 (inclusive limits: the
limit itself passes), the protective limit for market orders, and a hypothesis test over random
orders that a passed order respects every limit and a refused one names a limit it breaks."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from apps.trading.controls import AccountState, Intent, Limits, Reason, check, collar_bounds, protective_limit

D = Decimal
LIMITS = Limits(
    max_order_notional=D(100_000),
    max_order_qty=D(1_000),
    max_orders_per_cycle=10,
    max_notional_per_cycle=D(500_000),
    price_collar_bps=200,
    max_position_weight=D("0.10"),
    restricted_symbols=frozenset({"GME"}),
    max_messages_per_minute=100,
    max_rejection_streak=5,
    max_intraday_loss_pct=D("0.03"),
)
STATE = AccountState(
    equity=D(10_000_000),
    position_qty=D(0),
    open_orders_same_side=0,
    cycle_orders=0,
    cycle_notional=D(0),
    rejection_streak=0,
    intraday_pnl=D(0),
    day_start_equity=D(10_000_000),
)
INTENT = Intent(
    symbol="AAPL", side="buy", qty=D(100), type="limit", limit_price=D(100), reference_price=D(100)
)


def run(intent=INTENT, limits=LIMITS, state=STATE):
    return check(intent, limits, state)


def test_the_default_order_passes():
    assert run().passed and run().limit_price == D(100)


def test_settings_defaults_are_valid_limits():
    Limits.from_mapping(settings.TRADING_RISK_DEFAULTS)


# Each case: (reason, build(value) -> (intent, limits, state), limit). The order is refused exactly
# when value = limit + 1.
def _qty(v):
    return replace(INTENT, qty=D(v), limit_price=D(1), reference_price=D(1)), LIMITS, STATE


def _notional(v):  # price 1, qty v -> notional v (qty limit raised out of the way)
    return (
        replace(INTENT, qty=D(v), limit_price=D(1), reference_price=D(1)),
        replace(LIMITS, max_order_qty=D(10**9)),
        STATE,
    )


def _orders_per_cycle(v):  # v - 1 orders already passed this cycle; this is order number v
    return INTENT, LIMITS, replace(STATE, cycle_orders=v - 1)


def _cycle_notional(v):  # 10,000 of this order on top of v - 10,000 already in the cycle
    return (
        INTENT,
        replace(LIMITS, max_notional_per_cycle=D(500_000)),
        replace(STATE, cycle_notional=D(v - 10_000)),
    )


def _collar_buy(v):  # buy limit v cents vs a 100.00 reference with a 200 bps collar (high = 102.00)
    return replace(INTENT, limit_price=D(v) / 100), LIMITS, STATE


def _collar_sell(v):  # sell limit at (19,600 - v) cents: low = 98.00, refused below it
    price = (D(19_600) - D(v)) / 100
    return replace(INTENT, side="sell", limit_price=price), LIMITS, replace(STATE, position_qty=D(100))


def _position_weight(v):  # position value v after buying 1 at 1.00; equity 10M, 10% cap -> 1,000,000
    intent = replace(INTENT, qty=D(1), limit_price=D(1), reference_price=D(1))
    return intent, LIMITS, replace(STATE, position_qty=D(v - 1))


def _sell_exceeds(v):  # sell v shares out of a position of 100 (limit = the position)
    return replace(INTENT, side="sell", qty=D(v)), LIMITS, replace(STATE, position_qty=D(100))


def _streak(v):  # v consecutive broker rejections so far; 5 are tolerated, the 6th trips
    return INTENT, LIMITS, replace(STATE, rejection_streak=v)


def _loss(v):  # an intraday loss of v against 3% of 10,000,000 = 300,000
    return INTENT, LIMITS, replace(STATE, intraday_pnl=D(-v))


BOUNDARIES = [
    (Reason.MAX_ORDER_QTY, _qty, 1_000),
    (Reason.MAX_ORDER_NOTIONAL, _notional, 100_000),
    (Reason.MAX_ORDERS_PER_CYCLE, _orders_per_cycle, 10),
    (Reason.MAX_NOTIONAL_PER_CYCLE, _cycle_notional, 500_000),
    (Reason.PRICE_COLLAR, _collar_buy, 10_200),
    (Reason.PRICE_COLLAR, _collar_sell, 9_800),
    (Reason.MAX_POSITION_WEIGHT, _position_weight, 1_000_000),
    (Reason.SELL_EXCEEDS_POSITION, _sell_exceeds, 100),
    (Reason.REJECTION_STREAK, _streak, 5),
    (Reason.INTRADAY_LOSS, _loss, 300_000),
]


@pytest.mark.parametrize(
    "reason, build, limit", BOUNDARIES, ids=[f"{r.value}-{b.__name__}" for r, b, _ in BOUNDARIES]
)
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_boundary(reason, build, limit, offset):
    decision = run(*build(limit + offset))
    if offset <= 0:
        assert decision.passed, decision
    else:
        assert decision.reason == reason, decision
        assert decision.trip == (reason in (Reason.REJECTION_STREAK, Reason.INTRADAY_LOSS))


def test_restricted_symbol_is_refused_whatever_the_case():
    assert run(replace(INTENT, symbol="GME")).reason == Reason.RESTRICTED_SYMBOL
    assert run(replace(INTENT, symbol="GM")).passed


def test_duplicate_working_order_from_an_earlier_cycle_is_refused():
    assert run(state=replace(STATE, open_orders_same_side=1)).reason == Reason.DUPLICATE_ORDER
    assert run(state=replace(STATE, open_orders_same_side=0)).passed


@pytest.mark.parametrize("ref", [None, D(0), D("NaN")])
def test_no_reference_price_refuses(ref):
    assert run(replace(INTENT, reference_price=ref)).reason == Reason.NO_REFERENCE_PRICE


@pytest.mark.parametrize("qty", [D(0), D(-1), D("1.5"), D("NaN")])
def test_bad_quantity_refuses(qty):
    assert run(replace(INTENT, qty=qty)).reason == Reason.BAD_QUANTITY


def test_market_orders_become_protective_limits_at_the_collar():
    buy = run(replace(INTENT, type="market", limit_price=None))
    sell = run(
        replace(INTENT, type="market", side="sell", limit_price=None),
        state=replace(STATE, position_qty=D(100)),
    )
    assert (buy.limit_price, sell.limit_price) == (D("102.00"), D("98.00"))


def test_collar_rounds_inward_to_the_tick():
    low, high = collar_bounds(D("33.333"), 200)  # band 0.66666
    assert (low, high) == (D("32.67"), D("33.99"))
    assert protective_limit("buy", D("33.333"), 200) == high


@pytest.mark.parametrize(
    "key, value",
    [
        ("max_order_qty", "0"),
        ("max_position_weight", "1.5"),
        ("price_collar_bps", "x"),
        ("max_orders_per_cycle", 2.5),
    ],
)
def test_bad_limit_values_are_named(key, value):
    with pytest.raises(ValueError, match=key):
        Limits.from_mapping({**LIMITS.as_json(), key: value})


def test_limits_round_trip_through_json():
    assert Limits.from_mapping(LIMITS.as_json()) == LIMITS


prices = st.decimals(min_value=D("0.5"), max_value=D(2_000), places=2)
intents = st.builds(
    Intent,
    symbol=st.sampled_from(["AAPL", "MSFT", "GME"]),
    side=st.sampled_from(["buy", "sell"]),
    qty=st.integers(1, 3_000).map(D),
    type=st.sampled_from(["limit", "market"]),
    limit_price=prices,
    reference_price=prices,
)
states = st.builds(
    AccountState,
    equity=st.integers(100_000, 20_000_000).map(D),
    position_qty=st.integers(0, 20_000).map(D),
    open_orders_same_side=st.integers(0, 1),
    cycle_orders=st.integers(0, 12),
    cycle_notional=st.integers(0, 600_000).map(D),
    rejection_streak=st.integers(0, 7),
    intraday_pnl=st.integers(-400_000, 100_000).map(D),
    day_start_equity=st.just(D(10_000_000)),
)


@given(intents, states)
def test_random_orders_pass_only_within_every_limit(intent, state):
    d = check(intent, LIMITS, state)
    price = d.limit_price
    if d.passed:
        low, high = collar_bounds(intent.reference_price, LIMITS.price_collar_bps)
        assert low <= price <= high
        assert intent.qty <= LIMITS.max_order_qty
        assert intent.qty * price <= LIMITS.max_order_notional
        assert state.cycle_orders < LIMITS.max_orders_per_cycle
        assert state.cycle_notional + intent.qty * price <= LIMITS.max_notional_per_cycle
        assert intent.symbol not in LIMITS.restricted_symbols
        assert state.open_orders_same_side == 0
        assert state.rejection_streak <= LIMITS.max_rejection_streak
        assert -state.intraday_pnl <= state.day_start_equity * LIMITS.max_intraday_loss_pct
        if intent.side == "sell":
            assert intent.qty <= state.position_qty
        else:
            assert (state.position_qty + intent.qty) * price <= state.equity * LIMITS.max_position_weight
    else:
        assert d.reason in Reason and d.detail
        assert d.trip == (d.reason in (Reason.REJECTION_STREAK, Reason.INTRADAY_LOSS))
