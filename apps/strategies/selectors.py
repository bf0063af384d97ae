"""Reads of the strategies app. Visibility is decided here once: role-wide view permission shows
every strategy, otherwise only those the user holds an object permission on (owned or shared)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user, get_users_with_perms

from . import permissions
from .errors import LifecycleError
from .evidence import evidence_changes, evidence_reread, gates_check
from .models import LifecycleEvent, ModelVersion, PromotionRequest, RequestStatus, Strategy


def strategies_visible(user) -> QuerySet[Strategy]:
    if not user.is_authenticated:
        return Strategy.objects.none()
    base = Strategy.objects.select_related("owner", "universe")
    # any_perm: someone shared with (view+change) or owner; accept_global_perms: role-wide readers.
    return get_objects_for_user(
        user, ["strategies.view_strategy", "strategies.change_strategy"], klass=base, any_perm=True
    ).order_by("name")


def strategy_versions(strategy: Strategy) -> QuerySet[ModelVersion]:
    return strategy.versions.select_related("created_by").order_by("-version")


def strategy_requests(strategy: Strategy) -> QuerySet[PromotionRequest]:
    return PromotionRequest.objects.filter(model_version__strategy=strategy).select_related(
        "model_version", "requested_by", "decided_by"
    )


def strategy_events(strategy: Strategy, limit: int = 50) -> list[LifecycleEvent]:
    qs = strategy.lifecycle_events.select_related("model_version", "actor").order_by("-at", "-pk")
    return list(qs[:limit])


def strategy_collaborators(strategy: Strategy) -> list:
    """Users whose object grant lets them edit the strategy (the owner and the quants it was
    shared with; a grant held by someone who is not a quant gives no access and is not listed)."""
    holders = get_users_with_perms(strategy, only_with_perms_in=["change_strategy"])
    return sorted((u for u in holders if permissions.can_edit(u, strategy)), key=lambda u: u.username)


def share_candidates(strategy: Strategy) -> QuerySet:
    """Who the owner may make an editor: active quants without access yet (never guardian's
    anonymous user, never a read-only role)."""
    have = {u.pk for u in strategy_collaborators(strategy)} | {strategy.owner_id}
    users = get_user_model().objects.filter(is_active=True).exclude(pk__in=have)
    return users.filter(pk__in=[u.pk for u in users if permissions.can_be_editor(u)]).order_by("username")


def requests_pending() -> QuerySet[PromotionRequest]:
    return (
        PromotionRequest.objects.filter(status=RequestStatus.PENDING)
        .select_related("model_version__strategy", "requested_by")
        .order_by("created_at", "pk")
    )


def requests_decided(limit: int = 20) -> list[PromotionRequest]:
    qs = PromotionRequest.objects.exclude(status=RequestStatus.PENDING).select_related(
        "model_version__strategy", "requested_by", "decided_by"
    )
    return list(qs.order_by("-decided_at", "-pk")[:limit])


def request_recheck(request: PromotionRequest) -> list[dict]:
    """The gates as they would be judged if approved now (evidence re-read, nothing written)."""
    version = request.model_version
    if version.stage != request.from_stage:
        return [
            {
                "gate": "stage",
                "passed": False,
                "detail": f"version is {version.stage} now, not {request.from_stage}",
                "checks": [],
            }
        ]
    evidence = evidence_reread(model_version=version, snapshot=request.evidence)
    try:
        return gates_check(version=version, to_stage=request.to_stage, evidence=evidence)
    except LifecycleError as exc:
        return [{"gate": "transition", "passed": False, "detail": str(exc), "checks": []}]


def request_evidence_changes(request: PromotionRequest) -> list[dict]:
    """How the cited runs' stored results differ from what the request captured (empty when
    every digest matches); the approval refuses while this is not empty."""
    evidence = evidence_reread(model_version=request.model_version, snapshot=request.evidence)
    return evidence_changes(snapshot=request.evidence, now=evidence)
