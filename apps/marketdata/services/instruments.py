"""`instruments_import_sectors`: names, GICS sectors and sub-industries from the membership files.

Two real formats are accepted (../shared/data/membership): the sector history
(symbol, sector_last, sub_industry_last) and the current constituents list (Symbol, Security,
GICS Sector, GICS Sub-Industry). A blank cell never erases what is stored: the sector history has
no names, and importing it after the constituents list must not blank them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from django.db import transaction

from ..models import ImportRun, Instrument
from .errors import BarFileError
from .reading import file_sha256

COLUMNS: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker"),
    "name": ("security", "name"),
    "sector": ("gics sector", "sector_last", "sector"),
    "sub_industry": ("gics sub-industry", "sub_industry_last", "sub_industry"),
}
FIELDS = ("name", "sector", "sub_industry")


def _limits() -> dict[str, int]:
    return {f: Instrument._meta.get_field(f).max_length for f in ("symbol", *FIELDS)}


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise BarFileError(f"{path.name}: no such file")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise BarFileError(f"{path.name}: cannot be read as CSV: {exc}") from exc
    lowered = {c.strip().lower(): c for c in raw.columns}
    picked = {}
    for canonical, aliases in COLUMNS.items():
        found = next((lowered[a] for a in aliases if a in lowered), None)
        if found is not None:
            picked[canonical] = raw[found].str.strip()
    if "symbol" not in picked or "sector" not in picked:
        raise BarFileError(
            f"{path.name}: needs a symbol column ({'/'.join(COLUMNS['symbol'])}) and a sector column "
            f"({'/'.join(COLUMNS['sector'])}); the file has {', '.join(raw.columns)}"
        )
    frame = pd.DataFrame(picked)
    for f in FIELDS:
        if f not in frame:
            frame[f] = ""
    return frame


@transaction.atomic
def instruments_import_sectors(*, path: str | Path, user=None) -> ImportRun:
    """Create or update Instruments from a sector/constituents file; returns its ImportRun
    (kind "instruments": rows_inserted = instruments created, rows_existing = already known)."""
    started = time.monotonic()
    path = Path(path)
    run = ImportRun(
        kind="instruments",
        file_name=path.name,  # never a server path on a page
        file_sha256=file_sha256(path) if path.is_file() else "",
        created_by=user if user is not None and user.is_authenticated else None,
    )
    try:
        frame = _read(path)
    except BarFileError as exc:
        run.status, run.message = ImportRun.Status.REJECTED, str(exc)
        run.save()
        return run

    limits = _limits()
    frame["symbol"] = frame["symbol"].str.upper()
    reasons = pd.Series("", index=frame.index, dtype=object)
    reasons[frame["symbol"] == ""] = "missing symbol"
    too_long = (frame["symbol"].str.len() > limits["symbol"]) & (reasons == "")
    reasons[too_long] = f"symbol longer than {limits['symbol']} characters"
    for f in FIELDS:
        reasons[(frame[f].str.len() > limits[f]) & (reasons == "")] = (
            f"{f} longer than {limits[f]} characters"
        )
    reasons[frame["symbol"].duplicated(keep=False) & (reasons == "")] = "duplicate symbol in file"
    bad = reasons != ""
    run.rows_read = len(frame)
    run.rows_rejected = int(bad.sum())
    run.rows_valid = run.rows_read - run.rows_rejected
    run.rejects = [
        {"row": int(i) + 1, "symbol": frame.at[i, "symbol"], "ts": "", "reason": reasons[i]}
        for i in frame.index[bad][:1000]
    ]
    run.reject_reasons = {str(k): int(v) for k, v in reasons[bad].value_counts().items()}

    good = frame[~bad]
    stored = {i.symbol: i for i in Instrument.objects.filter(symbol__in=list(good["symbol"]))}
    created, changed = [], []
    for row in good.itertuples(index=False):
        inst = stored.get(row.symbol)
        if inst is None:
            created.append(
                Instrument(symbol=row.symbol, name=row.name, sector=row.sector, sub_industry=row.sub_industry)
            )
            continue
        updates = {
            f: getattr(row, f) for f in FIELDS if getattr(row, f) and getattr(row, f) != getattr(inst, f)
        }
        if updates:
            for f, v in updates.items():
                setattr(inst, f, v)
            changed.append(inst)
    Instrument.objects.bulk_create(created, batch_size=1000)
    Instrument.objects.bulk_update(changed, FIELDS, batch_size=1000)
    run.rows_inserted = len(created)
    run.rows_existing = run.rows_valid - len(created)
    run.status = ImportRun.Status.PARTIAL if run.rows_rejected else ImportRun.Status.SUCCEEDED
    run.message = f"{len(created)} instruments created, {len(changed)} updated, {run.rows_existing - len(changed)} unchanged"
    if run.rows_rejected:
        run.message += f"; {run.rows_rejected} rows skipped"
    run.seconds = round(time.monotonic() - started, 3)
    run.save()
    return run
