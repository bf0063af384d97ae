"""Membership import on the real fixture files: both formats, the fja05680 changes extension,
all-or-nothing validation with errors naming the row, idempotent re-import, an ImportRun each time."""

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from apps.marketdata.models import ImportRun
from apps.universes.models import Membership, Universe
from apps.universes.selectors import universe_members
from apps.universes.services import MembershipImportError, membership_import

from .conftest import FJA_CHANGES, FJA_INTERVALS, INDEX_CONSTITUTION

pytestmark = pytest.mark.django_db


def _spans(symbol: str) -> list[tuple[date, date | None]]:
    return list(Membership.objects.filter(symbol=symbol).values_list("start_date", "end_date"))


def test_fja05680_intervals_with_changes_extend_past_the_interval_file(sp500):
    assert sp500.kind == "membership" and sp500.source == "fja05680"
    assert sp500.file_name == f"{FJA_INTERVALS.name} + {FJA_CHANGES.name}"
    # 1,230 intervals + 106 change events read; 10 events after 2025-07-09 add 10 intervals.
    assert (sp500.rows_read, sp500.rows_inserted, sp500.rows_rejected) == (1336, 1240, 0)
    assert "10 change event(s) applied" in sp500.message and "96 already in it" in sp500.message
    assert Membership.objects.count() == 1240
    # 2025-11-11: add FISV (a re-entry: its first interval closed 2023-06-07), remove FI.
    assert _spans("FISV") == [(date(2001, 4, 2), date(2023, 6, 7)), (date(2025, 11, 11), None)]
    assert _spans("FI") == [(date(2023, 6, 7), date(2025, 11, 11))]
    # 2025-09-22 "APP,HOOD,EME" / "MKTX,CZR,ENPH": quoted lists are split.
    assert _spans("HOOD") == [(date(2025, 9, 22), None)]
    assert _spans("MKTX") == [(date(2019, 7, 1), date(2025, 9, 22))]
    # 2025-10-30 add SOLS with an empty remove cell.
    assert _spans("SOLS") == [(date(2025, 10, 30), None)]
    assert len(universe_members("sp500", date(2025, 11, 12))) == 503
    assert 495 <= len(universe_members("sp500", date(2015, 6, 30))) <= 510


def test_reimport_is_idempotent_and_replace_updates_in_place(db):
    first = membership_import(universe_name="sp500", path=FJA_INTERVALS)
    assert (first.rows_inserted, first.rows_existing) == (1230, 0)
    ids = dict(Membership.objects.values_list("pk", "end_date"))

    again = membership_import(universe_name="sp500", path=FJA_INTERVALS)
    assert again.status == "succeeded"
    assert (again.rows_inserted, again.rows_existing) == (0, 1230)
    assert again.message.startswith("sp500: 0 inserted, 0 updated, 0 deleted, 1230 unchanged")
    assert dict(Membership.objects.values_list("pk", "end_date")) == ids

    # The same intervals extended by the changes: 10 removals close open rows in place, 10 adds insert.
    extended = membership_import(universe_name="sp500", path=FJA_INTERVALS, changes_path=FJA_CHANGES)
    assert extended.message.startswith("sp500: 10 inserted, 10 updated, 0 deleted, 1220 unchanged")
    assert extended.file_sha256 != first.file_sha256
    # Replace semantics: going back to the interval file alone restores it exactly.
    back = membership_import(universe_name="sp500", path=FJA_INTERVALS)
    assert back.message.startswith("sp500: 0 inserted, 10 updated, 10 deleted, 1220 unchanged")
    assert dict(Membership.objects.values_list("pk", "end_date")) == ids
    assert ImportRun.objects.filter(kind="membership", status="succeeded").count() == 4


def test_index_constitution_real_file_is_rejected_naming_its_bad_rows(db):
    with pytest.raises(MembershipImportError) as err:
        membership_import(universe_name="sp500", path=INDEX_CONSTITUTION, fmt="index_constitution")
    msg = str(err.value)
    assert msg.startswith("7 invalid row(s), nothing written")
    assert (
        "index_constitution_sp500_history.csv line 88 AYE: opt-out 1976-07-01 is not after opt-in 1976-07-01"
        in msg
    )
    assert "line 57 AN: interval [1976-07-01, 2017-08-08) overlaps [1976-07-01, 1998-12-11)" in msg
    assert not Membership.objects.exists() and not Universe.objects.exists()
    run = err.value.run
    assert run.pk and run.status == "rejected" and run.rows_rejected == 7
    assert run.reject_reasons == {"end_not_after_start": 3, "overlap": 4}
    assert {"file", "row", "symbol", "ts", "reason"} <= set(run.rejects[0])


def test_index_constitution_with_skip_invalid_imports_the_rest(db):
    run = membership_import(
        universe_name="sp500-ic", path=INDEX_CONSTITUTION, fmt="index_constitution", skip_invalid=True
    )
    assert run.status == "partial"
    assert (run.rows_read, run.rows_valid, run.rows_rejected, run.rows_inserted) == (889, 882, 7, 882)
    # The first of two overlapping AN rows (Amoco) is kept; AutoNation's is reported, not merged.
    assert _spans("AN") == [(date(1976, 7, 1), date(1998, 12, 11))]
    assert "AAPL" in universe_members("sp500-ic", date(2020, 1, 2))
    again = membership_import(
        universe_name="sp500-ic", path=INDEX_CONSTITUTION, fmt="index_constitution", skip_invalid=True
    )
    assert (again.rows_inserted, again.rows_existing) == (0, 882)


def _real_rows_plus(tmp_path, *extra: str):
    """The real interval file with extra lines appended (line numbers 1232, 1233, ...)."""
    path = tmp_path / "intervals.csv"
    path.write_text(FJA_INTERVALS.read_text().rstrip("\n") + "\n" + "\n".join(extra) + "\n")
    return path


def test_overlap_is_rejected_with_a_clear_message_and_nothing_written(sp500, tmp_path):
    before = list(Membership.objects.values_list("pk", "symbol", "start_date", "end_date"))
    # JNPR was a member 2006-06-02..2025-07-09; a second interval starting inside it overlaps.
    path = _real_rows_plus(tmp_path, "JNPR,2010-01-04,2012-01-03")
    with pytest.raises(
        MembershipImportError,
        match=r"intervals.csv line 1232 JNPR: interval \[2010-01-04, "
        r"2012-01-03\) overlaps \[2006-06-02, 2025-07-09\) from intervals.csv line \d+",
    ):
        membership_import(universe_name="sp500", path=path)
    assert list(Membership.objects.values_list("pk", "symbol", "start_date", "end_date")) == before


def test_adjacent_intervals_are_not_an_overlap(db, tmp_path):
    # [2006-06-02, 2025-07-09) then [2025-07-09, open): JNPR leaves and re-enters the same day.
    run = membership_import(universe_name="sp500", path=_real_rows_plus(tmp_path, "JNPR,2025-07-09,"))
    assert run.status == "succeeded"
    assert "JNPR" in universe_members("sp500", date(2025, 7, 9))


def test_unparseable_date_and_reversed_interval_name_their_lines(db, tmp_path):
    path = _real_rows_plus(tmp_path, "ZZZ,2020-13-01,", "YYY,2020-05-01,2020-04-30")
    with pytest.raises(MembershipImportError) as err:
        membership_import(universe_name="sp500", path=path)
    msg = str(err.value)
    assert "line 1232 ZZZ: start_date '2020-13-01' is not a YYYY-MM-DD date" in msg
    assert "line 1233 YYY: end_date 2020-04-30 is not after start_date 2020-05-01" in msg


def test_a_symbol_outside_the_ticker_character_set_names_its_line(db, tmp_path):
    path = _real_rows_plus(tmp_path, "AA;PL,2020-01-02,", "BF-X_Y.Z,2020-01-02,2020-02-03")
    with pytest.raises(MembershipImportError) as err:
        membership_import(universe_name="sp500", path=path)
    msg = str(err.value)
    assert "line 1232" in msg and "symbol 'AA;PL' is not a ticker: has characters outside A-Z, 0-9" in msg
    assert "line 1233" not in msg


def test_change_removing_a_non_member_is_rejected(db, tmp_path):
    changes = tmp_path / "changes.csv"
    changes.write_text(FJA_CHANGES.read_text() + '2025-12-01,"NEWCO","NOTAMEMBER"\n')
    with pytest.raises(
        MembershipImportError,
        match="changes.csv line 108 NOTAMEMBER: removed on 2025-12-01 but has no open interval",
    ):
        membership_import(universe_name="sp500", path=FJA_INTERVALS, changes_path=changes)
    assert not Membership.objects.exists()


def test_missing_columns_are_a_clear_file_error(db, tmp_path):
    with pytest.raises(MembershipImportError, match="missing column.*ticker, start_date, end_date"):
        membership_import(universe_name="sp500", path=INDEX_CONSTITUTION, fmt="fja05680")


def test_merge_keeps_other_rows_but_refuses_overlaps(sp500, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text("ticker,start_date,end_date\nNEWCO,2026-01-02,\n")
    run = membership_import(universe_name="sp500", path=extra, mode="merge")
    assert run.rows_inserted == 1 and Membership.objects.count() == 1241
    clash = tmp_path / "clash.csv"
    clash.write_text("ticker,start_date,end_date\nAAPL,2020-01-02,\n")
    with pytest.raises(
        MembershipImportError,
        match=r"(?s)merge would overlap existing memberships.*clash.csv line 2 AAPL: interval \[2020-01-02, open\) overlaps the existing",
    ):
        membership_import(universe_name="sp500", path=clash, mode="merge")
    assert Membership.objects.count() == 1241


def test_command_imports_and_reports_errors(db, tmp_path):
    call_command(
        "import_membership", str(FJA_INTERVALS), "--universe", "sp500", "--changes", str(FJA_CHANGES)
    )
    assert Membership.objects.count() == 1240
    with pytest.raises(CommandError, match="7 invalid row"):
        call_command("import_membership", str(INDEX_CONSTITUTION), "--format", "index_constitution")
    with pytest.raises(CommandError, match="file not found"):
        call_command("import_membership", str(tmp_path / "nope.csv"))


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="exclusion constraints exist on PostgreSQL only"
)
def test_postgres_exclusion_constraint_refuses_overlaps_written_around_the_service(sp500):
    universe = Universe.objects.get(name="sp500")
    with pytest.raises(IntegrityError, match="membership_no_overlap"), transaction.atomic():
        Membership.objects.create(universe=universe, symbol="JNPR", start_date=date(2010, 1, 4))
    # Adjacent is fine: [2006-06-02, 2025-07-09) then [2025-07-09, open).
    Membership.objects.create(universe=universe, symbol="JNPR", start_date=date(2025, 7, 9))
