"""`manage.py load_demo_data` on a fresh database: every real fixture lands, the real invalid row
of the Kaggle subset is recorded as a reject, and a second run skips every file by sha256."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.marketdata.models import Bar, ImportRun, Instrument
from apps.universes.models import Membership
from apps.universes.selectors import universe_coverage

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_load_demo_data_then_rerun_skips_everything():
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    text = out.getvalue()
    assert "demo data: 8 file(s) loaded, 0 already present" in text
    assert "load  daily/kaggle_5yr_subset_30sym_2013_2018.csv.gz: partial" in text

    assert Membership.objects.filter(universe__name="sp500").count() == 1240
    assert Bar.objects.filter(frequency="1h", instrument__symbol="SPY").count() == 4944
    assert Bar.objects.filter(frequency="1d", instrument__symbol="SPY").count() == 4482
    assert Bar.objects.filter(frequency="1h", source="aitrader").count() == 17748
    assert Bar.objects.filter(frequency="1d", source="pooksoft").values("instrument").distinct().count() == 10
    assert Instrument.objects.get(symbol="MMM").sector == "Industrials"

    kaggle = ImportRun.objects.get(kind="bars", source="kaggle_5yr")
    assert kaggle.status == "partial" and kaggle.rows_rejected == 1 + 234
    assert any(r["symbol"] == "BHF" and r["ts"] == "2017-07-26" for r in kaggle.rejects)
    # Pooksoft wins the 234 overlapping bars (fixtures/SOURCES.md): loaded whole, first; Kaggle's
    # conflicting rows are recorded as rejects, never counted as already stored.
    pooksoft = ImportRun.objects.get(kind="bars", source="pooksoft")
    assert (pooksoft.status, pooksoft.rows_inserted, pooksoft.rows_existing) == ("succeeded", 8310, 0)
    assert kaggle.rows_existing == 0 and kaggle.rows_inserted == 30871 - 1 - 234
    conflicts = sum(n for reason, n in kaggle.reject_reasons.items() if reason.startswith("conflicts with"))
    assert conflicts == 234 and all("volume" in r for r in kaggle.reject_reasons if r.startswith("conflicts"))
    overlap = Bar.objects.filter(frequency="1d", ts__date__range=(date(2018, 1, 2), date(2018, 2, 8)))
    assert not overlap.filter(instrument__symbol="AAPL").exclude(source="pooksoft").exists()
    assert overlap.get(instrument__symbol="AAPL", ts__date=date(2018, 1, 11)).high == Decimal("175.49")
    membership = ImportRun.objects.get(kind="membership")
    assert membership.status == "succeeded" and membership.rows_inserted == 1240

    # Real coverage: on 2015-06-30 the 30-symbol daily subset covers only some of ~500 members.
    cov = universe_coverage(universe="sp500", at=date(2015, 6, 30), freq="1d")
    assert "AAPL" in cov.with_bars and "ZTS" in cov.missing
    assert cov.counts["members"] == cov.counts["with_bars"] + cov.counts["missing"]

    runs, bars = ImportRun.objects.count(), Bar.objects.count()
    again = StringIO()
    call_command("load_demo_data", stdout=again)
    assert "demo data: 0 file(s) loaded, 8 already present" in again.getvalue()
    assert (ImportRun.objects.count(), Bar.objects.count()) == (runs, bars)
