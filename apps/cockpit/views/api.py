"""The cockpit's JSON endpoints, thin: the snapshot of an account, the desk overview, and the
STOP / CANCEL / FLAT / UNLOCK buttons (a form, then the apps.live services, which check
permission). Answers are JSON, errors included: 401 signed out, 403 not allowed, 404 no such
account, 400 bad form (a missing reason), 409 the switch cannot do that now, 502 the broker
failed; never a 500. The page does not update from a button's answer, only from the pushed
messages (or a resync)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.cockpit import permissions, selectors
from apps.cockpit.forms import PressForm
from apps.core.statemachine import TransitionError
from apps.live import services
from apps.live.brokers import NoVenue
from apps.live.clock import ClockError, market_now
from apps.live.services import LostRace
from apps.trading.brokers.base import BrokerError
from apps.trading.models import TradingAccount

log = logging.getLogger(__name__)


def _error(status: int, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"ok": False, "detail": detail, **extra}, status=status)


def _viewer(request):
    """None when the user may read the cockpit, else the JSON refusal."""
    if not request.user.is_authenticated:
        return _error(401, "sign in first")
    if not permissions.may_view(request.user):
        return _error(403, f"{request.user} may not view trading accounts (needs {permissions.VIEW})")
    return None


@login_not_required  # answers 401 JSON itself instead of redirecting to the login page
@never_cache
@require_GET
def snapshot(request, account: str):
    refused = _viewer(request)
    if refused:
        return refused
    acct = TradingAccount.objects.filter(name=account).first()
    if acct is None:
        return _error(404, f"no trading account named {account!r}")
    try:
        return JsonResponse(selectors.account_snapshot(account=acct, user=request.user))
    except DatabaseError as exc:
        log.exception("snapshot of %s failed", account)
        return _error(503, f"database unavailable: {type(exc).__name__}")


@login_not_required
@never_cache
@require_GET
def desk(request):
    refused = _viewer(request)
    if refused:
        return refused
    try:
        return JsonResponse(selectors.desk_overview(user=request.user))
    except DatabaseError as exc:
        log.exception("desk overview failed")
        return _error(503, f"database unavailable: {type(exc).__name__}")


def _brokers():
    """The broker factory CANCEL / FLAT use, asked for the market clock before anything is
    pressed (a clock that cannot answer would fail FLAT half-way)."""
    market_now()
    return import_string(settings.TRADING_BROKER_FACTORY)


def _press(action: str, *, by, account: TradingAccount, reason: str) -> str:
    if action == "stop":
        switch = services.killswitch_stop(by=by, account=account, reason=reason)
        return f"account {account.name}: kill switch {switch.state}"
    if action == "unlock":
        switch = services.killswitch_unlock(by=by, account=account, reason=reason)
        if services.pending_unlock(switch) is not None:
            return f"account {account.name}: unlock requested (four-eyes): a second risk officer must confirm"
        return f"account {account.name}: kill switch {switch.state}"
    if action == "cancel":
        (summary,) = services.killswitch_cancel(by=by, account=account, broker_for=_brokers(), reason=reason)
        return (
            f"account {account.name}: {summary.cancelled} order(s) cancelled, {summary.unsent_denied} unsent "
            f"refused, {len(summary.still_open)} still open"
        )
    (report,) = services.killswitch_flat(by=by, account=account, broker_for=_brokers(), reason=reason)
    left = [line for line in report.lines if line.get("remaining")]
    return f"account {account.name}: " + (
        "flat" if report.flat else f"NOT flat: {len(left)} position(s) left"
    )


@login_not_required
@require_POST
def press(request, account: str, action: str):
    """POST /cockpit/api/<account>/<stop|cancel|flat|unlock> with `reason` (and the CSRF token)."""
    refused = _viewer(request)
    if refused:
        return refused
    acct = TradingAccount.objects.filter(name=account).first()
    if acct is None:
        return _error(404, f"no trading account named {account!r}")
    if not permissions.may_press(request.user, action):
        return _error(
            403, f"{request.user} may not press {action.upper()} (needs {permissions.BUTTONS[action]})"
        )
    form = PressForm(request.POST)
    if not form.is_valid():
        errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
        return _error(400, "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors=errors)
    try:
        detail = _press(action, by=request.user, account=acct, reason=form.cleaned_data["reason"])
    except PermissionDenied as exc:
        return _error(403, str(exc) or "permission denied")
    except (TransitionError, LostRace, ClockError) as exc:
        return _error(409, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))
    except (BrokerError, NoVenue) as exc:
        log.warning("%s of %s: broker failed: %s", action, account, exc)
        return _error(502, f"broker: {type(exc).__name__}: {exc}")
    except DatabaseError as exc:
        log.exception("%s of %s failed", action, account)
        return _error(503, f"database unavailable: {type(exc).__name__}")
    return JsonResponse({"ok": True, "detail": detail})
