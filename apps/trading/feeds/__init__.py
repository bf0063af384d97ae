"""Live market-data feeds for the hourly cycle (Alpaca market data; the replay feed)."""
