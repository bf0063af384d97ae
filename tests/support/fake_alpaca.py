"""A local Alpaca for tests: real HTTP (stdlib ThreadingHTTPServer) and a real websocket
(websockets' sync server) on 127.0.0.1, answering in the formats of Alpaca's Trading API v2,
Market Data v2 bars and the trade_updates stream (alpaca-docs openapi; error bodies
`{"code": ..., "message": ...}`), with the faults the adapter must survive:

- rate limit: every answer carries X-Ratelimit-Limit / -Remaining / -Reset; past `rate_limit`
  requests in `rate_window_s` the answer is 429;
- `fault(method, path, ...)`: the next matching request is answered slowly (a timeout for the
  client), dropped without an answer, or answered with any status / body / headers;
- orders: 403 insufficient buying power / qty, 422 invalid parameters, 422 duplicate
  client_order_id (kept even after the order is cancelled), 404 unknown order, 422 not cancelable,
  207 multi-status cancel-all (per-order failures configurable);
- the stream: authentication (refused for wrong keys), listen, binary frames (as the paper
  endpoint sends) or text, `push()` of any update (duplicates and out-of-order included),
  `drop_stream()` that cuts the TCP connection, and nothing replayed to a client that was away.

Ports are chosen by the OS (port 0): parallel test runs never collide.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.server import ServerConnection, serve

KEY_ID = "PKFAKE0000000000TEST"
SECRET_KEY = "fake-secret-9d2b7c41e0a84f53b6aa"
OPEN_STATUSES = {"new", "accepted", "pending_new", "partially_filled", "pending_cancel", "done_for_day"}
CANCELABLE = OPEN_STATUSES - {"pending_cancel"}


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Fault:
    method: str
    path: str
    delay_s: float = 0.0  # process the request, then answer after this long (the client times out)
    drop: bool = False  # process the request, then close the connection without an answer
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeAlpaca:
    def __init__(self, *, rate_limit: int = 200, rate_window_s: float = 60.0) -> None:
        self.lock = threading.RLock()
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.request_times: deque[float] = deque()
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.faults: list[Fault] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.used_client_ids: set[str] = set()
        self.activities: list[dict[str, Any]] = []
        self.positions: dict[str, dict[str, Decimal]] = {}
        self.prices: dict[str, Decimal] = {"AAPL": Decimal("190.00"), "MSFT": Decimal("410.00")}
        self.cash = Decimal("100000")
        self.cancel_failures: dict[str, tuple[int, str]] = {}
        self.bars: dict[str, list[dict[str, Any]]] = {}
        self.data_feeds = {"iex"}
        self.binary_frames = True
        self.stream_down = False  # while True, new stream connections are cut before authenticating
        self.listening: list[ServerConnection] = []
        self.stream_connections = 0
        self.listen_changed = threading.Condition(self.lock)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._ws = serve(self._stream, "127.0.0.1", 0)
        self._threads = [
            threading.Thread(target=self._http.serve_forever, daemon=True),
            threading.Thread(target=self._ws.serve_forever, daemon=True),
        ]
        for t in self._threads:
            t.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/stream"

    def close(self) -> None:
        self.drop_stream()
        self._ws.shutdown()
        self._http.shutdown()
        self._http.server_close()

    # --- scripting ----------------------------------------------------------------------------

    def fault(self, method: str, path: str, **kwargs: Any) -> None:
        with self.lock:
            self.faults.append(Fault(method=method, path=path, **kwargs))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.method == method and path.startswith(f.path):
                    self.faults.remove(f)
                    return f
        return None

    def fill(self, order_id: str, qty: str, price: str, *, at: dt.datetime | None = None) -> dict[str, Any]:
        """Execute `qty` of an order: the order, position, cash and FILL activity change, and a
        fill / partial_fill trade update goes to whoever listens now. Returns the update."""
        at = at or dt.datetime.now(dt.UTC)
        with self.lock:
            order = self.orders[order_id]
            q, p = Decimal(qty), Decimal(price)
            filled = Decimal(order["filled_qty"]) + q
            avg_before = Decimal(order["filled_avg_price"] or "0")
            order["filled_avg_price"] = str(
                ((avg_before * Decimal(order["filled_qty"]) + p * q) / filled).quantize(Decimal("0.0001"))
            )
            order["filled_qty"] = str(filled)
            order["status"] = "filled" if filled >= Decimal(order["qty"]) else "partially_filled"
            order["updated_at"] = iso(at)
            if order["status"] == "filled":
                order["filled_at"] = iso(at)
            sign = 1 if order["side"] == "buy" else -1
            pos = self.positions.setdefault(order["symbol"], {"qty": Decimal(0), "cost": Decimal(0)})
            if sign > 0:
                pos["cost"] += p * q
            elif pos["qty"]:
                pos["cost"] -= pos["cost"] / pos["qty"] * q
            pos["qty"] += sign * q
            self.cash -= sign * p * q
            execution_id = str(uuid.uuid4())
            event = "fill" if order["status"] == "filled" else "partial_fill"
            self.activities.append(
                {
                    "id": f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}::{execution_id}",
                    "activity_type": "FILL",
                    "transaction_time": iso(at),
                    "type": event,
                    "price": str(p),
                    "qty": str(q),
                    "side": order["side"],
                    "symbol": order["symbol"],
                    "leaves_qty": str(Decimal(order["qty"]) - filled),
                    "order_id": order_id,
                    "cum_qty": str(filled),
                    "order_status": order["status"],
                }
            )
            update = {
                "event": event,
                "execution_id": execution_id,
                "order": dict(order),
                "timestamp": iso(at),
                "price": str(p),
                "qty": str(q),
                "position_qty": str(pos["qty"]),
            }
        self.push(update)
        return update

    def set_status(self, order_id: str, status: str) -> dict[str, Any]:
        """Move an order to `status` and push that event (canceled, expired, done_for_day, ...)."""
        with self.lock:
            order = self.orders[order_id]
            order["status"] = status
            order["updated_at"] = iso(dt.datetime.now(dt.UTC))
            update = {"event": status, "order": dict(order), "timestamp": order["updated_at"]}
        self.push(update)
        return update

    # --- the stream ---------------------------------------------------------------------------

    def push(self, data: dict[str, Any]) -> int:
        """Send one trade update to every listening client now; returns how many got it (a client
        that is not connected misses it for good, as with Alpaca)."""
        message = json.dumps({"stream": "trade_updates", "data": data})
        with self.lock:
            clients = list(self.listening)
        sent = 0
        for ws in clients:
            try:
                ws.send(message.encode() if self.binary_frames else message)
                sent += 1
            except Exception:  # noqa: BLE001 - a client gone mid-send simply misses it
                pass
        return sent

    def drop_stream(self) -> None:
        """Cut every stream connection at the TCP level (no close frame)."""
        with self.lock:
            clients, self.listening = list(self.listening), []
            self.listen_changed.notify_all()
        for ws in clients:
            try:
                ws.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_listening(self, connections: int, timeout: float = 10.0) -> None:
        """Block until `connections` subscriptions have been made in total and one is live."""
        with self.lock:
            ok = self.listen_changed.wait_for(
                lambda: self.stream_connections >= connections and self.listening, timeout
            )
        if not ok:
            raise AssertionError(f"stream: {self.stream_connections} subscriptions, waited for {connections}")

    def _send(self, ws: ServerConnection, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        ws.send(text.encode() if self.binary_frames else text)

    def _stream(self, ws: ServerConnection) -> None:
        if self.stream_down:
            ws.socket.shutdown(socket.SHUT_RDWR)
            return
        try:
            auth = json.loads(ws.recv(timeout=10))
            data = auth.get("data") or {}
            if auth.get("action") != "authenticate" or (data.get("key_id"), data.get("secret_key")) != (
                KEY_ID,
                SECRET_KEY,
            ):
                self._send(
                    ws,
                    {"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}},
                )
                return
            self._send(
                ws, {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}
            )
            listen = json.loads(ws.recv(timeout=10))
            streams = (listen.get("data") or {}).get("streams", [])
            self._send(
                ws, {"stream": "listening", "data": {"streams": [s for s in streams if s == "trade_updates"]}}
            )
            with self.lock:
                self.listening.append(ws)
                self.stream_connections += 1
                self.listen_changed.notify_all()
            for _ in ws:  # the client sends nothing more; returns when the connection ends
                pass
        except Exception:  # noqa: BLE001 - a dropped client ends its handler
            pass
        finally:
            with self.lock:
                if ws in self.listening:
                    self.listening.remove(ws)
                    self.listen_changed.notify_all()

    # --- REST ---------------------------------------------------------------------------------

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


def _handler(fake: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
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


@pytest.fixture
def fake_alpaca():
    fake = FakeAlpaca()
    yield fake
    fake.close()


def fake_credentials():
    from apps.trading.brokers.alpaca import AlpacaCredentials

    return AlpacaCredentials(key_id=KEY_ID, secret_key=SECRET_KEY)
