"""Market-data writes: bar files and instrument reference data. Each import is one ImportRun.

reading (file -> canonical frame), validation (vectorised rules, no Django), writing (bulk paths
per database), bars (the bar import), instruments (names and sectors)."""

from .bars import bars_import
from .errors import BarFileError
from .instruments import instruments_import_sectors

__all__ = ["BarFileError", "bars_import", "instruments_import_sectors"]
