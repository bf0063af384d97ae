"""Writes for universes: importing point-in-time membership files.

An import is all-or-nothing: every row is parsed and the whole interval set is validated (dates,
end after start, no overlapping intervals for one symbol) before a single row is written, and the
write happens in one transaction. Each attempt, accepted or rejected, leaves an ImportRun
(kind='membership') saying what was read, written and rejected.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from apps.marketdata.models import ImportRun

from .models import Membership, Universe
from .parsers import (
    FORMATS,
    Interval,
    MembershipFileError,
    Parsed,
    RowProblem,
    apply_changes,
    drop_overlaps,
    parse_intervals,
)

MODES = ("replace", "merge")
MAX_REJECTS_KEPT = 500
UNIVERSE_DESCRIPTIONS = {"sp500": "S&P 500, point-in-time membership", "nasdaq100": "Nasdaq-100"}


class MembershipImportError(ValueError):
    """The import was refused; nothing was written. ``run`` is the recorded ImportRun (if any)."""

    def __init__(self, message: str, run: ImportRun | None = None):
        super().__init__(message)
        self.run = run


def membership_files_sha256(*, path: Path | str, changes_path: Path | str | None = None) -> str:
    """Identity of an import's input: sha256 of the interval file, chained with the changes file
    when there is one (the same intervals extended by other changes are a different input)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if changes_path is None:
        return digest
    changes = hashlib.sha256(Path(changes_path).read_bytes()).hexdigest()
    return hashlib.sha256(f"{digest}+{changes}".encode()).hexdigest()


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MembershipImportError(f"file not found: {path.name}") from None
    except UnicodeDecodeError as exc:
        raise MembershipImportError(
            f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def _summary(problems, limit: int = 10) -> str:
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return "\n".join(lines)


def membership_import(
    *,
    universe_name: str,
    path: Path | str,
    fmt: str = "fja05680",
    changes_path: Path | str | None = None,
    mode: str = "replace",
    skip_invalid: bool = False,
    user=None,
) -> ImportRun:
    """Import a membership file into universe ``universe_name`` (created if new).

    ``mode='replace'``: the file is the universe's whole history; rows are matched on
    (symbol, start_date), new ones inserted, changed end dates updated, rows absent from the file
    deleted. ``mode='merge'``: rows absent from the file are kept, and the merged set must still
    have no overlaps. Either way re-importing the same file changes nothing.

    Bad rows (unparseable dates, end <= start, overlaps, impossible change events) reject the whole
    import with an error naming each row, unless ``skip_invalid``: then they are left out and
    listed in the run's rejects (status 'partial').
    """
    started = time.monotonic()
    path = Path(path)
    changes = Path(changes_path) if changes_path else None
    if fmt not in FORMATS:
        raise MembershipImportError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if mode not in MODES:
        raise MembershipImportError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if changes is not None and fmt != "fja05680":
        raise MembershipImportError("a changes file only goes with the fja05680 format")
    if not universe_name or slugify(universe_name) != universe_name:
        raise MembershipImportError(
            f"universe name {universe_name!r} must be a slug (lowercase, digits, -, _)"
        )

    text = _read_text(path)
    changes_text = _read_text(changes) if changes is not None else None
    run = ImportRun(
        kind="membership",
        file_name=path.name + (f" + {changes.name}" if changes else ""),
        file_sha256=membership_files_sha256(path=path, changes_path=changes),
        source=fmt,
        created_by=user if getattr(user, "pk", None) else None,
    )

    try:
        parsed = parse_intervals(text, file=path.name, fmt=fmt)
        if changes_text is not None:
            apply_changes(parsed, changes_text, file=changes.name)
    except MembershipFileError as exc:
        return _reject(run, str(exc), [], started, rows_read=0)

    kept, overlaps = drop_overlaps(parsed.intervals)
    problems = sorted(parsed.problems + overlaps, key=lambda p: (p.file != path.name, p.row, p.symbol))
    run.rows_read = parsed.rows_read
    if problems and not skip_invalid:
        return _reject(
            run, f"{len(problems)} invalid row(s), nothing written:\n{_summary(problems)}", problems, started
        )

    try:
        with transaction.atomic():
            universe, _ = Universe.objects.get_or_create(
                name=universe_name, defaults={"description": UNIVERSE_DESCRIPTIONS.get(universe_name, "")}
            )
            counts = _write(universe=universe, kept=kept, mode=mode, source=fmt, user=run.created_by)
            _finish(
                run,
                parsed=parsed,
                kept=kept,
                counts=counts,
                problems=problems,
                started=started,
                universe_name=universe_name,
            )
    except _MergeClash as exc:
        msg = f"merge would overlap existing memberships, nothing written:\n{_summary(exc.problems)}"
        return _reject(run, msg, exc.problems, started)
    return run


class _MergeClash(Exception):
    def __init__(self, problems: list[RowProblem]):
        super().__init__("merge clash")
        self.problems = problems


def _finish(
    run: ImportRun, *, parsed: Parsed, kept, counts, problems, started: float, universe_name: str
) -> None:
    run.status = ImportRun.Status.PARTIAL if problems else ImportRun.Status.SUCCEEDED
    run.rows_valid = len(kept)
    run.rows_rejected = len(problems)
    run.rows_inserted = counts["inserted"]
    run.rows_existing = counts["unchanged"]
    run.rejects = [p.as_reject() for p in problems[:MAX_REJECTS_KEPT]]
    run.reject_reasons = _reasons(problems)
    run.message = _message(universe_name, parsed, counts, problems)
    run.seconds = time.monotonic() - started
    run.save()


def _write(*, universe: Universe, kept, mode: str, source: str, user) -> dict[str, int]:
    existing = {(m.symbol, m.start_date): m for m in Membership.objects.filter(universe=universe).order_by()}
    wanted = {(iv.symbol, iv.start): iv for iv in kept}
    stale_keys = [key for key in existing if key not in wanted]
    stale = [existing[key].pk for key in stale_keys]
    if mode == "merge" and stale:
        # Rows absent from the file stay, so each file interval must not overlap any of them.
        clashes = _merge_clashes(kept, [existing[key] for key in stale_keys])
        if clashes:
            raise _MergeClash(clashes)
        stale = []
    changed = []
    for key, iv in wanted.items():
        m = existing.get(key)
        if m is not None and m.end_date != iv.end:
            m.end_date, m.source = iv.end, source
            changed.append(m)
    new = [
        Membership(
            universe=universe,
            symbol=iv.symbol,
            start_date=iv.start,
            end_date=iv.end,
            source=source,
            created_by=user,
        )
        for key, iv in wanted.items()
        if key not in existing
    ]
    # Delete, then update, then insert: each step keeps the table free of overlaps, so a database
    # exclusion constraint (PostgreSQL) holds after every statement.
    if stale:
        Membership.objects.filter(pk__in=stale).delete()
    if changed:
        Membership.objects.bulk_update(changed, ["end_date", "source"], batch_size=500)
    if new:
        Membership.objects.bulk_create(new, batch_size=500)
    return {
        "inserted": len(new),
        "updated": len(changed),
        "deleted": len(stale),
        "unchanged": len(wanted) - len(new) - len(changed),
    }


def _merge_clashes(kept: list[Interval], others: list[Membership]) -> list[RowProblem]:
    by_symbol: dict[str, list[Membership]] = {}
    for m in others:
        by_symbol.setdefault(m.symbol, []).append(m)
    clashes = []
    for iv in kept:
        for m in by_symbol.get(iv.symbol, ()):
            # [a1, b1) and [a2, b2) overlap iff a1 < b2 and a2 < b1 (None = open-ended).
            if (m.end_date is None or iv.start < m.end_date) and (iv.end is None or m.start_date < iv.end):
                clashes.append(
                    RowProblem(
                        iv.file,
                        iv.row,
                        iv.symbol,
                        f"interval [{iv.start}, {iv.end or 'open'}) overlaps the existing {m}",
                        str(iv.start),
                        code="overlap",
                    )
                )
    return clashes


def _reasons(problems) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        out[p.code] = out.get(p.code, 0) + 1
    return out


def _message(universe_name: str, parsed: Parsed, counts: dict[str, int], problems) -> str:
    msg = (
        f"{universe_name}: {counts['inserted']} inserted, {counts['updated']} updated, "
        f"{counts['deleted']} deleted, {counts['unchanged']} unchanged"
    )
    if parsed.changes_applied or parsed.changes_ignored:
        msg += (
            f"; {parsed.changes_applied} change event(s) applied after the interval file, "
            f"{parsed.changes_ignored} already in it"
        )
    if problems:
        msg += f"; {len(problems)} invalid row(s) skipped"
    return msg


def _reject(
    run: ImportRun, message: str, problems, started: float, rows_read: int | None = None
) -> ImportRun:
    """Record the refused attempt (outside any import transaction, so the record survives) and
    raise: the caller learns why, the database keeps its previous memberships."""
    run.status = ImportRun.Status.REJECTED
    if rows_read is not None:
        run.rows_read = rows_read
    run.rows_rejected = len(problems)
    run.rejects = [p.as_reject() for p in problems[:MAX_REJECTS_KEPT]]
    run.reject_reasons = _reasons(problems)
    run.message = message
    run.seconds = time.monotonic() - started
    run.save()
    raise MembershipImportError(message, run)
