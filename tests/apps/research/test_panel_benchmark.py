"""The engine adapter's daily benchmark path: SPY daily bars of the real fixture give a close AND an
open series (the labels' open-to-open benchmark), aligned to the panel's stamps."""

import datetime as dt
import gzip

import numpy as np
import pytest

from apps.marketdata.services import bars_import
from apps.research.services.panel import panel_build

from .conftest import FIXTURES

SPY_DAILY = FIXTURES / "daily" / "spy_daily_from_finfeatures_2004_2021.csv.gz"


@pytest.mark.django_db
def test_daily_panel_takes_spy_daily_open_and_close(tiny_data, tmp_path):
    subset = tmp_path / "spy.csv"
    with gzip.open(SPY_DAILY, "rt") as src, subset.open("w") as dst:
        for i, line in enumerate(src):
            if i == 0 or "2016-01-01" <= line.split(",")[1] < "2018-01-01":
                dst.write(line)
    run = bars_import(path=subset, freq="1d", source="finfeatures")
    assert run.status == "succeeded", run.message

    build = panel_build(universe=tiny_data, frequency="1d", start=dt.date(2016, 1, 1), end=dt.date(2018, 1, 1))
    panel = build.panel
    assert panel.benchmark_open is not None
    assert np.isfinite(panel.benchmark).all() and np.isfinite(panel.benchmark_open).all()
    # 2016-01-04, the first session: SPY opened 200.22 and closed 201.45 in the fixture.
    first_row = subset.read_text().splitlines()[1].split(",")
    assert panel.benchmark_open[0] == pytest.approx(float(first_row[2]))
    assert panel.benchmark[0] == pytest.approx(float(first_row[5]))
    assert "SPY" not in panel.symbols
