"""The cockpit in real headless Chromium against what `make demo` runs (`rundesk --demo` in its own
process on a fresh SQLite file: the ASGI server with the websocket, the embedded worker and beat,
the demo paper account trading every replayed hour): a trader watches real data arrive without a
reload and presses STOP, CANCEL and FLAT; a viewer sees no button and is refused a forged POST;
the socket reconnects and resyncs after the server restarts; a lost message (a skipped sequence
number) is recovered from the snapshot. Screenshots in var/screenshots/cockpit_*.png."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.browser_support import SCREENSHOTS
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACCOUNT = "demo-paper"
SECONDS_PER_BAR = 4.0  # as tests/apps/live/test_demo_trading.py: a cycle every 4 s


@pytest.fixture
def demo_replay_seconds_per_bar() -> float:
    return SECONDS_PER_BAR


def _query(desk, sql: str, *args):
    with sqlite3.connect(f"file:{desk.database}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql, args).fetchall()


def _account_id(desk) -> int:
    return _query(desk, "SELECT id FROM trading_tradingaccount WHERE name = ?", ACCOUNT)[0][0]


def _positions(desk) -> dict[str, Decimal]:
    held: dict[str, Decimal] = defaultdict(Decimal)
    for symbol, side, qty in _query(
        desk,
        "SELECT f.symbol, f.side, f.qty FROM trading_fill f JOIN trading_tradingaccount a ON a.id = f.account_id"
        " WHERE a.name = ?",
        ACCOUNT,
    ):
        held[symbol] += Decimal(str(qty)) * (1 if side == "buy" else -1)
    return {s: q for s, q in held.items() if q}


def _open_orders(desk) -> int:
    return _query(
        desk,
        "SELECT count(*) FROM trading_order o JOIN trading_tradingaccount a ON a.id = o.account_id"
        " WHERE a.name = ? AND o.status IN ('pending_new', 'submitted', 'accepted', 'partially_filled', 'pending_cancel')",
        ACCOUNT,
    )[0][0]


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"cockpit_{name}.png"), full_page=True)


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-hourglass")  # the demo users' passwords (README)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _stats(page) -> dict:
    return page.evaluate("() => ({...window.cockpit.stats})")


def _badge(page) -> str:
    return page.locator("#ks-badge .ks").get_attribute("data-state")


def _press(page, action: str, reason: str) -> str:
    """Click the button, check the dialog names the account, give the reason, confirm; returns
    the dialog's text."""
    page.click(f"button[data-action={action}]")
    dialog = page.locator("dialog#confirm")
    dialog.wait_for(state="visible")
    text = dialog.locator("[data-field=confirm-text]").inner_text()
    assert ACCOUNT in text and action.upper() in text, text
    dialog.locator("textarea[name=reason]").fill(reason)
    dialog.locator("button[value=confirm]").click()
    dialog.wait_for(state="hidden")
    return text


def _wait_socket_live(page, timeout_s: float = 30) -> None:
    page.locator("#conn.live").wait_for(timeout=timeout_s * 1000)


def test_trader_watches_the_desk_live_and_presses_stop_cancel_flat(demo_desk, page):
    base = demo_desk.url
    _login(page, base, "alice")
    page.goto(f"{base}/cockpit/")
    assert page.locator(f"#desk-accounts tr[data-account={ACCOUNT}]").count() == 1
    _shot(page, "desk_overview")
    page.click(f".switcher a[data-account={ACCOUNT}]")
    page.wait_for_url(f"{base}/cockpit/{ACCOUNT}/")
    _wait_socket_live(page)
    assert _badge(page) == "active"
    assert page.locator("button[data-action=stop]").is_visible()
    assert not page.locator("button[data-action=unlock]").is_visible()  # a trader may not UNLOCK

    # The cockpit shows real data: the cycles the desk ran, with a fill pushed without a reload.
    page.evaluate("() => { window.__sameDocument = true; }")
    page.locator("#cycles tbody tr[data-cycle]").first.wait_for(timeout=120_000)
    seen = set(
        page.locator("#fills tbody tr[data-execution]").evaluate_all("rs => rs.map(r => r.dataset.execution)")
    )
    page.locator("#fills tbody tr[data-execution]").first.wait_for(timeout=120_000)

    def new_fill():
        now = page.locator("#fills tbody tr[data-execution]").evaluate_all(
            "rs => rs.map(r => r.dataset.execution)"
        )
        return [e for e in now if e not in seen]

    wait_for(new_fill, 120, what="a fill pushed to the page")
    [execution, *_] = new_fill()
    assert _query(demo_desk, "SELECT count(*) FROM trading_fill WHERE execution_id = ?", execution)[0][0] == 1
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
    assert _stats(page)["applied"] > 0
    assert page.locator("#positions tbody tr[data-symbol]").count() == len(_positions(demo_desk))
    _shot(page, "trader_live")

    # STOP: the badge turns STOPPED (pushed, not from the POST's answer); no order after it.
    _press(page, "stop", "browser test: STOP")
    page.locator("#ks-badge .ks[data-state=stopped]").wait_for(timeout=30_000)
    assert page.locator("#ks-badge .ks").inner_text() == "STOPPED"
    last_order = _query(demo_desk, "SELECT coalesce(max(id), 0) FROM trading_order")[0][0]
    last_cycle = _query(demo_desk, "SELECT max(id) FROM live_cyclerun")[0][0]
    wait_for(
        lambda: (
            _query(
                demo_desk,
                "SELECT count(*) FROM live_cyclerun WHERE id > ? AND status = 'skipped'",
                last_cycle,
            )[0][0]
            >= 2
        ),
        90,
        what="2 cycles skipped after STOP",
    )
    assert _query(demo_desk, "SELECT count(*) FROM trading_order WHERE id > ?", last_order)[0][0] == 0
    page.locator("#cycles tbody tr[data-cycle] .badge.skipped").first.wait_for(timeout=30_000)
    _shot(page, "after_stop")

    # CANCEL: the open orders table empties (from the pushed order messages).
    _press(page, "cancel", "browser test: CANCEL")
    wait_for(lambda: _open_orders(demo_desk) == 0, 60, what="no open order in the database")
    page.locator("#open-orders tbody tr.empty").wait_for(timeout=30_000)
    assert page.locator("#open-orders tbody tr[data-order]").count() == 0
    assert _badge(page) == "stopped"
    _shot(page, "after_cancel")

    # FLAT: every position closed (the paper venue fills its sells at the next bar's open); the
    # page shows none.
    _press(page, "flat", "browser test: FLAT")
    wait_for(lambda: not _positions(demo_desk), 120, what="no position left in the database")
    page.locator("#positions tbody tr.empty").wait_for(timeout=60_000)
    assert page.locator("#positions tbody tr[data-symbol]").count() == 0
    # FLAT's own verification ends it FLAT, or STOPPED when its sells were still to fill at the
    # next bar (as tests/apps/live/test_demo_trading.py): never left flattening, never active.
    page.locator("#ks-badge .ks[data-state=flat], #ks-badge .ks[data-state=stopped]").wait_for(timeout=60_000)
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
    _shot(page, "after_flat")


def test_viewer_sees_no_button_and_a_forged_post_is_refused(demo_desk, page):
    base = demo_desk.url
    _login(page, base, "victor")
    page.goto(f"{base}/cockpit/{ACCOUNT}/")
    _wait_socket_live(page)
    assert page.locator("#actions").is_hidden()
    for action in ("stop", "cancel", "flat", "unlock"):
        assert page.locator(f"button[data-action={action}]").is_hidden()
    _shot(page, "viewer")
    token = page.locator("#cockpit input[name=csrfmiddlewaretoken]").input_value()
    # With the page's own CSRF token: the service refuses the viewer.
    refused = page.request.post(
        f"{base}/cockpit/api/{ACCOUNT}/stop", form={"reason": "forged"}, headers={"X-CSRFToken": token}
    )
    assert refused.status == 403, refused.text()
    # Without it: CSRF refuses it first.
    forged = page.request.post(f"{base}/cockpit/api/{ACCOUNT}/flat", form={"reason": "forged"})
    assert forged.status == 403
    assert _query(demo_desk, "SELECT count(*) FROM live_killswitch WHERE state != 'active'")[0][0] == 0


def test_the_socket_reconnects_and_resyncs_after_a_restart_and_recovers_a_lost_message(demo_desk, page):
    base = demo_desk.url
    _login(page, base, "alice")
    page.goto(f"{base}/cockpit/{ACCOUNT}/")
    _wait_socket_live(page)
    page.evaluate("() => { window.__sameDocument = true; }")
    before = _stats(page)

    # A lost message: the stream's number moves on without the page being told (what a message
    # dropped by the channel layer looks like); the next message is a gap -> the snapshot.
    stream = f"account.{_account_id(demo_desk)}"

    def published() -> bool:  # the account's stream exists once its first message went out
        with sqlite3.connect(demo_desk.database, timeout=30) as db:
            return bool(
                db.execute("SELECT 1 FROM core_streamsequence WHERE stream = ?", (stream,)).fetchall()
            )

    wait_for(published, 120, what="the account's first pushed message")
    with sqlite3.connect(demo_desk.database, timeout=30) as db:
        db.execute("UPDATE core_streamsequence SET seq = seq + 1 WHERE stream = ?", (stream,))
        [(skipped,)] = db.execute(
            "SELECT seq FROM core_streamsequence WHERE stream = ?", (stream,)
        ).fetchall()
    wait_for(lambda: _stats(page)["gaps"] > before["gaps"], 120, what="the page detecting the gap")
    wait_for(lambda: _stats(page)["resyncs"] > before["resyncs"], 30, what="a resync after the gap")
    # Past the number no message carried: the page took it from the snapshot.
    wait_for(
        lambda: page.evaluate(f"() => window.cockpit.seqs[{stream!r}]") > skipped,
        60,
        what="past the lost number",
    )
    _shot(page, "after_gap")

    # A restart: the socket drops, reconnects with backoff, and resyncs from the snapshot.
    connects = _stats(page)["connects"]
    demo_desk.restart()
    wait_for(lambda: _stats(page)["connects"] > connects, 60, what="the socket reconnecting")
    _wait_socket_live(page)
    wait_for(lambda: _stats(page)["resyncs"] > before["resyncs"] + 1, 30, what="a resync after reconnecting")
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"

    # The page matches the server again: the positions of the snapshot, row for row. The demo
    # keeps trading meanwhile, so compare the page with a snapshot read at the same moment until
    # they agree (a cycle may land between the two reads).
    def matches() -> bool:
        snapshot = page.request.get(f"{base}/cockpit/api/{ACCOUNT}/snapshot").json()
        shown = page.locator("#positions tbody tr[data-symbol]").evaluate_all(
            "rs => rs.map(r => r.dataset.symbol)"
        )
        return sorted(shown) == sorted(p["symbol"] for p in snapshot["positions"])

    wait_for(matches, 30, what="the page showing the snapshot's positions")
    _shot(page, "after_restart")
