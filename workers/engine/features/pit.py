"""Point-in-time contract for vendor data (fundamentals, macro, sentiment, analyst estimates).

No vendor data ships with Hourglass, so nothing here is enabled by default; this is the plug the
data has to fit. One record is one value of one field for one entity, with three times:
  - event_time:   the period or moment the value describes (fiscal quarter end, CPI month);
  - release_time: when the vendor/issuer published it;
  - known_at:     when WE could have had it (release + ingestion delay) — the only time that
                  decides visibility. known_at >= release_time >= event_time.
A restatement is a new record for the same (symbol, field, event_time) with a later known_at: it
replaces the old value only from its own known_at on, never retroactively.

`asof_join` turns records into a (T, N) array on the panel's bar stamps: at bar t (stamped at its
end, the decision time) the value is the one for the LATEST event_time among records with
known_at <= stamp, and among several records for that event_time (restatements) the latest known.
A late restatement of an OLDER period therefore never overrides a newer period's value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RECORD_COLUMNS = ("symbol", "field", "value", "event_time", "release_time", "known_at")
_TIME_COLUMNS = ("event_time", "release_time", "known_at")


class PitError(ValueError):
    """Records that violate the point-in-time contract, with the reason."""


def _utc_naive(values: pd.Series | np.ndarray | pd.DatetimeIndex) -> pd.Series:
    """Timestamps as naive UTC datetime64[ns] (the Panel's index convention); naive input is UTC."""
    ts = pd.to_datetime(pd.Series(values), utc=True, format="ISO8601")
    return ts.dt.tz_localize(None).astype("datetime64[ns]")


def validate_records(records: pd.DataFrame) -> pd.DataFrame:
    """A clean copy of `records`, or PitError naming the first problem (missing column, bad time,
    known_at before release_time, release before the event, non-numeric value)."""
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise PitError(f"records are missing column(s) {missing}; expected {list(RECORD_COLUMNS)}")
    out = records.loc[:, list(RECORD_COLUMNS)].copy()
    for col in _TIME_COLUMNS:
        try:
            out[col] = _utc_naive(out[col]).to_numpy()
        except (ValueError, TypeError) as exc:
            raise PitError(f"column {col!r} has values that are not timestamps: {exc}") from exc
        if out[col].isna().any():
            raise PitError(f"column {col!r} has missing timestamps (row {int(np.argmax(out[col].isna()))})")
    bad = out["known_at"] < out["release_time"]
    if bad.any():
        raise PitError(
            f"known_at before release_time at row {int(np.argmax(bad))}: data cannot be known early"
        )
    bad = out["release_time"] < out["event_time"]
    if bad.any():
        raise PitError(f"release_time before event_time at row {int(np.argmax(bad))}")
    try:
        out["value"] = pd.to_numeric(out["value"]).astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise PitError(f"column 'value' must be numeric: {exc}") from exc
    out["symbol"] = out["symbol"].astype(str)
    out["field"] = out["field"].astype(str)
    return out


def asof_join(
    records: pd.DataFrame,
    index: np.ndarray | pd.DatetimeIndex,
    symbols: tuple[str, ...] | list[str],
    field: str,
    *,
    max_age: pd.Timedelta | None = None,
) -> np.ndarray:
    """(T, N) float64 values of `field` as known at each bar stamp in `index` (naive UTC or tz-aware);
    NaN before anything is known, for symbols without records, and (with `max_age`) when the latest
    known record's known_at is older than max_age at the decision time."""
    recs = validate_records(records)
    recs = recs[(recs["field"] == field) & recs["symbol"].isin(set(symbols))]
    stamps = _utc_naive(pd.DatetimeIndex(index))
    T, N = len(stamps), len(symbols)
    out = np.full((T, N), np.nan)
    if recs.empty or T == 0:
        return out
    # Effective records: in known_at order per symbol, a record takes over only if its event_time is
    # not older than any event already known (a late restatement of an old period stays invisible).
    recs = recs.sort_values(["symbol", "known_at", "event_time"], kind="stable")
    newest_event = recs.groupby("symbol", sort=False)["event_time"].cummax()
    recs = recs[recs["event_time"] >= newest_event]
    left = pd.DataFrame(
        {
            "known_at": np.repeat(stamps.to_numpy(), N),
            "symbol": np.tile(np.asarray(symbols, dtype=object), T),
            "row": np.arange(T * N),
        }
    ).sort_values("known_at", kind="stable")
    right = recs[["known_at", "symbol", "value"]].sort_values("known_at", kind="stable")
    merged = pd.merge_asof(
        left,
        right,
        on="known_at",
        by="symbol",
        direction="backward",
        allow_exact_matches=True,
        tolerance=max_age,
    )
    flat = out.reshape(-1)
    flat[merged["row"].to_numpy()] = merged["value"].to_numpy(dtype=np.float64)
    return out
