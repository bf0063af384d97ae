"""Parameter searches: candidate generation (grid / random / genetic), the completion counter,
ranking by the objective, and cancel — driven through the services (the Celery path is in
test_celery.py)."""

from __future__ import annotations

import json
import random

import pytest

from apps.research.models import BacktestRun, ParameterSearch, Status
from apps.research.services.candidates import (
    ParamSpaceError,
    apply_params,
    ga_next_generation,
    grid_candidates,
    param_space_validate,
    random_candidates,
)
from apps.research.services.runs import backtest_execute
from apps.research.services.search import objective_score, search_advance, search_cancel, search_submit

SPACE = {"model.fast": [5, 10, 20], "model.slow": [50, 100]}


def test_grid_and_random_candidates():
    assert grid_candidates(SPACE) == [
        {"model.fast": f, "model.slow": s} for f in (5, 10, 20) for s in (50, 100)
    ]
    a = random_candidates(SPACE, n=4, seed=3)
    assert a == random_candidates(SPACE, n=4, seed=3) and len({str(c) for c in a}) == 4
    assert all(c in grid_candidates(SPACE) for c in a)
    assert len(random_candidates(SPACE, n=50, seed=1)) == 6


def test_param_space_errors_are_named():
    with pytest.raises(ParamSpaceError, match="'model.fast': values must be a non-empty list"):
        param_space_validate({"model.fast": []})
    with pytest.raises(ParamSpaceError, match="values repeat"):
        param_space_validate({"model.fast": [5, 5]})
    with pytest.raises(ParamSpaceError, match="has no key 'fsat'"):
        apply_params({"model": {"fast": 1}}, {"model.fsat": 3})


def test_genetic_generation_breeds_new_points_from_the_best():
    space = {"a": list(range(10)), "b": list(range(10))}
    scored = [({"a": a, "b": b}, float(a + b)) for a, b in [(9, 9), (8, 9), (0, 0), (1, 0)]]
    seen = {json.dumps(c, sort_keys=True) for c, _ in scored}
    child = ga_next_generation(
        space, scored=scored, size=6, mutation=0.1, crossover=0.9, rng=random.Random(1), seen=seen
    )
    assert len(child) == 6
    assert all(
        json.dumps(c, sort_keys=True) not in {json.dumps(s, sort_keys=True) for s, _ in scored} for c in child
    )
    # Parents are the best half (genes 8-9): children sit well above the population's mean gene.
    genes = [v for c in child for v in c.values()]
    assert sum(genes) / len(genes) > sum(v for c, _ in scored for v in c.values()) / 8
    assert (
        ga_next_generation(
            space,
            scored=[({"a": 1, "b": 1}, None)],
            size=3,
            mutation=0.1,
            crossover=0.5,
            rng=random.Random(1),
            seen=set(),
        )
        == []
    )


def test_objective_scores():
    m = {"sharpe": 1.2, "calmar": 5.0, "n_trades": 10}
    assert objective_score(m, "sharpe") == 1.2
    assert objective_score(m, "calmar") == 5.0
    assert objective_score(m, "balanced") == pytest.approx(0.5 * 1.2 + 0.5 * 3.0)
    assert objective_score({**m, "n_trades": 0}, "sharpe") is None
    assert objective_score({"sharpe": None, "calmar": 1, "n_trades": 3}, "balanced") is None


@pytest.mark.django_db
def test_grid_search_counts_children_and_ranks_them(strategy, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as sent:
        search = search_submit(
            strategy=strategy, actor=people["quinn"], method="grid", param_space=SPACE, objective="balanced"
        )
    assert len(sent) == 1  # the group of children, after commit
    search.refresh_from_db()
    assert search.status == Status.RUNNING and search.n_candidates == 6 and search.generation_size == 6
    children = list(search.runs.order_by("pk"))
    assert [c.config["model"] for c in children][0] == {"fast": 5, "slow": 50}
    rank_enqueued = []
    for child in children:
        with django_capture_on_commit_callbacks(execute=False) as cbs:
            assert backtest_execute(run_id=child.pk) == "succeeded"
        rank_enqueued.append(len(cbs))
    assert rank_enqueued == [0, 0, 0, 0, 0, 1]  # only the child completing the generation
    assert search_advance(search_id=search.pk, generation=0) == "ranked"
    assert search_advance(search_id=search.pk, generation=0) == "skipped"  # redelivered rank task
    search.refresh_from_db()
    assert search.status == Status.SUCCEEDED and len(search.results) == 6
    scores = [r["score"] for r in search.results if r["score"] is not None]
    assert len(scores) == 6 and scores == sorted(scores, reverse=True) and search.results[0]["rank"] == 1
    best = BacktestRun.objects.get(pk=search.results[0]["run"])
    assert best.rank == 1 and best.metrics["selection"]["n_trades"] > 0
    assert best.metrics["selection"]["bars"] + best.metrics["holdout"]["bars"] == 503
    # Selection and hold-out are the two parts of the same backtest: its fills split between them.
    assert best.metrics["holdout"]["n_trades"] > 0
    assert (
        best.metrics["selection"]["n_trades"] + best.metrics["holdout"]["n_trades"]
        == best.metrics["n_trades"]
    )


@pytest.mark.django_db
def test_evolutionary_search_runs_its_generations(strategy, people, django_capture_on_commit_callbacks):
    space = {"model.fast": [3, 5, 8, 10, 15, 20], "model.slow": [30, 50, 80, 120]}
    with django_capture_on_commit_callbacks(execute=False):
        search = search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="evolutionary",
            param_space=space,
            settings={"population": 3, "generations": 2},
        )
    for generation in (0, 1):
        for child in search.runs.filter(generation=generation):
            with django_capture_on_commit_callbacks(execute=False):
                backtest_execute(run_id=child.pk)
        with django_capture_on_commit_callbacks(execute=False):
            outcome = search_advance(search_id=search.pk, generation=generation)
        assert outcome == ("next_generation" if generation == 0 else "ranked")
    search.refresh_from_db()
    assert search.status == Status.SUCCEEDED and search.generation == 1
    assert search.runs.filter(generation=1).count() == 3 and search.n_candidates == 6
    params = [str(sorted(r.candidate_params.items())) for r in search.runs.all()]
    assert len(set(params)) == 6  # the second generation explores new points


@pytest.mark.django_db
def test_search_cancel_cancels_queued_children(strategy, people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        search = search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="random",
            param_space=SPACE,
            settings={"n_samples": 3},
        )
    search_cancel(search=search, actor=people["quinn"])
    search.refresh_from_db()
    assert search.status == Status.CANCELLED
    assert set(search.runs.values_list("status", flat=True)) == {"cancelled"}
    assert all(backtest_execute(run_id=r.pk) == "skipped" for r in search.runs.all())


@pytest.mark.django_db
def test_search_refuses_invalid_candidates(strategy, people):
    with pytest.raises(
        ParamSpaceError, match="candidate .* is not a valid config: model.slow: must be greater than fast"
    ):
        search_submit(
            strategy=strategy,
            actor=people["quinn"],
            method="grid",
            param_space={"model.fast": [60], "model.slow": [50]},
        )
    assert not ParameterSearch.objects.exists()
