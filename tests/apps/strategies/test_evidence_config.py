"""Evidence is bound to the version's configuration: a backtest of config A is not evidence for a
version trained on config B, even when both are runs of the same strategy. The candidate gate
shows a failing "config matches version" check (short shas of both), the request snapshot stores
the run's config sha, and the check is made again at approval on the re-read run. Runs on SQLite
and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.strategies import selectors
from apps.strategies.config import strategy_config_validate
from apps.strategies.lifecycle import SHORT_SHA, config_sha256
from apps.strategies.models import PromotionRequest, Stage
from apps.strategies.services import (
    EvidenceChanged,
    GateFailed,
    promotion_request_approve,
    promotion_request_create,
    strategy_update,
)

from .conftest import config, make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db

CHECK = "config matches version"
# Config A (the one backtested first) and config B (the strategy after the edit).
CONFIG_A = config(model={"fast": 10, "slow": 50})
CONFIG_B = config(model={"fast": 30, "slow": 120})


@pytest.fixture
def strat(people, universe):
    return make_strategy(people["quinn"], model={"fast": 10, "slow": 50})


def _request(version, people, *runs):
    return promotion_request_create(
        model_version=version,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="strong OOS",
        evidence_refs=[("backtest", r.pk) for r in runs],
    )


def _checks(results: list[dict], item: str) -> dict[str, dict]:
    (gate,) = results
    assert gate["gate"] == "backtest_oos"
    return {c["name"]: c for c in gate["checks"] if c["item"] == item}


def _sha(cfg: dict) -> str:
    return config_sha256(strategy_config_validate(cfg).to_dict())


def test_backtest_of_the_config_before_an_edit_is_not_evidence_for_the_new_version(strat, people):
    """The gap: backtest config A (good numbers), edit to B, make v2 on B, cite A's backtest."""
    old = make_backtest(strat, people["quinn"])  # no version: a run of the strategy's config A
    strategy_update(strategy=strat, by=people["quinn"], config=CONFIG_B)
    strat.refresh_from_db()
    v2 = make_version(strat, people["quinn"])
    with pytest.raises(GateFailed) as exc:
        _request(v2, people, old)
    assert f"backtest #{old.pk} {CHECK}" in str(exc.value)
    check = _checks(exc.value.results, f"backtest #{old.pk}")[CHECK]
    assert check == {
        "item": f"backtest #{old.pk}",
        "name": CHECK,
        "value": _sha(CONFIG_A)[:SHORT_SHA],
        "op": "==",
        "threshold": _sha(CONFIG_B)[:SHORT_SHA],
        "passed": False,
    }
    # Every other check of that run passes: the config is the only reason it is refused.
    others = [c for c in exc.value.results[0]["checks"] if c["name"] != CHECK]
    assert others and all(c["passed"] for c in others)
    assert not PromotionRequest.objects.exists()
    v2.refresh_from_db()
    assert v2.stage == Stage.RESEARCH


def test_run_attached_to_the_version_but_run_with_another_config_is_refused(strat, people):
    mv = make_version(strat, people["quinn"])
    other = make_backtest(strat, people["quinn"], version=mv, config=CONFIG_B)
    with pytest.raises(GateFailed, match=f"backtest #{other.pk} {CHECK}"):
        _request(mv, people, other)


@pytest.mark.parametrize(
    "change",
    [
        {"research": {"start": "2019-01-01", "end": "2024-12-31"}},
        {"seed": 8},
        {"gates": {"min_sharpe": 1.5}},
        {"costs": {"slippage_bps": 2.0}},
    ],
    ids=["research-window", "seed", "gates", "costs"],
)
def test_no_field_is_exempt_from_the_comparison(strat, people, change):
    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv, config={**strat.config, **change})
    with pytest.raises(GateFailed) as exc:
        _request(mv, people, bt)
    assert _checks(exc.value.results, f"backtest #{bt.pk}")[CHECK]["passed"] is False


def test_backtest_of_the_same_config_passes_and_the_snapshot_stores_its_sha(strat, people):
    strategy_update(strategy=strat, by=people["quinn"], config=CONFIG_B)
    strat.refresh_from_db()
    v2 = make_version(strat, people["quinn"])
    fresh = make_backtest(strat, people["quinn"])  # a run of B, with no version attached
    req = _request(v2, people, fresh)
    sha = config_sha256(v2.config)
    assert sha == _sha(CONFIG_B) == config_sha256(fresh.config)
    req.refresh_from_db()
    assert [e["config_sha256"] for e in req.evidence] == [sha]
    check = _checks(req.gate_results, f"backtest #{fresh.pk}")[CHECK]
    assert (check["value"], check["threshold"], check["passed"]) == (sha[:SHORT_SHA], sha[:SHORT_SHA], True)
    promotion_request_approve(request=req, by=people["bob"], reason="same config, gates pass")
    v2.refresh_from_db()
    assert v2.stage == Stage.CANDIDATE


def test_a_matching_run_cannot_carry_a_run_of_another_config(strat, people):
    mv = make_version(strat, people["quinn"])
    same = make_backtest(strat, people["quinn"], version=mv)
    other = make_backtest(strat, people["quinn"], config=CONFIG_B)
    with pytest.raises(GateFailed) as exc:
        _request(mv, people, same, other)
    assert _checks(exc.value.results, f"backtest #{same.pk}")[CHECK]["passed"] is True
    assert _checks(exc.value.results, f"backtest #{other.pk}")[CHECK]["passed"] is False


def test_config_rechecked_at_approval_on_the_reread_run(client, strat, people):
    """A run whose config snapshot no longer matches by the time an approver decides (rewritten
    behind the services' back) fails at approval, and the approvals page shows the check."""
    from apps.research.models import BacktestRun

    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    req = _request(mv, people, bt)
    rewritten = strategy_config_validate(CONFIG_B).to_dict()
    BacktestRun.objects.filter(pk=bt.pk).update(config=rewritten)

    client.force_login(people["bob"])
    html = client.get(reverse("strategies:approvals")).content.decode()
    assert CHECK in html
    assert config_sha256(rewritten)[:SHORT_SHA] in html and config_sha256(mv.config)[:SHORT_SHA] in html

    with pytest.raises(EvidenceChanged, match=f"backtest #{bt.pk} config: ") as exc:
        promotion_request_approve(request=req, by=people["bob"], reason="ok")
    assert {c["field"] for c in exc.value.changes} == {"config"}
    mv.refresh_from_db()
    req.refresh_from_db()
    assert (mv.stage, req.status) == (Stage.RESEARCH, "pending")


def test_missing_run_at_approval_fails_the_config_check_too(strat, people):
    from apps.research.models import BacktestRun

    mv = make_version(strat, people["quinn"])
    bt = make_backtest(strat, people["quinn"], version=mv)
    req = _request(mv, people, bt)
    BacktestRun.objects.filter(pk=bt.pk).delete()
    with pytest.raises(EvidenceChanged, match=f"backtest #{bt.pk} run: present -> missing"):
        promotion_request_approve(request=req, by=people["bob"], reason="ok")
    check = _checks(selectors.request_recheck(req), f"backtest #{bt.pk}")[CHECK]
    assert (check["value"], check["passed"]) == (None, False)


def test_config_sha_is_canonical_and_covers_every_nested_field():
    base = strategy_config_validate(CONFIG_A).to_dict()
    reordered = dict(reversed(list(base.items())))
    reordered["optimizer"] = dict(reversed(list(base["optimizer"].items())))
    assert config_sha256(reordered) == config_sha256(base)
    assert len(config_sha256(base)) == 64
    nested = {**base, "optimizer": {**base["optimizer"], "max_weight": 0.09}}
    assert config_sha256(nested) != config_sha256(base)
    with pytest.raises(ValueError):
        config_sha256({**base, "initial_cash": float("nan")})
    with pytest.raises(TypeError, match="must be a JSON object"):
        config_sha256([base])  # type: ignore[arg-type]
