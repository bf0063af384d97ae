"""Research pages: thin views that check the strategy's permissions, call a service and render.
Viewing a run needs view access to its strategy; launching or cancelling needs change access."""

from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import redirect_next
from apps.strategies import permissions
from apps.strategies.config import ConfigValidationError
from apps.strategies.models import Strategy
from apps.strategies.services import StrategyError
from apps.strategies.starters import search_space

from . import presenters, selectors
from .forms import ApplyBestForm, JobForm, SearchForm
from .models import BacktestRun, ParameterSearch, TrainingRun
from .services import results
from .services.apply import ApplyError, search_best_apply, search_best_proposal
from .services.candidates import ParamSpaceError
from .services.runs import backtest_submit, job_cancel, training_submit
from .services.search import search_cancel, search_submit
from .summaries import search_sensitivity

KINDS = {"backtests": BacktestRun, "training": TrainingRun, "searches": ParameterSearch}
DETAIL = {
    "backtests": "research:backtest_detail",
    "training": "research:training_detail",
    "searches": "research:search_detail",
}


def _viewable(request: HttpRequest, job):
    if not permissions.can_view(request.user, job.strategy):
        raise PermissionDenied("you may not view this strategy's research")
    return job


def _editable_strategy(request: HttpRequest, strategy_id: int) -> Strategy:
    strategy = get_object_or_404(Strategy, pk=strategy_id)
    if not permissions.can_edit(request.user, strategy):
        raise PermissionDenied("only those who can change this strategy launch its research jobs")
    return strategy


def _back(request: HttpRequest):
    return redirect_next(request, "research:index")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "research/index.html", selectors.recent_jobs(user=request.user))


def _submit(request: HttpRequest, strategy: Strategy, submit, what: str, detail: str) -> HttpResponse:
    """Start a backtest or a training from the strategy page; a refusal goes back with why."""
    form = JobForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
        messages.error(request, f"{what} not started: {errors}")
        return _back(request)
    try:
        run = submit(strategy=strategy, actor=request.user, reason=form.cleaned_data["reason"])
    except (ConfigValidationError, ValueError) as exc:
        messages.error(request, f"{what} not started: {exc}")
        return _back(request)
    return redirect(detail, pk=run.pk)


@require_POST
def backtest_create(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _editable_strategy(request, strategy_id)
    return _submit(request, strategy, backtest_submit, "Backtest", "research:backtest_detail")


@require_POST
def training_create(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = _editable_strategy(request, strategy_id)
    return _submit(request, strategy, training_submit, "Training", "research:training_detail")


def search_form_for(strategy: Strategy, data=None) -> SearchForm:
    """The search form of a strategy: its kind's first parameter space unless the user typed one."""
    return SearchForm(data, initial={"param_space": search_space(strategy.kind, strategy.frequency)})


@require_http_methods(["GET", "POST"])
def search_create(request: HttpRequest, strategy_id: int) -> HttpResponse:
    """GET: the search form. POST: start the search, or show the form again with what was typed
    and each error next to its field."""
    strategy = _editable_strategy(request, strategy_id)
    if request.method == "GET":
        form = search_form_for(strategy)
        return render(request, "research/search_form.html", {"form": form, "strategy": strategy})
    form = search_form_for(strategy, request.POST)
    if form.is_valid():
        try:
            search = search_submit(
                strategy=strategy,
                actor=request.user,
                method=form.cleaned_data["method"],
                param_space=form.cleaned_data["param_space"],
                objective=form.cleaned_data["objective"],
                settings=form.search_settings(),
            )
        except (ParamSpaceError, ConfigValidationError, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("research:search_detail", pk=search.pk)
    return render(request, "research/search_form.html", {"form": form, "strategy": strategy}, status=400)


@require_GET
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _viewable(
        request,
        get_object_or_404(BacktestRun.objects.select_related("strategy", "search", "model_version"), pk=pk),
    )
    return render(
        request,
        "research/backtest_detail.html",
        {
            "run": run,
            "kind": "backtests",
            "charts": presenters.backtest_charts(run) if run.succeeded else {},
            "can_edit": permissions.can_edit(request.user, run.strategy),
            "events": run.events.select_related("actor"),
            "metrics_rows": presenters.metric_rows(run.metrics),
            "benchmark_missing": run.metrics.get("benchmark_bars") == 0,
            "config_json": json.dumps(run.config, indent=2, sort_keys=True),
        },
    )


@require_GET
def backtest_export(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    """One result table of a backtest as CSV (equity, fills or sector weights)."""
    if what not in results.EXPORTS:
        raise Http404(f"no export {what!r}")
    run = _viewable(request, get_object_or_404(BacktestRun.objects.select_related("strategy"), pk=pk))
    header, rows = results.export_table(run.series, what)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="backtest-{run.pk}-{what}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


@require_GET
def training_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _viewable(
        request, get_object_or_404(TrainingRun.objects.select_related("strategy", "model_version"), pk=pk)
    )
    return render(
        request,
        "research/training_detail.html",
        {
            "run": run,
            "kind": "training",
            "config_json": json.dumps(run.config, indent=2, sort_keys=True),
            "can_edit": permissions.can_edit(request.user, run.strategy),
            "events": run.events.select_related("actor"),
        },
    )


@require_GET
def search_detail(request: HttpRequest, pk: int) -> HttpResponse:
    search = _viewable(request, get_object_or_404(ParameterSearch.objects.select_related("strategy"), pk=pk))
    children = list(search.runs.defer("series").order_by("rank", "pk"))
    param_names = list(search.param_space)
    return render(
        request,
        "research/search_detail.html",
        {
            "search": search,
            "run": search,
            "kind": "searches",
            "children": children,
            "param_names": param_names,
            "sensitivity": search_sensitivity(children, param_names) if search.succeeded else {},
            "can_edit": permissions.can_edit(request.user, search.strategy),
            "can_apply": permissions.can_create(request.user),
            "events": search.events.select_related("actor"),
        },
    )


@require_http_methods(["GET", "POST"])
def search_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """The best candidate of a search as a new strategy: GET shows the proposal and its diff,
    POST (with the explicit confirmation) creates the draft."""
    search = _viewable(request, get_object_or_404(ParameterSearch.objects.select_related("strategy"), pk=pk))
    try:
        proposal = search_best_proposal(search=search, actor=request.user)
    except ApplyError as exc:
        messages.error(request, f"Nothing to apply: {exc}")
        return redirect("research:search_detail", pk=search.pk)
    initial = {"name": proposal.default_name, "reviewed_sha": proposal.config_sha}
    form = ApplyBestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            draft = search_best_apply(
                search=search,
                actor=request.user,
                name=form.cleaned_data["name"],
                reviewed_sha=form.cleaned_data["reviewed_sha"],
            )
        except StrategyError as exc:
            form.add_error("name", str(exc))
        except (ApplyError, ConfigValidationError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Draft strategy {draft.name} created from search #{search.pk}; {search.strategy.name} is unchanged.",
            )
            return redirect("strategies:detail", name=draft.name)
    return render(
        request,
        "research/search_apply.html",
        {"search": search, "proposal": proposal, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


def _job(kind: str, pk: int):
    model = KINDS.get(kind)
    if model is None:
        raise Http404(f"no such job kind {kind!r}")
    return get_object_or_404(model.objects.select_related("strategy"), pk=pk)


@require_GET
def job_status_json(request: HttpRequest, kind: str, pk: int) -> JsonResponse:
    job = _viewable(request, _job(kind, pk))
    return JsonResponse(selectors.job_status(job))


@require_POST
def job_cancel_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    job = _job(kind, pk)
    if not permissions.can_edit(request.user, job.strategy):
        raise PermissionDenied("only those who can change this strategy cancel its research jobs")
    if isinstance(job, ParameterSearch):
        search_cancel(search=job, actor=request.user)
    else:
        job_cancel(job=job, actor=request.user)
    messages.info(request, f"{kind[:-1] if kind.endswith('s') else kind} #{pk}: cancel requested")
    return redirect(DETAIL[kind], pk=pk)


@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    ids = [request.GET.get("a"), request.GET.get("b")]
    if not all(i and i.isdigit() for i in ids):
        return render(
            request,
            "research/compare.html",
            {"error": "give two backtest ids: ?a=<id>&b=<id>", "runs": []},
            status=400,
        )
    runs = [
        _viewable(request, get_object_or_404(BacktestRun.objects.select_related("strategy"), pk=int(i)))
        for i in ids
    ]
    return render(
        request,
        "research/compare.html",
        {
            "runs": runs,
            "rows": presenters.metric_rows(*(r.metrics for r in runs)),
            "chart": presenters.compare_chart(runs),
        },
    )
