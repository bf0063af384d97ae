"""Engine output as plain JSON (the apps store it in JSON / jsonb columns, which hold no NaN):
numpy scalars and arrays, dicts, lists and timestamps; NaN and infinities become None."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd


def to_json_number(value: float | int | np.floating | np.integer | None) -> float | int | None:
    """An engine number as a JSON-safe value: NaN/inf -> None (JSON and jsonb cannot hold them)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    f = float(value)
    return f if math.isfinite(f) else None


def to_json_list(values: np.ndarray) -> list[float | None]:
    return [to_json_number(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def to_json_value(value):
    """Recursively convert engine output (numpy scalars/arrays, dicts, lists) to plain JSON."""
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_json_value(v) for v in value.tolist()]
    if isinstance(value, (str,)) or value is None:
        return value
    if isinstance(value, (np.datetime64, dt.datetime, dt.date, pd.Timestamp)):
        return pd.Timestamp(value).isoformat()
    return to_json_number(value)
