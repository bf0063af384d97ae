"""The kill switch's state (one row per trading account and one desk-wide row), its append-only
event log and FLAT's append-only reports. The state is the database: it survives restarts of
every process, and changes only through `KILLSWITCH_MACHINE` (apps.live.machine)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.statemachine import AppendOnlyModel

from ..machine import State


class KillSwitch(models.Model):
    """`account` set: that account's switch; `desk` true (and no account): the desk-wide switch,
    at most one row."""

    desk = models.BooleanField(default=False)
    account = models.OneToOneField(
        "trading.TradingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="kill_switch"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    reason = models.TextField(blank=True)  # why it is in its state (the last transition's reason)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("stop_killswitch", "Press STOP"),
            ("cancel_killswitch", "Press CANCEL (cancel every open order)"),
            ("flat_killswitch", "Press FLAT (stop, cancel, close every position)"),
            ("unlock_killswitch", "UNLOCK (return to ACTIVE)"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["desk"], condition=Q(desk=True), name="killswitch_one_desk_row"),
            models.CheckConstraint(
                condition=Q(desk=True, account__isnull=True) | Q(desk=False, account__isnull=False),
                name="killswitch_desk_xor_account",
            ),
            models.CheckConstraint(condition=Q(state__in=State.values), name="killswitch_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.account.name if self.account_id else 'desk'}: {self.state}"


class KillSwitchEvent(AppendOnlyModel):
    """Every action on a switch: who (null = the desk itself: a control trip, reconciliation),
    when, why, from -> to."""

    switch = models.ForeignKey(KillSwitch, on_delete=models.PROTECT, related_name="events")
    event = models.CharField(max_length=16)
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["switch_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.switch_id}: {self.event} {self.from_state}->{self.to_state}"


class FlatReport(AppendOnlyModel):
    """What one FLAT did: per symbol held at the broker, what was sold and what is left and why.
    `flat` is the broker's verdict after the closing orders (Broker.positions)."""

    switch = models.ForeignKey(KillSwitch, on_delete=models.PROTECT, related_name="flat_reports")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)
    flat = models.BooleanField()
    # [{"symbol", "held", "sell_qty", "client_order_id", "order_status", "remaining", "why"}]
    lines = models.JSONField(default=list)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"FLAT {self.switch}: {'flat' if self.flat else 'NOT flat'} at {self.at:%Y-%m-%d %H:%M}"
