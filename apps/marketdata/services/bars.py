"""`bars_import`: read, validate, then write a bar file in one transaction, recording an ImportRun.

Why this order: validation sees the whole file before the database does, then the file is
compared with the bars already stored (under the import lock, in the write transaction), so the
default "all or nothing" policy can refuse a file with a single bad row or a single conflict with
a stored bar without writing anything, and the report names every such row. Every attempt leaves
an ImportRun row, including refused and failed ones, so the data page can answer "what happened
to that file?".
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from workers.engine.market import MARKET_TZ

from ..models import ImportRun
from .errors import BarFileError
from .phases import Timings, phase
from .reading import bar_file_read, file_sha256
from .stored import StoredComparison, stored_bars_compare
from .validation import FREQUENCIES, ValidationResult, bars_validate, check_time_zone
from .writing import (
    ProgressFn,
    bars_bulk_insert,
    bars_write_lock,
    corporate_actions_insert,
    instruments_ensure,
)

REJECTS_STORED = 1000  # detail rows kept on the ImportRun; reason counts are always complete
SOURCE_MAX_LEN = 64


def _reject_rows(result: ValidationResult) -> list[dict]:
    head = result.rejects.sort_values("row").head(REJECTS_STORED)
    return [
        {"row": int(r.row), "symbol": str(r.symbol), "ts": str(r.timestamp), "reason": str(r.reason)}
        for r in head.itertuples(index=False)
    ]


def conflict_reason(differs: str) -> str:
    return f"conflicts with the stored bar ({differs} differ)"


def _with_conflicts(
    result: ValidationResult, frame: pd.DataFrame, stored: StoredComparison
) -> ValidationResult:
    """The validation result with the rows that conflict with stored bars moved to the rejects."""
    if not stored.conflict.any():
        return result
    rows = result.valid["row"].to_numpy()[stored.conflict]
    conflicts = pd.DataFrame(
        {
            "row": rows,
            "symbol": frame["symbol"].iloc[rows - 1].astype("str").to_numpy(dtype=object),
            "timestamp": frame["timestamp"].iloc[rows - 1].astype("str").to_numpy(dtype=object),
            "reason": [conflict_reason(d) for d in stored.differs[stored.conflict]],
        }
    )
    return ValidationResult(
        rows_read=result.rows_read,
        valid=result.valid[~stored.conflict].reset_index(drop=True),
        rejects=pd.concat([result.rejects, conflicts], ignore_index=True),
    )


def _reasons_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]))


def bars_import(
    *,
    path: str | Path,
    freq: str,
    source: str,
    tz: str = MARKET_TZ,
    skip_invalid: bool = False,
    user=None,
    known_at: datetime | None = None,
    progress: ProgressFn | None = None,
    timings: Timings | None = None,
) -> ImportRun:
    """Import one bar file (CSV, CSV.gz or Parquet, long format) and return its ImportRun.

    A row is rejected when it breaks a validation rule (a bar ending later than now +
    settings.BAR_FUTURE_TOLERANCE included) or conflicts with a stored bar of the same symbol,
    frequency and stamp (different prices or volume; identical ones count as already stored).
    status: succeeded (all rows valid), partial (skip_invalid and some rows rejected), rejected
    (rejected rows without skip_invalid, or a file that cannot be read: nothing written), failed
    (the database write raised: rolled back, nothing written; the exception is re-raised).
    Bad arguments (unknown frequency or time zone, empty source) raise BarFileError unrecorded.
    `timings`, when given, receives the wall seconds of each phase (read, validate, write_*, ...).
    `known_at`: when a feed received the bars (they are known from then, never before their
    end); default: each bar is known at its end.
    """
    started = time.monotonic()
    path = Path(path)
    if freq not in FREQUENCIES:
        raise BarFileError(f"unknown frequency {freq!r}: expected one of {', '.join(FREQUENCIES)}")
    check_time_zone(tz)
    source = (source or "").strip()
    if not source or len(source) > SOURCE_MAX_LEN:
        raise BarFileError(f"source must be a name of 1-{SOURCE_MAX_LEN} characters, got {source!r}")
    run = ImportRun(
        kind="bars",
        file_name=path.name,  # never a server path on a page
        frequency=freq,
        source=source,
        source_tz=tz,
        created_by=user if user is not None and user.is_authenticated else None,
    )

    def finish(status: str, message: str) -> ImportRun:
        run.status = status
        run.message = message
        run.seconds = round(time.monotonic() - started, 3)
        run.save()
        return run

    try:
        with phase(timings, "read"):
            run.file_sha256 = file_sha256(path) if path.is_file() else ""
            frame = bar_file_read(path)
        if progress:
            progress(stage="validate", done=0, total=len(frame))
        with phase(timings, "validate"):
            result = bars_validate(
                frame, freq=freq, tz=tz, now=timezone.now(), future_tolerance=settings.BAR_FUTURE_TOLERANCE
            )
    except BarFileError as exc:
        return finish(ImportRun.Status.REJECTED, str(exc))
    if progress:
        progress(stage="validate", done=result.rows_read, total=result.rows_read)

    if result.rows_read == 0:
        return finish(ImportRun.Status.REJECTED, f"{path.name}: the file has no data rows; nothing written")

    try:
        with transaction.atomic():
            with phase(timings, "compare_stored"):
                bars_write_lock()
                stored = stored_bars_compare(valid=result.valid, freq=freq)
                result = _with_conflicts(result, frame, stored)
            run.rows_read = result.rows_read
            run.rows_valid = len(result.valid)
            run.rows_rejected = len(result.rejects)
            run.reject_reasons = result.reason_counts
            run.rejects = _reject_rows(result)
            if run.rows_rejected and not skip_invalid:
                return finish(
                    ImportRun.Status.REJECTED,
                    f"{run.rows_rejected} of {run.rows_read} rows rejected ({_reasons_text(run.reject_reasons)}); "
                    "nothing written. Fix the file, or skip invalid rows to import the valid ones.",
                )
            if not run.rows_valid:
                return finish(
                    ImportRun.Status.REJECTED,
                    f"all {run.rows_read} rows rejected ({_reasons_text(run.reject_reasons)}); nothing written",
                )
            run.status = ImportRun.Status.PARTIAL if run.rows_rejected else ImportRun.Status.SUCCEEDED
            existing = stored.existing[~stored.conflict]
            with phase(timings, "instruments"):
                run.save()
                ids, created = instruments_ensure(symbols=list(result.valid["symbol"].unique()))
            run.rows_inserted = bars_bulk_insert(
                valid=result.valid[~existing],
                ids=ids,
                freq=freq,
                source=source,
                run_id=run.pk,
                ingested_at=timezone.now(),
                known_at=known_at,
                progress=progress,
                timings=timings,
            )
            run.rows_existing = int(np.count_nonzero(existing))
            with phase(timings, "corporate_actions"):
                actions, actions_new = corporate_actions_insert(valid=result.valid, ids=ids, source=source)
            parts = [
                f"{run.rows_inserted} bars inserted, {run.rows_existing} already stored",
                f"{created} new instruments",
                f"{actions} corporate actions in file ({actions_new} new)",
            ]
            if run.rows_rejected:
                parts.append(
                    f"{run.rows_rejected} rejected rows skipped ({_reasons_text(run.reject_reasons)})"
                )
            finish(run.status, "; ".join(parts))
            commit_started = time.perf_counter()
        if timings is not None:
            timings["commit"] = time.perf_counter() - commit_started
    except Exception as exc:
        # The atomic block rolled back every bar of this file; record the attempt on its own.
        run.pk = None
        run.rows_inserted = run.rows_existing = 0
        finish(
            ImportRun.Status.FAILED, f"database write failed, nothing written: {type(exc).__name__}: {exc}"
        )
        raise
    return run
