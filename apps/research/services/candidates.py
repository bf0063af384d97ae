"""Parameter spaces and the candidates a search evaluates: grid, random and a small genetic
algorithm. Pure Python on a seeded `random.Random`, so a search with the same space, settings and
seed proposes the same candidates in the same order.

A param space maps a dotted config path to the list of values it may take, e.g.
`{"rule.fast": [5, 10, 20], "rule.slow": [50, 100]}`; candidates are `{path: value}` dicts that
`apply_params` writes into a copy of the strategy config.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
from typing import Any

MAX_CANDIDATES = 500


class ParamSpaceError(ValueError):
    """A param space or search setting that cannot be searched, named."""


def param_space_validate(space: Any) -> dict[str, list]:
    if not isinstance(space, dict) or not space:
        raise ParamSpaceError('param space must be a non-empty object {"path.to.param": [values, ...]}')
    out: dict[str, list] = {}
    for path, values in space.items():
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            raise ParamSpaceError(f"param path {path!r} must be a dotted config path like 'rule.fast'")
        if not isinstance(values, list) or not values:
            raise ParamSpaceError(f"param {path!r}: values must be a non-empty list, got {values!r}")
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ParamSpaceError(f"param {path!r}: value {v!r} is not finite")
            if not isinstance(v, (int, float, str, bool)) or v is None:
                raise ParamSpaceError(f"param {path!r}: value {v!r} must be a number, string or boolean")
        if len({json.dumps(v) for v in values}) != len(values):
            raise ParamSpaceError(f"param {path!r}: values repeat")
        out[path] = list(values)
    return out


def space_size(space: dict[str, list]) -> int:
    return math.prod(len(v) for v in space.values())


def grid_candidates(space: dict[str, list]) -> list[dict]:
    if space_size(space) > MAX_CANDIDATES:
        raise ParamSpaceError(
            f"the grid has {space_size(space)} candidates; at most {MAX_CANDIDATES} allowed"
        )
    keys = list(space)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k] for k in keys))]


def random_candidates(space: dict[str, list], *, n: int, seed: int) -> list[dict]:
    """`n` distinct candidates drawn without replacement from the grid (all of it if smaller)."""
    if n < 1 or n > MAX_CANDIDATES:
        raise ParamSpaceError(f"n_samples must be in 1..{MAX_CANDIDATES}, got {n}")
    rng = random.Random(seed)
    size = space_size(space)
    keys = list(space)
    picks = rng.sample(range(size), min(n, size))
    out = []
    for flat in picks:
        cand = {}
        for k in reversed(keys):
            flat, j = divmod(flat, len(space[k]))
            cand[k] = space[k][j]
        out.append({k: cand[k] for k in keys})
    return out


def _key(cand: dict) -> str:
    return json.dumps(cand, sort_keys=True)


def ga_next_generation(
    space: dict[str, list],
    *,
    scored: list[tuple[dict, float | None]],
    size: int,
    mutation: float,
    crossover: float,
    rng: random.Random,
    seen: set[str],
) -> list[dict]:
    """The next generation from the scored candidates of all previous generations.

    Selection: tournament of two among the best half (unscored/failed candidates never breed).
    Crossover: uniform, per gene, with probability `crossover` per child (otherwise a clone of the
    first parent). Mutation: each gene is redrawn from its value list with probability `mutation`.
    Already-evaluated candidates are re-mutated up to a few times so a generation explores new
    points; when the space is exhausted the generation is smaller (possibly empty)."""
    ranked = sorted((c for c in scored if c[1] is not None and math.isfinite(c[1])), key=lambda c: -c[1])
    if not ranked:
        return []
    parents = [c for c, _ in ranked[: max(2, len(ranked) // 2)]]
    keys = list(space)

    def pick() -> dict:
        a, b = rng.choice(parents), rng.choice(parents)
        return a if parents.index(a) <= parents.index(b) else b

    out: list[dict] = []
    attempts = 0
    while len(out) < size and attempts < size * 20:
        attempts += 1
        p1, p2 = pick(), pick()
        child = (
            {k: (p2[k] if rng.random() < 0.5 else p1[k]) for k in keys}
            if rng.random() < crossover
            else dict(p1)
        )
        for _ in range(5):
            for k in keys:
                if rng.random() < mutation:
                    child[k] = rng.choice(space[k])
            if _key(child) not in seen:
                break
            k = rng.choice(keys)  # forced mutation of one gene to escape a duplicate
            child[k] = rng.choice(space[k])
        if _key(child) in seen:
            continue
        seen.add(_key(child))
        out.append(child)
    return out


def apply_params(config: dict, params: dict) -> dict:
    """A deep copy of `config` with each dotted path set; a path must name an existing key so a
    typo cannot silently search a parameter the strategy never reads."""
    out = copy.deepcopy(config)
    for path, value in params.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ParamSpaceError(f"param {path!r}: the strategy config has no {part!r} section")
            node = node[part]
        if not isinstance(node, dict) or parts[-1] not in node:
            raise ParamSpaceError(f"param {path!r}: the strategy config has no key {parts[-1]!r} there")
        node[parts[-1]] = value
    return out
