"""The engine adapter's daily benchmark path: SPY daily bars of the real fixture give a close AND an
open series (the labels' open-to-open benchmark), aligned to the panel's stamps."""

import datetime as dt
import gzip

import numpy as np
import pytest

from apps.marketdata.selectors.panel import panel_build
from apps.marketdata.services import bars_import

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

    build = panel_build(
        universe=tiny_data, frequency="1d", start=dt.date(2016, 1, 1), end=dt.date(2018, 1, 1)
    )
    panel = build.panel
    assert panel.benchmark_open is not None
    assert np.isfinite(panel.benchmark).all() and np.isfinite(panel.benchmark_open).all()
    # 2016-01-04, the first session: SPY opened 200.22 and closed 201.45 in the fixture.
    first_row = subset.read_text().splitlines()[1].split(",")
    assert panel.benchmark_open[0] == pytest.approx(float(first_row[2]))
    assert panel.benchmark[0] == pytest.approx(float(first_row[5]))
    assert "SPY" not in panel.symbols


@pytest.mark.django_db
def test_daily_panel_is_split_adjusted_from_stored_corporate_actions(db, tmp_path):
    """AAPL's 4:1 split of 2020-08-31 (a CorporateAction row from the real pooksoft fixture) must not
    show as a -75% day in the panel the engine sees; the raw bars in the database stay raw."""
    from apps.marketdata.models import Bar, CorporateAction
    from apps.universes.models import Membership, Universe

    src = FIXTURES / "daily" / "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz"
    subset = tmp_path / "aapl.csv"
    with gzip.open(src, "rt") as fh, subset.open("w") as out:
        for i, line in enumerate(fh):
            if i == 0 or (line.startswith("AAPL,") and "2020-08-01" <= line.split(",")[1] < "2020-10-01"):
                out.write(line)
    assert bars_import(path=subset, freq="1d", source="pooksoft").status == "succeeded"
    split = CorporateAction.objects.get(instrument__symbol="AAPL", kind="split")
    assert (str(split.ex_date), float(split.value)) == ("2020-08-31", 4.0)
    universe = Universe.objects.create(name="one")
    Membership.objects.create(universe=universe, symbol="AAPL", start_date=dt.date(2000, 1, 1))

    panel = panel_build(
        universe=universe, frequency="1d", start=dt.date(2020, 8, 1), end=dt.date(2020, 10, 1)
    ).panel
    returns = panel.close[1:, 0] / panel.close[:-1, 0] - 1
    assert np.nanmin(returns) > -0.15  # raw data: about -74% on 2020-08-31
    raw_before = float(Bar.objects.get(instrument__symbol="AAPL", ts__date=dt.date(2020, 8, 28)).close)
    assert raw_before > 450  # stored raw, untouched
    i = int(np.where(panel.index.astype("datetime64[D]") == np.datetime64("2020-08-28"))[0][0])
    assert panel.close[i, 0] == pytest.approx(raw_before / 4)
    # The as-traded price known at the time is kept beside the adjusted one (the min-price filter
    # reads it): 4x the adjusted close before the ex-date, the close itself from it on.
    assert panel.split_factor is not None
    assert panel.split_factor[i, 0] == 4.0 and panel.split_factor[-1, 0] == 1.0
    assert panel.as_traded_close(i)[0] == pytest.approx(raw_before, rel=1e-12)
    # Decided before the split was known (as_of before the ex-date): nothing to undo.
    early = panel_build(
        universe=universe,
        frequency="1d",
        start=dt.date(2020, 8, 1),
        end=dt.date(2020, 10, 1),
        as_of=dt.datetime(2020, 8, 29, tzinfo=dt.UTC),
    ).panel
    assert early.split_factor is None
    assert early.as_traded_close(len(early.index) - 1)[0] == pytest.approx(raw_before)
