"""Two approvers promote two versions of one strategy to live at the same moment: the database
and the row locks leave exactly one live version, the other retired (PostgreSQL only)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.strategies.models import LifecycleEvent, ModelVersion, PromotionRequest, Stage
from apps.strategies.services import LifecycleError, promotion_request_approve, promotion_request_create

from .conftest import make_backtest, make_people, make_strategy, make_version

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks (SQLite serialises all writers); run with DATABASE_URL=postgres://...",
    ),
]


def _approve(req, approver, barrier: threading.Barrier, outcomes: dict[str, str]) -> None:
    """One approver in its own thread (own database connection), released together with the other."""
    try:
        barrier.wait(timeout=10)
        promotion_request_approve(request=req, by=approver, reason="race")
        outcomes[approver.username] = "approved"
    except LifecycleError as exc:
        outcomes[approver.username] = f"refused: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported in the test's assertion
        outcomes[approver.username] = f"error: {exc!r}"
    finally:
        connection.close()


@pytest.mark.parametrize("rounds", [5])
def test_concurrent_promotions_to_live_leave_one_live(settings, rounds):
    settings.STRATEGY_EVIDENCE_SOURCES = {"paper": "research.BacktestRun"}
    from apps.universes.models import Universe

    Universe.objects.create(name="sp500")
    people = make_people()
    for i in range(rounds):
        strat = make_strategy(people["quinn"], name=f"race-{i}")
        requests = []
        for _ in range(2):
            mv = make_version(strat, people["quinn"], stage=Stage.PAPER)
            paper = make_backtest(
                strat, people["quinn"], version=mv, metrics={"paper_days": 40, "tracking_error": 0.01}
            )
            requests.append(
                promotion_request_create(
                    model_version=mv,
                    to_stage=Stage.LIVE,
                    requested_by=people["quinn"],
                    reason="race",
                    evidence_refs=[("paper", paper.pk)],
                )
            )
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        threads = [
            threading.Thread(target=_approve, args=(requests[0], people["bob"], barrier, outcomes)),
            threading.Thread(target=_approve, args=(requests[1], people["betty"], barrier, outcomes)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(v.startswith("error") for v in outcomes.values()), outcomes
        stages = sorted(ModelVersion.objects.filter(strategy=strat).values_list("stage", flat=True))
        assert stages.count(Stage.LIVE) == 1, (stages, outcomes)
        # Both approved one after the other (the second retired the first), or one was refused
        # and its version stayed in paper.
        assert stages in (["live", "retired"], ["live", "paper"]), (stages, outcomes)
        approved = PromotionRequest.objects.filter(model_version__strategy=strat, status="approved").count()
        assert approved == list(outcomes.values()).count("approved")
        live_entries = LifecycleEvent.objects.filter(
            strategy=strat, action=LifecycleEvent.Action.TRANSITION, to_stage=Stage.LIVE
        ).count()
        assert live_entries == approved
