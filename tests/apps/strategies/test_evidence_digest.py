"""Evidence is tamper-evident: the request snapshots each run's metrics and a digest of its
stored result; the approval re-reads the runs, refuses when a digest differs and shows the
approver every difference."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.research.models import BacktestRun
from apps.strategies.evidence import result_digest
from apps.strategies.models import Stage
from apps.strategies.services import EvidenceChanged, promotion_request_approve, promotion_request_create

from .conftest import PASSING, make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(people, universe):
    strat = make_strategy(people["quinn"])
    mv = make_version(strat, people["quinn"])
    weak = make_backtest(strat, people["quinn"], version=mv, metrics={**PASSING, "sharpe": 0.6})
    strong = make_backtest(strat, people["quinn"], version=mv)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="strong OOS",
        evidence_refs=[("backtest", strong.pk)],
    )
    return {"mv": mv, "weak": weak, "strong": strong, "req": req}


def test_request_snapshots_metrics_and_the_stored_results_digest(requested):
    entry = requested["req"].evidence[0]
    assert entry["metrics"]["sharpe"] == PASSING["sharpe"]
    assert entry["digest"] == result_digest(requested["strong"]) and len(entry["digest"]) == 64


def test_metrics_changed_behind_the_request_refuse_approval_and_show_the_difference(
    client, people, requested
):
    """An admin (or a shell) raises nothing and lowers nothing unseen: here the run's Sharpe is
    rewritten after the request (it would still pass the gate) and approval is refused."""
    req, mv, bt = requested["req"], requested["mv"], requested["strong"]
    BacktestRun.objects.filter(pk=bt.pk).update(metrics={**PASSING, "sharpe": 2.9})
    client.force_login(people["bob"])
    html = client.get(reverse("strategies:approvals")).content.decode()
    assert f'id="evidence-changes-{req.pk}"' in html
    assert f"backtest #{bt.pk}" in html and "1.4" in html and "2.9" in html
    with pytest.raises(EvidenceChanged) as exc:
        promotion_request_approve(request=req, by=people["bob"], reason="looks great")
    assert exc.value.changes == [{"item": f"backtest #{bt.pk}", "field": "sharpe", "then": 1.4, "now": 2.9}]
    # Through the page: refused, the difference in the message, nothing moved.
    resp = client.post(
        reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": "ok"}, follow=True
    )
    assert "evidence changed since the request" in resp.content.decode() and "2.9" in resp.content.decode()
    mv.refresh_from_db()
    req.refresh_from_db()
    assert (mv.stage, req.status) == (Stage.RESEARCH, "pending")


def test_a_change_outside_the_snapshotted_metrics_is_caught_by_the_digest(people, requested):
    req, bt = requested["req"], requested["strong"]
    BacktestRun.objects.filter(pk=bt.pk).update(series={"equity": [1.0, 1.5, 3.0]})
    with pytest.raises(EvidenceChanged, match="stored result"):
        promotion_request_approve(request=req, by=people["bob"], reason="ok")


def test_unchanged_evidence_is_approved(client, people, requested):
    client.force_login(people["bob"])
    assert (
        "Evidence unchanged since the request" in client.get(reverse("strategies:approvals")).content.decode()
    )
    promotion_request_approve(request=requested["req"], by=people["bob"], reason="ok")
    requested["mv"].refresh_from_db()
    assert requested["mv"].stage == Stage.CANDIDATE
