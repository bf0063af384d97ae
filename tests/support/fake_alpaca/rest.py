"""The fake's REST side: Trading API v2 orders / positions / account / activities, Market Data
v2 bars, the rate limit, and the HTTP handler that applies scripted faults."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .state import CANCELABLE, KEY_ID, OPEN_STATUSES, SECRET_KEY, iso, parse_iso


class RestSide:
    """Mixed into FakeAlpaca; uses its lock and state."""

    def rate_headers(self, now: float) -> tuple[bool, dict[str, str]]:
        with self.lock:
            while self.request_times and self.request_times[0] <= now - self.rate_window_s:
                self.request_times.popleft()
            limited = len(self.request_times) >= self.rate_limit
            if not limited:
                self.request_times.append(now)
            reset = (self.request_times[0] if self.request_times else now) + self.rate_window_s
            headers = {
                "X-Ratelimit-Limit": str(self.rate_limit),
                "X-Ratelimit-Remaining": str(max(0, self.rate_limit - len(self.request_times))),
                "X-Ratelimit-Reset": str(int(reset + 0.999)),
            }
        return limited, headers

    def answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        q = {k: v[-1] for k, v in query.items()}
        with self.lock:
            if path.startswith("/v2/stocks/bars"):
                return self._bars(q)
            if path == "/v2/orders" and method == "POST":
                return self._submit(body or {})
            if path == "/v2/orders" and method == "GET":
                return self._list_orders(q)
            if path == "/v2/orders" and method == "DELETE":
                return self._cancel_all()
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                found = [o for o in self.orders.values() if o["client_order_id"] == q.get("client_order_id")]
                return (
                    (200, dict(found[0]))
                    if found
                    else (404, {"code": 40410000, "message": "order not found"})
                )
            if path.startswith("/v2/orders/"):
                return self._one_order(method, path.removeprefix("/v2/orders/"))
            if path == "/v2/positions" and method == "GET":
                return 200, [self._position(s, p) for s, p in sorted(self.positions.items()) if p["qty"]]
            if path == "/v2/account" and method == "GET":
                return 200, self._account()
            if path == "/v2/account/activities/FILL" and method == "GET":
                return self._activities(q)
        return 404, {"code": 40410000, "message": "endpoint not found"}

    def _submit(self, body: dict[str, Any]) -> tuple[int, Any]:
        invalid = lambda message: (422, {"code": 40010001, "message": message})  # noqa: E731
        symbol = body.get("symbol")
        if symbol not in self.prices:
            return invalid(f'asset "{symbol}" not found')
        try:
            qty = Decimal(str(body.get("qty")))
        except ArithmeticError:
            return invalid("qty is invalid")
        if not qty.is_finite() or qty <= 0:
            return invalid("qty must be > 0")
        if body.get("side") not in ("buy", "sell"):
            return invalid("side must be buy or sell")
        if body.get("type") not in ("market", "limit"):
            return invalid("invalid order type")
        if body.get("type") == "limit" and not body.get("limit_price"):
            return invalid("limit orders require limit_price")
        client_id = body.get("client_order_id") or str(uuid.uuid4())
        if len(client_id) > 48:
            return invalid("client_order_id must be no more than 48 characters")
        if client_id in self.used_client_ids:
            return invalid("client_order_id must be unique")
        price = Decimal(body["limit_price"]) if body.get("limit_price") else self.prices[symbol]
        if body["side"] == "buy" and qty * price > self._buying_power():
            return 403, {
                "code": 40310000,
                "message": "insufficient buying power",
                "buying_power": str(self._buying_power()),
                "cost_basis": str(qty * price),
            }
        held = self.positions.get(symbol, {}).get("qty", Decimal(0))
        if body["side"] == "sell" and qty > held:
            return 403, {
                "code": 40310000,
                "message": f"insufficient qty available for order (requested: {qty}, available: {held})",
            }
        now = iso(dt.datetime.now(dt.UTC))
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": client_id,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "",
            "order_type": body["type"],
            "type": body["type"],
            "side": body["side"],
            "time_in_force": body.get("time_in_force", "day"),
            "limit_price": body.get("limit_price"),
            "stop_price": None,
            "status": "accepted",
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }
        self.orders[order["id"]] = order
        self.used_client_ids.add(client_id)
        return 200, dict(order)

    def _list_orders(self, q: dict[str, str]) -> tuple[int, Any]:
        status = q.get("status", "open")
        orders = sorted(self.orders.values(), key=lambda o: (o["submitted_at"], o["id"]))
        if status == "open":
            orders = [o for o in orders if o["status"] in OPEN_STATUSES]
        elif status == "closed":
            orders = [o for o in orders if o["status"] not in OPEN_STATUSES]
        if "after" in q:
            orders = [o for o in orders if parse_iso(o["submitted_at"]) > parse_iso(q["after"])]
        if q.get("direction", "desc") == "desc":
            orders.reverse()
        return 200, [dict(o) for o in orders[: min(int(q.get("limit", 50)), 500)]]

    def _one_order(self, method: str, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None:
            return 404, {"code": 40410000, "message": "order not found"}
        if method == "GET":
            return 200, dict(order)
        if method == "DELETE":
            if order["status"] not in CANCELABLE:
                return 422, {
                    "code": 42210000,
                    "message": f"order is not cancelable (status {order['status']})",
                }
            order["status"] = "canceled"
            order["canceled_at"] = order["updated_at"] = iso(dt.datetime.now(dt.UTC))
            return 204, None
        return 405, {"code": 40510000, "message": "method not allowed"}

    def _cancel_all(self) -> tuple[int, Any]:
        results = []
        for order in sorted(self.orders.values(), key=lambda o: o["submitted_at"]):
            if order["status"] not in CANCELABLE:
                continue
            if order["id"] in self.cancel_failures:
                code, message = self.cancel_failures[order["id"]]
                results.append(
                    {"id": order["id"], "status": code, "body": {"code": code * 100000, "message": message}}
                )
                continue
            order["status"] = "pending_cancel"
            order["updated_at"] = iso(dt.datetime.now(dt.UTC))
            results.append({"id": order["id"], "status": 200, "body": dict(order)})
        return 207, results

    def _position(self, symbol: str, p: dict[str, Decimal]) -> dict[str, Any]:
        price = self.prices[symbol]
        avg = (p["cost"] / p["qty"]).quantize(Decimal("0.0001"))
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "qty": str(p["qty"]),
            "qty_available": str(p["qty"]),
            "avg_entry_price": str(avg),
            "side": "long",
            "market_value": str(price * p["qty"]),
            "cost_basis": str(p["cost"].quantize(Decimal("0.01"))),
            "unrealized_pl": str((price * p["qty"] - p["cost"]).quantize(Decimal("0.01"))),
            "current_price": str(price),
            "lastday_price": str(price),
        }

    def _buying_power(self) -> Decimal:
        return self.cash

    def _account(self) -> dict[str, Any]:
        equity = self.cash + sum((self.prices[s] * p["qty"] for s, p in self.positions.items()), Decimal(0))
        return {
            "id": "2f9b0ba2-9ac7-4f52-bf3b-5c5a8e0f1d11",
            "account_number": "PA3FAKE0001",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": str(self.cash),
            "equity": str(equity),
            "last_equity": str(equity),
            "buying_power": str(self._buying_power()),
            "multiplier": "1",
            "daytrade_count": 0,
            "pattern_day_trader": False,
            "trading_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
        }

    def _activities(self, q: dict[str, str]) -> tuple[int, Any]:
        items = sorted(self.activities, key=lambda a: a["transaction_time"])  # stable: arrival order
        if "after" in q:
            items = [a for a in items if parse_iso(a["transaction_time"]) > parse_iso(q["after"])]
        if q.get("direction", "desc") == "desc":
            items.reverse()
        if "page_token" in q:
            ids = [a["id"] for a in items]
            items = items[ids.index(q["page_token"]) + 1 :] if q["page_token"] in ids else []
        return 200, items[: min(int(q.get("page_size", 100)), 100)]

    def _bars(self, q: dict[str, str]) -> tuple[int, Any]:
        feed = q.get("feed", "iex")
        if feed not in self.data_feeds:
            return 403, {"message": f"subscription does not permit querying recent {feed.upper()} data"}
        if q.get("timeframe") != "1Hour":
            return 422, {"message": "invalid timeframe"}
        start, end = parse_iso(q["start"]), parse_iso(q["end"]) if "end" in q else None
        rows = []
        for symbol in sorted(q.get("symbols", "").split(",")):
            for bar in self.bars.get(symbol, []):
                t = parse_iso(bar["t"])
                if t >= start and (end is None or t <= end):
                    rows.append((symbol, bar))
        offset = int(base64.b64decode(q["page_token"])) if q.get("page_token") else 0
        limit = int(q.get("limit", 1000))
        page, rest = rows[offset : offset + limit], rows[offset + limit :]
        grouped: dict[str, list] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        token = base64.b64encode(str(offset + limit).encode()).decode() if rest else None
        return 200, {"bars": grouped, "next_page_token": token}


def handler(fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append((self.command, url.path, query))
            fault = fake._take_fault(self.command, url.path)
            if (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")) != (
                KEY_ID,
                SECRET_KEY,
            ):
                return self._write(401, {"code": 40110000, "message": "request is not authorized"}, {})
            limited, headers = fake.rate_headers(time.time())
            if limited:
                return self._write(429, {"code": 42910000, "message": "rate limit exceeded"}, headers)
            if fault and fault.status is not None:
                return self._write(fault.status, fault.body, {**headers, **fault.headers})
            status, body = fake.answer(self.command, url.path, query, json.loads(raw) if raw else None)
            # Slow and dropped answers take effect AFTER the request was processed: the worst
            # case for a client, whose order landed although it never heard so.
            if fault and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault and fault.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            try:
                self._write(status, body, headers)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                self.close_connection = True

        def _write(self, status: int, body: Any, headers: dict[str, str]) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

    return Handler
