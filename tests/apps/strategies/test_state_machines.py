"""Model stages and promotion requests are literal (state, event) tables applied by the one
mechanism of apps.core.statemachine (conditional update + a LifecycleEvent row); stage names and
gate thresholds are each defined once."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from apps.core.statemachine import StateMachine, TransitionError
from apps.strategies import lifecycle
from apps.strategies.evidence import gate_thresholds
from apps.strategies.models import LifecycleEvent, ModelVersion, RequestStatus, Stage
from apps.strategies.services import promotion_request_approve, promotion_request_create

from .conftest import make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db


def test_both_machines_are_statemachines_over_the_models_names():
    assert isinstance(lifecycle.STAGE_MACHINE, StateMachine) and isinstance(
        lifecycle.REQUEST_MACHINE, StateMachine
    )
    assert lifecycle.STAGE_MACHINE.states == frozenset(Stage.values)
    assert lifecycle.REQUEST_MACHINE.states == frozenset(RequestStatus.values)
    assert lifecycle.STAGE_MACHINE.next_state(Stage.RESEARCH, "promote") == Stage.CANDIDATE
    assert lifecycle.STAGE_MACHINE.next_state(Stage.PAPER, "promote") == Stage.LIVE
    with pytest.raises(TransitionError):
        lifecycle.REQUEST_MACHINE.next_state(RequestStatus.APPROVED, "reject")
    with pytest.raises(TransitionError):
        lifecycle.STAGE_MACHINE.next_state(Stage.RESEARCH, "rollback")


def test_gate_thresholds_come_from_the_one_desk_setting(people, universe, settings):
    strat = make_strategy(people["quinn"])
    assert not hasattr(lifecycle, "DEFAULT_GATE_THRESHOLDS")
    assert gate_thresholds(strat) == django_settings.STRATEGY_GATES
    settings.STRATEGY_GATES = {**settings.STRATEGY_GATES, "min_sharpe": 1.7}
    assert gate_thresholds(strat)["min_sharpe"] == 1.7


def test_a_stale_version_loses_the_conditional_update_and_writes_no_event(people, universe):
    strat = make_strategy(people["quinn"])
    mv = make_version(strat, people["quinn"])
    stale = ModelVersion.objects.get(pk=mv.pk)
    bt = make_backtest(strat, people["quinn"], version=mv)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="x",
        evidence_refs=[("backtest", bt.pk)],
    )
    promotion_request_approve(request=req, by=people["bob"], reason="ok")
    n_events = LifecycleEvent.objects.count()
    # `stale` still reads research: applying promote from there must not win (the row is candidate).
    won = lifecycle.STAGE_MACHINE.apply(
        stale, "promote", record=lambda a, b: pytest.fail("recorded a lost race")
    )
    assert won is False
    mv.refresh_from_db()
    assert mv.stage == Stage.CANDIDATE and LifecycleEvent.objects.count() == n_events
    req.refresh_from_db()
    assert (req.status, req.decided_by) == (RequestStatus.APPROVED, people["bob"])
    actions = list(LifecycleEvent.objects.filter(request=req).values_list("action", "from_stage", "to_stage"))
    assert actions == [
        ("requested", "research", "candidate"),
        ("transition", "research", "candidate"),
        ("approved", "research", "candidate"),
    ]


def test_selectors_and_the_evidence_reads_import_no_service():
    """Reads never depend on writes: the strategies selectors and evidence module import nothing
    from a services package (of this app or another)."""
    import ast
    from pathlib import Path

    import apps.strategies.evidence as evidence
    import apps.strategies.selectors as selectors

    for module in (selectors, evidence):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = [
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        ]
        assert not [m for m in imported if "services" in m.split(".")], (module.__name__, imported)
