"""The feature registry: every feature by name, with the history it needs and what kind it is.

A feature is a pure function `fn(ctx) -> (T, N) float64` over the arrays of a `FeatureContext`
(the panel, as known at each row). Registration is by decorator:

    @feature("ret_5", lookback=5, kind="price")
    def ret_5(ctx): ...

`lookback` is the number of bars *before* t the value at t may read (so the value at t depends on
rows t-lookback..t only). It is a promise checked by tests: computing the last row from the last
`lookback + 1` bars equals the full computation. `kind` decides where a value is undefined:
  - price / volatility / volume / market / factor: NaN where the name has no bar at t;
  - cross_sectional: NaN unless the name is a universe member with a bar at t;
  - freshness: defined at every (t, n) (it describes missing bars, so it must exist without one).
Every feature is NaN for rows t < lookback (history before the panel is unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .context import FeatureContext

KINDS = ("price", "volatility", "volume", "cross_sectional", "market", "factor", "freshness")


@dataclass(frozen=True)
class Feature:
    name: str
    lookback: int
    kind: str
    fn: Callable[[FeatureContext], np.ndarray]
    doc: str
    depends: tuple[str, ...] = ()  # features read through ctx.feature (memoised when computing many)


FEATURES: dict[str, Feature] = {}


def feature(
    name: str, *, lookback: int, kind: str, doc: str | None = None, depends: tuple[str, ...] = ()
) -> Callable:
    """Register `fn` under `name` (described by `doc`, else its docstring). Names are unique; a second
    registration is a programming error."""
    if kind not in KINDS:
        raise ValueError(f"feature {name!r}: unknown kind {kind!r}; expected one of {KINDS}")
    if lookback < 0:
        raise ValueError(f"feature {name!r}: lookback must be >= 0, got {lookback}")
    for dep in depends:
        if dep not in FEATURES:
            raise ValueError(f"feature {name!r} depends on {dep!r}, which is not registered (yet)")
        if FEATURES[dep].lookback > lookback:
            raise ValueError(f"feature {name!r}: lookback {lookback} < its dependency {dep!r}'s")

    def register(fn: Callable[[FeatureContext], np.ndarray]) -> Callable[[FeatureContext], np.ndarray]:
        if name in FEATURES:
            raise ValueError(f"feature {name!r} is registered twice")
        FEATURES[name] = Feature(
            name=name,
            lookback=lookback,
            kind=kind,
            fn=fn,
            doc=(doc or fn.__doc__ or "").strip(),
            depends=tuple(depends),
        )
        return fn

    return register


def feature_names(kind: str | None = None) -> list[str]:
    """Registered names in registration order, optionally only one kind."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {KINDS}")
    return [f.name for f in FEATURES.values() if kind is None or f.kind == kind]


def resolve(names: Iterable[str] | None) -> list[Feature]:
    """Features for `names` (all when None), in the given order; unknown names are a clear error."""
    if names is None:
        return list(FEATURES.values())
    names = list(names)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise KeyError(f"unknown feature(s) {unknown}; registered: {len(FEATURES)} (see feature_names())")
    if len(set(names)) != len(names):
        raise ValueError("feature names must be unique")
    return [FEATURES[n] for n in names]


def required_lookback(names: Iterable[str] | None = None) -> int:
    """Bars of history before t needed to compute all `names` at t (pass lookback + 1 rows live)."""
    return max((f.lookback for f in resolve(names)), default=0)
