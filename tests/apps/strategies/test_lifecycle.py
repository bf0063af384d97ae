"""Lifecycle services: four eyes, gates on evidence, one live version, demote-previous-live,
rollback, and the append-only log. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from apps.core.statemachine import AppendOnlyError
from apps.strategies.config import ConfigValidationError, strategy_config_validate
from apps.strategies.evidence import result_digest
from apps.strategies.lifecycle import STAGE_MACHINE, allowed_targets, config_sha256
from apps.strategies.models import LifecycleEvent, ModelVersion, PromotionRequest, Stage
from apps.strategies.services import (
    GateFailed,
    LifecycleError,
    SelfApprovalError,
    promotion_request_approve,
    promotion_request_cancel,
    promotion_request_create,
    promotion_request_reject,
    rollback_request_create,
    strategy_update,
)

from .conftest import PASSING, make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db

A = LifecycleEvent.Action


@pytest.fixture
def strat(people, universe):
    return make_strategy(people["quinn"])


def _promote(version, to, people, refs=()):
    req = promotion_request_create(
        model_version=version,
        to_stage=to,
        requested_by=people["quinn"],
        reason=f"to {to}",
        evidence_refs=refs,
    )
    promotion_request_approve(request=req, by=people["bob"], reason="looks right")
    version.refresh_from_db()
    return req


def _paper_source(settings):
    """Paper-trading records do not exist yet; tests stand the research BacktestRun table in as
    their source (the hook the live half will use) to exercise the paper -> live path."""
    settings.STRATEGY_EVIDENCE_SOURCES = {"paper": "research.BacktestRun"}


def _to_live(version, strat, people, settings):
    """research -> candidate -> paper -> live with passing evidence at each gate."""
    _paper_source(settings)
    bt = make_backtest(strat, people["quinn"], version=version)
    _promote(version, Stage.CANDIDATE, people, [("backtest", bt.pk)])
    _promote(version, Stage.PAPER, people)
    paper = make_backtest(
        strat, people["quinn"], version=version, metrics={"paper_days": 35, "tracking_error": 0.01}
    )
    _promote(version, Stage.LIVE, people, [("paper", paper.pk)])
    assert version.stage == Stage.LIVE


def test_passing_evidence_promotes_and_logs_request_decision_and_transition(strat, people):
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    req = _promote(mv, Stage.CANDIDATE, people, [("backtest", bt.pk)])
    assert mv.stage == Stage.CANDIDATE
    req.refresh_from_db()
    assert (req.status, req.decided_by, req.kind) == ("approved", people["bob"], "promote")
    assert req.evidence == [
        {
            "kind": "backtest",
            "id": bt.pk,
            "status": "succeeded",
            "metrics": PASSING,
            "config_sha256": config_sha256(mv.config),
            "digest": result_digest(bt),
            "url": f"/research/backtests/{bt.pk}/",
        }
    ]
    assert req.gate_results[0]["gate"] == "backtest_oos" and req.gate_results[0]["passed"]
    events = list(
        LifecycleEvent.objects.filter(model_version=mv).values_list(
            "action", "from_stage", "to_stage", "actor__username"
        )
    )
    assert events == [
        (A.REQUESTED, "research", "candidate", "quinn"),
        (A.TRANSITION, "research", "candidate", "bob"),
        (A.APPROVED, "research", "candidate", "bob"),
    ]


@pytest.mark.parametrize(
    "metrics, failing",
    [
        ({**PASSING, "sharpe": 0.7}, "sharpe"),
        ({**PASSING, "max_drawdown": 0.31}, "max_drawdown"),
        ({**PASSING, "n_trades": 12}, "n_trades"),
        ({**PASSING, "oos": False}, "oos"),
        ({"max_drawdown": 0.1, "n_trades": 100, "oos": True}, "sharpe"),
    ],
)
def test_a_failing_run_cannot_be_promoted(strat, people, metrics, failing):
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv, metrics=metrics)
    with pytest.raises(GateFailed) as exc:
        promotion_request_create(
            model_version=mv,
            to_stage=Stage.CANDIDATE,
            requested_by=people["quinn"],
            reason="x",
            evidence_refs=[("backtest", bt.pk)],
        )
    checks = {c["name"]: c for c in exc.value.results[0]["checks"]}
    assert checks[failing]["passed"] is False
    assert f"backtest #{bt.pk} {failing}" in str(exc.value)
    assert not PromotionRequest.objects.exists()


def test_only_the_desk_waives_the_out_of_sample_requirement_and_the_gate_shows_it(strat, people, settings):
    """The demo desk's policy (tradingsite/settings/demo.py): an in-sample backtest (a rule's)
    passes the candidate gate only when the desk sets require_oos False; the check stays listed,
    marked waived, and every threshold still applies. A strategy's own gates cannot waive it."""
    mv = make_version(strat, people["quinn"])
    in_sample = make_backtest(strat, people["quinn"], version=mv, metrics={**PASSING, "oos": False})
    weak = make_backtest(strat, people["quinn"], version=mv, metrics={**PASSING, "oos": False, "sharpe": 0.5})
    settings.STRATEGY_GATES = {**settings.STRATEGY_GATES, "require_oos": False}
    with pytest.raises(GateFailed, match=f"backtest #{weak.pk} sharpe"):
        promotion_request_create(
            model_version=mv,
            to_stage=Stage.CANDIDATE,
            requested_by=people["quinn"],
            reason="x",
            evidence_refs=[("backtest", weak.pk)],
        )
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="rule backtest, in sample",
        evidence_refs=[("backtest", in_sample.pk)],
    )
    oos = next(c for c in req.gate_results[0]["checks"] if c["name"] == "oos")
    assert oos == {
        "item": f"backtest #{in_sample.pk}",
        "name": "oos",
        "value": False,
        "op": "waived",
        "threshold": "by the desk",
        "passed": True,
    }
    with pytest.raises(ConfigValidationError, match="gates"):
        strategy_config_validate({**strat.config, "gates": {"require_oos": False}})
    mv.refresh_from_db()
    assert mv.stage == Stage.RESEARCH


def test_failed_run_and_missing_evidence_and_mixed_evidence_are_refused(strat, people):
    mv = make_version(strat, people["quinn"])
    good = make_backtest(strat, people["quinn"], version=mv)
    failed = make_backtest(strat, people["quinn"], version=mv, status="failed")
    for refs in ([], [("backtest", failed.pk)], [("backtest", good.pk), ("backtest", failed.pk)]):
        with pytest.raises(GateFailed):
            promotion_request_create(
                model_version=mv,
                to_stage=Stage.CANDIDATE,
                requested_by=people["quinn"],
                reason="x",
                evidence_refs=refs,
            )


def test_evidence_must_belong_to_the_version(strat, people, universe):
    mv = make_version(strat, people["quinn"])
    other_version = make_version(strat, people["quinn"])
    other = make_strategy(people["quincy"], name="quincy-ma")
    for run in (
        make_backtest(other, people["quincy"]),
        make_backtest(strat, people["quinn"], version=other_version),
    ):
        with pytest.raises(LifecycleError, match="is not a run of"):
            promotion_request_create(
                model_version=mv,
                to_stage=Stage.CANDIDATE,
                requested_by=people["quinn"],
                reason="x",
                evidence_refs=[("backtest", run.pk)],
            )


def test_gate_rechecked_at_approval(strat, people):
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="x",
        evidence_refs=[("backtest", bt.pk)],
    )
    # The evidence is unchanged, the bar is not: the strategy's gates were tightened since.
    strategy_update(strategy=strat, by=people["quinn"], config={**strat.config, "gates": {"min_sharpe": 2.0}})
    with pytest.raises(
        GateFailed, match="gate fails at approval: backtest_oos: failing: backtest #.* sharpe"
    ):
        promotion_request_approve(request=req, by=people["bob"], reason="ok")
    mv.refresh_from_db()
    req.refresh_from_db()
    assert (mv.stage, req.status) == (Stage.RESEARCH, "pending")
    promotion_request_reject(request=req, by=people["bob"], reason="sharpe fell on re-run")
    req.refresh_from_db()
    assert (req.status, req.decided_by, req.decision_reason) == (
        "rejected",
        people["bob"],
        "sharpe fell on re-run",
    )


def test_four_eyes_self_approval_refused(strat, people):
    """ada the admin may decide, but not her own request; quinn may not decide at all."""
    mv = make_version(strat, people["ada"])
    bt = make_backtest(strat, people["ada"], version=mv)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["ada"],
        reason="x",
        evidence_refs=[("backtest", bt.pk)],
    )
    with pytest.raises(SelfApprovalError, match="four eyes"):
        promotion_request_approve(request=req, by=people["ada"], reason="mine")
    with pytest.raises(SelfApprovalError):
        promotion_request_reject(request=req, by=people["ada"], reason="mine")
    with pytest.raises(PermissionDenied, match="may not approve"):
        promotion_request_approve(request=req, by=people["quinn"], reason="peer")
    for who in ("alice", "victor", "rita"):
        with pytest.raises(PermissionDenied):
            promotion_request_approve(request=req, by=people[who], reason="no")
    # The database refuses it too, should a service ever be bypassed.
    with pytest.raises(IntegrityError), transaction.atomic():
        PromotionRequest.objects.filter(pk=req.pk).update(decided_by=people["ada"])
    promotion_request_approve(request=req, by=people["bob"], reason="second pair of eyes")
    mv.refresh_from_db()
    assert mv.stage == Stage.CANDIDATE


def test_reason_required_and_one_pending_request_per_version(strat, people):
    mv = make_version(strat, people["quinn"])
    with pytest.raises(LifecycleError, match="reason is required"):
        promotion_request_create(
            model_version=mv, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason=" "
        )
    req = promotion_request_create(
        model_version=mv, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason="dead end"
    )
    with pytest.raises(LifecycleError, match="already has a pending request"):
        promotion_request_create(
            model_version=mv, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason="again"
        )
    with pytest.raises(LifecycleError, match="reason is required"):
        promotion_request_approve(request=req, by=people["bob"], reason="")
    with pytest.raises(PermissionDenied, match="only the requester"):
        promotion_request_cancel(request=req, by=people["quincy"])
    promotion_request_cancel(request=req, by=people["quinn"])
    with pytest.raises(LifecycleError, match="already cancelled"):
        promotion_request_approve(request=req, by=people["bob"], reason="late")
    assert list(LifecycleEvent.objects.values_list("action", flat=True)) == [A.REQUESTED, A.CANCELLED]


def test_transitions_outside_the_table_are_refused(strat, people):
    mv = make_version(strat, people["quinn"])
    for to in (Stage.PAPER, Stage.LIVE, Stage.RESEARCH, "prod"):
        with pytest.raises(LifecycleError):
            promotion_request_create(
                model_version=mv, to_stage=to, requested_by=people["quinn"], reason="skip"
            )
    assert "live" not in allowed_targets("research")
    assert not STAGE_MACHINE.allows("research", "rollback")


def test_paper_needs_candidate_and_live_needs_paper_evidence(strat, people):
    """Without a paper-trading record the live gate fails honestly."""
    mv = make_version(strat, people["quinn"], stage=Stage.CANDIDATE)  # put there without approval
    with pytest.raises(GateFailed, match="never approved as candidate"):
        promotion_request_create(
            model_version=mv, to_stage=Stage.PAPER, requested_by=people["quinn"], reason="x"
        )
    paper = make_version(strat, people["quinn"], stage=Stage.PAPER)
    with pytest.raises(GateFailed, match="no paper-trading record"):
        promotion_request_create(
            model_version=paper, to_stage=Stage.LIVE, requested_by=people["quinn"], reason="x"
        )
    # Paper evidence is the live desk's PaperEvidence: one that does not exist is refused by name.
    with pytest.raises(LifecycleError, match="paper #1 is not a run of"):
        promotion_request_create(
            model_version=paper,
            to_stage=Stage.LIVE,
            requested_by=people["quinn"],
            reason="x",
            evidence_refs=[("paper", 1)],
        )


def test_live_gate_thresholds_from_settings_and_strategy(strat, people, settings):
    _paper_source(settings)
    mv = make_version(strat, people["quinn"], stage=Stage.PAPER)
    short = make_backtest(
        strat, people["quinn"], version=mv, metrics={"paper_days": 20, "tracking_error": 0.01}
    )
    with pytest.raises(GateFailed, match="paper_days"):
        promotion_request_create(
            model_version=mv,
            to_stage=Stage.LIVE,
            requested_by=people["quinn"],
            reason="x",
            evidence_refs=[("paper", short.pk)],
        )
    settings.STRATEGY_GATES = {**settings.STRATEGY_GATES, "min_paper_days": 15}
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.LIVE,
        requested_by=people["quinn"],
        reason="x",
        evidence_refs=[("paper", short.pk)],
    )
    assert req.gate_results[0]["checks"][1] == {
        "item": f"paper #{short.pk}",
        "name": "paper_days",
        "value": 20.0,
        "op": ">=",
        "threshold": 15,
        "passed": True,
    }


def test_strategy_gate_override(people, universe):
    strat = make_strategy(people["quinn"], gates={"min_sharpe": 2.0})
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    with pytest.raises(GateFailed, match="sharpe"):
        promotion_request_create(
            model_version=mv,
            to_stage=Stage.CANDIDATE,
            requested_by=people["quinn"],
            reason="x",
            evidence_refs=[("backtest", bt.pk)],
        )


def test_new_live_demotes_previous_live_in_the_same_transaction_then_rollback(strat, people, settings):
    v1 = make_version(strat, people["quinn"])
    v2 = make_version(strat, people["quinn"])
    _to_live(v1, strat, people, settings)
    _to_live(v2, strat, people, settings)
    v1.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.RETIRED, Stage.LIVE)
    last_request = PromotionRequest.objects.get(model_version=v2, to_stage=Stage.LIVE)
    # The demotion is logged under the same request as the promotion it made room for.
    assert list(
        LifecycleEvent.objects.filter(request=last_request, action=A.TRANSITION).values_list(
            "model_version__version", "from_stage", "to_stage"
        )
    ) == [(1, "live", "retired"), (2, "paper", "live")]

    # Rollback: one request, one approval, v1 back to live and v2 retired.
    req = rollback_request_create(strategy=strat, requested_by=people["quinn"], reason="v2 misbehaves")
    assert (req.kind, req.model_version, req.from_stage, req.to_stage) == ("rollback", v1, "retired", "live")
    promotion_request_approve(request=req, by=people["betty"], reason="roll back")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.LIVE, Stage.RETIRED)
    assert ModelVersion.objects.filter(strategy=strat, stage=Stage.LIVE).count() == 1


def test_rollback_only_to_a_version_that_was_live(strat, people):
    never_live = make_version(strat, people["quinn"], stage=Stage.RETIRED)
    with pytest.raises(LifecycleError, match="no retired version that was live"):
        rollback_request_create(strategy=strat, requested_by=people["quinn"], reason="x")
    with pytest.raises(GateFailed, match="only a version that was live"):
        promotion_request_create(
            model_version=never_live, to_stage=Stage.LIVE, requested_by=people["quinn"], reason="x"
        )


def test_database_allows_one_live_version_per_strategy(strat, people):
    make_version(strat, people["quinn"], stage=Stage.LIVE)
    v2 = make_version(strat, people["quinn"])
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=v2.pk).update(stage=Stage.LIVE)


def test_audit_log_is_append_only(strat, people):
    mv = make_version(strat, people["quinn"])
    promotion_request_create(
        model_version=mv, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason="x"
    )
    event = LifecycleEvent.objects.get()
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError, match="append-only"):
        event.save()
    with pytest.raises(AppendOnlyError, match="append-only"):
        event.delete()
    with pytest.raises(AppendOnlyError, match="append-only"):
        LifecycleEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError, match="append-only"):
        LifecycleEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.reason == "x"


def test_every_decision_and_transition_is_logged(strat, people, settings):
    v1 = make_version(strat, people["quinn"])
    _to_live(v1, strat, people, settings)
    v2 = make_version(strat, people["quinn"])
    req = promotion_request_create(
        model_version=v2, to_stage=Stage.RETIRED, requested_by=people["quinn"], reason="x"
    )
    promotion_request_reject(request=req, by=people["bob"], reason="keep it")
    log = list(LifecycleEvent.objects.values_list("model_version__version", "action", "to_stage"))
    assert log == [
        (1, A.REQUESTED, "candidate"),
        (1, A.TRANSITION, "candidate"),
        (1, A.APPROVED, "candidate"),
        (1, A.REQUESTED, "paper"),
        (1, A.TRANSITION, "paper"),
        (1, A.APPROVED, "paper"),
        (1, A.REQUESTED, "live"),
        (1, A.TRANSITION, "live"),
        (1, A.APPROVED, "live"),
        (2, A.REQUESTED, "retired"),
        (2, A.REJECTED, "retired"),
    ]
    assert PromotionRequest.objects.filter(status="approved").count() == 3


def test_strategy_gates_may_only_tighten_the_desk_bar(people, universe):
    """A quant lowering their own gate (min Sharpe 0.1, max drawdown 90%) is ignored: the desk bar holds."""
    from apps.strategies.evidence import gate_thresholds

    strat = make_strategy(people["quinn"], gates={"min_sharpe": 0.1, "max_drawdown": 0.9, "min_trades": 500})
    t = gate_thresholds(strat)
    assert t["min_sharpe"] == 1.0
    assert t["max_drawdown"] == 0.20
    assert t["min_trades"] == 500
