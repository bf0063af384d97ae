"""numba's `njit` for the bar loop, cached on disk so each process pays the compile once.

Where the cache goes: NUMBA_CACHE_DIR when it is set; else numba's own order, the `__pycache__`
beside this package (a clone) and then the user cache directory (`~/.cache/numba`) when the
package sits in a read-only site-packages. When none of these is writable numba refuses to
decorate at import time ("no locator available"); the engine then caches in the system temp
directory rather than fail to import (a read-only container with a read-only home).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba
from numba.core import config as numba_config


def fallback_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"hourglass-numba-{os.getuid() if hasattr(os, 'getuid') else 0}"


def jit(fn):
    """`numba.njit(cache=True)` with the temp-directory fallback described above."""
    try:
        return numba.njit(cache=True)(fn)
    except RuntimeError as exc:
        if "no locator available" not in str(exc):
            raise
        numba_config.CACHE_DIR = str(fallback_cache_dir())
        return numba.njit(cache=True)(fn)
