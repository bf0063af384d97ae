"""Apply a search's best parameters as a NEW strategy config for review: the source strategy is
never overwritten. The reviewer first sees the proposal (the winning candidate, its hold-out
figures and a setting-by-setting diff against the strategy's current config) and confirms it
explicitly; the confirmation names the sha256 of the config they saw, so a proposal that changed
in between (a re-ranked search) is refused instead of applied unseen."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from apps.strategies import permissions
from apps.strategies.config import strategy_config_validate
from apps.strategies.configdiff import Change, config_diff
from apps.strategies.lifecycle import config_sha256
from apps.strategies.services import strategy_create

from ..models import BacktestRun, ParameterSearch, Status


class ApplyError(ValueError):
    """The best parameters of this search cannot be applied, and why."""


@dataclass(frozen=True)
class Proposal:
    search: ParameterSearch
    best: BacktestRun
    config: dict  # the full validated config of the winning candidate
    config_sha: str
    changes: list[Change]  # against the strategy's current config
    base_changed: bool  # the strategy was edited after the search started
    default_name: str


def search_best_proposal(*, search: ParameterSearch, actor) -> Proposal:
    if not permissions.can_view(actor, search.strategy):
        raise PermissionDenied("you may not see this strategy's research")
    if search.status != Status.SUCCEEDED:
        raise ApplyError(f"search #{search.pk} is {search.status}: only a ranked search has a best candidate")
    best = search.runs.filter(rank=1, status=Status.SUCCEEDED).defer("series").first()
    if best is None:
        raise ApplyError(f"search #{search.pk} has no ranked candidate to apply")
    config = strategy_config_validate(best.config).to_dict()
    current = strategy_config_validate(search.strategy.config).to_dict()
    return Proposal(
        search=search,
        best=best,
        config=config,
        config_sha=config_sha256(config),
        changes=config_diff(current, config),
        base_changed=config_sha256(current) != config_sha256(search.config),
        default_name=f"{search.strategy.name}-s{search.pk}"[:64],
    )


def search_best_apply(*, search: ParameterSearch, actor, name: str, reviewed_sha: str):
    """Create the draft strategy `name` (owned by `actor`) with the best candidate's config."""
    if not permissions.can_create(actor):
        raise PermissionDenied("only those who may create strategies apply a search's parameters")
    proposal = search_best_proposal(search=search, actor=actor)
    if not proposal.changes:
        raise ApplyError("the best candidate is the strategy's current config: there is nothing to apply")
    if reviewed_sha != proposal.config_sha:
        raise ApplyError("the proposed config is not the one you reviewed; review the differences again")
    params = ", ".join(f"{k}={v}" for k, v in proposal.best.candidate_params.items())
    return strategy_create(
        owner=actor,
        name=name,
        config=proposal.config,
        description=(
            f"Draft from search #{search.pk} of {search.strategy.name}: best candidate "
            f"(backtest #{proposal.best.pk}, {params})"
        ),
    )
