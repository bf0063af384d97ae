"""Switch transitions: the one way a kill switch changes (KILLSWITCH_MACHINE through
StateMachine, under the switch's exclusive lock, with its KillSwitchEvent row), and the services
that only move the state: STOP, a control trip, HALT (reconciliation) and UNLOCK."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.alerts.models import AlertKind, Severity
from apps.alerts.selectors import alerts_open
from apps.alerts.services import alert_raise, alert_resolve
from apps.cockpit.rows import killswitch_block
from apps.core.realtime import DESK_STREAM, account_stream, stream_publish
from apps.live import permissions
from apps.live.gate import switch_lock
from apps.live.machine import KILLSWITCH_MACHINE, State
from apps.live.models import KillSwitch, KillSwitchEvent
from apps.trading.models import TradingAccount
from apps.trading.permissions import require
from apps.trading.services import KillSwitchTrip

# A state change raises (or bumps) the switch's one open alert; a control trip is a circuit breaker.
ALERT_SEVERITY = {State.ACTIVE: Severity.INFO, State.FLAT: Severity.WARNING}  # any other state: critical


class LostRace(RuntimeError):
    """The switch changed between reading it and applying the event (retry with the new state)."""


def switch_for(*, account: TradingAccount | None) -> KillSwitch:
    """The account's switch (None: the desk's), created ACTIVE the first time it is asked for."""
    if account is None:
        return KillSwitch.objects.get_or_create(desk=True)[0]
    return KillSwitch.objects.get_or_create(account=account)[0]


def switch_apply(
    *, account: TradingAccount | None, event: str, by, reason: str, payload: dict[str, Any] | None = None
) -> KillSwitch:
    """Apply `event` to the switch of `account` (None: the desk) and record who, when, why.
    Raises TransitionError when the table forbids it. Callers check permission first."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError(f"kill switch {event}: a reason is required")
    switch = switch_for(account=account)
    with transaction.atomic():
        switch_lock(account_id=None if account is None else account.pk)  # waits for submits in flight
        switch.refresh_from_db()

        def record(from_state: str, to_state: str) -> None:
            KillSwitchEvent.objects.create(
                switch=switch,
                event=event,
                from_state=from_state,
                to_state=to_state,
                actor=by,
                reason=reason,
                payload=payload or {},
            )
            if from_state != to_state:
                _alert(
                    switch=switch,
                    account=account,
                    event=event,
                    from_state=from_state,
                    to_state=to_state,
                    by=by,
                    reason=reason,
                )

        if not KILLSWITCH_MACHINE.apply(
            switch, event, record=record, reason=reason, changed_at=timezone.now()
        ):
            raise LostRace(f"kill switch {switch} changed while applying {event!r}")
        _announce(switch=switch, account=account)
    return switch


def _announce(*, switch: KillSwitch, account: TradingAccount | None) -> None:
    """The `killswitch` message: the account's stream (its switch with the desk's), or the desk
    stream for the desk switch (every cockpit listens to it)."""
    if account is None:
        block = killswitch_block(account_switch=None, desk_switch=switch, desk_only=True)
        stream_publish(
            stream=DESK_STREAM, event="killswitch", payload={"account": None, "kill_switch": block}
        )
        return
    desk = KillSwitch.objects.filter(desk=True).first()
    block = killswitch_block(account_switch=switch, desk_switch=desk)
    stream_publish(
        stream=account_stream(account.pk),
        event="killswitch",
        payload={"account": account.name, "kill_switch": block},
    )


def _alert(
    *, switch: KillSwitch, account, event: str, from_state: str, to_state: str, by, reason: str
) -> None:
    """Inside the switch's transaction: the alert row commits with the change, delivery follows
    the commit (alerts never fail or undo the change)."""
    where = "the desk" if account is None else f"account {account.name}"
    who = getattr(by, "username", None) or "the desk"
    alert_raise(
        kind=AlertKind.CIRCUIT_BREAKER if event == "trip" else AlertKind.KILL_SWITCH,
        severity=ALERT_SEVERITY.get(to_state, Severity.CRITICAL),
        message=f"kill switch of {where}: {from_state} -> {to_state} ({event} by {who}: {reason})",
        account=account,
        details={"switch_id": switch.pk, "event": event, "from": from_state, "to": to_state},
        dedup_key=f"killswitch:{'desk' if account is None else account.pk}",
    )


def killswitch_stop(*, by, account: TradingAccount | None, reason: str) -> KillSwitch:
    """STOP: no new order for the account (None: the whole desk) leaves once this returns; open
    orders stay."""
    require(by, permissions.STOP, "press STOP", system_allowed=False)
    return switch_apply(account=account, event="stop", by=by, reason=reason)


def killswitch_trip(*, trip: KillSwitchTrip) -> KillSwitch:
    """A pre-trade control said stop (`KillSwitchTrip` from apps.trading.services): the desk
    itself stops the account, with the control's reason code."""
    row = trip.trip
    return switch_apply(
        account=row.account,
        event="trip",
        by=None,
        reason=f"{row.reason_code}: {row.detail}",
        payload={"control_trip_id": row.pk, "order_id": row.order_id},
    )


def killswitch_halt(
    *, account: TradingAccount, reason: str, payload: dict[str, Any] | None = None
) -> KillSwitch:
    """Reconciliation found a break: the desk itself halts the account (cancels still allowed)."""
    return switch_apply(account=account, event="halt", by=None, reason=reason, payload=payload)


def pending_unlock(switch: KillSwitch) -> KillSwitchEvent | None:
    """The unlock request waiting for a second person: the switch's latest event, if it is one
    (any later action on the switch voids a request)."""
    last = switch.events.order_by("-at", "-pk").first()
    return last if last is not None and last.event == "unlock_request" else None


def reconcile_alert_key(account_id: int) -> str:
    """The dedup key of an account's one reconciliation-break alert: raised with the HALT by
    services.reconcile, resolved by the UNLOCK that ends it."""
    return f"reconcile:{account_id}"


def _unlock(*, account: TradingAccount | None, by, reason: str, payload=None) -> KillSwitch:
    """The unlock itself, and in its transaction the resolution of the account's open
    reconciliation-break alert by the unlocking risk officer (the break stays on record in its
    Reconciliation row; a break found again by the next reconciliation halts again)."""
    with transaction.atomic():
        switch = switch_apply(account=account, event="unlock", by=by, reason=reason, payload=payload)
        if account is not None:
            for alert in alerts_open(account=account).filter(dedup_key=reconcile_alert_key(account.pk)):
                alert_resolve(alert=alert, by=by, reason=f"kill switch unlocked: {reason}")
    return switch


def killswitch_unlock(*, by, account: TradingAccount | None, reason: str) -> KillSwitch:
    """UNLOCK: back to ACTIVE. Risk officers only. With `KILLSWITCH_UNLOCK_FOUR_EYES` the first
    risk officer's call records a pending request (the state does not change) and a second,
    different risk officer's call confirms it; the requester cannot confirm their own request.
    The unlock resolves the account's open reconciliation-break alert."""
    require(by, permissions.UNLOCK, "unlock the kill switch", system_allowed=False)
    if not settings.KILLSWITCH_UNLOCK_FOUR_EYES:
        return _unlock(account=account, by=by, reason=reason)
    with transaction.atomic():
        switch = switch_for(account=account)
        KillSwitch.objects.select_for_update().filter(pk=switch.pk).get()
        request = pending_unlock(switch)
        if request is None:
            return switch_apply(account=account, event="unlock_request", by=by, reason=reason)
        if request.actor_id == by.pk:
            raise PermissionDenied(
                f"{by} requested this unlock: a different risk officer must confirm it (four-eyes)"
            )
        return _unlock(
            account=account,
            by=by,
            reason=reason,
            payload={"requested_by": request.actor.username, "request_event_id": request.pk},
        )
