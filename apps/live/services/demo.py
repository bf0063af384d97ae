"""The demo desk's paper account, readied through the desk's own services (what
`manage.py demo_paper_desk` and `rundesk --demo` run; settings: tradingsite/settings/demo.py).

`demo_paper_desk_ready()` takes the demo strategy from nothing to a paper account trading it, each
step done by the person whose job it is and skipped when its result is already there (a second
start costs one query):
1. quinn (quant) creates `demo-mean-reversion` from the hourly mean-reversion starter (the real
   Nasdaq-100 hourly fixture, Oct-Nov 2025, universe sp500) and records its rule version v1;
2. quinn runs its backtest on the fixture, synchronously, through the research services the worker
   runs (`backtest_submit` + `backtest_execute`): the evidence;
3. quinn requests v1 -> candidate citing that backtest, bob (approver) approves; then the same for
   candidate -> paper (four eyes, gates re-checked at approval);
4. ada (admin) opens the paper account `demo-paper` with the backtest's initial cash, its venue
   account, and its link to v1 (`paper_account_open`).

`demo_replay_first_index(account=)` is where the replay clock starts: the bar after the account's
last cycle (a restarted demo resumes), or, before any cycle, the first bar at which the evidence
backtest decided anything (the rule's lookback filled: the cycle's panel reads the same prefix).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.contrib.auth import get_user_model

from apps.accounts.services import DEMO_PERSONAS
from apps.live.clock import replay_stamps
from apps.live.models import CycleRun
from apps.research.models import BacktestRun, Status
from apps.research.services.runs import backtest_execute, backtest_submit
from apps.strategies.lifecycle import CANDIDATE, PAPER, RESEARCH, config_sha256
from apps.strategies.models import ModelVersion, PromotionRequest, RequestStatus, Strategy
from apps.strategies.services import (
    promotion_request_approve,
    promotion_request_create,
    rule_version_record,
    strategy_create,
)
from apps.strategies.starters import starter_config
from apps.trading.models import AccountModelVersion, TradingAccount

from .accounts import paper_account_open

DEMO_STRATEGY = "demo-mean-reversion"
DEMO_STARTER = "mean_reversion-hourly"
DEMO_ACCOUNT = "demo-paper"
# A backtest another worker claimed first is waited for at most this long.
BACKTEST_WAIT_S = 300


class DemoDeskError(RuntimeError):
    """The demo desk cannot be readied (named: what is missing or what refused)."""


@dataclass(frozen=True)
class DemoPaperDesk:
    account: TradingAccount
    version: ModelVersion
    created: bool  # False: everything was there already


def _persona(role: str):
    name = DEMO_PERSONAS[role]
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise DemoDeskError(f"demo user {name} ({role}) is missing: run `manage.py create_demo_users`")
    return user


def _active_version(account: TradingAccount) -> ModelVersion | None:
    link = (
        AccountModelVersion.objects.filter(account=account, active=True)
        .select_related("model_version")
        .first()
    )
    return link.model_version if link else None


def _backtest_of(version: ModelVersion) -> BacktestRun | None:
    """The newest succeeded backtest of exactly the version's config (evidence the gates accept)."""
    sha = config_sha256(version.config)
    runs = BacktestRun.objects.filter(
        strategy_id=version.strategy_id, status=Status.SUCCEEDED, search__isnull=True
    )
    return next((run for run in runs.order_by("-pk") if config_sha256(run.config) == sha), None)


def _evidence_backtest(version: ModelVersion, *, by, say: Callable[[str], None]) -> BacktestRun:
    """A succeeded backtest of exactly the version's config, or a new one run now."""
    found = _backtest_of(version)
    if found is not None:
        return found
    run = backtest_submit(
        strategy=version.strategy, actor=by, reason="demo desk: evidence for the paper stage"
    )
    started = time.monotonic()
    if backtest_execute(run_id=run.pk) == "skipped":  # a worker claimed it first: wait for its outcome
        while not BacktestRun.objects.get(pk=run.pk).is_terminal:
            if time.monotonic() - started > BACKTEST_WAIT_S:
                raise DemoDeskError(f"backtest #{run.pk} did not finish within {BACKTEST_WAIT_S} s")
            time.sleep(0.5)
    run.refresh_from_db()
    if run.status != Status.SUCCEEDED:
        raise DemoDeskError(f"backtest #{run.pk} {run.status}: {run.error or run.progress_message}")
    m = run.metrics
    say(
        f"backtest #{run.pk} of {version} on the hourly fixture: Sharpe {m['sharpe']:.2f}, "
        f"max drawdown {m['max_drawdown']:.1%}, {m['n_trades']} trades ({time.monotonic() - started:.1f}s)"
    )
    return run


def _promote(version: ModelVersion, to_stage: str, *, evidence: BacktestRun, say: Callable[[str], None]):
    """quinn requests `to_stage` citing the backtest (or finds her pending request), bob approves."""
    quant, approver = _persona("quant"), _persona("approver")
    request = PromotionRequest.objects.filter(
        model_version=version, to_stage=to_stage, status=RequestStatus.PENDING
    ).first() or promotion_request_create(
        model_version=version,
        to_stage=to_stage,
        requested_by=quant,
        reason=f"demo desk: {DEMO_STARTER} starter, backtest #{evidence.pk} on the hourly fixture",
        evidence_refs=[("backtest", evidence.pk)],
    )
    promotion_request_approve(
        request=request, by=approver, reason="demo desk: gates pass on the attached backtest"
    )
    version.refresh_from_db()
    say(f"{version}: {request.from_stage} -> {version.stage} (requested by {quant}, approved by {approver})")


def demo_paper_desk_ready(*, say: Callable[[str], None] = lambda line: None) -> DemoPaperDesk:
    """Ready the demo paper account (see the module docstring). Idempotent; raises DemoDeskError
    naming what is missing, and the services' own errors (GateFailed, ...) when they refuse."""
    account = TradingAccount.objects.filter(name=DEMO_ACCOUNT).first()
    if account is not None:
        version = _active_version(account)
        if version is None:
            raise DemoDeskError(f"trading account {DEMO_ACCOUNT} trades no model version")
        return DemoPaperDesk(account=account, version=version, created=False)
    quant = _persona("quant")
    strategy = Strategy.objects.filter(name=DEMO_STRATEGY).first()
    if strategy is None:
        strategy = strategy_create(
            owner=quant,
            name=DEMO_STRATEGY,
            config=starter_config(DEMO_STARTER),
            description="The demo desk's paper strategy: hourly mean reversion on the Nasdaq-100 fixture.",
        )
        say(f"strategy {strategy.name} created by {quant} from the {DEMO_STARTER} starter")
    version = (
        ModelVersion.objects.filter(strategy=strategy, stage__in=(RESEARCH, CANDIDATE, PAPER))
        .order_by("-version")
        .first()
    ) or rule_version_record(strategy=strategy, by=quant)
    if version.stage != PAPER:
        evidence = _evidence_backtest(version, by=quant, say=say)
        if version.stage == RESEARCH:
            _promote(version, CANDIDATE, evidence=evidence, say=say)
        _promote(version, PAPER, evidence=evidence, say=say)
    admin = _persona("admin")
    cash = Decimal(str(version.config["initial_cash"]))
    account = paper_account_open(by=admin, name=DEMO_ACCOUNT, starting_cash=cash, version=version)
    say(f"paper account {account.name} opened by {admin} with {cash:,.0f} USD, trading {version}")
    return DemoPaperDesk(account=account, version=version, created=True)


def demo_replay_first_index(*, account: TradingAccount) -> int:
    """The replay bar to start at: after the account's last cycle, or the first bar at which the
    version's evidence backtest decided (held anything the bar after)."""
    stamps = replay_stamps()
    last = (
        CycleRun.objects.filter(account=account)
        .order_by("-bar_time")
        .values_list("bar_time", flat=True)
        .first()
    )
    if last is not None:
        later = [k for k, ts in enumerate(stamps) if ts > pd.Timestamp(last)]
        return later[0] if later else len(stamps) - 1
    version = _active_version(account)
    run = _backtest_of(version) if version is not None else None
    if run is None:
        raise DemoDeskError(f"{account.name}: no succeeded backtest of its version to start the replay from")
    index, exposure = run.series["index"], run.series["exposure"]
    held = [k for k in range(1, len(exposure)) if exposure[k] and exposure[k] > 0]
    first = pd.Timestamp(index[held[0] - 1 if held else 0], tz="UTC")
    return next((k for k, ts in enumerate(stamps) if ts >= first), 0)
