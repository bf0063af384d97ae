"""Rule strategies (ma_crossover, momentum, mean_reversion) record a version from their
parameters (no artifact) and go through the lifecycle like a trained model."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.strategies.models import ModelVersion, Stage
from apps.strategies.services import (
    StrategyError,
    promotion_request_approve,
    promotion_request_create,
    rule_version_record,
)

from .conftest import make_backtest, make_strategy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("ma_crossover", {"fast": 5, "slow": 60}),
        ("momentum", {"lookback": 120, "skip": 5}),
        ("mean_reversion", {"lookback": 20, "entry_z": 1.0}),
    ],
)
def test_rule_version_records_parameters_and_passes_the_candidate_gate(people, universe, kind, model):
    quinn = people["quinn"]
    strategy = make_strategy(quinn, name=f"q-{kind.replace('_', '-')}", kind=kind, model=model)
    mv = rule_version_record(strategy=strategy, by=quinn)
    assert (mv.version, mv.stage, mv.artifact.name, mv.artifact_sha256) == (1, Stage.RESEARCH, "", "")
    assert {k: mv.config["model"][k] for k in model} == model
    bt = make_backtest(strategy, quinn)  # a backtest of the same config (no version)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=quinn,
        reason="rule OOS",
        evidence_refs=[("backtest", bt.pk)],
    )
    promotion_request_approve(request=req, by=people["bob"], reason="meets gates")
    mv.refresh_from_db()
    assert mv.stage == Stage.CANDIDATE


def test_learned_kinds_and_non_editors_cannot_record_rule_versions(people, universe):
    ridge = make_strategy(people["quinn"], name="q-ridge", kind="ridge")
    with pytest.raises(StrategyError, match="comes from a training run"):
        rule_version_record(strategy=ridge, by=people["quinn"])
    ma = make_strategy(people["quinn"], name="q-ma")
    for who in ("victor", "quincy", "bob"):
        with pytest.raises(PermissionDenied):
            rule_version_record(strategy=ma, by=people[who])
    assert not ModelVersion.objects.exists()


def test_record_button_on_the_page_for_rule_kinds_only(client, people, universe):
    make_strategy(people["quinn"], name="q-ma")
    make_strategy(people["quinn"], name="q-ridge", kind="ridge")
    client.force_login(people["quinn"])
    assert (
        'id="record-version-form"' in client.get(reverse("strategies:detail", args=["q-ma"])).content.decode()
    )
    assert (
        'id="record-version-form"'
        not in client.get(reverse("strategies:detail", args=["q-ridge"])).content.decode()
    )
    resp = client.post(reverse("strategies:version_record", args=["q-ma"]))
    assert resp.status_code == 302
    assert ModelVersion.objects.get(strategy__name="q-ma").version == 1


def test_model_version_create_checks_the_recorder_first(people, universe):
    """The writer under every version (rule or trained) refuses someone who cannot edit the
    strategy, before looking at the config or the artifact."""
    from apps.strategies.services import model_version_create

    ma = make_strategy(people["quinn"], name="q-ma")
    with pytest.raises(PermissionDenied):
        model_version_create(
            strategy=ma,
            created_by=people["victor"],
            artifact_bytes=None,
            artifact_name="",
            training_window=None,
            data_hash="",
            metrics={"x": float("nan")},  # would be a StrategyError if the config came first
            config={},
        )
    assert not ModelVersion.objects.exists()
