"""Strategy pages: list, detail, create/edit, share, promotion requests and the approvals desk.
Thin: check access, validate the form, call a service, show its error next to the field."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_POST

from apps.research.selectors import strategy_jobs
from apps.research.summaries import latest_version_figures, request_review

from . import permissions, selectors
from .config import ConfigValidationError
from .forms import DecisionForm, PromotionRequestForm, StrategyForm
from .lifecycle import allowed_targets
from .models import ModelVersion, PromotionRequest, Stage, Strategy
from .registry import strategy_spec
from .services import (
    GateFailed,
    LifecycleError,
    StrategyError,
    evidence_candidates,
    promotion_request_approve,
    promotion_request_cancel,
    promotion_request_create,
    promotion_request_reject,
    rollback_request_create,
    rule_version_record,
    strategy_create,
    strategy_share,
    strategy_update,
)
from .sharing import ShareForm
from .starters import DEFAULT_STARTER, STARTERS, STARTERS_BY_KEY, starter_config

# Part B (research) may ship buttons for the detail page; shown when the template exists.
ACTIONS_TEMPLATE = "research/_strategy_actions.html"


def _strategy_for(request: HttpRequest, name: str, *, edit: bool = False) -> Strategy:
    strategy = get_object_or_404(Strategy.objects.select_related("owner", "universe"), name=name)
    allowed = permissions.can_edit if edit else permissions.can_view
    if not allowed(request.user, strategy):
        raise PermissionDenied(f"you may not {'edit' if edit else 'see'} strategy {name}")
    return strategy


def _actions_template() -> str | None:
    try:
        get_template(ACTIONS_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return ACTIONS_TEMPLATE


def index(request: HttpRequest) -> HttpResponse:
    strategies = list(
        selectors.strategies_visible(request.user).annotate(
            n_versions=Count("versions", distinct=True),
            n_live=Count("versions", filter=Q(versions__stage=Stage.LIVE), distinct=True),
        )
    )
    figures = latest_version_figures(s.pk for s in strategies)
    return render(
        request,
        "strategies/index.html",
        {
            "rows": [(s, figures.get(s.pk)) for s in strategies],
            "can_create": permissions.can_create(request.user),
        },
    )


def _save_form(request: HttpRequest, form: StrategyForm, strategy: Strategy | None) -> Strategy | None:
    if not form.is_valid():
        return None
    try:
        if strategy is None:
            return strategy_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                config=form.merged_config(),
            )
        return strategy_update(
            strategy=strategy,
            by=request.user,
            config=form.merged_config(),
            description=form.cleaned_data["description"],
        )
    except ConfigValidationError as exc:
        form.add_config_errors(exc.by_path())
    except StrategyError as exc:
        form.add_error("name", str(exc))
    return None


def _starter_initial(key: str) -> dict:
    config = starter_config(key)
    return {
        "kind": config.pop("kind"),
        "universe": config.pop("universe"),
        "frequency": config.pop("frequency"),
        "config": config,
    }


def create(request: HttpRequest) -> HttpResponse:
    if not permissions.can_create(request.user):
        raise PermissionDenied("you may not create strategies")
    starter = request.GET.get("starter", DEFAULT_STARTER)
    if starter not in STARTERS_BY_KEY:
        messages.error(request, f"There is no starter config named {starter!r}; showing {DEFAULT_STARTER}.")
        starter = DEFAULT_STARTER
    form = StrategyForm(request.POST or None, initial=_starter_initial(starter))
    if request.method == "POST" and (strategy := _save_form(request, form, None)):
        messages.success(request, f"Strategy {strategy.name} created.")
        return redirect("strategies:detail", name=strategy.name)
    return render(
        request,
        "strategies/form.html",
        {"form": form, "strategy": None, "starters": STARTERS, "starter": starter},
    )


def edit(request: HttpRequest, name: str) -> HttpResponse:
    strategy = _strategy_for(request, name, edit=True)
    initial = {
        "name": strategy.name,
        "description": strategy.description,
        "kind": strategy.kind,
        "universe": strategy.universe.name,
        "frequency": strategy.frequency,
        "config": json.dumps(strategy.config, indent=2),
    }
    form = StrategyForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and _save_form(request, form, strategy):
        messages.success(request, f"Strategy {strategy.name} saved.")
        return redirect("strategies:detail", name=strategy.name)
    return render(request, "strategies/form.html", {"form": form, "strategy": strategy})


def detail(request: HttpRequest, name: str) -> HttpResponse:
    strategy = _strategy_for(request, name)
    can_edit = permissions.can_edit(request.user, strategy)
    versions = list(selectors.strategy_versions(strategy))
    return render(
        request,
        "strategies/detail.html",
        {
            "strategy": strategy,
            "config_json": json.dumps(strategy.config, indent=2),
            "versions": versions,
            "requests": selectors.strategy_requests(strategy)[:20],
            "events": selectors.strategy_events(strategy),
            "can_edit": can_edit,
            "can_request": permissions.can_request_promotion(request.user, strategy),
            "can_record_version": can_edit and not strategy_spec(strategy.kind).trains,
            "has_retired_live": any(v.stage == Stage.RETIRED for v in versions),
            "collaborators": selectors.strategy_collaborators(strategy),
            "share_form": (
                ShareForm(users=selectors.share_candidates(strategy))
                if permissions.can_share(request.user, strategy)
                else None
            ),
            "actions_template": _actions_template(),
            "jobs": strategy_jobs(strategy=strategy),
        },
    )


@require_POST
def share(request: HttpRequest, name: str) -> HttpResponse:
    strategy = _strategy_for(request, name)
    if not permissions.can_share(request.user, strategy):
        raise PermissionDenied(f"only the owner or an admin may share strategy {name}")
    form = ShareForm(request.POST, users=selectors.share_candidates(strategy))
    if form.is_valid():
        user = form.cleaned_data["username"]
        try:
            strategy_share(strategy=strategy, user=user, by=request.user)
        except StrategyError as exc:
            messages.error(request, f"Share: {exc}")
        else:
            messages.success(request, f"{user.username} can now edit {strategy.name}.")
    else:
        messages.error(request, "Share: " + "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect("strategies:detail", name=strategy.name)


@require_POST
def version_record(request: HttpRequest, name: str) -> HttpResponse:
    strategy = _strategy_for(request, name)
    try:
        mv = rule_version_record(strategy=strategy, by=request.user)
    except StrategyError as exc:
        messages.error(request, f"Version not recorded: {exc}")
    else:
        messages.success(request, f"Recorded v{mv.version} of {strategy.name} from its current parameters.")
    return redirect("strategies:detail", name=strategy.name)


def request_promotion(request: HttpRequest, name: str, version: int) -> HttpResponse:
    strategy = _strategy_for(request, name)
    if not permissions.can_request_promotion(request.user, strategy):
        raise PermissionDenied(f"you may not request promotions of {name}")
    mv = get_object_or_404(ModelVersion, strategy=strategy, version=version)
    runs = evidence_candidates(model_version=mv)
    form = PromotionRequestForm(
        request.POST or None, targets=allowed_targets(mv.stage), runs=runs, version=mv
    )
    gate_results = None
    if request.method == "POST" and form.is_valid():
        try:
            promotion_request_create(
                model_version=mv,
                to_stage=form.cleaned_data["to_stage"],
                requested_by=request.user,
                reason=form.cleaned_data["reason"],
                evidence_refs=form.refs(),
            )
        except GateFailed as exc:
            gate_results = exc.results
            form.add_error(None, str(exc))
        except LifecycleError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Promotion of v{mv.version} requested; an approver will decide.")
            return redirect("strategies:detail", name=name)
    return render(
        request,
        "strategies/request.html",
        {"strategy": strategy, "version": mv, "form": form, "runs": runs, "gate_results": gate_results},
    )


@require_POST
def rollback(request: HttpRequest, name: str) -> HttpResponse:
    strategy = _strategy_for(request, name)
    try:
        rollback_request_create(
            strategy=strategy, requested_by=request.user, reason=request.POST.get("reason", "")
        )
    except LifecycleError as exc:
        messages.error(request, f"Rollback not requested: {exc}")
    else:
        messages.success(request, "Rollback requested; an approver will decide.")
    return redirect("strategies:detail", name=name)


@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(PromotionRequest.objects.select_related("model_version__strategy"), pk=pk)
    try:
        promotion_request_cancel(request=req, by=request.user, reason=request.POST.get("reason", ""))
    except LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{req.pk} cancelled.")
    return redirect("strategies:detail", name=req.model_version.strategy.name)


def approvals(request: HttpRequest) -> HttpResponse:
    if not permissions.can_decide(request.user):
        raise PermissionDenied("the approvals desk is for approvers")
    pending = [
        (req, selectors.request_recheck(req), selectors.request_evidence_changes(req))
        for req in selectors.requests_pending()
    ]
    for req, _gates, _changes in pending:
        req.review = request_review(req)
    return render(
        request,
        "strategies/approvals.html",
        {"pending": pending, "decided": selectors.requests_decided(), "form": DecisionForm()},
    )


@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    if not permissions.can_decide(request.user):
        raise PermissionDenied("only approvers decide promotion requests")
    req = get_object_or_404(PromotionRequest.objects.select_related("model_version__strategy"), pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Request #{pk}: a decision and a reason are required.")
        return redirect("strategies:approvals")
    decide_fn = (
        promotion_request_approve if form.cleaned_data["decision"] == "approve" else promotion_request_reject
    )
    try:
        decide_fn(request=req, by=request.user, reason=form.cleaned_data["reason"])
    except LifecycleError as exc:
        messages.error(request, f"Request #{pk}: {exc}")
    else:
        verb = "approved" if decide_fn is promotion_request_approve else "rejected"
        messages.success(request, f"Request #{pk} {verb}.")
    return redirect("strategies:approvals")
