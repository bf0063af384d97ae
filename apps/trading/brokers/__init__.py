"""Brokers behind one interface (`base.Broker`): the paper venue (default) and Alpaca."""
