"""Bulk writing of validated bars: PostgreSQL COPY into a staging table, SQLite batched inserts.

The ORM would spend minutes building 2.4M model instances; these paths write straight from the
numpy columns. Both skip bars already stored on (instrument, frequency, ts), so a re-import
writes 0 rows and the caller learns how many were new from the row counts. They must
run inside the caller's transaction: a failure part-way leaves no bar of the file behind.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import repeat

import numpy as np
import pandas as pd
from django.db import connection

from ..models import Bar, CorporateAction, Instrument

ProgressFn = Callable[..., None]

_PG_EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z, the zero of PostgreSQL's binary timestamps
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
PRICE_FIELDS = ("open", "high", "low", "close")
# numeric(18, 6) in PostgreSQL's binary form, fixed width: 3 base-10000 digits before the point
# (prices < 1e11, checked by validation) and 2 after it (6 decimals + 2 zero padding). Sending the
# numbers ready-made spares the server a float -> numeric conversion per price.
_NUMERIC = np.dtype(
    [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("digits", ">i2", (5,))]
)
_COPY_ROW = np.dtype(
    [
        ("nfields", ">i2"),
        ("instrument_id_len", ">i4"),
        ("instrument_id", ">i8"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
    ]
    + [item for f in PRICE_FIELDS for item in ((f"{f}_len", ">i4"), (f, _NUMERIC))]
    + [("volume_len", ">i4"), ("volume", ">i8")]
)
_STAGE = "marketdata_bar_stage"
# Serialises bar imports with each other, so the "not already stored" test of one import cannot
# race another import of the same bars (the unique constraint would still refuse a duplicate).
_IMPORT_LOCK_KEY = 0x6D6B7464_62617273 & 0x7FFFFFFFFFFFFFFF  # "mktdbars"
COPY_CHUNK_ROWS = 250_000
SQLITE_BATCH_ROWS = 50_000
SQLITE_IMPORT_CACHE_KIB = 256 * 1024


def _numeric_binary(out: np.ndarray, values: np.ndarray) -> None:
    """Fill a _NUMERIC column from positive floats rounded to 6 decimals."""
    # Split before scaling (values * 1e6 would lose decimals above ~9e9), and keep at most 15
    # significant digits, as PostgreSQL's own float -> numeric does: beyond that a float64 holds
    # binary noise, not the file's digits (999999999999.999 is 999999999999.9990234375).
    whole = np.floor(values)
    int_digits = np.searchsorted(10.0 ** np.arange(1, 16), whole, side="right") + (whole >= 1)
    decimals = np.clip(15 - int_digits, 0, 6)
    step = 10.0 ** (6 - decimals)
    frac = (np.round((values - whole) * 1e6 / step) * step).astype(np.int64)
    whole = whole.astype(np.int64) + frac // 1_000_000  # a fraction that rounds up to 1.000000
    frac %= 1_000_000
    out["ndigits"], out["weight"], out["sign"], out["dscale"] = 5, 2, 0, 6
    digits = out["digits"]
    digits[:, 0] = whole // 100_000_000
    digits[:, 1] = (whole // 10_000) % 10_000
    digits[:, 2] = whole % 10_000
    digits[:, 3] = frac // 100
    digits[:, 4] = (frac % 100) * 100


def instruments_ensure(*, symbols: list[str]) -> tuple[dict[str, int], int]:
    """symbol -> instrument id for every symbol, creating the missing instruments.
    Returns the map and the number created."""
    ids = dict(Instrument.objects.values_list("symbol", "id"))
    missing = sorted(set(symbols) - ids.keys())
    if missing:
        Instrument.objects.bulk_create([Instrument(symbol=s) for s in missing], ignore_conflicts=True)
        ids.update(Instrument.objects.filter(symbol__in=missing).values_list("symbol", "id"))
    return ids, len(missing)


def _instrument_ids(valid: pd.DataFrame, ids: dict[str, int]) -> np.ndarray:
    codes, uniques = pd.factorize(valid["symbol"])
    return np.array([ids[s] for s in uniques], dtype=np.int64)[codes]


def _ts_seconds(valid: pd.DataFrame) -> np.ndarray:
    return pd.DatetimeIndex(valid["ts"]).as_unit("s").asi8


def bars_bulk_insert(
    *,
    valid: pd.DataFrame,
    ids: dict[str, int],
    freq: str,
    source: str,
    run_id: int,
    ingested_at: datetime,
    progress: ProgressFn | None = None,
) -> int:
    """Insert the validated bars, skipping ones already stored; returns the number inserted."""
    instrument_id = _instrument_ids(valid, ids)
    ts_s = _ts_seconds(valid)
    # Time-major order: the pkey, (frequency, ts) index and heap are appended to, and the unique
    # (instrument, frequency, ts) index only has one hot page per instrument.
    order = np.lexsort((instrument_id, ts_s))
    cols = {
        "instrument_id": instrument_id[order],
        "ts": ts_s[order],
        **{
            f: np.round(valid[f].to_numpy(dtype=np.float64)[order], 6)
            for f in ("open", "high", "low", "close")
        },
        "volume": valid["volume"].to_numpy(dtype=np.int64)[order],
    }
    writer = _insert_postgres if connection.vendor == "postgresql" else _insert_sqlite
    return writer(
        cols=cols, freq=freq, source=source, run_id=run_id, ingested_at=ingested_at, progress=progress
    )


def _insert_postgres(*, cols, freq, source, run_id, ingested_at, progress) -> int:
    n = len(cols["ts"])
    rows = np.empty(n, dtype=_COPY_ROW)
    rows["nfields"] = 7
    rows["instrument_id_len"] = rows["ts_len"] = rows["volume_len"] = 8
    rows["instrument_id"] = cols["instrument_id"]
    rows["ts"] = (cols["ts"] - _PG_EPOCH_S) * 1_000_000  # timestamptz: microseconds since 2000-01-01 UTC
    rows["volume"] = cols["volume"]
    for f in PRICE_FIELDS:
        rows[f"{f}_len"] = _NUMERIC.itemsize
        _numeric_binary(rows[f], cols[f])
    table = connection.ops.quote_name(Bar._meta.db_table)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_IMPORT_LOCK_KEY])
        cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cur.execute(
            f"CREATE TEMP TABLE {_STAGE} (instrument_id bigint, ts timestamptz, open numeric(18, 6), "
            "high numeric(18, 6), low numeric(18, 6), close numeric(18, 6), volume bigint) ON COMMIT DROP"
        )
        copy_sql = f"COPY {_STAGE} (instrument_id, ts, open, high, low, close, volume) FROM STDIN WITH (FORMAT BINARY)"
        with cur.cursor.copy(copy_sql) as copy:
            copy.write(_COPY_HEADER)
            for start in range(0, n, COPY_CHUNK_ROWS):
                copy.write(rows[start : start + COPY_CHUNK_ROWS].tobytes())
                if progress:
                    progress(stage="write", done=min(start + COPY_CHUNK_ROWS, n), total=n)
            copy.write(_COPY_TRAILER)
        # An anti-join rather than ON CONFLICT DO NOTHING: speculative insertion costs about twice
        # the CPU per row, and the advisory lock above already rules out a concurrent import.
        cur.execute(
            f"INSERT INTO {table} (instrument_id, frequency, ts, open, high, low, close, volume, known_at, "
            "source, ingested_at, import_run_id) "
            f"SELECT s.instrument_id, %s, s.ts, s.open, s.high, s.low, s.close, s.volume, s.ts, %s, %s, %s "
            f"FROM {_STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {table} b "
            "WHERE b.instrument_id = s.instrument_id AND b.frequency = %s AND b.ts = s.ts)",
            [freq, source, ingested_at, run_id, freq],
        )
        inserted = cur.rowcount
        cur.execute(f"DROP TABLE {_STAGE}")
    return inserted


def _insert_sqlite(*, cols, freq, source, run_id, ingested_at, progress) -> int:
    n = len(cols["ts"])
    adapt = connection.ops.adapt_datetimefield_value
    # Format each distinct stamp once, the way Django stores datetimes in SQLite.
    codes, uniques = pd.factorize(cols["ts"])
    texts = np.array([adapt(datetime.fromtimestamp(int(s), tz=UTC)) for s in uniques], dtype=object)[codes]
    table = connection.ops.quote_name(Bar._meta.db_table)
    sql = (
        f"INSERT OR IGNORE INTO {table} (instrument_id, frequency, ts, open, high, low, close, volume, "
        "known_at, source, ingested_at, import_run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    ingested = adapt(ingested_at)
    inserted = 0
    with connection.cursor() as cur:
        # A large page cache for this connection while it writes millions of index entries.
        cur.execute("PRAGMA cache_size")
        cache_size = cur.fetchone()[0]
        cur.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
        try:
            for start in range(0, n, SQLITE_BATCH_ROWS):
                part = slice(start, start + SQLITE_BATCH_ROWS)
                ts_text = texts[part].tolist()
                batch = zip(
                    cols["instrument_id"][part].tolist(),
                    repeat(freq),
                    ts_text,
                    cols["open"][part].tolist(),
                    cols["high"][part].tolist(),
                    cols["low"][part].tolist(),
                    cols["close"][part].tolist(),
                    cols["volume"][part].tolist(),
                    ts_text,
                    repeat(source),
                    repeat(ingested),
                    repeat(run_id),
                    strict=False,
                )
                cur.executemany(sql, list(batch))
                inserted += cur.rowcount
                if progress:
                    progress(stage="write", done=min(start + SQLITE_BATCH_ROWS, n), total=n)
        finally:
            cur.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return inserted


def corporate_actions_insert(*, valid: pd.DataFrame, ids: dict[str, int], source: str) -> tuple[int, int]:
    """Dividend (amount > 0) and split (coefficient != 1) rows of the file as CorporateAction rows,
    keyed by ex-date (the bar's exchange date). Returns (found in file, newly stored)."""
    div = valid["dividend_amount"].to_numpy()
    split = valid["split_coefficient"].to_numpy()
    with np.errstate(invalid="ignore"):
        picks = [
            (CorporateAction.Kind.DIVIDEND, valid[div > 0], "dividend_amount"),
            (CorporateAction.Kind.SPLIT, valid[(split != 1) & ~np.isnan(split)], "split_coefficient"),
        ]
    actions = [
        CorporateAction(
            instrument_id=ids[sym],
            kind=kind,
            ex_date=pd.Timestamp(day).date(),
            value=Decimal(repr(float(value))).quantize(Decimal("1e-8")),
            source=source,
        )
        for kind, rows, column in picks
        for sym, day, value in zip(rows["symbol"], rows["local_date"], rows[column], strict=True)
    ]
    if not actions:
        return 0, 0
    before = CorporateAction.objects.count()
    CorporateAction.objects.bulk_create(actions, ignore_conflicts=True, batch_size=2000)
    return len(actions), CorporateAction.objects.count() - before
