"""Evidence cannot be added or changed through the admin, even by a superuser: run metrics,
configs, hashes, artifacts, versions, requests and both event logs are view-only there."""

from __future__ import annotations

import pytest
from django.contrib import admin

from apps.research.models import BacktestRun, ParameterSearch, RunEvent, TrainingRun
from apps.strategies.models import LifecycleEvent, ModelVersion, PromotionRequest, Strategy
from apps.strategies.services import promotion_request_create

from .conftest import PASSING, make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db

MODELS = [
    BacktestRun,
    TrainingRun,
    ParameterSearch,
    RunEvent,
    Strategy,
    ModelVersion,
    PromotionRequest,
    LifecycleEvent,
]


def _url(model, what: str, *args) -> str:
    return (
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/{what}/"
        if not args
        else (f"/admin/{model._meta.app_label}/{model._meta.model_name}/{args[0]}/{what}/")
    )


@pytest.fixture
def rows(people, universe):
    strat = make_strategy(people["quinn"])
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    promotion_request_create(
        model_version=mv,
        to_stage="candidate",
        requested_by=people["quinn"],
        reason="x",
        evidence_refs=[("backtest", bt.pk)],
    )
    return {"bt": bt, "mv": mv}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_evidence_model_is_view_only_in_the_admin(rf, people, model):
    request = rf.get("/admin/")
    request.user = type(people["ada"]).objects.create_superuser("root", password="root-pw")
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_superuser_cannot_raise_a_backtests_sharpe_or_add_a_run(client, people, rows):
    ada, bt = people["ada"], rows["bt"]
    ada.is_staff = ada.is_superuser = True
    ada.save()
    client.force_login(ada)
    assert client.get(_url(BacktestRun, "change", bt.pk)).status_code == 200  # can look
    resp = client.post(
        _url(BacktestRun, "change", bt.pk), {"metrics": '{"sharpe": 9.9}', "status": "succeeded"}
    )
    assert resp.status_code == 403
    bt.refresh_from_db()
    assert bt.metrics == PASSING
    assert client.get(_url(BacktestRun, "add")).status_code == 403
    assert client.post(_url(ModelVersion, "delete", rows["mv"].pk), {"post": "yes"}).status_code == 403
    assert client.post(_url(Strategy, "change", rows["mv"].strategy_id), {"config": "{}"}).status_code == 403
