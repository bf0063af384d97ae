"""The demo desk's paper account (`manage.py demo_paper_desk`, run by `rundesk --demo`) on the real
demo data: the demo strategy reaches stage paper through the real lifecycle (a real backtest on
the hourly fixture, quinn requests, bob approves, twice), ada opens demo-paper trading it, and a
second run finds everything and does nothing. Where the replay clock starts. rundesk --demo refuses
to run without the demo settings."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from apps.core.management.commands import rundesk
from apps.live import clock
from apps.live.models import CycleRun
from apps.live.services import demo
from apps.live.services.demo import DEMO_ACCOUNT, DEMO_STRATEGY, demo_replay_first_index
from apps.paper.models import VenueAccount
from apps.research.models import BacktestRun
from apps.strategies.lifecycle import config_sha256
from apps.strategies.models import LifecycleEvent, ModelVersion, PromotionRequest
from apps.trading.models import AccountModelVersion, TradingAccount
from tradingsite.settings import demo as demo_settings

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def demo_data(settings):
    """The demo database before `demo_paper_desk`: the fixtures and the demo users."""
    settings.DEMO_MODE = True
    call_command("load_demo_data", stdout=StringIO())
    call_command("create_demo_users", stdout=StringIO())


@pytest.fixture
def demo_gates(settings):
    settings.STRATEGY_GATES = demo_settings.STRATEGY_GATES


def _ready() -> str:
    out = StringIO()
    call_command("demo_paper_desk", stdout=out)
    return out.getvalue()


def _rows() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (BacktestRun, ModelVersion, PromotionRequest, LifecycleEvent, TradingAccount, VenueAccount)
    )


def test_the_demo_strategy_reaches_paper_through_the_lifecycle_once(
    demo_data, demo_gates, settings, monkeypatch
):
    text = _ready()
    assert "strategy demo-mean-reversion created by quinn from the mean_reversion-hourly starter" in text
    assert "paper account demo-paper opened by ada with 1,000,000 USD" in text

    version = ModelVersion.objects.get(strategy__name=DEMO_STRATEGY)
    strategy = version.strategy
    assert (strategy.kind, strategy.frequency, strategy.universe.name) == ("mean_reversion", "1h", "sp500")
    assert (version.version, version.stage, version.created_by.username) == (1, "paper", "quinn")
    trail = list(
        LifecycleEvent.objects.filter(model_version=version)
        .order_by("pk")
        .values_list("action", "from_stage", "to_stage", "actor__username")
    )
    assert trail == [
        ("requested", "research", "candidate", "quinn"),
        ("transition", "research", "candidate", "bob"),
        ("approved", "research", "candidate", "bob"),
        ("requested", "candidate", "paper", "quinn"),
        ("transition", "candidate", "paper", "bob"),
        ("approved", "candidate", "paper", "bob"),
    ]

    # The evidence: one real backtest of v1's config on the hourly fixture, meeting the desk's
    # thresholds; in sample (a rule), which only the demo desk's policy waives, visibly.
    [run] = BacktestRun.objects.all()
    m = run.metrics
    assert run.status == "succeeded" and config_sha256(run.config) == config_sha256(version.config)
    assert (m["start"], m["end"], m["n_symbols"]) == ("2025-10-01T14:00", "2025-11-10T20:00", 88)
    gates = settings.STRATEGY_GATES
    assert m["sharpe"] >= gates["min_sharpe"] and m["max_drawdown"] <= gates["max_drawdown"]
    assert m["n_trades"] >= gates["min_trades"] and m["oos"] is False
    candidate = PromotionRequest.objects.get(model_version=version, to_stage="candidate")
    assert candidate.evidence[0]["id"] == run.pk
    checks = {c["name"]: c for c in candidate.gate_results[0]["checks"]}
    assert (checks["oos"]["op"], checks["oos"]["passed"], checks["sharpe"]["passed"]) == (
        "waived",
        True,
        True,
    )

    account = TradingAccount.objects.get(name=DEMO_ACCOUNT)
    assert (account.broker_kind, account.endpoint, account.starting_cash) == (
        "paper",
        "paper",
        Decimal("1000000"),
    )
    assert account.created_by.username == "ada"
    link = AccountModelVersion.objects.get(account=account, active=True)
    assert link.model_version == version
    venue = VenueAccount.objects.get(name=DEMO_ACCOUNT)
    assert (venue.cash, venue.frequency) == (Decimal("1000000"), "1h")

    # Second start: one lookup, nothing written, no backtest run.
    rows = _rows()
    monkeypatch.setattr(demo, "backtest_execute", _refuse("a second start must not run a backtest"))
    assert _ready().strip() == "demo paper account present: demo-paper trades demo-mean-reversion v1 (paper)"
    assert _rows() == rows


def test_under_the_desk_default_gates_it_refuses_by_name_then_resumes(demo_data, settings):
    assert settings.STRATEGY_GATES["require_oos"] is True
    with pytest.raises(
        CommandError, match=r"backtest_oos: failing: backtest #\d+ oos.*tradingsite\.settings\.demo"
    ):
        _ready()
    assert not TradingAccount.objects.exists()
    assert ModelVersion.objects.get(strategy__name=DEMO_STRATEGY).stage == "research"
    # With the demo desk's gates the next start resumes: the same version and backtest, now paper.
    settings.STRATEGY_GATES = demo_settings.STRATEGY_GATES
    text = _ready()
    assert "strategy demo-mean-reversion created" not in text and "backtest #" not in text
    assert "research -> candidate" in text and "paper account demo-paper opened" in text
    assert BacktestRun.objects.count() == 1 and ModelVersion.objects.get().stage == "paper"


def test_the_replay_starts_where_the_strategy_first_decides_then_after_the_last_cycle(
    demo_data, demo_gates, settings, monkeypatch
):
    settings.LIVE_CLOCK, settings.LIVE_REPLAY_FILE = "replay", demo_settings.LIVE_REPLAY_FILE
    _ready()
    account = TradingAccount.objects.get(name=DEMO_ACCOUNT)
    stamps = demo.replay_stamps()
    assert (len(stamps), stamps[0]) == (174, pd.Timestamp("2025-10-01 14:00", tz="UTC"))
    # Before any cycle: the bar at which the evidence backtest first decided (its lookback of 12
    # hours filled); it held nothing before and something the bar after.
    first = demo_replay_first_index(account=account)
    series = BacktestRun.objects.get().series
    assert stamps[first] == pd.Timestamp("2025-10-02 18:00", tz="UTC")
    assert not any(series["exposure"][: first + 1]) and series["exposure"][first + 1] > 0
    # After cycles: the bar after the last one (a restarted demo resumes); at the end, the last bar.
    version = AccountModelVersion.objects.get(account=account).model_version
    for k in (first, first + 1):
        CycleRun.objects.create(account=account, bar_time=stamps[k], trigger="beat", model_version=version)
    assert demo_replay_first_index(account=account) == first + 2
    CycleRun.objects.create(account=account, bar_time=stamps[-1], trigger="beat", model_version=version)
    assert demo_replay_first_index(account=account) == len(stamps) - 1
    # rundesk --demo says so, and starts this process's replay there (a test must not leave it set).
    monkeypatch.setattr(clock, "_replay_start", {})
    out = StringIO()
    rundesk.Command(stdout=out)._replay_start()
    assert "replay: ended at its last bar (2025-11-10 20:00 UTC), demo-paper trades no more" in out.getvalue()
    assert clock.last_bar_close() == stamps[-1]


def test_rundesk_demo_refuses_without_the_demo_settings(settings):
    assert settings.LIVE_CLOCK == "wall"
    with pytest.raises(CommandError, match="--settings tradingsite.settings.demo"):
        call_command("rundesk", "--demo")


def _refuse(message: str):
    def refuse(*args, **kwargs):
        raise AssertionError(message)

    return refuse
