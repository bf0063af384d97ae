"""Reading bar files (CSV, CSV.gz, Parquet) into one canonical long frame.

The real files use different column names for the same thing (`ticker` vs `symbol`, `date` vs
`timestamp`, `ex-dividend` vs `dividend_amount`). Reading maps them onto one set of names so that
validation and writing deal with a single shape; a file that lacks a required column is refused
here with the list of columns it does have, before anything is validated or written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from .errors import BarFileError

REQUIRED = ("symbol", "timestamp", "open", "high", "low", "close", "volume")
OPTIONAL = ("dividend_amount", "split_coefficient")

# Lower-cased source column name -> canonical name. The first alias present wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker"),
    "timestamp": ("timestamp", "datetime", "date", "time"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume",),
    "dividend_amount": ("dividend_amount", "ex-dividend", "ex_dividend", "dividend"),
    "split_coefficient": ("split_coefficient", "split_ratio", "split"),
}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        return "parquet"
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return "csv"
    raise BarFileError(f"{path.name}: unsupported file type (expected .csv, .csv.gz or .parquet)")


def _column_map(columns: list[str], path: Path) -> dict[str, str]:
    """Source column -> canonical column, refusing files that miss a required field."""
    lowered = {c.strip().lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for canonical, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                mapping[lowered[alias]] = canonical
                break
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        raise BarFileError(
            f"{path.name}: missing required column(s) {', '.join(missing)}; "
            f"the file has {', '.join(map(str, columns))} (accepted aliases: "
            + "; ".join(f"{c}={'/'.join(ALIASES[c])}" for c in missing)
            + ")"
        )
    return mapping


def bar_file_read(path: Path) -> pd.DataFrame:
    """The file as a frame with canonical column names and the file's own values untouched.

    CSV cells are read as text (empty cell -> NA) so that validation can tell a missing value from
    one that does not parse; Parquet keeps its typed columns. Extra columns are dropped.
    """
    if not path.is_file():
        raise BarFileError(f"{path.name}: no such file")
    kind = file_format(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            mapping = _column_map(names, path)
            frame = pd.read_parquet(path, columns=list(mapping))
        else:
            header = pd.read_csv(path, nrows=0)
            mapping = _column_map(list(header.columns), path)
            frame = pd.read_csv(
                path, usecols=list(mapping), dtype=str, keep_default_na=False, na_values=[""], engine="c"
            )
    except BarFileError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise BarFileError(f"{path.name}: cannot be read as {kind}: {exc}") from exc
    frame = frame.rename(columns=mapping)
    return frame[[c for c in (*REQUIRED, *OPTIONAL) if c in frame.columns]].reset_index(drop=True)
