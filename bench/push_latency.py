"""Push latency of the cockpit (issue 11): from the commit of a fill to each websocket client
receiving it.

Setup (PostgreSQL + Redis, never the desk's own databases): a throwaway database (`--db`, default
hg_push_run, dropped and re-created, migrated) and a spare Redis db (`--redis-db`, default 12,
flushed). `--accounts` paper accounts, each with one large working buy order, and a trader whose
session cookie the clients present (with the server's Origin). The server is daphne in a
subprocess serving tradingsite.asgi:application (production-style: one ASGI process, Redis
channel layer). `--clients` websocket clients (spread evenly over the accounts) connect to
/ws/cockpit/<account>/ from a second process.

The desk then publishes `--rate` updates/s per account for `--seconds` through the real service:
`fill_record` of a fill of the working order (its transaction announces the fill and the order's
change). The time is taken right after fill_record returns (after the commit) and matched to each
client's receive time by execution id. `dropped` = fills a client should have received and did
not, plus sequence gaps seen by any client. Targets: p95 <= 25 ms, 0 dropped.

Run: nice /work/main/.venv/bin/python bench/push_latency.py [--clients 50 --accounts 2 --servers 2 --rate 10
--seconds 30]. Last line: JSON {"clients", "rate_hz", "p50_ms", "p95_ms", "dropped", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = "postgres://postgres@127.0.0.1:5432"


def _free_port(start: int) -> int:
    for port in range(start, start + 9):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise SystemExit(f"no free port in {start}..{start + 8}")


def _setup_db(name: str, redis_db: int) -> None:
    import psycopg
    import redis

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{redis_db}").flushdb()


def _desk(n_accounts: int):
    """Accounts with one working order each and a trader's session cookie."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from apps.accounts.roles import ADMIN, TRADER
    from apps.accounts.services import roles_sync
    from apps.trading.brokers.base import OrderStatus
    from apps.trading.models import Order, TradingAccount
    from apps.trading.services import trading_account_create

    call_command("migrate", verbosity=0)
    roles_sync()
    users = get_user_model().objects
    admin = users.create_user("bench-admin", password="bench-admin-pw")
    admin.groups.add(Group.objects.get(name=ADMIN))
    trader = users.create_user("bench-trader", password="bench-trader-pw")
    trader.groups.add(Group.objects.get(name=TRADER))
    bar = dt.datetime(2026, 12, 7, 15, tzinfo=dt.UTC)
    accounts = []
    for k in range(n_accounts):
        account = trading_account_create(
            by=admin,
            name=f"bench-{k}",
            broker_kind="paper",
            endpoint="paper",
            starting_cash=Decimal("100000000"),
        )
        # The working order the fills are for (setup, not measured: the service path is the fill's).
        order = Order.objects.create(
            account=account,
            bar_time=bar,
            symbol="AAPL",
            side="buy",
            qty=Decimal("1000000"),
            type="limit",
            limit_price=Decimal("250.00"),
            client_order_id=f"bench-{k}-AAPL",
            status=OrderStatus.ACCEPTED,
        )
        accounts.append((TradingAccount.objects.get(pk=account.pk), order))
    client = Client()
    client.force_login(trader)
    return accounts, client.cookies["sessionid"].value


async def _clients(args) -> None:
    """The client process: connect, report ready, record (execution id, seq, receive time)."""
    import websockets

    urls = json.loads(args.urls)
    out: list[list] = []
    gaps = 0
    ready = asyncio.Event()
    connected = 0

    async def one(k: int, url: str) -> None:
        nonlocal gaps, connected
        headers = {"Cookie": f"sessionid={args.session}", "Origin": args.origin}
        async with websockets.connect(url, additional_headers=headers, max_queue=None) as ws:
            connected += 1
            if connected == len(urls):
                ready.set()
            last: dict[str, int] = {}
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                payload = message["payload"]
                stream, seq = payload["stream"], payload["seq"]
                if stream in last and seq != last[stream] + 1:
                    gaps += 1
                last[stream] = seq
                if message["event"] == "fill":
                    out.append([k, payload["fill"]["execution_id"], now])
                elif message["event"] == "bench.stop":
                    return

    tasks = [asyncio.create_task(one(k, url)) for k, url in enumerate(urls)]
    await asyncio.wait_for(ready.wait(), 60)
    print("READY", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + 60)
    for t in done:
        if t.exception():
            raise t.exception()
    Path(args.out).write_text(json.dumps({"received": out, "gaps": gaps, "unfinished": len(pending)}))


def _writer(a: int, order, args, queue) -> None:
    """One account's writer: `rate` fills per second through fill_record for `seconds`."""
    import datetime as dt
    from decimal import Decimal

    from django.db import connection, transaction

    from apps.trading.brokers.base import BrokerFill
    from apps.trading.services import fill_record

    committed: dict[str, float] = {}
    interval = 1.0 / args.rate
    late = 0
    bar = dt.datetime(2026, 12, 7, 15, tzinfo=dt.UTC)
    cpu0 = time.process_time()
    start = time.perf_counter() + a * interval / max(args.accounts, 1)  # the writers interleave
    for i in range(int(args.seconds * args.rate)):
        wait = start + i * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif wait < -interval:
            late += 1
        execution_id = f"X-{a}-{i}"
        fill = BrokerFill(
            execution_id=execution_id,
            broker_order_id="",
            client_order_id=order.client_order_id,
            symbol="AAPL",
            side="buy",
            qty=Decimal("1"),
            price=Decimal("249.50"),
            fee=Decimal("0"),
            at=bar,
        )
        with transaction.atomic():
            # The first callback after COMMIT (before the messages' own): the commit's time.
            transaction.on_commit(lambda e=execution_id: committed.__setitem__(e, time.time()))
            fill_record(order=order, fill=fill, source="bench")
    elapsed = time.perf_counter() - start
    connection.close()
    queue.put(
        {
            "account": a,
            "committed": committed,
            "late": late,
            "elapsed": elapsed,
            "cpu": time.process_time() - cpu0,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="hg_push_run")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--port", type=int, default=8651)
    parser.add_argument("--servers", type=int, default=2, help="daphne processes (ports from --port)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="fills per second per account")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--client-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_process:
        asyncio.run(_clients(args))
        return

    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_BASE}/{args.db}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "DJANGO_SETTINGS_MODULE": "tradingsite.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    _setup_db(args.db, args.redis_db)
    import django

    django.setup()
    from django.db import connection, connections, transaction

    accounts, session = _desk(args.accounts)
    ports = []
    for _ in range(args.servers):
        ports.append(_free_port(ports[-1] + 1 if ports else args.port))
    origin = f"http://127.0.0.1:{ports[0]}"  # the Origin check compares the host, not the port
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "tradingsite.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    client_proc = None
    try:
        deadline = time.time() + 60
        for server, port in zip(servers, ports, strict=True):
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"daphne did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.2)
        # Clients spread over the accounts and over the server processes (as behind a proxy).
        urls = [
            f"ws://127.0.0.1:{ports[k % len(ports)]}/ws/cockpit/{accounts[k % len(accounts)][0].name}/"
            for k in range(args.clients)
        ]
        out = Path(tempfile.mkdtemp()) / "received.json"
        client_proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client-process",
                f"--urls={json.dumps(urls)}",
                f"--session={session}",
                f"--origin={origin}",
                f"--out={out}",
                f"--seconds={args.seconds}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        if client_proc.stdout.readline().strip() != "READY":
            raise SystemExit("the clients did not connect")
        time.sleep(1.0)  # the last group_add settles

        # The desk: one writer process per account (as each account's fills arrive through its own
        # worker), `rate` fills per second each on a fixed schedule.
        connections.close_all()  # the writers fork: each opens its own connection
        queue = multiprocessing.get_context("fork").Queue()
        writers = [
            multiprocessing.get_context("fork").Process(target=_writer, args=(a, order, args, queue))
            for a, (_account, order) in enumerate(accounts)
        ]
        for w in writers:
            w.start()
        reports = [queue.get(timeout=args.seconds * 10 + 120) for _ in writers]
        for w in writers:
            w.join()
        committed = {e: (r["account"], t) for r in reports for e, t in r["committed"].items()}
        n = len(committed)
        elapsed = max(r["elapsed"] for r in reports)
        late = sum(r["late"] for r in reports)
        publish_cpu = sum(r["cpu"] for r in reports)
        # Tell the clients to stop: one message per stream after everything else.
        from apps.core.realtime import account_stream, stream_publish

        with transaction.atomic():
            for account, _order in accounts:
                stream_publish(stream=account_stream(account.pk), event="bench.stop", payload={})
        client_proc.wait(timeout=120)
        result = json.loads(out.read_text())
    finally:
        if client_proc is not None and client_proc.poll() is None:
            client_proc.kill()
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        connection.close()

    latencies = []
    got: set[tuple[int, str]] = set()
    for k, execution_id, t in result["received"]:
        a, committed_at = committed[execution_id]
        latencies.append((t - committed_at) * 1000.0)
        got.add((k, execution_id))
    expected = {
        (k, e) for e, (a, _t) in committed.items() for k in range(args.clients) if k % len(accounts) == a
    }
    missing = len(expected - got)
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2) if latencies else None

    print(
        f"{n} fills over {elapsed:.1f} s to {args.clients} clients on {len(accounts)} accounts: "
        f"{len(latencies)} deliveries, {missing} missing, {result['gaps']} sequence gaps, {late} fills late"
    )
    print(
        json.dumps(
            {
                "clients": args.clients,
                "rate_hz": args.rate,
                "p50_ms": pct(0.50),
                "p95_ms": pct(0.95),
                "dropped": missing + result["gaps"],
                "accounts": len(accounts),
                "servers": args.servers,
                "fills": n,
                "deliveries": len(latencies),
                "p99_ms": pct(0.99),
                "max_ms": round(latencies[-1], 2) if latencies else None,
                "achieved_fills_per_s": round(n / elapsed, 1),
                "fills_late": late,
                "publisher_cpu_ms_per_fill": round(publish_cpu / max(n, 1) * 1000.0, 2),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
