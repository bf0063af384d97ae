"""One HTTP session to an Alpaca API (trading or market data): authentication headers, client-side
pacing under the rate limit, and the mapping of every transport failure and HTTP answer onto the
broker error contract (apps.trading.brokers.base).

Why httpx directly and not alpaca-py: alpaca-py's REST client retries every method, POST included,
on 429 and 504 (3 times, 3 s apart) inside the call. With our deterministic client order ids that
would be harmless for submissions, but it hides from the order service *which* answer it got,
stretches a call past the cycle's time budget, and decides retry policy for cancels and reads that
the caller should decide. Here every call is made exactly once: a 429 raises RateLimited with the
broker's reset time, a timeout / 5xx / dropped connection raises OutcomeUnknown, and the caller
(which knows whether the request was idempotent) decides what to do next.

Pacing: Alpaca allows 200 requests per minute per account and reports X-Ratelimit-Limit,
-Remaining and -Reset (epoch seconds) on every answer. `RatePacer` keeps a sliding one-minute
window of our own request times (default 180 per minute, a margin for other processes of the
account such as the trade_updates reconnect reconciliation) and also waits for the reset when the
server says nothing remains. Each process paces itself; several processes trading one account must
share the budget by their configured limits.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from ..base import BrokerError, OrderNotFound, OutcomeUnknown, RateLimited
from .credentials import AlpacaCredentials

DEFAULT_REQUESTS_PER_MINUTE = 180  # Alpaca's limit is 200 per minute per account
WINDOW_S = 60.0
# connect: a refused or unreachable venue fails fast; read: an order acknowledgement that has not
# arrived after 10 s is treated as outcome unknown and resolved by client order id.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class RatePacer:
    """At most `limit` requests in any `window_s` seconds, and none while the server reports its
    budget spent (until its reset time). Thread-safe; `clock` / `sleep` are injectable for tests."""

    def __init__(
        self,
        limit: int = DEFAULT_REQUESTS_PER_MINUTE,
        *,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be at least 1 request per window, got {limit}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window_s:
                    self._sent.popleft()
                wait = self._blocked_until - now
                if len(self._sent) >= self.limit:
                    wait = max(wait, self._sent[0] + self.window_s - now)
                if wait <= 0:
                    self._sent.append(now)
                    return waited
                self._sleep(wait)
                waited += wait

    def observe(self, headers: httpx.Headers) -> None:
        """Take the server's word: no request before its reset when it reports none remaining."""
        remaining, reset = headers.get("X-Ratelimit-Remaining"), headers.get("X-Ratelimit-Reset")
        if remaining is None or reset is None:
            return
        try:
            if int(remaining) <= 0:
                with self._lock:
                    self._blocked_until = max(self._blocked_until, float(reset))
        except ValueError:
            return


class RequestRefused(BrokerError):
    """A definitive 4xx answer (other than 404 and 429): the request did not take effect. The
    broker turns it into OrderRejected / DuplicateClientOrderId / CancelRejected where the
    endpoint gives it that meaning; elsewhere (account, positions) it stays this error."""

    def __init__(self, message: str, *, http_status: int, code: str = "", broker_message: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.broker_message = broker_message


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of an Alpaca error body `{"code": 40310000, "message": "..."}`."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    return str(body.get("code", "")), str(body.get("message", ""))


def retry_after_s(response: httpx.Response, now: float) -> float | None:
    """Seconds until the rate-limit window resets: Retry-After when sent, else X-Ratelimit-Reset."""
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    reset = response.headers.get("X-Ratelimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


class AlpacaHttp:
    """Requests to one Alpaca base URL. Raises, never returns, an error answer:

    - timeout, dropped connection, any transport error, 5xx -> OutcomeUnknown
    - 429 -> RateLimited(retry_after_s from the headers)
    - 404 -> OrderNotFound
    - any other 4xx -> RequestRefused(http_status, code, broker_message): a definitive refusal.
    """

    def __init__(
        self,
        *,
        base_url: str,
        credentials: AlpacaCredentials,
        pacer: RatePacer | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer or RatePacer(clock=clock)
        self._clock = clock
        self._client = httpx.Client(
            base_url=self.base_url, headers=credentials.headers(), timeout=timeout, follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"AlpacaHttp({self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params=None, json_body=None) -> httpx.Response:
        """One request, made once. Returns a 2xx response; raises per the class docstring."""
        self.pacer.acquire()
        what = f"{method} {path}"
        try:
            response = self._client.request(method, path, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise OutcomeUnknown(f"{what}: no answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"{what}: connection failed or dropped ({type(exc).__name__})") from None
        self.pacer.observe(response.headers)
        status = response.status_code
        if status < 300:
            return response
        code, message = _error_body(response)
        detail = f"{what}: HTTP {status}" + (f" {code}" if code else "") + (f" {message}" if message else "")
        if status == 429:
            raise RateLimited(detail, retry_after_s=retry_after_s(response, self._clock()))
        if status >= 500:
            raise OutcomeUnknown(detail)
        if status == 404:
            raise OrderNotFound(detail)
        if 400 <= status < 500:
            raise RequestRefused(detail, http_status=status, code=code, broker_message=message)
        raise BrokerError(f"{what}: unexpected HTTP {status}")

    def get_json(self, path: str, *, params=None) -> Any:
        return self.request("GET", path, params=params).json()
