"""The desk's personas, a paper trading account, a real Celery worker on the `default` queue, and a
local webhook receiver on 127.0.0.1 that answers from a script (e.g. 500, 500, then 200)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.contrib.testing.worker import start_worker

from apps.trading.services import trading_account_create
from tests.apps.strategies.conftest import make_people
from workers.celery import app

SECRET = "test-webhook-secret"


@pytest.fixture
def people(db):
    return make_people()


@pytest.fixture
def account(people):
    return trading_account_create(
        by=people["ada"],
        name="paper-1",
        broker_kind="paper",
        endpoint="paper",
        starting_cash=Decimal("1000000"),
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass
class WebhookReceiver:
    """Answers each POST with the next status of `script` (the last one repeats)."""

    script: list[int]
    url: str = ""
    received: list[Received] = field(default_factory=list)

    def next_status(self) -> int:
        i = min(len(self.received) - 1, len(self.script) - 1)
        return self.script[i]

    def json_bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.received]


@pytest.fixture
def webhook():
    """`webhook(script)` starts a receiver and returns it; all are shut down after the test."""
    servers = []

    def start(script: list[int]) -> WebhookReceiver:
        receiver = WebhookReceiver(script=script)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(Received(dict(self.headers), body, time.monotonic()))
                status = receiver.next_status()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # keep the test output quiet
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_port}/hook"
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def worker():
    """A real Celery worker (threads) consuming the `default` queue of the configured broker."""
    with start_worker(
        app, pool="threads", concurrency=1, queues=["default"], perform_ping_check=False, shutdown_timeout=30
    ) as w:
        yield w
