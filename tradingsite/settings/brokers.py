"""Brokers and live market data. Keys are NOT settings: they are read from the environment when a
client is built (apps/trading/brokers/alpaca/credentials.py), so no settings dump or debug page
can show them."""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .env import env

ALPACA_DATA_URL = env.str("ALPACA_DATA_URL", default="https://data.alpaca.markets")
# iex: free, IEX's own trades; sip: all US exchanges (needs a paid Alpaca data subscription).
ALPACA_DATA_FEED = env.str("ALPACA_DATA_FEED", default="iex")
if ALPACA_DATA_FEED not in ("iex", "sip"):
    raise ImproperlyConfigured(f"ALPACA_DATA_FEED must be iex or sip, got {ALPACA_DATA_FEED!r}")
# How far back the first fetch for a symbol without stored hourly bars reaches.
ALPACA_BARS_LOOKBACK = timedelta(days=env.int("ALPACA_BARS_LOOKBACK_DAYS", default=7))
