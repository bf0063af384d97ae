"""Helpers for the market-data tests: the real fixture files (the project's fixtures/ copy, else
the shared data folder) and small hand-made CSV files for the validation rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = ROOT.parent / "shared" / "data"


def fixture_file(sub: str, name: str) -> Path:
    """fixtures/<sub>/<name> from the repository, falling back to ../shared/data/fixtures_small;
    skips the test when neither exists."""
    for base in (ROOT / "fixtures", SHARED_DATA / "fixtures_small"):
        path = base / sub / name
        if path.is_file():
            return path
    pytest.skip(
        f"fixture {sub}/{name} is in neither {ROOT / 'fixtures'} nor {SHARED_DATA / 'fixtures_small'}"
    )


def shared_file(*parts: str) -> Path:
    """A large file from ../shared/data; skips the test with the reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"needs {path} (../shared/data is not on this machine)")
    return path


HEADER = "symbol,timestamp,open,high,low,close,volume\n"


@pytest.fixture
def write_csv(tmp_path) -> Callable[..., Path]:
    """write_csv("AAPL,2021-03-15 10:00:00,1,2,0.5,1.5,100", ...) -> path of a CSV with a header."""

    def write(*rows: str, header: str = HEADER, name: str = "bars.csv") -> Path:
        path = tmp_path / name
        path.write_text(header + "".join(r + "\n" for r in rows))
        return path

    return write
