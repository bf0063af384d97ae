"""The pure parts of the shapes: today's PnL base, which switch governs the badge, the health state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from apps.cockpit.rows import HEALTH_CHECKS, health_block, killswitch_block
from apps.cockpit.selectors.book import CyclePoint, day_start_equity

D = Decimal
UTC = dt.UTC


def test_today_starts_at_the_days_first_cycle_else_the_previous_close_else_the_starting_cash():
    history = [
        CyclePoint(dt.datetime(2025, 10, 7, 20, tzinfo=UTC), D("101")),  # 16:00 ET, Oct 7
        CyclePoint(dt.datetime(2025, 10, 8, 14, tzinfo=UTC), D("102")),  # 10:00 ET, Oct 8
        CyclePoint(dt.datetime(2025, 10, 8, 15, tzinfo=UTC), D("103")),
    ]
    cash = D("100")
    assert day_start_equity(
        history=history, as_of=dt.datetime(2025, 10, 8, 19, tzinfo=UTC), starting_cash=cash
    ) == D("102")
    assert day_start_equity(
        history=history, as_of=dt.datetime(2025, 10, 9, 13, tzinfo=UTC), starting_cash=cash
    ) == D("103")
    # 00:30 UTC on Oct 8 is still Oct 7 in New York: that day's first cycle.
    assert day_start_equity(
        history=history, as_of=dt.datetime(2025, 10, 8, 0, 30, tzinfo=UTC), starting_cash=cash
    ) == D("101")
    assert (
        day_start_equity(history=history, as_of=dt.datetime(2025, 10, 6, 15, tzinfo=UTC), starting_cash=cash)
        == cash
    )


def _switch(state, reason="", at=None):
    return SimpleNamespace(state=state, reason=reason, changed_at=at or dt.datetime(2025, 10, 8, tzinfo=UTC))


def test_the_badge_shows_the_account_switch_when_pressed_else_the_desks():
    acct, desk = _switch("stopped", "acct stop"), _switch("halted", "desk halt")
    assert killswitch_block(account_switch=acct, desk_switch=desk)["state"] == "stopped"
    block = killswitch_block(account_switch=_switch("active"), desk_switch=desk)
    assert (block["state"], block["account_state"], block["reason"]) == ("halted", "active", "desk halt")
    never = killswitch_block(account_switch=None, desk_switch=None)
    assert never == {
        "state": "active",
        "account_state": "active",
        "desk_state": "active",
        "reason": "",
        "changed_at": None,
    }
    assert killswitch_block(account_switch=None, desk_switch=desk, desk_only=True)["account_state"] is None


def test_health_state_down_degraded_ok():
    ok = dict.fromkeys(HEALTH_CHECKS, (True, "fine"))
    assert health_block(ok)["state"] == "ok"
    assert health_block({**ok, "beat": (False, "late")})["state"] == "degraded"
    assert health_block({**ok, "database": (False, "gone")})["state"] == "down"
    with pytest.raises(ValueError, match="queue_depth"):
        health_block({k: v for k, v in ok.items() if k != "queue_depth"})
