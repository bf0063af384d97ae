"""What `make demo` runs (`rundesk --demo` with the demo settings, in its own process on a fresh
SQLite file) trades: the demo paper account runs its cycle at every replayed hour, with orders and
fills, and `manage.py killswitch stop|cancel|flat|unlock` from a second process, as the README
says, stops it, cancels, flattens it and lets it trade again."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest

from tests.support.waiting import wait_for

# A database-free test (it reads the desk's own file): no test database is created for it.
pytestmark = pytest.mark.slow

SECONDS_PER_BAR = 4.0  # beat sweeps every 2 s; a cycle takes well under a second on the fixture
FIRST_BAR = pd.Timestamp("2025-10-02 18:00", tz="UTC")  # where the strategy first decides


@pytest.fixture
def demo_replay_seconds_per_bar() -> float:
    return SECONDS_PER_BAR


def _query(desk, sql: str, *args):
    with sqlite3.connect(f"file:{desk.database}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql, args).fetchall()


def _cycles(desk) -> list[tuple]:
    return _query(
        desk,
        "SELECT c.id, c.bar_time, c.status, c.reason FROM live_cyclerun c"
        " JOIN trading_tradingaccount a ON a.id = c.account_id WHERE a.name = 'demo-paper' ORDER BY c.bar_time",
    )


def _wait_for(desk, what: str, predicate, timeout_s: float = 120) -> None:
    """tests.support.waiting.wait_for, failing with the desk's last cycles and log."""
    try:
        wait_for(predicate, timeout_s, what=what)
    except AssertionError as exc:
        tail = "\n".join(map(str, _cycles(desk)[-5:]))
        log = desk.log_path.read_text()[-3000:]
        raise AssertionError(f"{exc}; last cycles:\n{tail}\npositions {_positions(desk)}\n{log}") from None


def _finished_after(desk, cycle_id: int, n: int = 1) -> list[tuple]:
    """The first `n` finished cycles after `cycle_id` (or [] until there are n)."""
    later = [c for c in _cycles(desk) if c[0] > cycle_id and c[2] != "running"]
    return later[:n] if len(later) >= n else []


def _last_bar(desk) -> pd.Timestamp:
    return pd.Timestamp(_cycles(desk)[-1][1], tz="UTC")


def _orders_of(desk, cycle_id: int) -> int:
    return _query(desk, "SELECT count(*) FROM trading_order WHERE cycle_id = ?", cycle_id)[0][0]


def _killswitch(desk, *args: str) -> tuple[str, dict]:
    done = desk.manage("killswitch", *args, "--account", "demo-paper")
    assert done.returncode == 0, done.stderr[-2000:]
    *lines, status = done.stdout.strip().splitlines()
    return "\n".join(lines), json.loads(status)


def _press(desk, action: str) -> tuple[str, dict]:
    return _killswitch(desk, action, "--user", "rita", "--reason", f"README: {action} from a second shell")


def _positions(desk) -> dict[str, Decimal]:
    held: dict[str, Decimal] = defaultdict(Decimal)
    for symbol, side, qty in _query(
        desk,
        "SELECT f.symbol, f.side, f.qty FROM trading_fill f JOIN trading_tradingaccount a ON a.id = f.account_id"
        " WHERE a.name = 'demo-paper'",
    ):
        held[symbol] += Decimal(str(qty)) * (1 if side == "buy" else -1)
    return {s: q for s, q in held.items() if q}


def test_the_demo_paper_account_trades_every_replayed_hour_and_obeys_the_kill_switch(demo_desk):
    from workers.engine.market import MARKET_TZ

    # 1. Cycles at consecutive replayed hours from the strategy's first decision bar, each one
    #    succeeded with orders; the orders of a cycle fill at the next bar's open (paper venue).
    _wait_for(demo_desk, "4 finished cycles", lambda: _finished_after(demo_desk, 0, 4))
    cycles = _cycles(demo_desk)
    stamps = pd.DatetimeIndex([pd.Timestamp(c[1], tz="UTC") for c in cycles])
    assert stamps[0] == FIRST_BAR
    market = stamps.tz_convert(MARKET_TZ)
    # 6 bars a day, 10:00-15:00 New York: consecutive replayed hours, none skipped.
    assert all(
        (b - a) == pd.Timedelta(hours=1) or (a.hour, b.hour) == (15, 10)
        for a, b in zip(market[:-1], market[1:], strict=True)
    )
    finished = [c for c in cycles if c[2] != "running"]
    assert {c[2] for c in finished} == {"succeeded"}, finished
    assert all(_orders_of(demo_desk, c[0]) > 0 for c in finished), finished
    filled = _query(
        demo_desk,
        "SELECT count(*) FROM trading_fill f JOIN trading_order o ON o.id = f.order_id WHERE o.cycle_id = ?",
        finished[0][0],
    )
    assert filled[0][0] > 0
    assert _positions(demo_desk)

    # 2. STOP: the next cycles are skipped, no order is decided.
    _, status = _press(demo_desk, "stop")
    assert status["state"] == "stopped"
    stopped_at = _cycles(demo_desk)[-1][0]
    _wait_for(demo_desk, "2 cycles after STOP", lambda: _finished_after(demo_desk, stopped_at, 2))
    skipped = _finished_after(demo_desk, stopped_at, 2)
    assert [c[2] for c in skipped] == ["skipped", "skipped"] and "kill switch stopped" in skipped[1][3]
    assert not _query(
        demo_desk, "SELECT 1 FROM trading_order WHERE cycle_id IN (?, ?)", skipped[0][0], skipped[1][0]
    )

    # 3. CANCEL: every open order cancelled (the switch stays stopped).
    out, status = _press(demo_desk, "cancel")
    assert "CancelSummary(account='demo-paper'" in out and "still_open=[]" in out
    assert status["state"] == "stopped"

    # 4. FLAT: market sells of every position; the venue fills them at the next bar's open. Pressed
    #    mid-session: the paper venue expires a DAY order at its session's close, so FLAT's sells
    #    pressed at a session's last bar would expire before the next bar (README: press it again).
    _wait_for(demo_desk, "a mid-session bar", lambda: _last_bar(demo_desk).tz_convert(MARKET_TZ).hour <= 13)
    out, status = _press(demo_desk, "flat")
    assert "FlatReport" in out and status["state"] in ("flat", "stopped")
    flat_at = _cycles(demo_desk)[-1][0]
    _wait_for(
        demo_desk,
        "the FLAT sells filled",
        lambda: _finished_after(demo_desk, flat_at, 2) and not _positions(demo_desk),
    )
    sells = _query(
        demo_desk,
        "SELECT count(*) FROM trading_order WHERE cycle_id IS NULL AND model_version_id IS NULL"
        " AND side = 'sell' AND status = 'filled'",  # FLAT's own orders: no cycle, no version
    )
    assert sells[0][0] > 0

    # 5. UNLOCK (rita; the demo desk has one risk officer, so no second pair of eyes): trading again.
    _, status = _press(demo_desk, "unlock")
    assert status["state"] == "active"
    unlocked_at = _cycles(demo_desk)[-1][0]
    _wait_for(demo_desk, "2 cycles after UNLOCK", lambda: _finished_after(demo_desk, unlocked_at, 2))
    resumed = _finished_after(demo_desk, unlocked_at, 2)
    assert resumed[-1][2] == "succeeded" and _orders_of(demo_desk, resumed[-1][0]) > 0
    assert "Traceback" not in demo_desk.log_path.read_text()
