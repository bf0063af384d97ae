"""`AlpacaBroker`: the broker interface over Alpaca's Trading API v2 (equities; paper or live).

Each method is one documented endpoint, called once (no hidden retries, see http.py):

| method                | endpoint                                          | errors beyond http.py's |
|-----------------------|---------------------------------------------------|-------------------------|
| submit                | POST /v2/orders                                   | duplicate client_order_id -> DuplicateClientOrderId; other 4xx (403 insufficient buying power, 422 invalid) -> OrderRejected |
| cancel                | DELETE /v2/orders/{id} (204)                      | 422 not cancelable -> CancelRejected; 404 -> OrderNotFound |
| cancel_all            | DELETE /v2/orders (207 multi-status)              | one CancelResult per order, ok = its status is 2xx |
| open_orders           | GET /v2/orders?status=open (paged by `after`)     | |
| order_by_client_id    | GET /v2/orders:by_client_order_id                 | 404 -> OrderNotFound (definitive: the order never landed) |
| positions / account   | GET /v2/positions, GET /v2/account                | |
| fills_since           | GET /v2/account/activities/FILL (paged)           | |

A 429 raises RateLimited (a subclass of OutcomeUnknown); a timeout, 5xx or dropped connection
raises OutcomeUnknown. After either on `submit` the order is in flight: resolve it with
`order_by_client_id`, never by submitting again with a new id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..base import (
    BrokerAccount,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    CancelRejected,
    CancelResult,
    DuplicateClientOrderId,
    OrderRejected,
    OrderRequest,
    OrderType,
)
from .credentials import AlpacaCredentials
from .http import AlpacaHttp, RatePacer, RequestRefused
from .mapping import (
    account_from_json,
    fill_from_activity,
    order_from_json,
    position_from_json,
)

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
CLIENT_ORDER_ID_MAX = 48
ORDERS_PAGE = 500  # GET /v2/orders: max limit
ACTIVITIES_PAGE = 100  # GET /v2/account/activities: max page_size
# Alpaca refuses a reused client_order_id (even after the first order was cancelled) with this
# message; third-party adapters see status 422 and code 40010001, a code Alpaca also uses for
# other invalid parameters, so the message decides (alpaca-py issue 260).
DUPLICATE_MESSAGE = "client_order_id must be unique"


def _iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"{at!r}: a naive datetime is ambiguous; pass an aware (UTC) one")
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def order_payload(request: OrderRequest) -> dict[str, Any]:
    """POST /v2/orders body. Quantities and prices go as strings: Decimal, no float rounding."""
    if not request.client_order_id or len(request.client_order_id) > CLIENT_ORDER_ID_MAX:
        raise ValueError(
            f"client_order_id must be 1-{CLIENT_ORDER_ID_MAX} characters: {request.client_order_id!r}"
        )
    if request.type == OrderType.LIMIT and request.limit_price is None:
        raise ValueError(f"{request.client_order_id}: a limit order needs a limit_price")
    payload: dict[str, Any] = {
        "symbol": request.symbol,
        "qty": str(request.qty),
        "side": request.side.value,
        "type": request.type.value,
        "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }
    if request.limit_price is not None:
        payload["limit_price"] = str(request.limit_price)
    return payload


class AlpacaBroker:
    """Alpaca Trading API v2 for one account. `paper` picks the endpoint; `base_url` overrides it
    (the local fake server in tests). Credentials are passed in (see credentials.py), kept only in
    the HTTP session's headers, and never appear in repr/str or in an error."""

    name = "alpaca"

    def __init__(
        self,
        *,
        credentials: AlpacaCredentials,
        paper: bool = True,
        base_url: str | None = None,
        pacer: RatePacer | None = None,
        http: AlpacaHttp | None = None,
    ) -> None:
        self.paper = paper
        self.base_url = base_url or (PAPER_TRADING_URL if paper else LIVE_TRADING_URL)
        self.http = http or AlpacaHttp(base_url=self.base_url, credentials=credentials, pacer=pacer)
        # order id -> client order id: fill activities name only the order id, and the pair never
        # changes, so each order is looked up once per broker object.
        self._client_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"AlpacaBroker({'paper' if self.paper else 'live'}, {self.base_url!r})"

    def close(self) -> None:
        self.http.close()

    # --- orders -------------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> BrokerOrder:
        try:
            data = self.http.request("POST", "/v2/orders", json_body=order_payload(request)).json()
        except RequestRefused as exc:
            if DUPLICATE_MESSAGE in exc.broker_message.lower():
                raise DuplicateClientOrderId(f"{request.client_order_id}: {exc}") from None
            raise OrderRejected(str(exc), code=exc.code, http_status=exc.http_status) from None
        order = order_from_json(data)
        self._client_ids[order.broker_order_id] = order.client_order_id
        return order

    def cancel(self, broker_order_id: str) -> None:
        try:
            self.http.request("DELETE", f"/v2/orders/{broker_order_id}")
        except RequestRefused as exc:
            raise CancelRejected(str(exc)) from None

    def cancel_all(self) -> list[CancelResult]:
        answer = self.http.request("DELETE", "/v2/orders")
        body = answer.json() if answer.content else []
        results = []
        for item in body:
            status = int(item.get("status", 0))
            detail = ""
            if not 200 <= status < 300:
                inner = item.get("body") or {}
                detail = f"HTTP {status}" + (f": {inner.get('message')}" if isinstance(inner, dict) else "")
            results.append(CancelResult(broker_order_id=str(item["id"]), ok=not detail, detail=detail))
        return results

    def open_orders(self) -> list[BrokerOrder]:
        """Every open order, oldest first, paged by submission time (`after` the last one seen)."""
        orders: list[BrokerOrder] = []
        seen: set[str] = set()
        params: dict[str, Any] = {
            "status": "open",
            "limit": ORDERS_PAGE,
            "direction": "asc",
            "nested": "false",
        }
        while True:
            page = [order_from_json(o) for o in self.http.get_json("/v2/orders", params=params)]
            fresh = [o for o in page if o.broker_order_id not in seen]
            orders += fresh
            seen.update(o.broker_order_id for o in fresh)
            if len(page) < ORDERS_PAGE or not fresh:
                break
            params["after"] = _iso(
                max(o.submitted_at or o.updated_at for o in page) - dt.timedelta(microseconds=1)
            )
        for o in orders:
            self._client_ids[o.broker_order_id] = o.client_order_id
        return orders

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        data = self.http.get_json(
            "/v2/orders:by_client_order_id", params={"client_order_id": client_order_id}
        )
        order = order_from_json(data)
        self._client_ids[order.broker_order_id] = order.client_order_id
        return order

    def order(self, broker_order_id: str) -> BrokerOrder:
        return order_from_json(self.http.get_json(f"/v2/orders/{broker_order_id}"))

    # --- account ------------------------------------------------------------------------------

    def positions(self) -> list[BrokerPosition]:
        return [position_from_json(p) for p in self.http.get_json("/v2/positions")]

    def account(self) -> BrokerAccount:
        return account_from_json(self.http.get_json("/v2/account"))

    def fills_since(self, since: dt.datetime) -> list[BrokerFill]:
        """Every execution after `since`, oldest first. Pages of 100 (Alpaca's maximum), each
        continued from the id of the last activity (`page_token`, direction asc)."""
        activities: list[dict[str, Any]] = []
        params: dict[str, Any] = {"after": _iso(since), "direction": "asc", "page_size": ACTIVITIES_PAGE}
        while True:
            page = self.http.get_json("/v2/account/activities/FILL", params=params)
            activities += page
            if len(page) < ACTIVITIES_PAGE:
                break
            params["page_token"] = page[-1]["id"]
        return [fill_from_activity(a, client_order_id=self._client_id(a["order_id"])) for a in activities]

    def _client_id(self, broker_order_id: str) -> str:
        if broker_order_id not in self._client_ids:
            self._client_ids[broker_order_id] = self.order(broker_order_id).client_order_id
        return self._client_ids[broker_order_id]
