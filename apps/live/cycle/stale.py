"""Replace, as the backtest does: a new decision replaces whatever the previous ones left working
(the backtest's pending order is overwritten at every decision). Before a cycle persists its own
orders, the working model orders of earlier cycles are cancelled at the broker, and unsent ones
(a failed earlier cycle's `pending_new` rows) are refused as superseded: a stale decision is
never sent later."""

from __future__ import annotations

import datetime as dt
import logging

from apps.trading.brokers.base import Broker, BrokerError, CancelRejected
from apps.trading.models import Order, TradingAccount
from apps.trading.orders import WORKING
from apps.trading.services import order_report_apply, order_transition

log = logging.getLogger(__name__)

SOURCE = "cycle:replace"


def previous_orders_cancel(*, account: TradingAccount, broker: Broker, before: dt.datetime) -> int:
    """Cancel / refuse the model orders of cycles before `before` still open; returns how many."""
    earlier = Order.objects.filter(account=account, bar_time__lt=before, model_version__isnull=False)
    n = 0
    for order in earlier.filter(status="pending_new"):
        detail = f"superseded by the cycle at {before:%Y-%m-%d %H:%M} UTC before it was sent"
        n += order_transition(
            order=order,
            event="deny",
            source=SOURCE,
            detail=detail,
            reason_code="superseded",
            reason_detail=detail,
        )
    for order in earlier.filter(status__in=WORKING).exclude(broker_order_id=""):
        if order.status != "pending_cancel":
            order_transition(order=order, event="cancel_request", source=SOURCE)
        try:
            broker.cancel(order.broker_order_id)
        except CancelRejected as exc:  # filled or done meanwhile: the lookup below says what it is
            log.info("cancel of %s refused: %s", order.client_order_id, exc)
        except BrokerError as exc:
            log.warning("cancel of %s failed, reconciliation follows up: %s", order.client_order_id, exc)
            continue
        try:
            order_report_apply(report=broker.order_by_client_id(order.client_order_id), source=SOURCE)
        except BrokerError as exc:
            log.warning("lookup of %s failed, reconciliation follows up: %s", order.client_order_id, exc)
        n += 1
    return n
