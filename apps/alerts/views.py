"""The alerts page: open alerts with acknowledge / resolve buttons. Thin: the services check the
permissions (the views check them first too, so a wrong role gets 403 before any lookup)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import permissions, selectors
from .models import Alert
from .services import alert_acknowledge, alert_resolve


def index(request: HttpRequest) -> HttpResponse:
    if not permissions.allowed(request.user, permissions.VIEW):
        raise PermissionDenied("you may not see alerts")
    return render(
        request,
        "alerts/index.html",
        {
            "open_alerts": selectors.alerts_open(),
            "resolved": selectors.alerts_resolved_recent(),
            "can_acknowledge": permissions.allowed(request.user, permissions.ACKNOWLEDGE),
            "can_resolve": permissions.allowed(request.user, permissions.RESOLVE),
        },
    )


@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, permissions.ACKNOWLEDGE, "acknowledge alerts")
    alert = get_object_or_404(Alert, pk=pk)
    _act(request, alert, lambda: alert_acknowledge(alert=alert, by=request.user), "acknowledged")
    return redirect("alerts:index")


@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require(request.user, permissions.RESOLVE, "resolve alerts")
    alert = get_object_or_404(Alert, pk=pk)
    reason = request.POST.get("reason", "")
    _act(request, alert, lambda: alert_resolve(alert=alert, by=request.user, reason=reason), "resolved")
    return redirect("alerts:index")


def _act(request: HttpRequest, alert: Alert, action, verb: str) -> None:
    try:
        won = action()
    except ValueError as exc:  # TransitionError is a ValueError: already resolved, missing reason
        messages.error(request, f"Alert #{alert.pk}: {exc}")
        return
    if won:
        messages.success(request, f"Alert #{alert.pk} {verb}.")
    else:
        messages.error(request, f"Alert #{alert.pk} was changed by someone else first; nothing done.")
