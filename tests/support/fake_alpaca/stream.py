"""The fake's trade_updates websocket: authenticate, listen, push, drop."""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.sync.server import ServerConnection

from .state import KEY_ID, SECRET_KEY


class StreamSide:
    """Mixed into FakeAlpaca; uses its lock, listening list and counters."""

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
