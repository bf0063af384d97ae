"""Alpaca (Trading API v2, equities, paper or live) behind the one broker interface.

- `credentials`: the key pair from the environment or a secrets file; never stored or logged.
- `http`: one request, made once, mapped onto the error contract; client-side rate pacing. Why a
  direct httpx client rather than alpaca-py (which retries POSTs on 429/504): its docstring.
- `mapping`: Alpaca JSON -> base dataclasses, with the documented order status table.
- `rest`: `AlpacaBroker` (submit, cancel, cancel all, open orders, order by client order id,
  positions, account, fills since).
- `stream`: `TradeUpdatesStream`, the trade_updates websocket with reconnect + backoff and an
  `on_reconnect` hook for the REST reconciliation.
"""

from .credentials import AlpacaCredentials, CredentialsMissing, credentials_from_env
from .http import AlpacaHttp, RatePacer, RequestRefused
from .mapping import STATUS_TABLE, MalformedAnswer, UnknownBrokerStatus
from .rest import AlpacaBroker
from .stream import Backoff, StreamUnauthorized, TradeUpdatesStream

__all__ = [
    "STATUS_TABLE",
    "AlpacaBroker",
    "AlpacaCredentials",
    "AlpacaHttp",
    "Backoff",
    "CredentialsMissing",
    "MalformedAnswer",
    "RatePacer",
    "RequestRefused",
    "StreamUnauthorized",
    "TradeUpdatesStream",
    "UnknownBrokerStatus",
    "credentials_from_env",
]
