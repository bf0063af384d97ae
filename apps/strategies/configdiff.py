"""The difference between two strategy configs, setting by setting, for the pages a reviewer reads
(evidence picker, "apply the best parameters", approvals). Configs are nested JSON objects; a
difference is named by its dotted path, the way config errors and search parameters are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ABSENT = object()


@dataclass(frozen=True)
class Change:
    path: str
    old: Any  # None-able; `old_present` says whether the setting existed at all
    new: Any
    old_present: bool = True
    new_present: bool = True


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(config, dict):
        return {prefix: config}
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(_flat(value, path))
        else:
            out[path] = value
    return out


def config_diff(old: dict | None, new: dict | None) -> list[Change]:
    """Every setting whose value differs (added, removed or changed), sorted by path."""
    a, b = _flat(old or {}), _flat(new or {})
    changes = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, _ABSENT), b.get(path, _ABSENT)
        if va != vb:
            changes.append(
                Change(
                    path=path,
                    old=None if va is _ABSENT else va,
                    new=None if vb is _ABSENT else vb,
                    old_present=va is not _ABSENT,
                    new_present=vb is not _ABSENT,
                )
            )
    return changes
