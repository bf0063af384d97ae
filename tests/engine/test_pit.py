"""The point-in-time as-of join: a value is visible only from its own known_at, restatements never
act retroactively, and releases after the decision time never leak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workers.engine.features.pit import PitError, asof_join

# Decision times: daily bars stamped 16:00 New York = 20:00/21:00 UTC.
INDEX = pd.DatetimeIndex(
    [
        "2021-04-26 20:00",
        "2021-04-27 20:00",
        "2021-04-28 20:00",
        "2021-05-03 20:00",
        "2021-07-29 20:00",
        "2021-08-02 20:00",
    ]
).values
SYMBOLS = ("AAA", "BBB", "CCC")


def rec(symbol, value, event, release, known, field="eps"):
    return {
        "symbol": symbol,
        "field": field,
        "value": value,
        "event_time": event,
        "release_time": release,
        "known_at": known,
    }


RECORDS = pd.DataFrame(
    [
        # AAA Q1 released on the 27th after the close; known (ingested) at 21:30 UTC -> visible from the 28th.
        rec("AAA", 1.00, "2021-03-31", "2021-04-27 20:30", "2021-04-27 21:30"),
        # ... restated on May 1st: visible from the May 3rd bar, never before.
        rec("AAA", 1.10, "2021-03-31", "2021-05-01 12:00", "2021-05-01 12:00"),
        # Q2 released July 29th exactly at the bar stamp: known at the stamp -> visible at that bar.
        rec("AAA", 1.30, "2021-06-30", "2021-07-29 20:00", "2021-07-29 20:00"),
        # A late restatement of Q1 after Q2 is out must not replace the newer quarter.
        rec("AAA", 0.90, "2021-03-31", "2021-07-30 12:00", "2021-07-30 12:00"),
        # BBB: released after the last decision time -> never visible.
        rec("BBB", 5.00, "2021-06-30", "2021-08-03 12:00", "2021-08-03 12:00"),
        # another field and an unknown symbol are ignored
        rec("CCC", 7.00, "2021-03-31", "2021-04-20", "2021-04-20", field="revenue"),
        rec("ZZZ", 9.00, "2021-03-31", "2021-04-20", "2021-04-20"),
    ]
)


def test_asof_join_revisions_and_no_leak():
    out = asof_join(RECORDS, INDEX, SYMBOLS, "eps")
    np.testing.assert_array_equal(out[:, 0], [np.nan, np.nan, 1.00, 1.10, 1.30, 1.30])
    assert np.isnan(out[:, 1]).all() and np.isnan(out[:, 2]).all()
    revenue = asof_join(RECORDS, INDEX, SYMBOLS, "revenue")
    np.testing.assert_array_equal(revenue[:, 2], [7.0] * 6)


def test_asof_join_accepts_tz_aware_times_and_max_age():
    recs = RECORDS.assign(
        known_at=pd.to_datetime(RECORDS["known_at"], format="ISO8601").dt.tz_localize("UTC")
    )
    aware_index = pd.DatetimeIndex(INDEX).tz_localize("UTC")
    np.testing.assert_array_equal(
        asof_join(recs, aware_index, SYMBOLS, "eps"), asof_join(RECORDS, INDEX, SYMBOLS, "eps")
    )
    stale = asof_join(RECORDS, INDEX, SYMBOLS, "eps", max_age=pd.Timedelta(days=3))
    np.testing.assert_array_equal(stale[:, 0], [np.nan, np.nan, 1.00, 1.10, 1.30, np.nan])  # Q2 4 days old
    stale = asof_join(RECORDS, INDEX, SYMBOLS, "eps", max_age=pd.Timedelta(hours=12))
    np.testing.assert_array_equal(stale[:, 0], [np.nan, np.nan, np.nan, np.nan, 1.30, np.nan])


def test_invalid_records_are_refused_with_the_reason():
    early = RECORDS.copy()
    early.loc[0, "known_at"] = "2021-04-27 20:00"  # before its release
    with pytest.raises(PitError, match="known_at before release_time"):
        asof_join(early, INDEX, SYMBOLS, "eps")
    with pytest.raises(PitError, match="missing column"):
        asof_join(RECORDS.drop(columns="release_time"), INDEX, SYMBOLS, "eps")
    bad = RECORDS.astype({"value": object})
    bad.loc[1, "value"] = "n/a"
    with pytest.raises(PitError, match="numeric"):
        asof_join(bad, INDEX, SYMBOLS, "eps")
    assert np.isnan(asof_join(RECORDS.iloc[:0], INDEX, SYMBOLS, "eps")).all()
