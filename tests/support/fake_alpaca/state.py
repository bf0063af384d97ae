"""Shared pieces of the fake: keys, order status sets, timestamps, scripted faults."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

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
