"""On PostgreSQL (real concurrent connections): STOP pressed while another thread submits orders
in a loop: no order reaches the broker once the STOP has committed; the state survives a restart
(a new process reads it from the database)."""

from __future__ import annotations

import datetime as dt
import json
import os
import string
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.live.machine import State
from apps.live.models import KillSwitch
from apps.live.services import killswitch_stop
from apps.trading.models import Order
from apps.trading.services import order_submit, risk_limits_update

from .brokers import InMemoryBroker
from .conftest import BAR, create

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs concurrent PostgreSQL connections; run with DATABASE_URL=postgres://...",
    ),
]


# One name per order (the duplicate-order check refuses a second open buy of the same name).
SYMBOLS = [a + b + c for a in "XY" for b in string.ascii_uppercase for c in string.ascii_uppercase][:400]


@pytest.mark.parametrize("desk", [False, True], ids=["account", "desk"])
def test_no_order_leaves_after_stop_commits(people, account, paper_version, desk):
    risk_limits_update(
        by=people["rita"], account=account, changes={"max_messages_per_minute": 100000}, reason="load test"
    )
    seen_stopped: list[str] = []

    def on_submit(request):
        # Runs in the submitter's thread, at the broker: a committed STOP visible here is a bug.
        state = KillSwitch.objects.filter(desk=True) if desk else KillSwitch.objects.filter(account=account)
        if state.exclude(state=State.ACTIVE).exists():
            seen_stopped.append(request.client_order_id)

    broker = InMemoryBroker(submit_delay_s=0.003, on_submit=on_submit)
    stop_done = threading.Event()
    after_stop = {"n": 0}
    times: dict[str, float] = {}
    errors: list[BaseException] = []

    def submitter():
        try:
            for i, symbol in enumerate(SYMBOLS):
                order = create(
                    account,
                    paper_version,
                    symbol=symbol,
                    qty=Decimal(1),
                    marks={symbol: Decimal(200)},
                    bar_time=BAR + dt.timedelta(hours=i),
                )
                order_submit(order=order, broker=broker)
                if stop_done.is_set():
                    after_stop["n"] += 1
                    if after_stop["n"] >= 20:
                        return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def stopper():
        try:
            while len(broker.submitted) < 25:
                time.sleep(0.001)
            times["pressed"] = time.time()
            killswitch_stop(by=people["alice"], account=None if desk else account, reason="race")
            times["returned"] = time.time()
            stop_done.set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop_done.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=submitter), threading.Thread(target=stopper)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert "returned" in times, (
        len(broker.submitted),
        list(Order.objects.values_list("status", "reason_code")[:3]),
    )
    assert seen_stopped == [], f"sent after the STOP committed: {seen_stopped}"
    late = [r.client_order_id for t, r in broker.submitted if t >= times["returned"]]
    assert late == []
    refused = Order.objects.filter(reason_code="kill_switch").count()
    assert refused >= 20 and len(broker.submitted) >= 25
    print(
        f"STOP effective in {1000 * (times['returned'] - times['pressed']):.1f} ms; "
        f"{len(broker.submitted)} sent before, {refused} refused after"
    )


def test_state_survives_a_restart(people, account):
    killswitch_stop(by=people["alice"], account=account, reason="overnight")
    killswitch_stop(by=people["rita"], account=None, reason="desk closed")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", ""),
    }
    env = {k: v for k, v in env.items() if v}
    root = Path(settings.BASE_DIR)
    out = subprocess.run(
        [sys.executable, "manage.py", "killswitch", "status", "--account", account.name],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "account": account.name,
        "state": "stopped",
        "account_state": "stopped",
        "desk_state": "stopped",
    }
