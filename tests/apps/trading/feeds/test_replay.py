"""The replay feed walks real recorded hourly bars as if live: each poll stores exactly the bars
that closed by then, known from then; re-polling stores nothing; stale and missing symbols are
named and never filled forward."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from apps.marketdata.models import Bar, ImportRun
from apps.paper.services import venue_account_create
from apps.trading.brokers.base import OrderRequest, OrderSide, OrderType
from apps.trading.brokers.paper import PaperBroker
from apps.trading.feeds.base import Feed, StaleSymbol
from apps.trading.feeds.replay import ReplayClock, ReplayError, ReplayFeed
from tests.apps.paper.conftest import fixture_rows
from workers.engine.backtest import BacktestConfig

pytestmark = pytest.mark.django_db
SYMBOLS = ["AAPL", "MSFT", "NVDA"]


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "recorded.csv"
    fixture_rows(SYMBOLS, days=2).to_csv(path, index=False)
    return path


def _known(at) -> set[tuple[str, dt.datetime]]:
    return set(Bar.objects.filter(known_at__lte=at).values_list("instrument__symbol", "ts"))


def test_replaying_two_bars_makes_exactly_those_bars_known(recording):
    feed = ReplayFeed(recording)
    assert isinstance(feed, Feed) and feed.symbols == SYMBOLS
    first, second, third = feed.stamps[:3]
    r1 = feed.poll(first)
    assert r1.new_bars == tuple((s, first) for s in SYMBOLS)
    assert r1.stale == () and r1.missing == () and r1.expected == first
    r2 = feed.poll(second + dt.timedelta(milliseconds=500))
    assert r2.new_bars == tuple((s, second) for s in SYMBOLS)
    assert Bar.objects.count() == 6 and not Bar.objects.filter(ts__gte=third).exists()
    # known from when the replay received them (rounded up to the second), never before
    assert set(Bar.objects.filter(ts=first).values_list("known_at", flat=True)) == {first}
    assert set(Bar.objects.filter(ts=second).values_list("known_at", flat=True)) == {
        second + dt.timedelta(seconds=1)
    }
    assert _known(first) == {(s, first) for s in SYMBOLS}
    assert _known(second) == {(s, first) for s in SYMBOLS}
    # the recorded values went through the import unchanged
    aapl = fixture_rows(["AAPL"], days=1).iloc[0]
    assert str(Bar.objects.get(instrument__symbol="AAPL", ts=first).open) == f"{float(aapl['open']):.6f}"


def test_re_running_is_idempotent(recording):
    feed = ReplayFeed(recording)
    second = feed.stamps[1]
    feed.poll(second)
    runs, bars = ImportRun.objects.count(), Bar.objects.count()
    again = feed.poll(second)
    restarted = ReplayFeed(recording).poll(second)  # a restarted process resumes from the database
    assert again.new_bars == () and restarted.new_bars == ()
    assert (ImportRun.objects.count(), Bar.objects.count()) == (runs, bars)
    assert ReplayFeed(recording).resume_index() == 2


def test_stale_and_missing_symbols_are_named_not_filled(tmp_path):
    rows = fixture_rows(SYMBOLS, days=1)
    stamps = sorted(rows["timestamp"].unique())
    rows = rows[~((rows["symbol"] == "MSFT") & (rows["timestamp"] == stamps[1]))]  # MSFT's 11:00 bar lost
    path = tmp_path / "gappy.csv"
    rows.to_csv(path, index=False)
    feed = ReplayFeed(path, symbols=[*SYMBOLS, "ZZZZ"])
    first, second = feed.stamps[:2]
    feed.poll(first)
    result = feed.poll(second)
    assert result.stale == (StaleSymbol(symbol="MSFT", last_bar=first, expected=second),)
    assert result.missing == ("ZZZZ",)
    assert result.blocked == {"MSFT", "ZZZZ"}
    assert not Bar.objects.filter(instrument__symbol="MSFT", ts=second).exists()
    assert ("MSFT", second) not in result.new_bars and len(result.new_bars) == 2


def test_accelerated_clock_one_bar_every_n_seconds(recording, settings):
    settings.REPLAY_SECONDS_PER_BAR = 10
    feed = ReplayFeed(recording)
    wall = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    clock = feed.clock(started_at=wall)
    s = feed.stamps
    assert clock.seconds_per_bar == 10
    assert clock.market_now(wall) == s[0]
    assert clock.market_now(wall + dt.timedelta(seconds=9.9)) == s[0]
    assert clock.market_now(wall + dt.timedelta(seconds=10)) == s[1]
    assert clock.market_now(wall + dt.timedelta(hours=1)) == s[-1] and clock.done(
        wall + dt.timedelta(hours=1)
    )
    # an evening and a night pass in one step: the clock walks recorded bar ends, not hours
    assert pd.Timestamp(s[6]) - pd.Timestamp(s[5]) > dt.timedelta(hours=12)
    feed.poll(s[1])
    assert feed.clock(started_at=wall).market_now(wall) == s[2]  # resumes after what is stored
    with pytest.raises(ReplayError):
        ReplayClock(stamps=s, started_at=wall, seconds_per_bar=-1)


def test_replayed_hours_drive_the_paper_venue(recording, settings):
    """The demo loop in small: the replay clock gives market time, the feed delivers the bars
    closed by then, a paper order sent at that time fills at the open of the next replayed bar."""
    settings.REPLAY_SECONDS_PER_BAR = 5
    feed = ReplayFeed(recording)
    wall = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    clock = feed.clock(started_at=wall)
    walls = [wall]
    broker = PaperBroker(
        venue_account_create(name="replay", cash=Decimal(100_000), backtest=BacktestConfig()),
        clock=lambda: clock.market_now(walls[-1]).to_pydatetime(),
    )
    feed.poll(broker.clock())
    order = broker.submit(
        OrderRequest(
            client_order_id="r1", symbol="MSFT", side=OrderSide.BUY, qty=Decimal(4), type=OrderType.MARKET
        )
    )
    assert broker.advance().executions == ()  # the next bar has not been replayed yet
    walls.append(wall + dt.timedelta(seconds=5))
    now = broker.clock()
    assert now == feed.stamps[1]
    assert len(feed.poll(now).new_bars) == 3
    (fill,) = broker.advance().executions
    bar = Bar.objects.get(instrument__symbol="MSFT", ts=feed.stamps[1])
    assert (fill.qty, fill.price, fill.bar_ts) == (4, bar.open, feed.stamps[1])
    assert broker.order_by_client_id("r1").status == "filled" and order.status == "accepted"
