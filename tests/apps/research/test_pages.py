"""Research pages for each role: who sees what, who may launch and cancel, and that result pages
carry their charts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.research.models import BacktestRun, ParameterSearch, TrainingRun
from apps.research.services.runs import backtest_execute, backtest_submit
from apps.research.services.search import search_submit

pytestmark = pytest.mark.django_db
ROLES = ("quinn", "bob", "alice", "victor", "rita", "ada")


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def finished(strategy, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        a = backtest_submit(strategy=strategy, actor=people["quinn"])
        b = backtest_submit(strategy=strategy, actor=people["quinn"])
    backtest_execute(run_id=a.pk)
    return a, b


def test_pages_render_for_every_role(finished, people, strategy):
    a, b = finished
    for name in ROLES:
        c = _client(people[name])
        assert c.get(reverse("research:index")).status_code == 200, name
        page = c.get(reverse("research:backtest_detail", args=[a.pk]))
        assert page.status_code == 200, name
        html = page.content.decode()
        for title in (
            "Equity vs benchmark",
            "Drawdown",
            "Monthly returns (%)",
            "Weights by sector",
            "Cost breakdown",
        ):
            assert f'aria-label="{title}"' in html, (name, title)
        queued = c.get(reverse("research:backtest_detail", args=[b.pk])).content.decode()
        assert f'data-job-status="/research/backtests/{b.pk}/status.json"' in queued
        assert c.get(reverse("research:compare") + f"?a={a.pk}&b={b.pk}").status_code == 200


def test_status_json_reports_progress(finished, people):
    _, queued = finished
    data = _client(people["victor"]).get(reverse("research:job_status", args=["backtests", queued.pk])).json()
    assert data == {
        "id": queued.pk,
        "status": "queued",
        "progress": 0,
        "message": "",
        "error": "",
        "terminal": False,
        "cancel_requested": False,
    }


def test_only_editors_launch_and_cancel(strategy, people, django_capture_on_commit_callbacks):
    url = reverse("research:backtest_create", args=[strategy.pk])
    for name in ("victor", "alice", "bob", "rita"):
        assert _client(people[name]).post(url).status_code == 403, name
    assert not BacktestRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        resp = _client(people["quinn"]).post(url)
    run = BacktestRun.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/research/backtests/{run.pk}/"
    cancel = reverse("research:job_cancel", args=["backtests", run.pk])
    assert _client(people["victor"]).post(cancel).status_code == 403
    assert _client(people["quinn"]).post(cancel).status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_search_page_and_form(strategy, people, django_capture_on_commit_callbacks):
    c = _client(people["quinn"])
    with django_capture_on_commit_callbacks(execute=False):
        resp = c.post(
            reverse("research:search_create", args=[strategy.pk]),
            {
                "method": "random",
                "objective": "calmar",
                "param_space": '{"model.fast": [5, 10], "model.slow": [50, 100]}',
                "n_samples": "3",
            },
        )
    search = ParameterSearch.objects.get()
    assert resp["Location"] == f"/research/searches/{search.pk}/" and search.n_candidates == 3
    page = c.get(resp["Location"]).content.decode()
    assert 'table class="grid sortable" id="results"' in page and page.count("badge queued") == 3
    bad = c.post(
        reverse("research:search_create", args=[strategy.pk]), {"method": "grid", "param_space": "{nope"}
    )
    assert bad.status_code == 400
    assert bad.context["form"].errors["param_space"] == [
        "is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"
    ]
    assert "{nope</textarea>" in bad.content.decode()  # what was typed is still there


def test_search_form_keeps_input_and_speaks_plainly(strategy, people):
    c = _client(people["quinn"])
    url = reverse("research:search_create", args=[strategy.pk])
    assert 'name="param_space"' in c.get(url).content.decode()
    typed = {
        "method": "random",
        "objective": "sharpe",
        "param_space": '{"model.fast": [5, 10]}',
        "n_samples": "ten",
        "mutation": "1.5",
    }
    resp = c.post(url, typed)
    assert resp.status_code == 400 and not ParameterSearch.objects.exists()
    errors = resp.context["form"].errors
    assert errors["n_samples"] == ["enter a whole number"]
    assert errors["mutation"] == ["Ensure this value is less than or equal to 1.0."]
    html = resp.content.decode()
    assert 'value="ten"' in html and "{&quot;model.fast&quot;: [5, 10]}" in html
    assert "Traceback" not in html and "invalid literal" not in html
    # a candidate the config validator refuses: named, on the form, with the input kept
    resp = c.post(url, {**typed, "n_samples": "2", "mutation": "", "param_space": '{"model.fast": [500]}'})
    assert resp.status_code == 400
    assert "is not a valid config: model.slow: must be greater than fast (500)" in html_of(resp)


def html_of(resp) -> str:
    return resp.content.decode().replace("&#x27;", "'").replace("&quot;", '"')


def test_deeply_nested_json_gets_a_message_not_a_500(strategy, people):
    c = _client(people["quinn"])
    deep = "[" * 3000 + "]" * 3000
    resp = c.post(
        reverse("research:search_create", args=[strategy.pk]), {"method": "grid", "param_space": deep}
    )
    assert resp.status_code == 400
    assert resp.context["form"].errors["param_space"] == [
        "is nested 3,000 levels deep; at most 3 levels are allowed"
    ]
    huge = '{"model.fast": [' + ", ".join(["1"] * 5000) + "]}"
    resp = c.post(
        reverse("research:search_create", args=[strategy.pk]), {"method": "grid", "param_space": huge}
    )
    assert resp.context["form"].errors["param_space"] == [
        "is too long: 15,016 characters, at most 8,000 allowed"
    ]


def test_a_too_long_reason_is_refused_with_a_message(strategy, people):
    resp = _client(people["quinn"]).post(
        reverse("research:backtest_create", args=[strategy.pk]), {"reason": "x" * 501}, follow=True
    )
    assert "Backtest not started: reason: Ensure this value has at most 500 characters" in html_of(resp)
    assert not BacktestRun.objects.exists()


def test_next_redirect_stays_on_the_site(strategy, people):
    c = _client(people["quinn"])
    url = reverse("research:training_create", args=[strategy.pk])  # a rule: refused, then redirected
    resp = c.post(url, {"next": "https://evil.example/phish"})
    assert resp.status_code == 302 and resp["Location"] == reverse("research:index")
    resp = c.post(url, {"next": f"/strategies/{strategy.name}/"})
    assert resp["Location"] == f"/strategies/{strategy.name}/"


def test_training_page_and_rule_refusal(strategy, people):
    c = _client(people["quinn"])
    resp = c.post(reverse("research:training_create", args=[strategy.pk]), follow=True)
    assert "there is no model to train" in resp.content.decode() and not TrainingRun.objects.exists()


def test_strategy_actions_partial_renders(strategy, people, rf):
    from django.template.loader import render_to_string

    request = rf.get("/strategies/x/")
    request.user = people["quinn"]
    html = render_to_string(
        "research/_strategy_actions.html", {"strategy": strategy, "can_edit": True}, request=request
    )
    assert f'action="/research/strategies/{strategy.pk}/backtest/"' in html
    assert f'href="/research/strategies/{strategy.pk}/search/"' in html
    assert "Train model" not in html  # a rule strategy has nothing to train


def test_search_results_page_after_ranking(strategy, people, django_capture_on_commit_callbacks):
    from apps.research.services.search import search_advance

    with django_capture_on_commit_callbacks(execute=False):
        search = search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="grid",
            param_space={"model.fast": [5, 20], "model.slow": [50]},
        )
        for r in search.runs.all():
            backtest_execute(run_id=r.pk)
        search_advance(search_id=search.pk, generation=0)
    page = _client(people["victor"]).get(reverse("research:search_detail", args=[search.pk])).content.decode()
    assert page.count("badge succeeded") >= 3 and "Sharpe (hold-out)" in page


def test_one_status_per_page(finished, people):
    _, queued = finished
    html = (
        _client(people["quinn"]).get(reverse("research:backtest_detail", args=[queued.pk])).content.decode()
    )
    assert html.count('data-field="status"') == 1
    assert html.count('class="badge queued"') == 1  # the header badge only; the progress card has none


def test_benchmark_without_bars_is_said_on_the_page_and_in_the_metrics(finished, people):
    done, _ = finished  # the tiny data set holds no SPY bars at all
    done.refresh_from_db()
    assert (done.metrics["benchmark_symbol"], done.metrics["benchmark_bars"]) == ("SPY", 0)
    assert done.series["benchmark"] == []
    html = _client(people["quinn"]).get(reverse("research:backtest_detail", args=[done.pk])).content.decode()
    assert 'id="benchmark-missing"' in html and "SPY has no bars between 2016-01-04 and" in html
    assert "SPY (benchmark)" not in html  # no legend entry without a line


def test_benchmark_with_bars_has_a_line(ridge_strategy, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = backtest_submit(strategy=ridge_strategy, actor=people["quinn"])
    assert backtest_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    assert run.metrics["benchmark_bars"] > 200
    html = _client(people["quinn"]).get(reverse("research:backtest_detail", args=[run.pk])).content.decode()
    assert "SPY (benchmark)" in html and 'id="benchmark-missing"' not in html


def test_csv_exports_of_equity_fills_and_weights(finished, people, strategy):
    import csv
    import io

    done, _ = finished
    done.refresh_from_db()
    c = _client(people["victor"])
    tables = {}
    for what in ("equity", "fills", "weights"):
        resp = c.get(reverse("research:backtest_export", args=[done.pk, what]))
        assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
        assert resp["Content-Disposition"] == f'attachment; filename="backtest-{done.pk}-{what}.csv"'
        tables[what] = list(csv.reader(io.StringIO(resp.content.decode())))
    equity = tables["equity"]
    assert equity[0] == ["ts_utc", "equity_usd", "benchmark_equity_usd", "drawdown", "exposure"]
    assert len(equity) - 1 == len(done.series["index"])
    assert float(equity[-1][1]) == pytest.approx(done.metrics["final_equity"])
    assert tables["fills"][0][:3] == ["ts_utc", "symbol", "shares"]
    assert len(tables["fills"]) - 1 == len(done.series["fills"]) > 0
    assert tables["weights"][0][0] == "ts_utc" and set(tables["weights"][0][1:]) == set(
        done.series["sector_weights"]
    )
    html = c.get(reverse("research:backtest_detail", args=[done.pk])).content.decode()
    assert f'href="/research/backtests/{done.pk}/fills.csv"' in html
    assert c.get(f"/research/backtests/{done.pk}/secrets.csv").status_code == 404


def test_training_page_lists_the_most_important_features_first(ridge_strategy, people):
    import json

    from apps.research.services.runs import training_execute, training_submit
    from workers.engine.models import model_from_dict

    cfg = dict(ridge_strategy.config, features="all")
    ridge_strategy.config = cfg
    ridge_strategy.save(update_fields=["config"])
    run = training_submit(strategy=ridge_strategy, actor=people["quinn"])
    assert training_execute(run_id=run.pk) == "succeeded"
    run.refresh_from_db()
    model = model_from_dict(json.loads(run.model_version.artifact.read()))
    importance = model.feature_importance()
    assert len(importance) > 15
    best = sorted(importance.values(), reverse=True)[:15]
    assert sorted(run.metrics["importance_top"].values(), reverse=True) == best
    html = _client(people["quinn"]).get(reverse("research:training_detail", args=[run.pk])).content.decode()
    table = html[html.index('id="top-features"') :]
    positions = [table.index(f">{name}<") for name in sorted(importance, key=lambda k: -importance[k])[:15]]
    assert positions == sorted(positions)


@pytest.fixture
def ranked_search(strategy, people, django_capture_on_commit_callbacks):
    from apps.research.services.search import search_advance

    with django_capture_on_commit_callbacks(execute=False):
        search = search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="grid",
            param_space={"model.fast": [5, 20], "model.slow": [50, 100]},
        )
        for r in search.runs.all():
            backtest_execute(run_id=r.pk)
        search_advance(search_id=search.pk, generation=0)
    search.refresh_from_db()
    assert search.status == "succeeded"
    return search


def test_search_page_shows_sensitivity_per_parameter(ranked_search, people):
    html = (
        _client(people["victor"])
        .get(reverse("research:search_detail", args=[ranked_search.pk]))
        .content.decode()
    )
    box = html[html.index('id="sensitivity"') :]
    for name in ("model.fast", "model.slow"):
        part = box[box.index(f'data-param="{name}"') :].split("</table>")[0]
        assert part.count("<tr>") == 3  # header + one row per value
    children = list(ranked_search.runs.all())
    fast5 = [r.score for r in children if r.candidate_params["model.fast"] == 5 and r.score is not None]
    part = box[box.index('data-param="model.fast"') :].split("</table>")[0]
    assert f">{sum(fast5) / len(fast5):,.3f}<" in part and f">{max(fast5):,.3f}<" in part
    assert 'id="apply-best"' not in html  # a viewer may not create strategies


def test_apply_best_parameters_creates_a_reviewed_draft(ranked_search, people, strategy):
    from apps.strategies.models import Strategy

    c = _client(people["quinn"])
    url = reverse("research:search_apply", args=[ranked_search.pk])
    assert (
        'id="apply-best"'
        in c.get(reverse("research:search_detail", args=[ranked_search.pk])).content.decode()
    )
    page = c.get(url)
    best = ranked_search.runs.get(rank=1)
    html = page.content.decode()
    changed = [k for k, v in best.candidate_params.items() if strategy.config["model"][k.split(".")[1]] != v]
    for path in changed:
        assert f'data-path="{path}"' in html
    sha = page.context["form"].initial["reviewed_sha"]
    before = dict(strategy.config)
    # no confirmation: nothing created, the reason said
    resp = c.post(url, {"name": "tiny-ma-best", "reviewed_sha": sha})
    assert resp.status_code == 400 and "tick the box to confirm" in resp.content.decode()
    # a proposal other than the one reviewed is refused
    resp = c.post(url, {"name": "tiny-ma-best", "reviewed_sha": "0" * 64, "confirm": "on"})
    assert "not the one you reviewed" in resp.content.decode()
    assert not Strategy.objects.filter(name="tiny-ma-best").exists()
    # a viewer cannot create the draft
    assert (
        _client(people["victor"])
        .post(url, {"name": "v-best", "reviewed_sha": sha, "confirm": "on"})
        .status_code
        == 403
    )
    resp = c.post(url, {"name": "tiny-ma-best", "reviewed_sha": sha, "confirm": "on"})
    assert resp.status_code == 302 and resp["Location"] == "/strategies/tiny-ma-best/"
    draft = Strategy.objects.get(name="tiny-ma-best")
    assert draft.owner == people["quinn"]
    for path, value in best.candidate_params.items():
        assert draft.config["model"][path.split(".")[1]] == value
    strategy.refresh_from_db()
    assert strategy.config == before  # the source strategy is untouched


def test_apply_refuses_a_best_candidate_equal_to_the_current_config(
    strategy, people, django_capture_on_commit_callbacks
):
    from apps.research.services.search import search_advance

    with django_capture_on_commit_callbacks(execute=False):
        search = search_submit(
            strategy=strategy, actor=people["quinn"], method="grid", param_space={"model.fast": [10]}
        )
        for r in search.runs.all():
            backtest_execute(run_id=r.pk)
        search_advance(search_id=search.pk, generation=0)
    c = _client(people["quinn"])
    url = reverse("research:search_apply", args=[search.pk])
    page = c.get(url)
    assert 'id="nothing-to-apply"' in page.content.decode() and 'id="apply-form"' not in page.content.decode()
    sha = page.context["form"].initial["reviewed_sha"]
    resp = c.post(url, {"name": "tiny-ma-same", "reviewed_sha": sha, "confirm": "on"})
    assert "there is nothing to apply" in html_of(resp)


def test_compare_places_runs_of_other_windows_on_one_time_axis(finished, people):
    done, other = finished
    done.refresh_from_db()
    BacktestRun.objects.filter(pk=other.pk).update(
        status="succeeded",
        series={"index": ["2025-10-01T14:00", "2025-10-01T15:00"], "equity": [1e6, 1.1e6]},
    )
    resp = _client(people["quinn"]).get(reverse("research:compare") + f"?a={done.pk}&b={other.pk}")
    svg = str(resp.context["chart"])
    assert f">{done.series['index'][0][:10]}<" in svg  # the first stamp of the earlier run
    assert ">2025-10-01<" in svg  # the later run's stamps come after it, not on top of it
    assert f"#{other.pk} tiny-ma" in svg and f"#{done.pk} tiny-ma" in svg
