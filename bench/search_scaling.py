"""Horizontal scaling of a parameter search: the same search with one worker process, then two.

Setup (on PostgreSQL + Redis, never the desk's own databases): a throwaway database
(`--db`, default hourglass_scaling, dropped and re-created) and a spare Redis db (`--redis-db`,
default 5, flushed). It migrates, imports the real 30-symbol daily fixture (2013-2018) through the
bar importer and the fja05680 S&P 500 membership, and creates one MA-crossover strategy (top-k
equal weight, default costs and governor).

Each measurement starts N `celery -A workers worker -Q research -c 1` processes, waits until every
one answers a ping (start-up is not timed), submits the same grid search (`--candidates`,
default 12, drawn from a 6 x 4 grid of fast x slow windows by the seeded random method) and times from submission to the search being ranked (status
succeeded). The workers are then stopped. The machine has 2 cores and is shared: run it when it is
quiet (the load average is printed; figures from a loaded machine understate the speedup).

Run: nice .venv/bin/python bench/search_scaling.py. Last line: JSON with one_worker_s,
two_workers_s and speedup.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = "postgres://postgres@127.0.0.1:5432"
GRID = {"model.fast": [5, 10, 15, 20, 30, 40], "model.slow": [60, 100, 150, 200]}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="hourglass_scaling")
    p.add_argument("--redis-db", type=int, default=5)
    p.add_argument("--candidates", type=int, default=12, help="grid candidates (<= 24)")
    return p.parse_args()


def _prepare_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG_BASE}/{args.db}",
        REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        LOG_LEVEL="WARNING",
    )
    return env


def _setup_data() -> tuple[int, int]:
    """Bars, membership and a strategy in the throwaway database: (strategy id, user id)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from apps.accounts.roles import QUANT
    from apps.accounts.services import roles_sync
    from apps.marketdata.services import bars_import
    from apps.strategies.services.strategies import strategy_create
    from apps.universes.services import membership_import

    fixtures = ROOT / "fixtures"
    run = bars_import(
        path=fixtures / "daily" / "kaggle_5yr_subset_30sym_2013_2018.csv.gz",
        freq="1d",
        source="kaggle-subset",
        skip_invalid=True,  # the file has one bar with a missing open (a real defect, kept out)
    )
    assert run.status in ("succeeded", "partial"), run.message
    run = membership_import(
        universe_name="sp500",
        path=fixtures / "membership" / "fja05680_sp500_ticker_start_end.csv",
        changes_path=fixtures / "membership" / "fja05680_sp500_changes_since_2019.csv",
    )
    assert run.status == "succeeded", run.message
    roles_sync()
    user = get_user_model().objects.create_user("bench-quant", password="bench-quant-pw")
    user.groups.add(Group.objects.get(name=QUANT))
    strategy = strategy_create(
        owner=user,
        name="bench-ma",
        config={
            "kind": "ma_crossover",
            "universe": "sp500",
            "frequency": "1d",
            "research": {"start": "2013-02-08", "end": "2018-02-08"},
            "model": {"fast": 10, "slow": 100},
            "optimizer": {"allocator": "topk", "top_k": 10, "max_weight": 0.1, "sector_cap": 0.5},
        },
    )
    return strategy.pk, user.pk


def _start_workers(n: int, env: dict[str, str], tag: str) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        cmd = [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "workers",
            "worker",
            "-Q",
            "research",
            "-c",
            "1",
            "-n",
            f"bench{tag}{i}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        )
    return procs


def _wait_ready(app, n: int, tag: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        names = {name for r in replies for name in r}
        if sum(name.startswith(f"bench{tag}") for name in names) >= n:
            return
    raise SystemExit(f"only some of the {n} workers answered within {timeout:.0f} s")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)  # our own process group (start_new_session)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _measure(
    n_workers: int, strategy_id: int, user_id: int, candidates: int, env: dict[str, str]
) -> tuple[float, dict]:
    from django.contrib.auth import get_user_model

    from apps.research.models import ParameterSearch
    from apps.research.services.search import search_submit
    from apps.strategies.models import Strategy
    from workers.celery import app

    tag = f"w{n_workers}"
    procs = _start_workers(n_workers, env, tag)
    try:
        _wait_ready(app, n_workers, tag)
        started = time.perf_counter()
        search = search_submit(
            strategy=Strategy.objects.get(pk=strategy_id),
            actor=get_user_model().objects.get(pk=user_id),
            method="random",
            param_space=GRID,
            objective="sharpe",
            settings={"n_samples": candidates},
        )
        while True:
            search.refresh_from_db()
            if search.is_terminal:
                break
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker process exited during the search")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if search.status != "succeeded":
            raise SystemExit(f"search #{search.pk} ended {search.status}")
        runs = list(search.runs.all())
        child = sorted((r.finished_at - r.started_at).total_seconds() for r in runs)
        info = {"search": search.pk, "candidates": len(runs), "child_s_median": child[len(child) // 2]}
        assert ParameterSearch.objects.get(pk=search.pk).results[0]["rank"] == 1
        return elapsed, info
    finally:
        _stop(procs)


def main() -> None:
    args = _args()
    env = _env(args)
    _prepare_database(args.db)
    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL")}
    )
    sys.path.insert(0, str(ROOT))
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    t0 = time.perf_counter()
    strategy_id, user_id = _setup_data()
    print(f"data loaded in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()}", flush=True)
    one, info1 = _measure(1, strategy_id, user_id, args.candidates, env)
    print(f"1 worker:  {one:.2f} s {info1}; load average {os.getloadavg()}", flush=True)
    two, info2 = _measure(2, strategy_id, user_id, args.candidates, env)
    print(f"2 workers: {two:.2f} s {info2}; load average {os.getloadavg()}", flush=True)
    print(
        json.dumps(
            {
                "one_worker_s": round(one, 2),
                "two_workers_s": round(two, 2),
                "speedup": round(one / two, 3),
                "candidates": args.candidates,
                "child_s_median_one_worker": round(info1["child_s_median"], 3),
                "load_average_1m_end": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
