"""Every starter config validates and runs on the data `make demo` loads: a backtest of each
(and a training first for learned kinds) succeeds with trades on the real demo fixtures."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.research.models import BacktestRun
from apps.research.services.runs import backtest_execute, backtest_submit, training_execute, training_submit
from apps.strategies.config import strategy_config_validate
from apps.strategies.registry import STRATEGIES
from apps.strategies.services import strategy_create
from apps.strategies.starters import STARTERS, search_space

from .conftest import make_people

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_every_kind_has_a_valid_starter_and_a_search_space():
    assert {s.kind for s in STARTERS} == set(STRATEGIES)
    for starter in STARTERS:
        config = strategy_config_validate(starter.config)
        assert config.kind == starter.kind
        assert set(search_space(starter.kind, starter.frequency)), starter.key


def test_every_starter_runs_on_the_demo_data(django_capture_on_commit_callbacks):
    call_command("load_demo_data", verbosity=0)
    quinn = make_people()["quinn"]
    for starter in STARTERS:
        strategy = strategy_create(
            owner=quinn, name=f"s-{starter.key}".replace("_", "-"), config=starter.config
        )
        with django_capture_on_commit_callbacks(execute=False):
            if STRATEGIES[starter.kind].trains:
                training = training_submit(strategy=strategy, actor=quinn)
            run = backtest_submit(strategy=strategy, actor=quinn)
        if STRATEGIES[starter.kind].trains:
            assert training_execute(run_id=training.pk) == "succeeded", starter.key
        assert backtest_execute(run_id=run.pk) == "succeeded", (
            starter.key,
            BacktestRun.objects.get(pk=run.pk).error,
        )
        metrics = BacktestRun.objects.get(pk=run.pk).metrics
        assert metrics["n_trades"] > 50 and metrics["n_symbols"] >= 10, starter.key
