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

import datetime as dt
import threading
import uuid
from collections import deque
from decimal import Decimal
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from .rest import RestSide, handler
from .state import KEY_ID, SECRET_KEY, Fault, iso
from .stream import StreamSide

__all__ = ["KEY_ID", "SECRET_KEY", "FakeAlpaca", "fake_alpaca", "fake_credentials"]


class FakeAlpaca(RestSide, StreamSide):
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
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler(self))
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


@pytest.fixture
def fake_alpaca():
    fake = FakeAlpaca()
    yield fake
    fake.close()


def fake_credentials():
    from apps.trading.brokers.alpaca import AlpacaCredentials

    return AlpacaCredentials(key_id=KEY_ID, secret_key=SECRET_KEY)
