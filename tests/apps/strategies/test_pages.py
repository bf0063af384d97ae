"""Strategy pages for each role: status codes, forms with per-field errors, approve/reject by POST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.strategies.models import PromotionRequest, Stage
from apps.strategies.services import promotion_request_create

from .conftest import PASSING, make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(people, universe):
    mine = make_strategy(people["quinn"], name="quinn-ma")
    theirs = make_strategy(people["quincy"], name="quincy-mom", kind="momentum")
    mv = make_version(mine, people["quinn"])
    bt = make_backtest(mine, people["quinn"], version=mv)
    return {"mine": mine, "theirs": theirs, "mv": mv, "bt": bt}


def get(client, user, name, *args):
    client.force_login(user)
    return client.get(reverse(name, args=args))


# role -> (list, own detail, other's detail, create, edit own, approvals)
MATRIX = {
    "quinn": (200, 200, 403, 200, 200, 403),
    "victor": (200, 200, 200, 403, 403, 403),
    "alice": (200, 200, 200, 403, 403, 403),
    "rita": (200, 200, 200, 403, 403, 403),
    "bob": (200, 200, 200, 403, 403, 200),
    "ada": (200, 200, 200, 200, 200, 200),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_page_status_by_role(client, people, setup, who):
    user = people[who]
    got = (
        get(client, user, "strategies:index").status_code,
        get(client, user, "strategies:detail", "quinn-ma").status_code,
        get(client, user, "strategies:detail", "quincy-mom").status_code,
        get(client, user, "strategies:create").status_code,
        get(client, user, "strategies:edit", "quinn-ma").status_code,
        get(client, user, "strategies:approvals").status_code,
    )
    assert got == MATRIX[who]


def test_anonymous_is_sent_to_login(client, setup):
    resp = client.get(reverse("strategies:index"))
    assert resp.status_code == 302 and "/login" in resp["Location"]


def test_list_shows_only_visible_strategies(client, people, setup):
    html = get(client, people["quinn"], "strategies:index").content.decode()
    assert 'data-name="quinn-ma"' in html and 'data-name="quincy-mom"' not in html
    html = get(client, people["victor"], "strategies:index").content.decode()
    assert 'data-name="quinn-ma"' in html and 'data-name="quincy-mom"' in html


def test_list_shows_latest_version_stage_and_sharpe(client, people, setup):
    bt = setup["bt"]
    v2 = make_version(setup["mine"], people["quinn"], stage=Stage.CANDIDATE)
    newer = make_backtest(setup["mine"], people["quinn"], version=v2, metrics={**PASSING, "sharpe": 1.87})
    make_backtest(setup["mine"], people["quinn"], version=v2, status="failed", metrics={})
    html = get(client, people["victor"], "strategies:index").content.decode()
    row = html[html.index('data-name="quinn-ma"') :].split("</tr>")[0]
    assert "v2" in row and "stage-candidate" in row
    assert f'<a href="/research/backtests/{newer.pk}/">1.87</a>' in row
    assert f"/research/backtests/{bt.pk}/" not in row
    other = html[html.index('data-name="quincy-mom"') :].split("</tr>")[0]
    assert other.count("—") >= 2  # no version, no Sharpe


def test_detail_lists_the_strategys_runs_with_key_figures(client, people, setup):
    bt = setup["bt"]
    html = get(client, people["victor"], "strategies:detail", "quinn-ma").content.decode()
    table = html[html.index('id="strategy-backtests"') :].split("</table>")[0]
    row = table[table.index(f'data-run="{bt.pk}"') :].split("</tr>")[0]
    assert ">1.40<" in row and ">12.0%<" in row and ">240<" in row and "v1" in row


def test_create_form_shows_errors_per_field_then_creates(client, people, universe):
    client.force_login(people["quinn"])
    url = reverse("strategies:create")
    bad = {
        "name": "q-bad",
        "kind": "ma_crossover",
        "universe": "sp500",
        "frequency": "1d",
        "config": '{"optimizer": {"max_weight": 2}, "model": {"fast": 30, "slow": 10}}',
    }
    resp = client.post(url, bad)
    assert resp.status_code == 200
    errors = resp.context["form"].errors
    assert errors["config"] == [
        "optimizer.max_weight: must be in (0, 1], got 2",
        "model.slow: must be greater than fast (30), got 10",
    ]
    resp = client.post(url, {**bad, "config": "{not json"})
    assert "not valid JSON" in resp.context["form"].errors["config"][0]
    assert "{not json</textarea>" in resp.content.decode()
    resp = client.post(url, {**bad, "kind": "evil"})
    assert "kind" in resp.context["form"].errors
    resp = client.post(url, {**bad, "config": '{"model": {"fast": 5, "slow": 40}}'})
    assert resp.status_code == 302 and resp["Location"] == reverse("strategies:detail", args=["q-bad"])
    html = client.get(resp["Location"]).content.decode()
    assert "q-bad" in html and "&quot;fast&quot;: 5" in html


def test_deeply_nested_config_is_a_form_error_not_a_500(client, people, universe):
    client.force_login(people["quinn"])
    deep = '{"model": ' + "[" * 5000 + "]" * 5000 + "}"
    resp = client.post(
        reverse("strategies:create"),
        {"name": "q-deep", "kind": "ma_crossover", "universe": "sp500", "frequency": "1d", "config": deep},
    )
    assert resp.status_code == 200
    assert resp.context["form"].errors["config"] == [
        "is nested 5,001 levels deep; at most 20 levels are allowed"
    ]
    resp = client.post(
        reverse("strategies:create"),
        {"name": "q-list", "kind": "ma_crossover", "universe": "sp500", "frequency": "1d", "config": "[1]"},
    )
    assert resp.context["form"].errors["config"] == ['must be a JSON object, e.g. {"key": value}']


def test_new_strategy_form_offers_starters_prefilled(client, people, universe):
    from apps.strategies.starters import STARTERS

    client.force_login(people["quinn"])
    resp = client.get(reverse("strategies:create"))
    html = resp.content.decode()
    for starter in STARTERS:
        assert f'data-starter="{starter.key}"' in html
    form = resp.context["form"]
    assert (form["kind"].value(), form["frequency"].value()) == ("ridge", "1d")
    assert '"start": "2013-02-08"' in form["config"].value()
    form = client.get(reverse("strategies:create") + "?starter=momentum-hourly").context["form"]
    assert (form["kind"].value(), form["frequency"].value()) == ("momentum", "1h")
    assert "2025-10-01" in form["config"].value()
    resp = client.get(reverse("strategies:create") + "?starter=nope")
    assert "There is no starter config named" in resp.content.decode()


def test_detail_has_versions_with_stage_badges_and_share(client, people, setup):
    html = get(client, people["quinn"], "strategies:detail", "quinn-ma").content.decode()
    assert 'data-version="1"' in html and "stage-research" in html
    assert 'id="share-form"' in html and 'id="edit-strategy"' in html
    html = get(client, people["victor"], "strategies:detail", "quinn-ma").content.decode()
    assert 'id="share-form"' not in html and 'id="edit-strategy"' not in html
    client.force_login(people["quinn"])
    resp = client.post(reverse("strategies:share", args=["quinn-ma"]), {"username": "quincy"})
    assert resp.status_code == 302
    assert get(client, people["quincy"], "strategies:detail", "quinn-ma").status_code == 200


def test_request_approve_flow_through_pages(client, people, setup):
    mv, bt = setup["mv"], setup["bt"]
    client.force_login(people["quinn"])
    url = reverse("strategies:request_promotion", args=["quinn-ma", mv.version])
    page = client.get(url)
    assert page.status_code == 200 and f'value="{bt.pk}"' in page.content.decode()
    resp = client.post(url, {"to_stage": "candidate", "reason": "strong OOS", "evidence": [str(bt.pk)]})
    assert resp.status_code == 302
    req = PromotionRequest.objects.get()
    # Approvals page: evidence with a link to the run, and the gate checks.
    html = get(client, people["bob"], "strategies:approvals").content.decode()
    assert f'href="/research/backtests/{bt.pk}/"' in html
    assert 'data-gate="backtest_oos"' in html and "sharpe" in html
    resp = client.post(reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": ""})
    req.refresh_from_db()
    assert req.status == "pending"  # a reason is required
    client.post(reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": "meets gates"})
    req.refresh_from_db()
    mv.refresh_from_db()
    assert (req.status, mv.stage) == ("approved", Stage.CANDIDATE)


def test_evidence_picker_offers_only_runs_that_can_pass_the_config_check(client, people, setup):
    mv, bt = setup["mv"], setup["bt"]
    other = make_backtest(
        setup["mine"], people["quinn"], config={**setup["mine"].config, "model": {"fast": 5, "slow": 40}}
    )
    failed = make_backtest(setup["mine"], people["quinn"], status="failed", metrics={})
    client.force_login(people["quinn"])
    url = reverse("strategies:request_promotion", args=["quinn-ma", mv.version])
    resp = client.get(url)
    offered = [value for value, _ in resp.context["form"].fields["evidence"].choices]
    assert offered == [str(bt.pk)]
    html = resp.content.decode()
    assert f'<li data-run="{other.pk}">' in html and f'<li data-run="{failed.pk}">' in html
    assert "a run of another config than v1&#x27;s (2 setting(s) differ: model.fast, model.slow)" in html
    assert "not finished (failed)" in html
    assert f"#{bt.pk} · Sharpe 1.40 · max drawdown 12.0% · 240 trades · out of sample" in html
    # a run that is not offered cannot be posted either
    resp = client.post(url, {"to_stage": "candidate", "reason": "x", "evidence": [str(other.pk)]})
    assert "evidence" in resp.context["form"].errors and not PromotionRequest.objects.exists()


def test_approvals_show_evidence_equity_and_config_diff_against_previous_version(client, people, setup):
    from apps.research.models import BacktestRun
    from apps.strategies.services import strategy_update

    mine = setup["mine"]
    strategy_update(
        strategy=mine, by=people["quinn"], config={**mine.config, "model": {"fast": 5, "slow": 40}}
    )
    mine.refresh_from_db()
    v2 = make_version(mine, people["quinn"])
    bt = make_backtest(mine, people["quinn"], version=v2)
    BacktestRun.objects.filter(pk=bt.pk).update(
        series={"index": ["2016-01-04T21:00", "2016-01-05T21:00"], "equity": [1e6, 1.01e6], "benchmark": []}
    )
    promotion_request_create(
        model_version=v2,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="v2",
        evidence_refs=[("backtest", bt.pk)],
    )
    html = get(client, people["bob"], "strategies:approvals").content.decode()
    assert f'data-run="{bt.pk}"' in html and f'aria-label="Equity of backtest #{bt.pk}"' in html
    assert "against v1" in html
    for path, old, new in (("model.fast", "20", "5"), ("model.slow", "100", "40")):
        row = html[html.index(f'data-path="{path}"') :].split("</tr>")[0]
        assert f">{old}<" in row and f">{new}<" in row
    assert 'data-path="kind"' not in html  # unchanged settings are not listed


def test_failing_gate_shown_on_request_form(client, people, setup):
    mv = setup["mv"]
    weak = make_backtest(
        setup["mine"],
        people["quinn"],
        version=mv,
        metrics={"sharpe": 0.4, "max_drawdown": 0.1, "n_trades": 100, "oos": True},
    )
    client.force_login(people["quinn"])
    url = reverse("strategies:request_promotion", args=["quinn-ma", mv.version])
    resp = client.post(url, {"to_stage": "candidate", "reason": "try", "evidence": [str(weak.pk)]})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "gate failed" in html and 'class="gate fail"' in html
    # numbers formatted by what they measure: Sharpe with 2 decimals, drawdown in percent, counts whole
    assert ">0.40</td>" in html and ">1.00</td>" in html
    assert ">10.0%</td>" in html and ">20.0%</td>" in html and ">100</td>" in html
    assert not PromotionRequest.objects.exists()


def test_self_approval_refused_on_page_and_non_approver_cannot_post(client, people, setup):
    mv, bt = setup["mv"], setup["bt"]
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["ada"],
        reason="x",
        evidence_refs=[("backtest", bt.pk)],
    )
    client.force_login(people["ada"])
    assert "another approver decides it" in client.get(reverse("strategies:approvals")).content.decode()
    client.post(reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": "mine"})
    req.refresh_from_db()
    assert req.status == "pending"
    client.force_login(people["alice"])
    resp = client.post(
        reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": "trader"}
    )
    assert resp.status_code == 403
    client.force_login(people["bob"])
    client.post(reverse("strategies:decide", args=[req.pk]), {"decision": "reject", "reason": "not yet"})
    req.refresh_from_db()
    assert (req.status, req.decided_by) == ("rejected", people["bob"])


def test_decide_requires_csrf(people, setup):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(people["bob"])
    resp = csrf_client.post(reverse("strategies:decide", args=[1]), {"decision": "approve", "reason": "x"})
    assert resp.status_code == 403
