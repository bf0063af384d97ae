"""The live cycle at 500 names on PostgreSQL + Redis (issue 10): cycle compute, bar close to
every order submitted and committed, STOP effective, CANCEL of 500 open paper orders, and
paper-vs-backtest parity.

Data: only ~101 real names have hourly bars (fixtures/hourly), so the 500-name figures use the
real DAILY bars of the S&P 500 set (../shared/data/daily/pooksoft_sp500_daily_adjusted_1999_2021
.parquet, 504 stocks, raw prices + split coefficients), fja05680 point-in-time membership, GICS
sectors and SPY, imported through the desk's own importers, with a daily-frequency strategy run
through the same cycle code (apps.live.cycle.run.cycle_run) as the hourly desk.

Setup (never the desk's or the tests' databases): a throwaway database (`--db`, default
hg_bench_run, dropped and re-created on the server of DATABASE_URL, migrated, dropped at the
end unless `--keep-db`) and the Redis db of REDIS_URL. On SQLite it refuses to run: the
advisory-lock guarantees (cycle lock, the kill switch's gate) are PostgreSQL's.

1. A ridge model (the "all" feature set, 83 features) is trained through
   `workers.engine.decide.research.train_pipeline` on the database panel of `--train-start` ..
   the first cycle, stored as research training stores a version artifact, and the version goes
   to stage paper with the optimizer allocator (CLARABEL, max weight 4%, sector cap 25%).
2. A paper account (`paper_account_open`) runs `--cycles` consecutive daily cycles (`cycle_run`
   with the PaperBroker; the panel is `LIVE_PANEL_DAYS` = 365 calendar days from the anchor). The
   first cycle is reported apart (cold: kernel built, numba / solver warm-up); p95s are over the
   rest. `cycle_compute` is the cycle's own `compute_ms` (kernel.decide: features of the last bar,
   predict, the optimizer, the governor, share sizing; plus the share orders as order decisions);
   `bar_to_orders` is the wall time of `cycle_run` from its call (the bar has closed and is
   stored) to the end of its `submitted` step: claim, venue fills, reconciliation, the panel from
   the database, decide, pre-trade controls + commit of every order, and every order submitted
   through the kill switch's gate to the venue and committed.
3. STOP: while a second thread creates and submits orders on another paper account without a
   pause (`orders_create` + `order_submit`, one share each), `killswitch_stop` is pressed
   `--stop-samples` times (then `killswitch_unlock`); each sample is the time from the call to
   its return, i.e. to the STOP's commit, after which no order can leave (apps/live/gate.py).
   Checked afterwards: no order was submitted between a STOP's return and the next UNLOCK.
4. CANCEL: 500 one-share limit buys below the market are created and submitted on a third paper
   account, then `killswitch_cancel` (bulk cancel at the venue, every order reconciled) is timed.
5. Parity: the engine's backtest of the same bars (allocator path, whole shares, from the
   cycles' anchor, the model's scores from the whole-panel features at the cycle bars and no view
   before the first) against the cycles' decisions (bench/_parity.py).

Settings the bench sets (environment, before Django starts): LIVE_PANEL_DAYS=365 (a daily
strategy needs a year of bars), KILLSWITCH_UNLOCK_FOUR_EYES=false (one risk officer unlocks
between STOP samples), TRADING_MAX_MESSAGES_PER_MINUTE=100000 (the 500-order CANCEL sends 500
orders in well under a minute; the desk's default of 180 is Alpaca's pace).

Run (on a quiet machine): DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://
127.0.0.1:6379/9 nice .venv/bin/python bench/live_cycle.py. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._data import DAILY_PARQUET, FIXTURE_SPY_DAILY, MEMBERSHIP_INTERVALS, SECTORS  # noqa: E402

DATA = "real daily bars of the S&P 500 set (pooksoft 1999-2021, 504 stocks), daily strategy through the hourly cycle code"
BENCH_SETTINGS = {
    "LIVE_PANEL_DAYS": "365",
    "KILLSWITCH_UNLOCK_FOUR_EYES": "false",
    "TRADING_MAX_MESSAGES_PER_MINUTE": "100000",
    "LIVE_FEED": "",
    "LOG_LEVEL": "WARNING",
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="hg_bench_run", help="throwaway database (dropped and re-created)")
    p.add_argument("--names", type=int, default=500, help="names of the universe (the most bars first)")
    p.add_argument("--cycles", type=int, default=31, help="consecutive daily cycles (the first is cold)")
    p.add_argument("--first-cycle", default="2020-11-02", help="date of the first cycle")
    p.add_argument("--train-start", default="2018-11-01")
    p.add_argument("--stop-samples", type=int, default=200)
    p.add_argument("--cancel-orders", type=int, default=500)
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--profile", metavar="PATH", help="cProfile the warm cycles into PATH (pstats)")
    return p.parse_args()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values, q: float) -> float:
    return round(float(np.percentile(np.asarray(values, dtype=np.float64), q)), 2)


def _database_url(name: str) -> tuple[str, str]:
    """(admin URL, bench URL) on the server of DATABASE_URL; refuses anything but PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench/live_cycle.py needs PostgreSQL + Redis (DATABASE_URL=postgres://..., REDIS_URL=redis://...): "
            f"DATABASE_URL is {url or 'unset (SQLite)'}; the cycle lock and the kill switch's gate are "
            "PostgreSQL advisory locks, so figures on SQLite would measure something else"
        )
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        raise SystemExit(
            "bench/live_cycle.py needs REDIS_URL=redis://... (Channels and Celery as on the desk)"
        )
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path=f"/{name}"))


def _pg(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


# --- setup -------------------------------------------------------------------------------------


def _bar_files(tmp: Path, *, names: int, start: str, end: str) -> tuple[Path, list[str]]:
    """The daily set's bars of the `names` stocks with the most bars in [start, end)."""
    df = pd.read_parquet(DAILY_PARQUET)
    df = df[df["symbol"].astype(str).str.len() > 0]
    df = df[(df["date"] >= pd.Timestamp(start)) & (df["date"] < pd.Timestamp(end))]
    counts = df.groupby("symbol").size().sort_values(ascending=False, kind="stable")
    symbols = sorted(counts.index[:names])
    df = df[df["symbol"].isin(symbols)].drop(columns=["adjusted_close"])
    path = tmp / "daily.parquet"
    df.to_parquet(path, index=False)
    return path, symbols


def _setup(args, tmp: Path) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from apps.accounts.roles import ADMIN, QUANT, RISK_OFFICER
    from apps.accounts.services import roles_sync
    from apps.marketdata.services import bars_import
    from apps.marketdata.services.instruments import instruments_import_sectors
    from apps.universes.services import membership_import

    first = pd.Timestamp(args.first_cycle)
    end = first + pd.Timedelta(days=int(args.cycles * 1.6) + 10)
    path, symbols = _bar_files(tmp, names=args.names, start=args.train_start, end=str(end.date()))
    t0 = time.perf_counter()
    run = bars_import(path=path, freq="1d", source="pooksoft-bench", skip_invalid=True)
    assert run.status in ("succeeded", "partial"), run.message
    run = bars_import(path=FIXTURE_SPY_DAILY, freq="1d", source="spy-bench")
    assert run.status == "succeeded", run.message
    run = membership_import(universe_name="sp500", path=MEMBERSHIP_INTERVALS)
    assert run.status == "succeeded", run.message
    instruments_import_sectors(path=SECTORS)
    log(
        f"imported {len(symbols)} names' daily bars + SPY, membership, sectors in {time.perf_counter() - t0:.1f} s"
    )
    roles_sync()
    users = {}
    for name, role in (("quinn", QUANT), ("rita", RISK_OFFICER), ("ada", ADMIN)):
        user = get_user_model().objects.create_user(name, password=None)
        user.groups.add(Group.objects.get(name=role))
        users[name] = user
    return {"symbols": symbols, "users": users}


CONFIG = {
    "kind": "ridge",
    "universe": "sp500",
    "frequency": "1d",
    "features": "all",
    "model": {"alpha": 1.0},
    "optimizer": {
        "allocator": "optimizer",
        "max_weight": 0.04,
        "sector_cap": 0.25,
        "solver": "CLARABEL",
        "min_adv_dollar": 1e6,
    },
    "initial_cash": 1_000_000.0,
}


def _trained_version(args, users, symbols):
    """A ridge version trained on the database panel before the first cycle, in stage paper."""
    from apps.marketdata.selectors.panel import panel_build
    from apps.strategies.models import ModelVersion, Stage
    from apps.strategies.services import model_version_create, strategy_create
    from apps.universes.models import Universe
    from workers.engine.decide.research import train_pipeline
    from workers.engine.models import model_to_dict

    first = dt.date.fromisoformat(args.first_cycle)
    config = {**CONFIG, "research": {"start": args.train_start, "end": args.first_cycle}}
    strategy = strategy_create(owner=users["quinn"], name="bench-ridge", config=config, description="bench")
    t0 = time.perf_counter()
    build = panel_build(
        universe=Universe.objects.get(name="sp500"),
        frequency="1d",
        start=dt.date.fromisoformat(args.train_start),
        end=first,
        symbols=symbols,
    )
    trained = train_pipeline(panel=build.panel, config=strategy.config, progress=lambda *_: None)
    payload = json.dumps(model_to_dict(trained.model), sort_keys=True).encode()
    index = pd.DatetimeIndex(build.panel.index).tz_localize("UTC")
    version = model_version_create(
        strategy=strategy,
        created_by=users["quinn"],
        artifact_bytes=payload,
        artifact_name="bench-ridge.json",
        training_window=(
            index[trained.train_start_row].to_pydatetime(),
            index[trained.train_end_row].to_pydatetime(),
        ),
        data_hash=build.data_hash,
        metrics={"n_train_rows": trained.n_rows},
        config=strategy.config,
    )
    ModelVersion.objects.filter(pk=version.pk).update(stage=Stage.PAPER)
    version.refresh_from_db()
    log(
        f"trained ridge on {trained.n_rows} rows x {len(trained.feature_names)} features "
        f"({build.panel.shape[0]} bars x {build.panel.shape[1]} names) in {time.perf_counter() - t0:.1f} s"
    )
    return version


def _cycle_bars(args, symbols) -> list[pd.Timestamp]:
    from apps.marketdata.models import Bar

    stamps = (
        Bar.objects.filter(
            frequency="1d", instrument__symbol=symbols[0], ts__gte=pd.Timestamp(args.first_cycle, tz="UTC")
        )
        .order_by("ts")
        .values_list("ts", flat=True)
    )
    bars = [pd.Timestamp(ts) for ts in stamps[: args.cycles]]
    if len(bars) < args.cycles:
        raise SystemExit(f"only {len(bars)} daily bars from {args.first_cycle}")
    return bars


# --- measurements ------------------------------------------------------------------------------


def _cycles(account, bars, profile: str | None = None) -> tuple[list, list[dict]]:
    import cProfile

    from django.db.models import Count

    from apps.live.cycle.run import cycle_run
    from apps.trading.models import Order

    profiler = cProfile.Profile() if profile else None
    runs, rows = [], []
    for k, bar in enumerate(bars):
        if profiler is not None and k == 1:
            profiler.enable()
        started = time.perf_counter()
        run = cycle_run(account=account, bar_time=bar, trigger="bench")
        wall = (time.perf_counter() - started) * 1000.0
        if run.status != "succeeded":
            raise SystemExit(f"cycle at {bar} {run.status}: {run.reason} {run.error}")
        timings = run.timings
        statuses = dict(Order.objects.filter(cycle=run).values_list("status").annotate(n=Count("pk")))
        row = {
            "bar": str(bar.date()),
            "wall_ms": wall,
            "bar_to_orders_ms": wall - timings["settled"],
            "compute_ms": run.decision["compute_ms"],
            "orders": sum(statuses.values()),
            "statuses": statuses,
            **{f"step_{k}_ms": v for k, v in timings.items()},
        }
        runs.append(run)
        rows.append(row)
        if k < 3 or k % 10 == 0 or k == len(bars) - 1:
            log(
                f"cycle {k} {row['bar']}: wall {wall:.0f} ms, to orders {row['bar_to_orders_ms']:.0f} ms, "
                f"compute {row['compute_ms']:.1f} ms, {row['orders']} orders {statuses}; steps {timings}"
            )
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return runs, rows


def _decision(symbol: str, price: Decimal, *, below: str = "0.99"):
    from apps.trading.brokers.base import OrderSide, OrderType, TimeInForce
    from apps.trading.services import OrderDecision

    return OrderDecision(
        symbol=symbol,
        side=OrderSide.BUY,
        qty=Decimal(1),
        type=OrderType.LIMIT,
        limit_price=(price * Decimal(below)).quantize(Decimal("0.01")),
        time_in_force=TimeInForce.DAY,
        decision_price=price,
    )


def _marks(symbols, bar) -> dict[str, Decimal]:
    from apps.marketdata.models import Bar

    rows = Bar.objects.filter(frequency="1d", ts=bar, instrument__symbol__in=symbols).values_list(
        "instrument__symbol", "close"
    )
    return {s: Decimal(c) for s, c in rows}


def _open_account(users, version, name: str, cash: str = "1000000"):
    from apps.live.services.accounts import paper_account_open

    return paper_account_open(by=users["ada"], name=name, starting_cash=Decimal(cash), version=version)


def _stop_samples(args, users, version, symbols, bar) -> dict:
    """STOP latency while another thread submits orders without a pause."""
    from django.db import connection

    from apps.live.brokers import broker_for
    from apps.live.services import killswitch_stop, killswitch_unlock
    from apps.trading.models import Order
    from apps.trading.services import order_submit, orders_create

    account = _open_account(users, version, "bench-stop")
    broker = broker_for(account, clock=lambda: bar.to_pydatetime())
    marks = _marks(symbols, bar)
    names = [s for s in symbols if s in marks]
    done = threading.Event()
    errors: list[str] = []
    counts = {"created": 0, "sent": 0, "denied": 0}

    def submitter() -> None:
        k = 0
        try:
            while not done.is_set():
                symbol = names[k % len(names)]
                # A distinct bar per order keeps the client order ids distinct (account, bar, symbol, side).
                at = bar.to_pydatetime() - dt.timedelta(minutes=k + 1)
                orders = orders_create(
                    account=account,
                    model_version=version,
                    bar_time=at,
                    decisions=[_decision(symbol, marks[symbol])],
                    marks=marks,
                    day_start_equity=Decimal("1000000"),
                    source="bench",
                )
                counts["created"] += 1
                for order in orders:
                    if order.status == "pending_new":
                        order = order_submit(order=order, broker=broker)
                        counts["sent" if order.submitted_at else "denied"] += 1
                k += 1
        except Exception as exc:  # noqa: BLE001 - reported in the output
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    thread = threading.Thread(target=submitter, daemon=True)
    thread.start()
    time.sleep(0.5)
    samples, windows = [], []
    rng = np.random.default_rng(7)
    for _ in range(args.stop_samples):
        started = time.perf_counter()
        killswitch_stop(by=users["rita"], account=account, reason="bench STOP")
        stopped_at = dt.datetime.now(dt.UTC)
        samples.append((time.perf_counter() - started) * 1000.0)
        time.sleep(float(rng.uniform(0.005, 0.02)))
        unlock_at = dt.datetime.now(dt.UTC)
        killswitch_unlock(by=users["rita"], account=account, reason="bench UNLOCK")
        windows.append((stopped_at, unlock_at))
        time.sleep(float(rng.uniform(0.0, 0.03)))
    done.set()
    thread.join(timeout=30)
    sent_after_stop = sum(
        Order.objects.filter(account=account, submitted_at__gt=a, submitted_at__lt=b).count()
        for a, b in windows
    )
    return {
        "samples": samples,
        "sent_after_stop": sent_after_stop,
        "errors": errors[:3],
        **counts,
    }


def _cancel(args, users, version, symbols, bar) -> dict:
    from apps.live.brokers import broker_for
    from apps.live.services import killswitch_cancel
    from apps.trading.services import orders_create, orders_submit

    account = _open_account(users, version, "bench-cancel")
    broker = broker_for(account, clock=lambda: bar.to_pydatetime())
    marks = _marks(symbols, bar)
    names = [s for s in symbols if s in marks][: args.cancel_orders]
    t0 = time.perf_counter()
    orders = orders_create(
        account=account,
        model_version=version,
        bar_time=bar.to_pydatetime(),
        decisions=[_decision(s, marks[s]) for s in names],
        marks=marks,
        day_start_equity=Decimal("1000000"),
        source="bench",
    )
    create_ms = (time.perf_counter() - t0) * 1000.0
    t0 = time.perf_counter()
    orders_submit(orders=orders, broker=broker)
    submit_ms = (time.perf_counter() - t0) * 1000.0
    open_at_venue = len(broker.open_orders())
    t0 = time.perf_counter()
    (summary,) = killswitch_cancel(
        by=users["rita"], account=account, broker_for=lambda _a: broker, reason="bench CANCEL"
    )
    cancel_ms = (time.perf_counter() - t0) * 1000.0
    return {
        "orders": len(orders),
        "open_at_venue": open_at_venue,
        "create_ms": round(create_ms, 1),
        "submit_ms": round(submit_ms, 1),
        "cancel_ms": round(cancel_ms, 1),
        "cancelled": summary.cancelled,
        "still_open": len(summary.still_open),
        "open_after": len(broker.open_orders()),
    }


def _parity(account, version, runs) -> dict:
    """The engine's backtest of the cycles' bars against the cycles' decisions."""
    from apps.live.cycle.data import anchor_date, cycle_panel
    from bench._parity import paper_parity
    from workers.engine.backtest import run_backtest
    from workers.engine.decide.configs import allocator_for, backtest_config
    from workers.engine.decide.kernel import Kernel
    from workers.engine.features import compute_features

    last = runs[-1].bar_time
    panel = cycle_panel(
        strategy=version.strategy,
        anchor=anchor_date(account=account, version=version, bar_time=last),
        bar_time=last,
    ).panel
    kernel = Kernel.from_artifact(version.config, version.artifact.open("rb").read())
    model = kernel.signal.model
    fs = compute_features(panel, list(model.feature_names), dtype=np.float64)
    first = panel.shape[0] - len(runs)
    alpha = np.full(panel.shape, np.nan)  # no view (cash) before the account's first cycle
    whole = np.full(panel.shape, np.nan)
    for t in range(first, panel.shape[0]):
        alpha[t] = kernel.signal.at(panel.slice_rows(t + 1))
        whole[t] = model.predict_cross_section(fs.values[:, t, :].T, panel.member[t])
    config = version.config
    allocator = _FirstAt(allocator_for(config), first)
    result = run_backtest(
        panel, backtest_config(config, integer_shares=True), allocator=allocator, alpha=alpha
    )

    def worst(a, b) -> float:
        both = np.isfinite(a) & np.isfinite(b)
        return float(np.max(np.abs(a[both] - b[both]), initial=0.0))

    recorded = np.array(
        [[run.decision["signal"].get(sym) for sym in panel.symbols] for run in runs], dtype=np.float64
    )
    signal_diff = worst(recorded, alpha[first:])  # the panel as the cycle knew it vs the final one
    whole_diff = worst(whole[first:], alpha[first:])  # last-row features vs whole-panel features
    # The account's cycles are the panel's last rows: compare from the first cycle's row.
    parity = paper_parity(runs, panel.slice_rows(panel.shape[0], start=first), _from_row(result, first))
    return {**parity.summary(), "max_signal_diff": signal_diff, "whole_panel_signal_diff": whole_diff}


class _FirstAt:
    """The backtest's allocator, first asked at the account's first cycle (cash before it): the
    optimizer is stateful (its working set and solver state follow the bars it solved), and the
    paper account's kernel was built fresh at its first cycle."""

    def __init__(self, allocator, first: int) -> None:
        self.allocator, self.first = allocator, first

    def allocate(self, ctx):
        from workers.engine.allocation import AllocationResult

        if ctx.t < self.first:
            return AllocationResult(weights=np.zeros(len(ctx.alpha)), status="before_first_cycle")
        return self.allocator.allocate(ctx)


class _from_row:
    """A backtest result's per-bar records from row `first` on (what `paper_parity` indexes)."""

    def __init__(self, result, first: int) -> None:
        self.positions = result.positions[first:]
        self.orders = result.orders[first:]
        self.fills = result.fills[first:]
        self.target_weights = result.target_weights[first:]


def main() -> None:
    args = _args()
    admin_url, url = _database_url(args.db)
    os.environ.update(BENCH_SETTINGS, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="tradingsite.settings")
    _pg(admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    _pg(admin_url, f'CREATE DATABASE "{args.db}"')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=dict(os.environ), check=True
        )
        import django

        django.setup()
        logging.getLogger("apps.alerts").setLevel(logging.CRITICAL)  # every STOP / UNLOCK is an alert
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
        out = _run(args)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            _pg(admin_url, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    print(json.dumps(out))


def _run(args) -> dict:
    import tempfile

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        setup = _setup(args, Path(tmp))
    users, symbols = setup["users"], setup["symbols"]
    version = _trained_version(args, users, symbols)
    account = _open_account(users, version, "bench-paper")
    bars = _cycle_bars(args, symbols)
    log(f"load average before the cycles {os.getloadavg()}")
    runs, rows = _cycles(account, bars, args.profile)
    warm = rows[1:]
    names = len(runs[-1].decision["weights"])
    stop = _stop_samples(args, users, version, symbols, bars[-1])
    log(
        f"STOP: p50 {pct(stop['samples'], 50)} p99 {pct(stop['samples'], 99)} max {max(stop['samples']):.1f} ms; "
        f"{stop['sent']} orders sent, {stop['denied']} denied by the switch meanwhile, sent after a STOP: "
        f"{stop['sent_after_stop']} {stop['errors']}"
    )
    cancel = _cancel(args, users, version, symbols, bars[-1])
    log(f"CANCEL: {cancel}")
    parity = _parity(account, version, runs)
    log(f"parity: {parity}")
    steps = sorted({k for r in warm for k in r if k.startswith("step_")})
    return {
        "names": names,
        "cycle_compute_p95_ms": pct([r["compute_ms"] for r in warm], 95),
        "bar_to_orders_p95_ms": pct([r["bar_to_orders_ms"] for r in warm], 95),
        "stop_effective_p99_ms": pct(stop["samples"], 99),
        "cancel_500_ms": cancel["cancel_ms"],
        "parity_max_weight_diff": parity["max_weight_diff"],
        "data": DATA,
        "cycles": len(warm),
        "cycle_compute_p50_ms": pct([r["compute_ms"] for r in warm], 50),
        "bar_to_orders_p50_ms": pct([r["bar_to_orders_ms"] for r in warm], 50),
        "cycle_wall_p95_ms": pct([r["wall_ms"] for r in warm], 95),
        "first_cycle": {k: round(v, 1) for k, v in rows[0].items() if k.endswith("_ms")},
        "orders_per_cycle_p50": pct([r["orders"] for r in warm], 50),
        "step_p50_ms": {k[5:-3]: pct([r.get(k, 0.0) for r in warm], 50) for k in steps},
        "stop_effective_p50_ms": pct(stop["samples"], 50),
        "stop_samples": len(stop["samples"]),
        "stop_orders_sent_meanwhile": stop["sent"],
        "stop_orders_sent_after_a_stop": stop["sent_after_stop"],
        "cancel": cancel,
        "parity": parity,
        "load_avg_1m": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    main()
