"""The file's bars that are already stored, compared in bulk: identical ones are "already stored",
the others are conflicts (the file says something else about a bar the desk already has).

A conflict is never counted as already stored and never overwrites the stored bar: research and
any run that read the stored values would silently disagree with the database afterwards. The
caller rejects the file (the default) or, with skip-invalid, skips those rows and reports each.

Prices are compared as integer micro-units, exactly as stored (numeric(18, 6)): the file's side
is the very integer the writer would send (`writing.price_micros`), the stored side is read as
`price * 1e6` cast to bigint (PostgreSQL) or converted by the same function (SQLite, which keeps
the rounded float). One query fetches the stored bars of every instrument of the file within that
instrument's time range of the file (PostgreSQL: one binary COPY, parsed by numpy with no Python
per row), so the comparison costs ~1 s per million stored bars and nothing when none is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection

from ..models import Bar, Instrument
from .writing import PRICE_FIELDS, price_micros

COMPARED = (*PRICE_FIELDS, "volume")
_PG_COPY_HEADER_BYTES = 19  # signature (11), flags (4), header extension length (4)
_PG_COPY_TRAILER_BYTES = 2  # a field count of -1


@dataclass(frozen=True)
class StoredComparison:
    """Per row of the validated frame: `existing` (stored, identical), `conflict` (stored,
    different) and, for conflicts, `differs` (the fields that differ, e.g. "high, volume")."""

    existing: np.ndarray
    conflict: np.ndarray
    differs: np.ndarray


def _stored_row_dtype() -> np.dtype:
    """One stored bar as a binary COPY tuple: the field count, then (length, int8) for each of
    instrument_id, ts (epoch seconds), open/high/low/close (micro-units) and volume."""
    fields = [("nfields", ">i2")]
    for name in ("iid", "ts", *COMPARED):
        fields += [(f"{name}_len", ">i4"), (name, ">i8")]
    return np.dtype(fields)


def _stored_postgres(*, iid: np.ndarray, ts: np.ndarray, freq: str) -> dict[str, np.ndarray]:
    spans = pd.Series(ts).groupby(iid).agg(["min", "max"])
    micros = ", ".join(f"(b.{f} * 1000000)::bigint" for f in PRICE_FIELDS)
    table = connection.ops.quote_name(Bar._meta.db_table)
    sql = (
        f"COPY (SELECT b.instrument_id, extract(epoch FROM b.ts)::bigint, {micros}, b.volume "
        "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS f(iid, lo, hi) "
        f"JOIN {table} b ON b.instrument_id = f.iid AND b.frequency = %s "
        "AND b.ts BETWEEN to_timestamp(f.lo) AND to_timestamp(f.hi)) TO STDOUT (FORMAT BINARY)"
    )
    params = [spans.index.tolist(), spans["min"].tolist(), spans["max"].tolist(), freq]
    with connection.cursor() as cur, cur.cursor.copy(sql, params) as copy:
        data = b"".join(bytes(block) for block in copy)
    row = _stored_row_dtype()
    count = (len(data) - _PG_COPY_HEADER_BYTES - _PG_COPY_TRAILER_BYTES) // row.itemsize
    rows = np.frombuffer(data, dtype=row, offset=_PG_COPY_HEADER_BYTES, count=count)
    return {"iid": rows["iid"], "ts": rows["ts"], **{f: rows[f] for f in COMPARED}}


def _stored_sqlite(*, iid: np.ndarray, ts: np.ndarray, freq: str) -> dict[str, np.ndarray]:
    adapt = connection.ops.adapt_datetimefield_value
    lo, hi = (adapt(pd.Timestamp(int(s), unit="s", tz="UTC").to_pydatetime()) for s in (ts.min(), ts.max()))
    table = connection.ops.quote_name(Bar._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT instrument_id, ts, {', '.join(COMPARED)} FROM {table} WHERE frequency = %s "
            "AND ts BETWEEN %s AND %s AND instrument_id IN (SELECT value FROM json_each(%s))",
            [freq, lo, hi, json.dumps(np.unique(iid).tolist())],
        )
        stored = pd.DataFrame(cur.fetchall(), columns=["iid", "ts", *COMPARED])
    out = {
        "iid": stored["iid"].to_numpy(np.int64),
        "ts": pd.DatetimeIndex(pd.to_datetime(stored["ts"], format="ISO8601", utc=True)).as_unit("s").asi8,
        "volume": stored["volume"].to_numpy(np.int64),
    }
    for f in PRICE_FIELDS:
        out[f] = price_micros(stored[f].to_numpy(np.float64))
    return out


def _keys(iid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """One int64 per (instrument, ts): ids below 2**29, stamps 1698..2242 in seconds."""
    return (iid.astype(np.int64) << 34) + (ts.astype(np.int64) + (1 << 33))


def stored_bars_compare(*, valid: pd.DataFrame, freq: str) -> StoredComparison:
    """Compare the validated rows with the stored bars of the same (symbol, frequency, ts)."""
    n = len(valid)
    none = StoredComparison(np.zeros(n, bool), np.zeros(n, bool), np.full(n, "", dtype=object))
    if not n:
        return none
    codes, symbols = pd.factorize(valid["symbol"])
    known = dict(Instrument.objects.filter(symbol__in=list(symbols)).values_list("symbol", "id"))
    if not known:
        return none
    iid = np.array([known.get(s, -1) for s in symbols], dtype=np.int64)[codes]
    ts = pd.DatetimeIndex(valid["ts"]).as_unit("s").asi8
    has = iid >= 0
    fetch = _stored_postgres if connection.vendor == "postgresql" else _stored_sqlite
    stored = fetch(iid=iid[has], ts=ts[has], freq=freq)
    if not len(stored["iid"]):
        return none
    at = pd.Index(_keys(stored["iid"], stored["ts"])).get_indexer(_keys(iid, ts))
    at[~has] = -1
    matched = at >= 0
    pos = at[matched]
    file_values = {f: price_micros(valid[f].to_numpy(np.float64)[matched]) for f in PRICE_FIELDS}
    file_values["volume"] = valid["volume"].to_numpy(np.int64)[matched]
    diff = np.vstack([file_values[f] != stored[f][pos] for f in COMPARED])  # fields x matched rows
    names = np.array(COMPARED, dtype=object)
    differs = np.full(n, "", dtype=object)
    conflict = np.zeros(n, bool)
    rows = np.flatnonzero(matched)
    bad = diff.any(axis=0)
    conflict[rows[bad]] = True
    differs[rows[bad]] = [", ".join(names[diff[:, j]]) for j in np.flatnonzero(bad)]
    existing = np.zeros(n, bool)
    existing[rows[~bad]] = True
    return StoredComparison(existing=existing, conflict=conflict, differs=differs)
