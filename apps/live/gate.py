"""The kill switch inside the submit path: what `apps.trading.services` consult before an order
is created or sent, and the lock that makes "once STOP has committed, no order leaves" true.

The guarantee (PostgreSQL): `order_submit` holds a SHARED advisory lock on the desk's and the
account's switch keys (session level, `pg_advisory_lock_shared`) from the moment it reads the
switch state until the broker call has returned; every switch transition takes the EXCLUSIVE
transaction-level lock on its key (`pg_advisory_xact_lock`) before its UPDATE. So a STOP cannot
commit while any submitter is between its check and the end of its broker call (it waits for
them), and every submitter that checks after the STOP committed reads STOPPED and sends nothing:
no order reaches the broker after the STOP's commit. A session lock (not a row lock) because the
order's `submit` transition must commit BEFORE the broker call (crash safety), which a
transaction-held row lock would not allow. Submitters share the lock, so they never wait for
each other; a STOP waits at most for the broker calls in progress.

On SQLite (the one-process demo) the database's single writer serialises the check with the
STOP's UPDATE; a submitter that passed its check just before the STOP committed may still reach
the broker (at most one order per submitting thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.models import Q

from .machine import FLAT_SOURCE, REDUCING_ONLY, State

LOCK_NAMESPACE = 0x4B53  # "KS": first key of the two-int advisory lock
DESK_KEY = 0  # second key of the desk switch; an account's switch uses the account id


def lock_key(account_id: int | None) -> int:
    return DESK_KEY if account_id is None else account_id


def switch_states(account_id: int) -> tuple[str, str]:
    """(account switch state, desk switch state); a switch never pressed is ACTIVE."""
    from .models import KillSwitch

    rows = dict(
        KillSwitch.objects.filter(Q(account_id=account_id) | Q(desk=True)).values_list("desk", "state")
    )
    return rows.get(False, State.ACTIVE), rows.get(True, State.ACTIVE)


def is_flat_order(*, side: str, model_version_id: int | None, source: str) -> bool:
    """FLAT's closing orders: sells no model decided, created with FLAT's source."""
    return side == "sell" and model_version_id is None and source == FLAT_SOURCE


def refusal(*, account_id: int, flat_order: bool) -> str:
    """Why the kill switch forbids an order of this account now ("" when it may go)."""
    return _refusal(switch_states(account_id), flat_order=flat_order)


def _refusal(states: tuple[str, str], *, flat_order: bool) -> str:
    for scope, state in zip(("account", "desk"), states, strict=True):
        if state == State.ACTIVE or (state in REDUCING_ONLY and flat_order):
            continue
        return f"kill switch ({scope}) is {state}"
    return ""


@contextmanager
def submit_gate(*, orders) -> Iterator[dict[int, str]]:
    """Hold the switch keys of `orders` shared for the block (PostgreSQL: the desk's and each
    account's) and yield each order's refusal by pk ("" = it may be sent). Run the orders'
    submit transitions AND the broker call inside it: a STOP waits for the block to end."""
    from apps.trading.models import OrderEvent

    keys = sorted({lock_key(None), *(lock_key(o.account_id) for o in orders)})
    pg = connection.vendor == "postgresql"
    if pg:
        with connection.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", [LOCK_NAMESPACE, key])
    try:
        sources = dict(
            OrderEvent.objects.filter(order_id__in=[o.pk for o in orders], event="create").values_list(
                "order_id", "source"
            )
        )
        states = {a: switch_states(a) for a in {o.account_id for o in orders}}
        yield {
            o.pk: _refusal(
                states[o.account_id],
                flat_order=is_flat_order(
                    side=o.side, model_version_id=o.model_version_id, source=sources.get(o.pk) or ""
                ),
            )
            for o in orders
        }
    finally:
        if pg:
            with connection.cursor() as cursor:
                for key in reversed(keys):
                    cursor.execute("SELECT pg_advisory_unlock_shared(%s, %s)", [LOCK_NAMESPACE, key])


def switch_lock(*, account_id: int | None) -> None:
    """Inside a switch transition's transaction: wait for submitters in flight on this key
    (PostgreSQL; on SQLite the transaction's write lock is the lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, lock_key(account_id)])
