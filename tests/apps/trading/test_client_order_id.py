"""The deterministic client order id: <= 48 characters, the same for the same decision, different
for any other (account, bar, symbol, side)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.marketdata.symbols import SYMBOL_MAX_LEN
from apps.trading.orders import CLIENT_ORDER_ID_MAX, client_order_id

symbols = st.from_regex(r"[A-Z0-9](?:[A-Z0-9._\-]{0,14}[A-Z0-9])?", fullmatch=True)
bars = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC)
).map(lambda t: t.replace(second=0, microsecond=0))
keys = st.tuples(st.integers(1, 10**14 - 1), bars, symbols, st.sampled_from(["buy", "sell"]))


def cid(key):
    account_id, bar, symbol, side = key
    return client_order_id(account_id=account_id, bar_time=bar, symbol=symbol, side=side)


def test_example_is_readable():
    bar = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    assert (
        client_order_id(account_id=7, bar_time=bar, symbol="BRK.B", side="buy") == "hg7-202510011400-b-BRK.B"
    )


def test_longest_possible_id_fits():
    bar = dt.datetime(2099, 12, 31, 23, 59, tzinfo=dt.UTC)
    longest = client_order_id(account_id=10**14 - 1, bar_time=bar, symbol="X" * SYMBOL_MAX_LEN, side="sell")
    assert len(longest) == CLIENT_ORDER_ID_MAX == 48


@given(keys)
def test_deterministic_and_short(key):
    assert cid(key) == cid(key)
    assert len(cid(key)) <= CLIENT_ORDER_ID_MAX


@given(keys, keys)
def test_different_decisions_never_share_an_id(a, b):
    assert (cid(a) == cid(b)) == (a == b)


def test_same_instant_in_another_zone_is_the_same_bar():
    bar = dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC)
    ny = bar.astimezone(dt.timezone(dt.timedelta(hours=-4)))
    assert client_order_id(account_id=1, bar_time=ny, symbol="A", side="buy") == client_order_id(
        account_id=1, bar_time=bar, symbol="A", side="buy"
    )


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"account_id": 10**14}, "account id"),
        ({"bar_time": dt.datetime(2025, 10, 1, 14, 0)}, "timezone-aware"),
        ({"bar_time": dt.datetime(2025, 10, 1, 14, 0, 30, tzinfo=dt.UTC)}, "whole minute"),
        ({"symbol": "aapl"}, "symbol"),
        ({"symbol": "X" * (SYMBOL_MAX_LEN + 1)}, "symbol"),
        ({"side": "short"}, "short"),
    ],
)
def test_bad_inputs_are_named(kw, message):
    args = {
        "account_id": 1,
        "bar_time": dt.datetime(2025, 10, 1, 14, 0, tzinfo=dt.UTC),
        "symbol": "A",
        "side": "buy",
    }
    with pytest.raises(ValueError, match=message):
        client_order_id(**{**args, **kw})
