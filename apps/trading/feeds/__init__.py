"""Market data feeds for the live cycle: the interface (base), a replay of recorded bars (replay), Alpaca (alpaca)."""
