"""A small declarative validator for the strategy config tree (no third-party schema library).

Each config section is a frozen dataclass whose fields carry a `Spec` in their metadata; `parse`
walks a dict against it, fills defaults, and collects *every* error with its dotted path
("optimizer.max_weight: must be in (0, 1]") instead of stopping at the first, so a form can show
them all next to their fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


class ConfigValidationError(ValueError):
    """Every problem of one config, each as (dotted path, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in self.errors))

    def by_path(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, message in self.errors:
            out.setdefault(path, []).append(message)
        return out


@dataclass(frozen=True)
class Spec:
    """How one field is checked. `check(value) -> error message | None` after type coercion."""

    default: Any = _MISSING
    parse: Callable[[Any], Any] = lambda v: v
    optional: bool = False  # None is accepted

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


def number(
    default: Any = _MISSING,
    *,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
    optional: bool = False,
) -> Any:
    """A finite number (an int if `integer`) in an interval; the message shows the interval."""
    interval = f"{'(' if lo_open or lo == -math.inf else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open or hi == math.inf else ']'}"

    def parse(v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"must be {'an integer' if integer else 'a number'}, got {type(v).__name__}")
        if integer and (isinstance(v, float) and not v.is_integer()):
            raise ValueError(f"must be an integer, got {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"must be finite, got {v!r}")
        bad_lo = v <= lo if lo_open else v < lo
        bad_hi = v >= hi if hi_open else v > hi
        if bad_lo or bad_hi:
            raise ValueError(f"must be in {interval}, got {v!r}")
        return int(v) if integer else float(v)

    return field(default=default, metadata={"spec": Spec(default=default, parse=parse, optional=optional)})


def choice(default: Any = _MISSING, *, choices: tuple[str, ...]) -> Any:
    def parse(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {v!r}")
        return v

    return field(default=default, metadata={"spec": Spec(default=default, parse=parse)})


def text(default: Any = _MISSING, *, max_length: int = 200) -> Any:
    def parse(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError("must be a non-empty string")
        if len(v) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return v.strip()

    return field(default=default, metadata={"spec": Spec(default=default, parse=parse)})


def date(default: Any = _MISSING) -> Any:
    def parse(v: Any) -> dt.date:
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            return v
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                pass
        raise ValueError(f"must be a date YYYY-MM-DD, got {v!r}")

    return field(default=default, metadata={"spec": Spec(default=default, parse=parse)})


def custom(parse: Callable[[Any], Any], default: Any = _MISSING) -> Any:
    return field(default=default, metadata={"spec": Spec(default=default, parse=parse)})


def parse_section(cls: type, data: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """Build `cls` from `data`, appending (path, message) for every bad, missing or unknown key.
    Returns None when any field of this section failed (the caller has the errors)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors.append((path, f"must be an object, got {type(data).__name__}"))
        return None
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            errors.append((_join(path, str(key)), f"unknown setting; expected one of {', '.join(known)}"))
    values: dict[str, Any] = {}
    before = len(errors)
    for name, f in known.items():
        spec: Spec | None = f.metadata.get("spec")
        sub = f.metadata.get("section")
        where = _join(path, name)
        if sub is not None:
            values[name] = parse_section(sub, data.get(name), where, errors)
            continue
        assert spec is not None, f"{cls.__name__}.{name} has no Spec"
        if name not in data:
            if spec.required:
                errors.append((where, "is required"))
            else:
                values[name] = spec.default
            continue
        raw = data[name]
        if raw is None and spec.optional:
            values[name] = None
            continue
        try:
            values[name] = spec.parse(raw)
        except ValueError as exc:
            errors.append((where, str(exc)))
    if len(errors) > before:
        return None
    return cls(**values)


def section(cls: type) -> Any:
    """A nested section: its defaults are the section's own defaults."""
    return field(default_factory=cls, metadata={"section": cls})


def to_plain(obj: Any) -> Any:
    """Dataclass tree -> JSON-ready dict (dates as ISO strings, tuples as lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
