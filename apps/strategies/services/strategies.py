"""Creating, editing and sharing strategies.

Access is object-level (django-guardian): the owner gets view+change on the strategy, sharing
grants the same to another quant (see permissions.py for who may share with whom). Role-wide read access (viewers, traders, risk officers,
approvers) comes from the role table, so nobody has to be granted each new strategy by hand.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from apps.universes.models import Universe

from .. import permissions
from ..config import ConfigValidationError, StrategyConfig, strategy_config_validate
from ..errors import StrategyError
from ..models import Strategy

# Path segments of the strategy pages that a strategy name would shadow.
RESERVED_NAMES = frozenset({"new", "approvals", "requests"})


def _validated(config: dict[str, Any]) -> tuple[StrategyConfig, Universe]:
    cfg = strategy_config_validate(config)
    universe = Universe.objects.filter(name=cfg.universe).first()
    if universe is None:
        known = ", ".join(Universe.objects.values_list("name", flat=True)) or "none loaded"
        raise ConfigValidationError([("universe", f"no universe named {cfg.universe!r} (known: {known})")])
    return cfg, universe


def _grant(strategy: Strategy, user) -> None:
    assign_perm("view_strategy", user, strategy)
    assign_perm("change_strategy", user, strategy)


@transaction.atomic
def strategy_create(*, owner, name: str, config: dict[str, Any], description: str = "") -> Strategy:
    """Validate the config, create the strategy, and give its owner view+change on it."""
    if not permissions.can_create(owner):
        raise PermissionDenied(f"{owner} may not create strategies")
    try:
        validate_slug(name)
    except Exception:
        raise StrategyError(f"name {name!r} must be a slug: letters, digits, '-' and '_'") from None
    if name in RESERVED_NAMES:
        raise StrategyError(f"name {name!r} is reserved (a page of the strategies section)")
    if Strategy.objects.filter(name=name).exists():
        raise StrategyError(f"a strategy named {name!r} already exists")
    cfg, universe = _validated(config)
    try:
        with transaction.atomic():
            strategy = Strategy.objects.create(
                name=name,
                description=description,
                owner=owner,
                kind=cfg.kind,
                universe=universe,
                frequency=cfg.frequency,
                config=cfg.to_dict(),
            )
    except IntegrityError:
        raise StrategyError(f"a strategy named {name!r} already exists") from None
    _grant(strategy, owner)
    return strategy


@transaction.atomic
def strategy_update(
    *, strategy: Strategy, by, config: dict[str, Any] | None = None, description: str | None = None
) -> Strategy:
    """Replace the config (validated whole) and/or the description. Model versions keep their own
    config snapshot, so editing never changes what an existing version was."""
    if not permissions.can_edit(by, strategy):
        raise PermissionDenied(f"{by} may not edit strategy {strategy.name}")
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    if config is not None:
        cfg, universe = _validated(config)
        strategy.kind, strategy.universe, strategy.frequency = cfg.kind, universe, cfg.frequency
        strategy.config = cfg.to_dict()
    if description is not None:
        strategy.description = description
    strategy.save()
    return strategy


@transaction.atomic
def strategy_share(*, strategy: Strategy, user, by) -> Strategy:
    """Make `user` an editor of `strategy` (view + change). Only the owner or an admin shares, and
    only quants can be editors: the read-only roles already read every strategy, and guardian's
    anonymous user is nobody."""
    if not permissions.can_share(by, strategy):
        raise PermissionDenied(f"only the owner or an admin may share strategy {strategy.name}")
    if not permissions.can_be_editor(user):
        raise StrategyError(
            f"{user.get_username()} cannot edit strategies: only active quants can be made editors"
        )
    _grant(strategy, user)
    return strategy
