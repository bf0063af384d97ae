"""The hourly cycle on a paper account over the real hourly fixture: orders decided by the kernel,
committed, sent, filled at the next bar's open by the simulated venue, PnL and the tracking
record; exactly once per (account, bar)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.live.cycle.run import cycle_run
from apps.live.models import CycleEvent, CycleRun, PaperTrackingPoint
from apps.trading.models import Fill, Order
from apps.trading.selectors import account_book

from .cycle_support import import_fixture, paper_desk

pytestmark = pytest.mark.django_db(transaction=True)

WARMUP = 12  # bars before the first cycle: momentum's lookback of 6 has history behind it


@pytest.fixture
def desk(people, tmp_path):
    stamps = import_fixture(tmp_path, days=6)
    account, version = paper_desk(people)
    return account, version, stamps


def test_a_cycle_decides_commits_and_sends_and_the_next_bar_fills_it(desk):
    account, version, stamps = desk
    first = cycle_run(account=account, bar_time=stamps[WARMUP], trigger="manual")
    assert first.status == "succeeded", (first.reason, first.error)
    assert first.step == "settled"
    orders = list(Order.objects.filter(cycle=first))
    assert orders and all(o.side == "buy" for o in orders)
    assert {o.status for o in orders} == {"accepted"}
    assert all(o.type == "limit" and o.limit_price > o.decision_price for o in orders)  # protective limit
    assert all(o.model_version_id == version.pk and o.data_hash == first.data_hash for o in orders)
    assert first.decision["weights"] and first.decision["kernel"] == "fresh"

    second = cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="manual")
    assert second.status == "succeeded", (second.reason, second.error)
    fills = Fill.objects.filter(order__cycle=first)
    assert fills.exists()
    assert second.summary["shortfall"]["fills"] == fills.count()
    book = account_book(account=account)
    assert book.cash < account.starting_cash
    assert {s for s, p in book.positions.items() if p.qty} == {o.symbol for o in orders if o.fills.exists()}
    point = PaperTrackingPoint.objects.get(cycle=second)
    assert point.paper_return == pytest.approx(point.backtest_return, abs=1e-6)


def test_the_same_bar_twice_is_one_cycle_and_no_extra_order(desk):
    account, _version, stamps = desk
    bar = stamps[WARMUP]
    first = cycle_run(account=account, bar_time=bar, trigger="beat")
    n = Order.objects.count()
    again = cycle_run(account=account, bar_time=bar, trigger="manual")
    assert again.pk == first.pk and again.status == "succeeded"
    assert Order.objects.count() == n
    assert CycleRun.objects.filter(account=account, bar_time=bar).count() == 1
    assert list(CycleEvent.objects.filter(cycle=first).values_list("event", flat=True)) == [
        "claim",
        "succeed",
    ]


def test_a_run_left_running_by_a_dead_worker_is_taken_over_without_a_second_order(desk):
    account, _version, stamps = desk
    bar = stamps[WARMUP]
    run = cycle_run(account=account, bar_time=bar, trigger="beat")
    n = Order.objects.count()
    # As if the worker had died after persisting and sending: the row still says running.
    CycleRun.objects.filter(pk=run.pk).update(status="running", step="submitted")
    again = cycle_run(account=account, bar_time=bar, trigger="retry")
    assert again.status == "succeeded" and again.attempts == 2
    assert Order.objects.count() == n
    assert "resume" in CycleEvent.objects.filter(cycle=run).values_list("event", flat=True)


def test_a_stopped_account_decides_nothing_but_still_books_its_fills(desk, people):
    from apps.live.services import killswitch_stop

    account, _version, stamps = desk
    first = cycle_run(account=account, bar_time=stamps[WARMUP], trigger="beat")
    killswitch_stop(by=people["rita"], account=account, reason="test")
    second = cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="beat")
    assert second.status == "skipped" and "stopped" in second.reason
    assert not Order.objects.filter(cycle=second).exists()
    assert Fill.objects.filter(order__cycle=first).exists()  # the venue filled the earlier orders
    assert Decimal(second.summary["equity"]) > 0


def test_no_bar_at_the_cycle_time_skips_with_a_stale_data_alert(desk):
    from apps.alerts.models import Alert

    account, _version, stamps = desk
    late = stamps[-1] + (stamps[-1] - stamps[-2])
    run = cycle_run(account=account, bar_time=late, trigger="beat")
    assert run.status == "skipped" and "no bar" in run.reason
    assert Alert.objects.filter(kind="stale_data", account=account).exists()
    assert not Order.objects.filter(account=account).exists()


def test_no_bars_at_all_is_a_skip_not_a_failure(desk):
    import datetime as dt

    account, _version, _stamps = desk
    run = cycle_run(account=account, bar_time=dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC), trigger="beat")
    assert run.status == "skipped" and "no 1h bars" in run.reason and run.attempts == 1


def _cycles(account, stamps, n: int) -> list:
    runs = [cycle_run(account=account, bar_time=ts, trigger="manual") for ts in stamps[WARMUP : WARMUP + n]]
    assert all(r.status == "succeeded" for r in runs), [(r.reason, r.error) for r in runs]
    return runs


def test_paper_evidence_from_the_cycles_passes_the_paper_to_live_gate(desk, people, settings):
    from apps.live.services.evidence import paper_evidence_record
    from apps.strategies.services import promotion_request_create

    account, version, stamps = desk
    _cycles(account, stamps, 6)  # one session: 2025-10-03 10:00 .. 15:00 ET
    evidence = paper_evidence_record(by=people["quinn"], account=account)
    m = evidence.metrics
    assert m["n_cycles"] == 6 and m["paper_days"] == 1
    # The paper venue fills as the backtest does (next open, cost model, cap): within a session
    # the two returns agree to the cent rounding of the desk's books.
    assert m["max_abs_return_gap"] < 1e-9 and m["tracking_error"] < 1e-7
    assert m["paper_return"] != 0
    settings.STRATEGY_GATES = {**settings.STRATEGY_GATES, "min_paper_days": 1}
    request = promotion_request_create(
        model_version=version,
        to_stage="live",
        requested_by=people["quinn"],
        reason="paper tracks",
        evidence_refs=[("paper", evidence.pk)],
    )
    gate = {g["gate"]: g for g in request.gate_results}["paper_tracking"]
    assert gate["passed"], gate


def test_an_overnight_gap_past_the_protective_limit_is_what_tracking_error_sees(desk):
    """The desk sends protective limits (2% collar), the backtest market orders: a buy whose next
    open gaps above its limit fills in the backtest and not on paper. The first bar where the two
    returns part is such a bar."""
    account, _version, stamps = desk
    runs = _cycles(account, stamps, 8)  # across the weekend into Monday 2025-10-06
    points = [r.summary["tracking"] for r in runs]
    gaps = [abs(p["paper_return"] - p["backtest_return"]) for p in points]
    first = next(k for k, g in enumerate(gaps) if g > 1e-9)
    assert all(g < 1e-9 for g in gaps[:first])
    unfilled = Order.objects.filter(cycle=runs[first - 1], side="buy", status="expired", fills__isnull=True)
    assert unfilled.exists()
    for order in unfilled:
        from apps.marketdata.models import Bar

        next_open = Bar.objects.get(
            instrument__symbol=order.symbol, frequency="1h", ts=runs[first].bar_time
        ).open
        assert next_open > order.limit_price


def test_paper_evidence_is_the_quants_to_record(desk, people):
    from django.core.exceptions import PermissionDenied

    from apps.live.services.evidence import paper_evidence_record

    account, _version, stamps = desk
    _cycles(account, stamps, 3)
    for name in ("alice", "rita", "bob", "victor", "quincy"):
        with pytest.raises(PermissionDenied):
            paper_evidence_record(by=people[name], account=account)


def test_with_the_replay_feed_the_cycle_brings_its_own_bars_in_known_at_the_bar(people, tmp_path, settings):
    """LIVE_FEED=replay: nothing imported beforehand; each cycle's feed poll imports the recorded
    bars that closed by its bar (known from then), and the panel sees exactly those."""
    import pandas as pd

    from apps.marketdata.models import Bar

    from .cycle_support import FIXTURE, SYMBOLS

    frame = pd.read_csv(FIXTURE, dtype=str)
    frame = frame[frame["symbol"].isin(SYMBOLS) & (frame["timestamp"] < "2025-10-04")]
    path = tmp_path / "recording.csv"
    frame.to_csv(path, index=False)
    settings.LIVE_FEED = "replay"
    settings.LIVE_REPLAY_FILE = str(path)
    account, _version = paper_desk(people)
    from apps.live.cycle import data

    data._replay_feed.cache_clear()
    stamps = data._replay_feed(str(path)).stamps
    assert not Bar.objects.exists()
    run = cycle_run(account=account, bar_time=stamps[WARMUP], trigger="replay")
    assert run.status == "succeeded", (run.reason, run.error)
    assert Bar.objects.filter(ts__gt=stamps[WARMUP]).count() == 0  # nothing from the future
    assert set(Bar.objects.values_list("known_at", flat=True).distinct()) == {stamps[WARMUP].to_pydatetime()}
    assert Order.objects.filter(cycle=run).exists()
    nxt = cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="replay")
    assert nxt.status == "succeeded"
    assert Bar.objects.filter(
        ts=stamps[WARMUP + 1], known_at=stamps[WARMUP + 1].to_pydatetime()
    ).count() == len(SYMBOLS)
    data._replay_feed.cache_clear()


def test_a_member_without_any_bar_is_alerted_once_a_stale_name_every_cycle(desk):
    import datetime as dt

    from apps.alerts.models import Alert
    from apps.marketdata.models import Bar
    from apps.universes.models import Membership, Universe

    account, _version, stamps = desk
    Membership.objects.create(
        universe=Universe.objects.get(name="sp500"), symbol="ZZZZ", start_date=dt.date(2000, 1, 3)
    )
    cycle_run(account=account, bar_time=stamps[WARMUP], trigger="beat")
    alert = Alert.objects.get(kind="stale_data", account=account)
    assert "0 name(s) stale, 1 member(s) without any bar" in alert.message and alert.count == 1
    cycle_run(account=account, bar_time=stamps[WARMUP + 1], trigger="beat")
    alert.refresh_from_db()
    assert alert.count == 1  # the same coverage gap: no news
    Bar.objects.filter(instrument__symbol="AAPL", ts=stamps[WARMUP + 2]).delete()
    run = cycle_run(account=account, bar_time=stamps[WARMUP + 2], trigger="beat")
    alert.refresh_from_db()
    assert alert.count == 2 and "AAPL" in alert.message and "AAPL" in run.decision["blocked"]
    assert not Order.objects.filter(cycle=run, symbol="AAPL").exists()
