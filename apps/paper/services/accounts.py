from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from workers.engine.backtest import BacktestConfig
from workers.engine.market import Frequency

from ..fills import fill_config_from, fill_settings
from ..models import VenueAccount


def venue_account_create(
    *, name: str, cash: Decimal, backtest: BacktestConfig, frequency: Frequency | str = Frequency.HOUR
) -> VenueAccount:
    """A venue account with `cash`, filling at `frequency` bars with the fill settings (cost model,
    participation, integer shares, volatility window) of `backtest`: pass the strategy's
    `workers.engine.decide.configs.backtest_config(...)` and paper fills are the backtest's."""
    cash = Decimal(cash)
    if not cash.is_finite() or cash < 0:
        raise ValueError(f"cash must be a finite amount >= 0, got {cash}")
    stored = fill_config_from(backtest)
    fill_settings(stored)  # round trip: the engine accepts what is stored
    with transaction.atomic():
        return VenueAccount.objects.create(
            name=name, cash=cash, frequency=Frequency(frequency).value, fill_config=stored
        )
