"""The cockpit's fixtures: the desk's personas and a paper account that has traded: real hourly
bars (tests/apps/live/cycle_support.py), cycles run by `cycle_run` on the simulated venue, so
orders, fills, positions, cycles and reconciliations are the desk's own."""

from __future__ import annotations

import pytest

from apps.live.cycle.run import cycle_run
from tests.apps.live.cycle_support import import_fixture, paper_desk
from tests.apps.strategies.conftest import _fast_passwords  # noqa: F401 - autouse fixture
from tests.apps.trading.conftest import people  # noqa: F401 - fixture

WARMUP = 12  # bars before the first cycle (momentum's lookback has history behind it)
CYCLES = 4


@pytest.fixture
def traded(people, tmp_path):  # noqa: F811 - the imported fixture
    """(account, version, runs): a paper account after CYCLES hourly cycles."""
    stamps = import_fixture(tmp_path, days=6)
    account, version = paper_desk(people)
    runs = []
    for bar in stamps[WARMUP : WARMUP + CYCLES]:
        run = cycle_run(account=account, bar_time=bar, trigger="manual")
        assert run.status == "succeeded", (run.reason, run.error)
        runs.append(run)
    return account, version, runs
