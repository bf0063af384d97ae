"""Reads of the alerts app."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from .models import SEVERITY_RANK, UNRESOLVED, Alert, AlertStatus

_SEVERITY_RANK = Case(
    *[When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()],
    output_field=IntegerField(),
)


def alerts_open(*, account=None) -> QuerySet[Alert]:
    """Unresolved alerts (open or acknowledged), most severe first, then the most recently seen;
    of one trading account when `account` is given (desk-wide alerts have no account)."""
    qs = Alert.objects.filter(status__in=UNRESOLVED).select_related("account", "acknowledged_by")
    if account is not None:
        qs = qs.filter(account=account)
    return qs.annotate(severity_rank=_SEVERITY_RANK).order_by("-severity_rank", "-last_seen", "-pk")


def alerts_open_count(*, account=None) -> int:
    qs = Alert.objects.filter(status__in=UNRESOLVED)
    return (qs.filter(account=account) if account is not None else qs).count()


def alerts_resolved_recent(*, limit: int = 20) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(status=AlertStatus.RESOLVED)
        .select_related("account", "resolved_by")
        .order_by("-resolved_at", "-pk")[:limit]
    )
