"""The Alpaca market-data adapter against the fake Alpaca's real HTTP: paged hourly bars since the
last stored bar, imported through the validated bar import with known_at = received time, and
stale or missing symbols reported, never filled forward."""

import datetime as dt

import pytest

from apps.marketdata.models import Bar, ImportRun
from apps.trading.brokers.alpaca import AlpacaHttp, RatePacer, RequestRefused
from apps.trading.feeds import alpaca as feed
from tests.support.fake_alpaca import fake_alpaca, fake_credentials  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def session_day() -> dt.datetime:
    """14:00 UTC (09:00 or 10:00 New York) of a weekday 2-6 days ago: inside the 1h grid, in the past."""
    day = dt.datetime.now(dt.UTC).replace(hour=14, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def bar(t: dt.datetime, close: float = 100.0, **over):
    row = {"t": t.isoformat().replace("+00:00", "Z"), "o": close, "h": close + 1, "l": close - 1, "c": close,
           "v": 1200, "n": 40, "vw": close}  # fmt: skip
    return {**row, **over}


@pytest.fixture
def http(fake_alpaca):  # noqa: F811
    h = AlpacaHttp(base_url=fake_alpaca.base_url, credentials=fake_credentials(), pacer=RatePacer(10_000))
    yield h
    h.close()


def stored(symbol):
    return list(Bar.objects.filter(instrument__symbol=symbol, frequency="1h").order_by("ts"))


def test_first_fetch_pages_stamps_bar_end_and_known_at_received(fake_alpaca, http, monkeypatch):  # noqa: F811
    monkeypatch.setattr(feed, "PAGE_LIMIT", 3)
    day = session_day()
    fake_alpaca.bars = {
        "AAPL": [bar(day + i * HOUR, 190 + i) for i in range(4)],
        "MSFT": [bar(day + i * HOUR, 410 + i) for i in range(3)],
    }
    now_bar = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    fake_alpaca.bars["MSFT"].append(bar(now_bar, 999))  # still forming: never stored
    before = dt.datetime.now(dt.UTC)
    result = feed.alpaca_hourly_bars_import(
        symbols=["AAPL", "MSFT"], expected_through=day + 3 * HOUR, http=http
    )
    after = dt.datetime.now(dt.UTC)
    pages = [q for m, p, q in fake_alpaca.requests if p == "/v2/stocks/bars"]
    assert len(pages) == 3 and "page_token" in pages[1]  # 8 bars, 3 per page
    assert pages[0]["feed"] == ["iex"] and pages[0]["timeframe"] == ["1Hour"]
    assert (result.received, result.in_progress) == (7, 1)
    assert result.import_run.status == ImportRun.Status.SUCCEEDED and result.import_run.source == "alpaca-iex"
    aapl = stored("AAPL")
    assert [b.ts for b in aapl] == [day + (i + 1) * HOUR for i in range(4)]  # Alpaca's t is the START
    assert all(before <= b.known_at <= after for b in aapl)
    assert all(b.known_at > b.ts for b in aapl)
    assert float(aapl[0].close) == 190.0
    assert result.stale == () and result.missing == ()


def test_second_fetch_asks_since_the_last_stored_bar_and_adds_only_new_ones(fake_alpaca, http):  # noqa: F811
    day = session_day()
    fake_alpaca.bars = {"AAPL": [bar(day + i * HOUR) for i in range(2)]}
    feed.alpaca_hourly_bars_import(symbols=["AAPL"], expected_through=day + 2 * HOUR, http=http)
    fake_alpaca.bars["AAPL"] += [bar(day + 2 * HOUR, 101), bar(day + 3 * HOUR, 102)]
    fake_alpaca.requests.clear()
    result = feed.alpaca_hourly_bars_import(symbols=["AAPL"], expected_through=day + 4 * HOUR, http=http)
    [(_, _, query)] = fake_alpaca.requests
    assert query["start"] == [(day + 2 * HOUR).isoformat().replace("+00:00", "Z")]  # the last stored END
    assert result.received == 2 and result.import_run.rows_inserted == 2
    assert len(stored("AAPL")) == 4


def test_stale_and_missing_symbols_are_reported_never_filled(fake_alpaca, http):  # noqa: F811
    day = session_day()
    fake_alpaca.bars = {"AAPL": [bar(day + i * HOUR) for i in range(3)], "MSFT": [bar(day)]}
    result = feed.alpaca_hourly_bars_import(
        symbols=["AAPL", "MSFT", "ZZZZ"], expected_through=day + 3 * HOUR, http=http
    )
    assert result.stale == ("MSFT",) and result.missing == ("ZZZZ",)
    assert result.blocked == ("MSFT", "ZZZZ")
    assert [b.ts for b in stored("MSFT")] == [day + HOUR]  # nothing invented for 2 h and 3 h
    assert stored("ZZZZ") == []


def test_one_bad_bar_blocks_only_its_symbol(fake_alpaca, http):  # noqa: F811
    day = session_day()
    fake_alpaca.bars = {
        "AAPL": [bar(day), bar(day + HOUR)],
        "MSFT": [bar(day), bar(day + HOUR, h=50.0)],  # high below open/close: invalid
    }
    result = feed.alpaca_hourly_bars_import(
        symbols=["AAPL", "MSFT"], expected_through=day + 2 * HOUR, http=http
    )
    assert result.import_run.status == ImportRun.Status.PARTIAL and result.import_run.rows_rejected == 1
    assert len(stored("AAPL")) == 2 and len(stored("MSFT")) == 1
    assert result.stale == ("MSFT",)


def test_feed_setting_and_a_refused_feed(fake_alpaca, http, settings):  # noqa: F811
    settings.ALPACA_DATA_FEED = "sip"
    with pytest.raises(RequestRefused) as info:
        feed.alpaca_hourly_bars_import(symbols=["AAPL"], expected_through=session_day(), http=http)
    assert info.value.http_status == 403 and "SIP" in str(info.value)
    fake_alpaca.data_feeds.add("sip")
    fake_alpaca.bars = {"AAPL": [bar(session_day())]}
    result = feed.alpaca_hourly_bars_import(symbols=["AAPL"], expected_through=session_day(), http=http)
    assert result.import_run.source == "alpaca-sip"
