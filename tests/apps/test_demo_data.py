"""`manage.py load_demo_data` on a fresh database: every real fixture lands, the real invalid row
of the Kaggle subset and its bars that conflict with Pooksoft's are recorded as rejects, and a
second run skips every file by sha256. And the demo desk (`rundesk --demo`) runs quietly."""

import time
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.marketdata.models import Bar, ImportRun, Instrument
from apps.universes.models import Membership
from apps.universes.selectors import universe_coverage

# The desk test uses no test database on purpose: pytest-django runs database-free tests last, so
# its session-wide Playwright event loop starts after the async_to_sync tests of the other apps.
pytestmark = pytest.mark.slow


@pytest.mark.django_db
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


@pytest.mark.browser
def test_a_quiet_demo_desk_logs_no_noise(demo_desk, chromium):
    """`rundesk --demo` (what `make demo` runs) on a fresh SQLite file: healthy, then ~20 s of a
    quiet desk with a browser visit. The log has no kombu "No hostname was supplied" warning and no
    404 (the pages link a real favicon)."""
    base, log_path = demo_desk.url, demo_desk.log_path
    failed: list[str] = []
    quiet_until = time.monotonic() + 20
    context = chromium.new_context()
    page = context.new_page()
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "victor")
    page.fill("input[name=password]", "victor-hourglass")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{base}/data/")
    page.wait_for_load_state("networkidle")
    icon = page.get_attribute("link[rel=icon]", "href")
    icon_resp = page.request.get(f"{base}{icon}")
    assert icon_resp.status == 200 and icon_resp.headers["content-type"].startswith("image/svg")
    context.close()
    time.sleep(max(0.0, quiet_until - time.monotonic()))
    text = log_path.read_text()
    # /healthz answered 200, so the heartbeat task ran; its routine per-task lines stay out of the log.
    assert "embedded celery worker started" in text
    assert "worker_heartbeat" not in text and "Sending due task" not in text, text[-3000:]
    assert "No hostname was supplied" not in text
    assert not [line for line in text.splitlines() if '" 404 ' in line], text[-3000:]
    assert failed == []


@pytest.mark.django_db
def test_rundesk_demo_readies_the_database_once_then_only_checks(settings, monkeypatch):
    """The second start neither migrates, nor reloads a fixture, nor re-hashes the demo passwords,
    nor re-creates the demo paper account (tests/apps/live/test_demo_desk.py: nothing written)."""
    from django.contrib.auth import get_user_model

    from apps.core.management.commands import rundesk
    from tradingsite.settings import demo

    settings.DEMO_MODE = True
    settings.STRATEGY_GATES = demo.STRATEGY_GATES
    first, again = StringIO(), StringIO()
    rundesk.Command(stdout=first)._demo_ready()
    assert "migrate: the database is up to date" in first.getvalue()  # the test database is migrated
    assert "demo data: 8 file(s) loaded" in first.getvalue() and "victor-hourglass" in first.getvalue()
    assert "paper account demo-paper opened by ada" in first.getvalue()
    hashes = dict(get_user_model().objects.values_list("username", "password"))
    allowed = ("load_demo_data", "demo_paper_desk")
    monkeypatch.setattr(rundesk, "call_command", _refuse_except(allowed, rundesk.call_command))
    rundesk.Command(stdout=again)._demo_ready()
    assert "demo data: 0 file(s) loaded, 8 already present" in again.getvalue()
    assert "demo users present: victor, alice, quinn, rita, bob, ada" in again.getvalue()
    assert "demo paper account present: demo-paper trades demo-mean-reversion v1 (paper)" in again.getvalue()
    assert dict(get_user_model().objects.values_list("username", "password")) == hashes
    assert rundesk.unapplied_migrations() == 0


def _refuse_except(allowed: tuple[str, ...], call):
    def guarded(name, *args, **kwargs):
        assert name in allowed, f"a second start must not run {name}"
        return call(name, *args, **kwargs)

    return guarded
