"""Bulk writing of validated bars: PostgreSQL COPY into a staging table, SQLite batched inserts.

The ORM would spend minutes building 2.4M model instances; these paths write straight from the
numpy columns. Both insert with "do nothing on conflict" on (instrument, frequency, ts), so a
re-import writes 0 rows and the caller learns how many were new from the row counts. They must
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
# One staging row in PostgreSQL's binary COPY layout: field count, then (length, value) per field.
_COPY_ROW = np.dtype(
    [("nfields", ">i2")]
    + [
        item
        for name, kind in [
            ("instrument_id", ">i8"),
            ("ts", ">i8"),
            ("open", ">f8"),
            ("high", ">f8"),
            ("low", ">f8"),
            ("close", ">f8"),
            ("volume", ">i8"),
        ]
        for item in ((f"{name}_len", ">i4"), (name, kind))
    ]
)
_STAGE = "marketdata_bar_stage"
COPY_CHUNK_ROWS = 250_000
SQLITE_BATCH_ROWS = 50_000


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
    # Index order makes the unique-index inserts sequential rather than random.
    order = np.lexsort((ts_s, instrument_id))
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
    for name in ("instrument_id", "ts", "open", "high", "low", "close", "volume"):
        rows[f"{name}_len"] = 8
        rows[name] = cols[name]
    rows["ts"] = (cols["ts"] - _PG_EPOCH_S) * 1_000_000  # timestamptz: microseconds since 2000-01-01 UTC
    table = connection.ops.quote_name(Bar._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cur.execute(
            f"CREATE TEMP TABLE {_STAGE} (instrument_id bigint, ts timestamptz, open float8, high float8, "
            "low float8, close float8, volume bigint) ON COMMIT DROP"
        )
        copy_sql = f"COPY {_STAGE} (instrument_id, ts, open, high, low, close, volume) FROM STDIN WITH (FORMAT BINARY)"
        with cur.cursor.copy(copy_sql) as copy:
            copy.write(_COPY_HEADER)
            for start in range(0, n, COPY_CHUNK_ROWS):
                copy.write(rows[start : start + COPY_CHUNK_ROWS].tobytes())
                if progress:
                    progress(stage="write", done=min(start + COPY_CHUNK_ROWS, n), total=n)
            copy.write(_COPY_TRAILER)
        cur.execute(
            f"INSERT INTO {table} (instrument_id, frequency, ts, open, high, low, close, volume, known_at, "
            "source, ingested_at, import_run_id) "
            f"SELECT instrument_id, %s, ts, open, high, low, close, volume, ts, %s, %s, %s FROM {_STAGE} "
            "ON CONFLICT (instrument_id, frequency, ts) DO NOTHING",
            [freq, source, ingested_at, run_id],
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
