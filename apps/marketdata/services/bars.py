"""`bars_import`: read, validate, then write a bar file in one transaction, recording an ImportRun.

Why this order: validation sees the whole file before the database does, so the default
"all or nothing" policy can refuse a file with a single bad row without writing anything, and the
report names every bad row. Every attempt leaves an ImportRun row, including refused and failed
ones, so the data page can answer "what happened to that file?".
"""

from __future__ import annotations

import time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ..models import ImportRun
from .errors import BarFileError
from .phases import Timings, phase
from .reading import bar_file_read, file_sha256
from .validation import FREQUENCIES, ValidationResult, bars_validate, check_time_zone
from .writing import ProgressFn, bars_bulk_insert, corporate_actions_insert, instruments_ensure

REJECTS_STORED = 1000  # detail rows kept on the ImportRun; reason counts are always complete
SOURCE_MAX_LEN = 64


def _reject_rows(result: ValidationResult) -> list[dict]:
    head = result.rejects.sort_values("row").head(REJECTS_STORED)
    return [
        {"row": int(r.row), "symbol": str(r.symbol), "ts": str(r.timestamp), "reason": str(r.reason)}
        for r in head.itertuples(index=False)
    ]


def _reasons_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]))


def bars_import(
    *,
    path: str | Path,
    freq: str,
    source: str,
    tz: str = "America/New_York",
    skip_invalid: bool = False,
    user=None,
    progress: ProgressFn | None = None,
    timings: Timings | None = None,
) -> ImportRun:
    """Import one bar file (CSV, CSV.gz or Parquet, long format) and return its ImportRun.

    status: succeeded (all rows valid), partial (skip_invalid and some rows rejected), rejected
    (invalid rows without skip_invalid, or a file that cannot be read: nothing written), failed
    (the database write raised: rolled back, nothing written; the exception is re-raised).
    Bad arguments (unknown frequency or time zone, empty source) raise BarFileError unrecorded.
    `timings`, when given, receives the wall seconds of each phase (read, validate, write_*, ...).
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
            result = bars_validate(frame, freq=freq, tz=tz)
    except BarFileError as exc:
        return finish(ImportRun.Status.REJECTED, str(exc))
    if progress:
        progress(stage="validate", done=result.rows_read, total=result.rows_read)

    run.rows_read = result.rows_read
    run.rows_valid = len(result.valid)
    run.rows_rejected = len(result.rejects)
    run.reject_reasons = result.reason_counts
    run.rejects = _reject_rows(result)
    if result.rows_read == 0:
        return finish(ImportRun.Status.REJECTED, f"{path.name}: the file has no data rows; nothing written")
    if run.rows_rejected and not skip_invalid:
        return finish(
            ImportRun.Status.REJECTED,
            f"{run.rows_rejected} of {run.rows_read} rows invalid ({_reasons_text(run.reject_reasons)}); "
            "nothing written. Fix the file, or skip invalid rows to import the valid ones.",
        )
    if not run.rows_valid:
        return finish(
            ImportRun.Status.REJECTED,
            f"all {run.rows_read} rows invalid ({_reasons_text(run.reject_reasons)}); nothing written",
        )

    try:
        with transaction.atomic():
            run.status = ImportRun.Status.PARTIAL if run.rows_rejected else ImportRun.Status.SUCCEEDED
            with phase(timings, "instruments"):
                run.save()
                ids, created = instruments_ensure(symbols=list(result.valid["symbol"].unique()))
            run.rows_inserted = bars_bulk_insert(
                valid=result.valid,
                ids=ids,
                freq=freq,
                source=source,
                run_id=run.pk,
                ingested_at=timezone.now(),
                progress=progress,
                timings=timings,
            )
            run.rows_existing = run.rows_valid - run.rows_inserted
            with phase(timings, "corporate_actions"):
                actions, actions_new = corporate_actions_insert(valid=result.valid, ids=ids, source=source)
            parts = [
                f"{run.rows_inserted} bars inserted, {run.rows_existing} already stored",
                f"{created} new instruments",
                f"{actions} corporate actions in file ({actions_new} new)",
            ]
            if run.rows_rejected:
                parts.append(
                    f"{run.rows_rejected} invalid rows skipped ({_reasons_text(run.reject_reasons)})"
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
