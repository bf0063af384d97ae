"""The `trade_updates` stream: Alpaca's push of order events (wss://paper-api.alpaca.markets/stream
or wss://api.alpaca.markets/stream), parsed into base.OrderEventReport.

Protocol: after the websocket handshake send
`{"action": "authenticate", "data": {"key_id": ..., "secret_key": ...}}`, expect
`{"stream": "authorization", "data": {"status": "authorized", ...}}`, send
`{"action": "listen", "data": {"streams": ["trade_updates"]}}`, expect `{"stream": "listening"}`,
then receive `{"stream": "trade_updates", "data": {...}}`. The paper endpoint sends binary frames
(UTF-8 JSON), the live one text frames: both are accepted.

What the caller must know:
- The stream replays nothing. Events sent while we were disconnected are lost to the stream, so
  `on_reconnect` is called after EVERY successful subscription, the first one included (events
  between the caller's last REST read and the first subscription are missed too): the caller
  reconciles over REST there (orders by client order id, fills_since).
- Updates are passed through faithfully, duplicates and out-of-order ones included: a fill may be
  delivered twice, and a `fill` may arrive before its `partial_fill`. De-duplication is the order
  service's job, by the fill's execution id (unique in the database), and order states move only
  through its transition table, which tolerates the real-world orderings.
- After a drop the client reconnects with exponential backoff and full jitter (base 0.5 s,
  doubling, capped at 30 s; the attempt counter resets after a successful subscription), because
  reconnecting at once meets 429s (alpaca-py issue 740). A refused authentication stops the loop
  with StreamUnauthorized: retrying bad keys only burns the rate limit.
- A message that does not parse (unknown status, missing field) is logged with its event and order
  id and skipped; the next reconciliation reads that order over REST.

The client is synchronous (websockets' sync client) and runs in its own thread or process; the
callbacks run in that thread, and an exception a callback raises ends `run()` (the caller's
supervisor decides whether to start it again).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from ..base import BrokerError, OrderEventReport
from .credentials import AlpacaCredentials
from .mapping import trade_update_from_json

logger = logging.getLogger(__name__)

PAPER_STREAM_URL = "wss://paper-api.alpaca.markets/stream"
LIVE_STREAM_URL = "wss://api.alpaca.markets/stream"
HANDSHAKE_TIMEOUT_S = 10.0
RECV_POLL_S = 0.5  # how often a quiet connection checks the stop flag


class StreamUnauthorized(BrokerError):
    """The stream refused the key pair: a configuration problem, not retried."""


class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    def __init__(self, *, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**self.attempt)
        self.attempt += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def _decode(message: str | bytes) -> dict[str, Any]:
    text = message.decode("utf-8") if isinstance(message, bytes) else message
    decoded = json.loads(text)
    if not isinstance(decoded, dict):
        raise ValueError(f"expected a JSON object, got {type(decoded).__name__}")
    return decoded


class TradeUpdatesStream:
    """`run()` blocks, delivering every trade update to `on_update` until `stop()` is called (from
    any thread) or the keys are refused. `on_reconnect()` runs after each successful subscription;
    `on_disconnect(reason)` after each drop (e.g. to raise a broker-disconnected alert)."""

    def __init__(
        self,
        *,
        credentials: AlpacaCredentials,
        on_update: Callable[[OrderEventReport], None],
        on_reconnect: Callable[[], None],
        on_disconnect: Callable[[str], None] | None = None,
        paper: bool = True,
        url: str | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.url = url or (PAPER_STREAM_URL if paper else LIVE_STREAM_URL)
        self._credentials = credentials
        self._on_update = on_update
        self._on_reconnect = on_reconnect
        self._on_disconnect = on_disconnect
        self.backoff = backoff or Backoff()
        self._stopping = threading.Event()
        # Interruptible sleep: returns True when stop() was called meanwhile.
        self._sleep = sleep or self._stopping.wait
        self.connections = 0  # successful subscriptions so far

    def __repr__(self) -> str:
        return f"TradeUpdatesStream({self.url!r})"

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with connect(self.url, open_timeout=HANDSHAKE_TIMEOUT_S, close_timeout=1) as ws:
                    self._subscribe(ws)
                    self.backoff.reset()
                    self.connections += 1
                    self._on_reconnect()
                    self._listen(ws)
                    reason = "closed by us"
            except StreamUnauthorized:
                raise
            except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if self._stopping.is_set():
                return
            logger.warning("trade_updates %s: disconnected (%s); reconnecting", self.url, reason)
            if self._on_disconnect is not None:
                self._on_disconnect(reason)
            if self._sleep(self.backoff.next_delay()):
                return

    def _subscribe(self, ws: ClientConnection) -> None:
        ws.send(
            json.dumps(
                {
                    "action": "authenticate",
                    "data": {"key_id": self._credentials.key_id, "secret_key": self._credentials.secret_key},
                }
            )
        )
        answer = _decode(ws.recv(timeout=HANDSHAKE_TIMEOUT_S))
        status = (answer.get("data") or {}).get("status")
        if answer.get("stream") != "authorization" or status != "authorized":
            raise StreamUnauthorized(f"trade_updates {self.url}: authentication refused ({status or answer})")
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        while True:
            answer = _decode(ws.recv(timeout=HANDSHAKE_TIMEOUT_S))
            if answer.get("stream") == "listening":
                if "trade_updates" not in (answer.get("data") or {}).get("streams", []):
                    raise ValueError(f"trade_updates {self.url}: listen not acknowledged: {answer}")
                return

    def _listen(self, ws: ClientConnection) -> None:
        while not self._stopping.is_set():
            try:
                message = ws.recv(timeout=RECV_POLL_S)
            except TimeoutError:
                continue
            decoded = _decode(message)
            if decoded.get("stream") != "trade_updates":
                continue
            data = decoded.get("data") or {}
            try:
                report = trade_update_from_json(data)
            except BrokerError as exc:
                order = data.get("order") or {}
                logger.error(
                    "trade_updates: skipped an update that does not parse (event %r, order %r): %s",
                    data.get("event"),
                    order.get("id"),
                    exc,
                )
                continue
            self._on_update(report)
