"""Readers for the membership file formats. Pure Python (no database) so that every row problem is
found before anything is written, and reported with its file and line number.

Formats:
- ``fja05680``: ``ticker,start_date,end_date`` intervals (blank end = still a member; a re-entry is
  an extra row), optionally extended by the fja05680 changes file ``date,add,remove`` whose
  add/remove cells hold comma-separated tickers (quoted) and may be empty.
- ``index_constitution``: ``symbol,name,opt-in,opt-out`` (blank opt-out = still a member).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from apps.marketdata.symbols import symbol_problem

FORMATS = ("fja05680", "index_constitution")

_COLUMNS = {
    "fja05680": ("ticker", "start_date", "end_date"),
    "index_constitution": ("symbol", "opt-in", "opt-out"),
}
_CHANGES_COLUMNS = ("date", "add", "remove")


class MembershipFileError(ValueError):
    """The file as a whole cannot be read (missing columns, wrong format, not UTF-8)."""


@dataclass(frozen=True)
class RowProblem:
    file: str
    row: int  # line number in the file, the header being line 1
    symbol: str
    reason: str
    day: str = ""
    code: str = "invalid_row"  # short reason key for ImportRun.reject_reasons

    def as_reject(self) -> dict:
        return {
            "file": self.file,
            "row": self.row,
            "symbol": self.symbol,
            "ts": self.day,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        who = f" {self.symbol}" if self.symbol else ""
        return f"{self.file} line {self.row}{who}: {self.reason}"


@dataclass(frozen=True)
class Interval:
    """[start, end) membership of one symbol; ``end`` None = still a member."""

    symbol: str
    start: date
    end: date | None
    file: str
    row: int

    def where(self) -> str:
        return f"{self.file} line {self.row}"


@dataclass
class Parsed:
    intervals: list[Interval] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    rows_read: int = 0
    changes_applied: int = 0
    changes_ignored: int = 0  # events on or before the interval file's last date (already in it)


def _reader(text: str, file: str, required: Iterable[str]) -> csv.DictReader:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise MembershipFileError(
            f"{file}: missing column(s) {', '.join(missing)}; header is {','.join(header) or '(empty)'}"
        )
    reader.fieldnames = header
    return reader


def _date(value: str | None, *, column: str, blank_ok: bool) -> date | None:
    value = (value or "").strip()
    if not value:
        if blank_ok:
            return None
        raise ValueError(f"{column} is empty")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a YYYY-MM-DD date") from None


def _symbol(value: str | None) -> str:
    sym = (value or "").strip().upper()
    if not sym:
        raise ValueError("symbol is empty")
    problem = symbol_problem(sym)
    if problem:
        raise ValueError(f"symbol {sym!r} is not a ticker: {problem}")
    return sym


def parse_intervals(text: str, *, file: str, fmt: str) -> Parsed:
    """Read an interval file of format ``fmt``; bad rows become problems (with line numbers)."""
    if fmt not in _COLUMNS:
        raise MembershipFileError(f"unknown membership format {fmt!r}; expected one of {', '.join(FORMATS)}")
    sym_col, start_col, end_col = _COLUMNS[fmt]
    out = Parsed()
    for line, rec in enumerate(_reader(text, file, _COLUMNS[fmt]), start=2):
        out.rows_read += 1
        raw_symbol = (rec.get(sym_col) or "").strip().upper()
        try:
            symbol = _symbol(rec.get(sym_col))
            start = _date(rec.get(start_col), column=start_col, blank_ok=False)
            end = _date(rec.get(end_col), column=end_col, blank_ok=True)
        except ValueError as exc:
            out.problems.append(RowProblem(file, line, raw_symbol, str(exc), code="unparseable"))
            continue
        if end is not None and end <= start:
            out.problems.append(
                RowProblem(
                    file,
                    line,
                    symbol,
                    f"{end_col} {end} is not after {start_col} {start}",
                    str(start),
                    code="end_not_after_start",
                )
            )
            continue
        out.intervals.append(Interval(symbol, start, end, file, line))
    return out


def _tickers(cell: str | None) -> list[str]:
    return [_symbol(t) for t in (cell or "").split(",") if t.strip()]


def apply_changes(parsed: Parsed, text: str, *, file: str) -> None:
    """Extend ``parsed`` with the change events dated AFTER the last date of the interval file
    (earlier events are already reflected in it). A remove closes the symbol's open interval on
    the event date; an add opens a new one. Removes are applied before adds so that a same-day
    remove+add of one symbol yields two adjacent intervals, not an overlap."""
    dates = [d for iv in parsed.intervals for d in (iv.start, iv.end) if d is not None]
    cutoff = max(dates) if dates else date.min
    events: list[tuple[date, int, list[str], list[str]]] = []
    for line, rec in enumerate(_reader(text, file, _CHANGES_COLUMNS), start=2):
        parsed.rows_read += 1
        try:
            day = _date(rec.get("date"), column="date", blank_ok=False)
            adds, removes = _tickers(rec.get("add")), _tickers(rec.get("remove"))
        except ValueError as exc:
            parsed.problems.append(RowProblem(file, line, "", str(exc), code="unparseable"))
            continue
        if not adds and not removes:
            parsed.problems.append(
                RowProblem(file, line, "", "event has neither add nor remove", str(day), code="empty_event")
            )
            continue
        if day <= cutoff:
            parsed.changes_ignored += 1
            continue
        events.append((day, line, adds, removes))

    open_idx = {iv.symbol: i for i, iv in enumerate(parsed.intervals) if iv.end is None}
    for day, line, adds, removes in sorted(events, key=lambda e: (e[0], e[1])):
        ok = True
        for sym in removes:
            i = open_idx.pop(sym, None)
            if i is None:
                parsed.problems.append(
                    RowProblem(
                        file,
                        line,
                        sym,
                        f"removed on {day} but has no open interval",
                        str(day),
                        code="remove_not_member",
                    )
                )
                ok = False
                continue
            iv = parsed.intervals[i]
            if day <= iv.start:
                parsed.problems.append(
                    RowProblem(
                        file,
                        line,
                        sym,
                        f"removed on {day}, not after its start {iv.start}",
                        str(day),
                        code="end_not_after_start",
                    )
                )
                ok = False
                continue
            parsed.intervals[i] = Interval(sym, iv.start, day, iv.file, iv.row)
        for sym in adds:
            if sym in open_idx:
                prev = parsed.intervals[open_idx[sym]]
                parsed.problems.append(
                    RowProblem(
                        file,
                        line,
                        sym,
                        f"added on {day} but already a member since {prev.start}",
                        str(day),
                        code="add_already_member",
                    )
                )
                ok = False
                continue
            open_idx[sym] = len(parsed.intervals)
            parsed.intervals.append(Interval(sym, day, None, file, line))
        parsed.changes_applied += ok


def drop_overlaps(intervals: list[Interval]) -> tuple[list[Interval], list[RowProblem]]:
    """Keep, per symbol in start order, each interval that does not overlap the last kept one;
    report the others. Under [start, end) an interval ending on the day the next one starts is
    adjacent, not overlapping. Two intervals with the same start always overlap."""
    kept: list[Interval] = []
    problems: list[RowProblem] = []
    last: dict[str, Interval] = {}
    for iv in sorted(intervals, key=lambda x: (x.symbol, x.start, x.row)):
        prev = last.get(iv.symbol)
        if prev is not None and (prev.end is None or prev.end > iv.start):
            prev_end = prev.end or "open"
            problems.append(
                RowProblem(
                    iv.file,
                    iv.row,
                    iv.symbol,
                    f"interval [{iv.start}, {iv.end or 'open'}) overlaps [{prev.start}, {prev_end}) "
                    f"from {prev.where()}",
                    str(iv.start),
                    code="overlap",
                )
            )
            continue
        kept.append(iv)
        last[iv.symbol] = iv
    return kept, problems
