"""`manage.py killswitch`: thin over the services (permission and reason errors become
CommandError), status prints the effective state as JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.live.models import KillSwitch


def _run(*args) -> str:
    out = StringIO()
    call_command("killswitch", *args, stdout=out)
    return out.getvalue()


def test_stop_then_status_then_unlock(people, account, settings):
    settings.KILLSWITCH_UNLOCK_FOUR_EYES = False
    _run("stop", "--account", account.name, "--reason", "runaway", "--user", "alice")
    status = json.loads(_run("status", "--account", account.name).strip().splitlines()[-1])
    assert status["state"] == "stopped"
    with pytest.raises(CommandError, match="may not"):
        _run("unlock", "--account", account.name, "--reason", "mine", "--user", "alice")
    _run("unlock", "--account", account.name, "--reason", "ok", "--user", "rita")
    assert KillSwitch.objects.get(account=account).state == "active"


def test_desk_stop_and_errors(people, account, settings):
    _run("stop", "--desk", "--reason", "market halt", "--user", "rita")
    assert json.loads(_run("status", "--desk")) == {"desk": "stopped"}
    with pytest.raises(CommandError, match="reason"):
        _run("stop", "--desk", "--user", "rita")
    with pytest.raises(CommandError, match="no trading account"):
        _run("stop", "--account", "nope", "--reason", "x", "--user", "rita")
    settings.TRADING_BROKER_FACTORY = ""
    with pytest.raises(CommandError, match="TRADING_BROKER_FACTORY"):
        _run("cancel", "--account", account.name, "--reason", "x", "--user", "alice")


def test_cancel_through_the_configured_broker_factory(people, account, settings):
    settings.TRADING_BROKER_FACTORY = "tests.apps.live.brokers.for_account"
    _run("cancel", "--account", account.name, "--reason", "clean up", "--user", "alice")
    assert KillSwitch.objects.get(account=account).events.get().event == "cancel"


def test_cancel_and_flat_on_a_replay_no_cycle_ran_on_refuse_before_pressing(people, account, settings):
    """Beside a demo whose replay has not traded a bar yet, the venue clock cannot answer: refused
    by name, and the switch is not left half-way (flattening, which only FLAT's verification ends)."""
    from tradingsite.settings import demo

    settings.LIVE_CLOCK, settings.LIVE_REPLAY_FILE = "replay", demo.LIVE_REPLAY_FILE
    for action in ("cancel", "flat"):
        with pytest.raises(CommandError, match="market clock: the replay has not started: no cycle has run"):
            _run(action, "--account", account.name, "--reason", "x", "--user", "rita")
    assert not KillSwitch.objects.filter(account=account).exclude(state="active").exists()
    assert not KillSwitch.objects.filter(account=account, events__isnull=False).exists()
