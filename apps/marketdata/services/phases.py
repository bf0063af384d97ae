"""Per-phase wall time of an import, for the import bench and for anyone profiling one.

An import spends its time in a handful of phases (read, validate, encode, COPY, insert, commit);
which one dominates decides what to optimise, so the services can fill a caller's dict with them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

Timings = dict[str, float]


@contextmanager
def phase(timings: Timings | None, name: str) -> Iterator[None]:
    """Add the wall time of the block to timings[name] (no-op when timings is None)."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
