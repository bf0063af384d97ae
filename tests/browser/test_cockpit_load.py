"""The cockpit under load, in real headless Chromium: an account with 500 positions and 2,000 open
orders (seeded directly in the test database) is rendered with its data in <= 1 s, and keeps up
with 10 updates/s (order status changes and fills with their positions, built by apps.cockpit.rows
as the services' messages are, fed to the page's message handler at 10 Hz). Figures measured in
the browser with performance.now() and printed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.services import demo_users_create
from apps.cockpit import rows
from apps.core.realtime import stream_seq
from apps.trading.models import Fill, Order, TradingAccount
from apps.trading.selectors import account_pnl
from tests.browser_support import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POSITIONS, ORDERS, RATE_HZ, SECONDS = 500, 2000, 10, 5
BAR = dt.datetime(2025, 10, 2, 18, tzinfo=dt.UTC)


def _seed() -> TradingAccount:
    alice = get_user_model().objects.get(username="alice")
    account = TradingAccount.objects.create(
        name="big-book",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=Decimal("10000000"),
        created_by=alice,
    )
    common = {"account": account, "type": "market", "requested_type": "market"}
    bought = Order.objects.bulk_create(
        Order(
            **common,
            bar_time=BAR - dt.timedelta(days=1),
            symbol=f"S{i:03d}",
            side="buy",
            qty=Decimal(10 + i),
            status="filled",
            client_order_id=f"big-fill-{i:03d}",
            submitted_at=BAR - dt.timedelta(days=1),
        )
        for i in range(POSITIONS)
    )
    Fill.objects.bulk_create(
        Fill(
            order=o,
            account=account,
            execution_id=f"ex-{o.client_order_id}",
            symbol=o.symbol,
            side="buy",
            qty=o.qty,
            price=Decimal("100.00") + i,
            at=BAR - dt.timedelta(days=1),
            shortfall_decision_bps=Decimal("1.5"),
        )
        for i, o in enumerate(bought)
    )
    Order.objects.bulk_create(
        Order(
            **common,
            bar_time=BAR + dt.timedelta(hours=i // POSITIONS),
            symbol=f"S{i % POSITIONS:03d}",
            side="sell",
            qty=Decimal(1),
            status="accepted",
            client_order_id=f"big-open-{i:04d}",
            submitted_at=BAR,
        )
        for i in range(ORDERS)
    )
    return account


def _messages(account: TradingAccount) -> list[dict]:
    """RATE_HZ * SECONDS messages with consecutive numbers after the snapshot's: every other one
    an order cancelled (its row leaves the open orders), the others a fill growing a position."""
    stream = f"account.{account.pk}"
    seq = stream_seq(stream)
    open_orders = list(Order.objects.filter(account=account, status="accepted").order_by("id"))
    book = {p.symbol: p for p in account_pnl(account=account, marks={}).positions}
    equity = Decimal("10000000")
    out = []
    for i in range(RATE_HZ * SECONDS):
        seq += 1
        if i % 2 == 0:
            order = open_orders[i]
            order.status = "cancelled"
            payload = {"account": account.name, "order": rows.order_row(order, filled_qty=Decimal(0))}
            event = "order"
        else:
            symbol = f"S{i:03d}"
            position = book[symbol]
            fill = Fill(
                execution_id=f"ex-live-{i}",
                symbol=symbol,
                side="buy",
                qty=Decimal(1),
                price=Decimal("123.45"),
                fee=Decimal(0),
                at=timezone.now(),
            )
            position = dataclasses.replace(
                position, qty=position.qty + 1, market_value=position.market_value + fill.price
            )
            book[symbol] = position
            payload = {
                "account": account.name,
                "fill": rows.fill_row(fill, client_order_id=f"live-{i}"),
                "position": rows.position_row(position, equity=equity, target_weight=None),
            }
            event = "fill"
        out.append({"event": event, "payload": {**payload, "seq": seq, "stream": stream}})
    return out


# Runs in the page: send the messages at RATE_HZ through the client's handler (what the socket's
# onmessage calls) and time each one until it is applied and the next frame is painted.
DRIVE = """([messages, rateHz]) => new Promise((resolve) => {
  const lags = [];
  const start = performance.now();
  messages.forEach((msg, i) => {
    setTimeout(() => {
      const sent = performance.now();
      window.cockpit.receive(msg);
      requestAnimationFrame(() => setTimeout(() => {
        lags.push(performance.now() - sent);
        if (lags.length === messages.length) resolve({lags, seconds: (performance.now() - start) / 1000});
      }, 0));
    }, (i * 1000) / rateHz);
  });
})"""


def test_500_positions_and_2000_orders_render_in_a_second_and_keep_up_with_10_updates_per_second(
    live_server, page, login
):
    demo_users_create(password="browser-pw-123")
    account = _seed()
    login("alice", "browser-pw-123")
    page.goto(f"{live_server.url}/cockpit/{account.name}/")
    page.locator("#positions tbody tr[data-symbol]").first.wait_for()
    stats = page.evaluate("() => ({...window.cockpit.stats})")
    # On screen (the first rows of each table painted), then every row appended.
    while stats["firstPaintMs"] is None or not page.evaluate("() => window.cockpit.filled()"):
        page.wait_for_timeout(50)
        stats = page.evaluate("() => ({...window.cockpit.stats})")
    assert page.locator("#positions tbody tr[data-symbol]").count() == POSITIONS
    assert page.locator("#open-orders tbody tr[data-order]").count() == ORDERS
    nav = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {first_byte: n.responseStart, html: n.responseEnd, dom: n.domContentLoadedEventEnd}; }"
    )
    figures = {
        "server_first_byte_ms": round(nav["first_byte"], 1),
        "html_received_ms": round(nav["html"], 1),
        "render_ms": round(stats["firstRenderMs"], 1),
        "painted_ms": round(stats["firstPaintMs"], 1),
        "all_rows_ms": round(stats["filledAt"], 1),
        "sections_ms": stats["sectionMs"],
    }
    print("cockpit render", json.dumps(figures))
    assert stats["firstPaintMs"] <= 1000, figures

    result = page.evaluate(DRIVE, [_messages(account), RATE_HZ])
    lags = sorted(result["lags"])
    after = page.evaluate("() => ({...window.cockpit.stats})")
    figures.update(
        updates=len(lags),
        rate_hz=round(len(lags) / result["seconds"], 1),
        lag_p50_ms=round(lags[len(lags) // 2], 1),
        lag_p95_ms=round(lags[int(len(lags) * 0.95)], 1),
        lag_max_ms=round(lags[-1], 1),
        max_frame_ms=round(after["maxRenderMs"], 1),
        gaps=after["gaps"],
    )
    print("cockpit load", json.dumps(figures))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cockpit_load.png"), full_page=False)
    # Kept up: every update on screen well within its 100 ms slot, none lost, none a gap.
    assert after["applied"] == RATE_HZ * SECONDS and after["gaps"] == 0, figures
    # Kept up: half the updates painted within their 100 ms slot, 95 % within two (the machine's
    # 2 cores are shared with the test server and other runs: p50 is ~50-75 ms, p95 70-150 ms
    # there), none held back long, and no backlog: the 50 updates take their 5 s.
    assert lags[len(lags) // 2] < 1000 / RATE_HZ, figures
    assert lags[int(len(lags) * 0.95)] < 2 * 1000 / RATE_HZ, figures
    assert lags[-1] < 500, figures
    assert result["seconds"] < SECONDS + 0.5, figures
    cancelled = RATE_HZ * SECONDS // 2
    assert page.locator("#open-orders tbody tr[data-order]").count() == ORDERS - cancelled
    assert page.locator("#orders-count").inner_text() == str(ORDERS - cancelled)
    assert page.locator("#fills tbody tr[data-execution^=ex-live-]").count() == RATE_HZ * SECONDS // 2
    grown = page.locator("#positions tbody tr[data-symbol=S001] td").nth(1).inner_text()
    assert grown == str(11 + 1)
