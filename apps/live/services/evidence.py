"""Paper trading as evidence: a frozen summary of a version's paper cycles on one account, the
record a promotion to live cites (settings.STRATEGY_EVIDENCE_SOURCES["paper"]).

- `paper_days`: market dates on which the account ran a cycle of the version;
- `tracking_error`: the annualised standard deviation of (paper return - backtest return) per bar
  over those cycles (apps.live.cycle.settle defines both returns);
- `paper_return` / `backtest_return`: compounded over the same bars.
The summary is append-only (AppendOnlyModel): a later summary is a new row, the one a request
cited stays as it was (and the request's digest check would notice if it did not).
"""

from __future__ import annotations

import math

import numpy as np
from django.core.exceptions import PermissionDenied

from apps.live.cycle.data import market_date
from apps.live.models import PaperEvidence, PaperTrackingPoint
from apps.strategies import permissions as strategy_permissions
from apps.trading.models import AccountModelVersion, Endpoint, TradingAccount
from workers.engine.panel import periods_per_year


class NoPaperRecord(ValueError):
    """Nothing to summarise (named)."""


def paper_evidence_record(*, by, account: TradingAccount) -> PaperEvidence:
    """Summarise the paper cycles of the version `account` trades, as evidence for its promotion.
    Only those who may change the strategy record it."""
    link = (
        AccountModelVersion.objects.filter(account=account, active=True)
        .select_related("model_version__strategy")
        .first()
    )
    if link is None:
        raise NoPaperRecord(f"account {account.name} trades no model version")
    version = link.model_version
    if not strategy_permissions.can_edit(by, version.strategy):
        raise PermissionDenied("only those who can change this strategy record its paper evidence")
    if account.endpoint != Endpoint.PAPER:
        raise NoPaperRecord(f"account {account.name} is not a paper account")
    points = list(
        PaperTrackingPoint.objects.filter(account=account, model_version=version).order_by("bar_time")
    )
    if len(points) < 2:
        raise NoPaperRecord(
            f"{version} has {len(points)} paper cycle(s) on {account.name}: at least 2 needed"
        )
    paper = np.array([p.paper_return for p in points[1:]])
    backtest = np.array([p.backtest_return for p in points[1:]])
    diff = paper - backtest
    per_year = periods_per_year(version.strategy.frequency)
    tracking_error = float(np.std(diff, ddof=1) * math.sqrt(per_year)) if len(diff) > 1 else 0.0
    metrics = {
        "paper_days": len({market_date(p.bar_time) for p in points}),
        "tracking_error": tracking_error,
        "n_cycles": len(points),
        "paper_return": float(np.prod(1 + paper) - 1),
        "backtest_return": float(np.prod(1 + backtest) - 1),
        "max_abs_return_gap": float(np.abs(diff).max()),
    }
    return PaperEvidence.objects.create(
        strategy=version.strategy,
        model_version=version,
        account=account,
        config=version.config,
        metrics=metrics,
        series=[[p.bar_time.isoformat(), p.paper_return, p.backtest_return] for p in points],
        first_bar=points[0].bar_time,
        last_bar=points[-1].bar_time,
        created_by=by,
    )
