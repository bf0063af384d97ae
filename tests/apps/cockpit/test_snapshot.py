"""The snapshot on real data: a paper account after real cycles on the hourly fixture. What it
shows agrees with the desk's own books (fills, orders, cycles), and it costs a fixed number of
queries whatever the number of positions and orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.cockpit.selectors import account_snapshot, desk_overview
from apps.cockpit.selectors.book import last_closes
from apps.core.realtime import account_stream, stream_seq
from apps.live.models import CycleRun, Reconciliation
from apps.marketdata.models import Instrument
from apps.marketdata.services import bars_import
from apps.trading.models import Fill, Order
from apps.trading.orders import OPEN
from apps.trading.selectors import account_pnl

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_the_snapshot_shows_the_desks_books(traded, people):
    account, version, runs = traded
    snap = account_snapshot(account=account, user=people["alice"])

    assert snap["account"]["name"] == account.name
    assert snap["seq"] == stream_seq(account_stream(account.pk)) > 0
    # Positions: exactly the book's, marked at the last hourly close of each name.
    marks = last_closes(account=account, frequency="1h", as_of=dt.datetime.now(dt.UTC))
    pnl = account_pnl(account=account, marks=marks.closes)
    assert [p["symbol"] for p in snap["positions"]] == [p.symbol for p in pnl.positions]
    assert pnl.positions, "the cycles bought something"
    for row, pos in zip(snap["positions"], pnl.positions, strict=True):
        assert D(row["qty"]) == pos.qty and D(row["last"]) == pos.mark
        assert row["weight"] == pytest.approx(float(pos.market_value / pnl.equity))
        assert row["target_weight"] == runs[-1].decision["weights"][pos.symbol]
    h = snap["headline"]
    assert D(h["equity"]) == pnl.equity.quantize(D("0.01"))
    assert D(h["cash"]) == pnl.cash.quantize(D("0.01"))
    assert D(h["pnl_since_inception"]) == (pnl.equity - account.starting_cash).quantize(D("0.01"))
    assert h["positions"] == len(pnl.positions)
    assert D(h["gross_exposure"]) == sum(p.market_value for p in pnl.positions).quantize(D("0.01"))
    assert h["governor_state"] == runs[-1].decision["governor"]["state"]
    peak = max([account.starting_cash, *(D(r.summary["equity"]) for r in runs)])
    assert h["drawdown"] == pytest.approx(min(0.0, float(pnl.equity / peak - 1)))
    # No cycle "today" (the fixture is in 2025): today's PnL is measured from the last session close.
    assert D(h["pnl_today"]) == (pnl.equity - D(runs[-1].summary["equity"])).quantize(D("0.01"))

    # Tables: the orders still open, the fills with their shortfall, the cycles and reconciliations.
    assert {o["id"] for o in snap["open_orders"]} == set(
        Order.objects.filter(account=account, status__in=OPEN).values_list("pk", flat=True)
    )
    assert len(snap["fills"]) == Fill.objects.filter(account=account).count()
    newest = (
        Fill.objects.filter(account=account).order_by("-at", "-execution_id").select_related("order").first()
    )
    assert snap["fills"][0]["execution_id"] == newest.execution_id
    assert snap["fills"][0]["client_order_id"] == newest.order.client_order_id
    assert snap["fills"][0]["shortfall_decision_bps"] == pytest.approx(float(newest.shortfall_decision_bps))
    assert [c["id"] for c in snap["cycles"]] == [r.pk for r in reversed(runs)]
    first = snap["cycles"][-1]
    assert first["orders"] == Order.objects.filter(cycle=runs[0]).exclude(submitted_at=None).count()
    assert first["status"] == "succeeded" and first["duration_ms"] > 0
    assert len(snap["reconciliations"]) == Reconciliation.objects.filter(account=account).count() == len(runs)
    assert all(r["ok"] for r in snap["reconciliations"])

    # Series: one point per cycle; no SPY bars stored -> no benchmark; sectors of the held names.
    assert [p[0][:16] for p in snap["series"]["equity"]] == [f"{r.bar_time:%Y-%m-%dT%H:%M}" for r in runs]
    assert all(p[2] is None for p in snap["series"]["equity"])
    assert len(snap["series"]["drawdown"]) == len(runs)
    assert sum(snap["series"]["sector_exposure"].values()) == pytest.approx(
        float(sum(p.market_value for p in pnl.positions) / pnl.equity)
    )

    assert snap["kill_switch"]["state"] == "active"
    assert snap["model"]["version"] == f"{version.strategy.name} v{version.version}"
    assert snap["model"]["stage"] == "paper" and snap["model"]["url"].endswith(f"/{version.strategy.name}/")
    assert snap["can"] == {"stop": True, "cancel": True, "flat": True, "unlock": False}
    assert set(snap["health"]["checks"]) >= {"database", "broker", "worker", "beat", "queue_depth"}
    assert snap["health"]["checks"]["database"]["ok"]
    assert not snap["health"]["checks"]["worker"]["ok"]  # no worker ran in this test
    assert snap["health"]["state"] == "down"


def test_spy_is_rebased_to_the_first_cycles_equity(traded, people, tmp_path):
    account, _version, runs = traded
    Instrument.objects.get_or_create(symbol="SPY", defaults={"name": "SPDR S&P 500 ETF"})
    lines = ["symbol,timestamp,open,high,low,close,volume"]
    closes = {}
    for i, run in enumerate(runs):
        local = run.bar_time.astimezone(dt.timezone(dt.timedelta(hours=-4)))  # October: EDT
        closes[run.pk] = 600 + i
        lines.append(f"SPY,{local:%Y-%m-%d %H:%M:%S},600,610,590,{600 + i},1000")
    path = tmp_path / "spy.csv"
    path.write_text("\n".join(lines) + "\n")
    assert bars_import(path=path, freq="1h", source="test-spy").status == "succeeded"

    equity = account_snapshot(account=account, user=people["victor"])["series"]["equity"]
    base = float(runs[0].summary["equity"])
    for (_t, eq, spy), run in zip(equity, runs, strict=True):
        assert eq == pytest.approx(float(run.summary["equity"]))
        assert spy == pytest.approx(base * closes[run.pk] / 600)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(traded, people):
    account, _version, runs = traded
    user = people["alice"]
    user.has_perm("x")  # the permission cache, as on any request after the first check
    before = _queries(lambda: account_snapshot(account=account, user=user))
    # More of everything: every cycle's orders duplicated as open orders of a later bar, more cycles.
    bar = runs[-1].bar_time + dt.timedelta(days=30)
    template = Order.objects.filter(account=account).first()
    Order.objects.bulk_create(
        [
            Order(
                account=account, bar_time=bar + dt.timedelta(hours=i), symbol=template.symbol, side="buy",
                qty=1, requested_type="limit", type="limit", limit_price=D("1.00"), status="accepted",
                client_order_id=f"bulk-{i}",
            )
            for i in range(300)
        ]
    )  # fmt: skip
    CycleRun.objects.bulk_create(
        [
            CycleRun(account=account, bar_time=bar + dt.timedelta(hours=i), status="skipped", trigger="test")
            for i in range(60)
        ]
    )
    after = _queries(lambda: account_snapshot(account=account, user=user))
    assert after == before
    assert before <= 30


def test_desk_overview_lists_every_account(traded, people):
    account, _version, _runs = traded
    overview = desk_overview(user=people["victor"])
    assert [a["account"]["name"] for a in overview["accounts"]] == [account.name]
    assert (
        overview["accounts"][0]["headline"]
        == account_snapshot(account=account, user=people["victor"])["headline"]
    )
    assert overview["kill_switch"]["account_state"] is None and overview["kill_switch"]["state"] == "active"
    assert overview["can"] == {"stop": False, "cancel": False, "flat": False, "unlock": False}
    assert overview["health"]["checks"]["last_reconciliation"]["ok"]
