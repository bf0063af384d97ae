"""The cockpit's pages: the shell of the desk overview and of one account, with the first snapshot
embedded (`json_script`), so the page shows data before any socket; static/cockpit/cockpit.js then
applies the pushed events and resyncs from the snapshot endpoint. Thin: the snapshot is the api's
selectors', the buttons' permissions are the snapshot's `can` (the services check them again).
Sign-in is required by LoginRequiredMiddleware."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from apps.cockpit import permissions, selectors
from apps.core.realtime import account_stream
from apps.trading.models import TradingAccount


def _viewable(request: HttpRequest) -> list[str]:
    if not permissions.may_view(request.user):
        raise PermissionDenied("you may not see the cockpit (needs trading.view_tradingaccount)")
    return list(TradingAccount.objects.order_by("name").values_list("name", flat=True))


def desk(request: HttpRequest) -> HttpResponse:
    names = _viewable(request)
    return render(
        request,
        "cockpit/desk.html",
        {
            "account": None,
            "account_names": names,
            "overview": selectors.desk_overview(user=request.user),
            "snapshot_url": reverse("cockpit:api_desk"),
            "ws_url": "/ws/cockpit/desk/",
        },
    )


def account(request: HttpRequest, account: str) -> HttpResponse:
    names = _viewable(request)
    trading_account = get_object_or_404(TradingAccount, name=account)
    snapshot_url = reverse("cockpit:api_snapshot", args=[trading_account.name])
    return render(
        request,
        "cockpit/account.html",
        {
            "account": trading_account,
            "account_names": names,
            "stream": account_stream(trading_account.pk),
            "snapshot": selectors.account_snapshot(account=trading_account, user=request.user),
            "snapshot_url": snapshot_url,
            # the buttons POST to <action_base><stop|cancel|flat|unlock> (the api_<action> urls)
            "action_base": snapshot_url.removesuffix("snapshot"),
            "ws_url": f"/ws/cockpit/{trading_account.name}/",
        },
    )
