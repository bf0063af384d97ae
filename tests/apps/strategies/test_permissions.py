"""Who sees and edits which strategy: owner, shared, other quants, and the read-only roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from apps.strategies import permissions, selectors
from apps.strategies.config import ConfigValidationError
from apps.strategies.services import StrategyError, strategy_create, strategy_share, strategy_update

from .conftest import config, make_strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(people, universe):
    return make_strategy(people["quinn"], name="quinn-ma")


@pytest.fixture
def theirs(people, universe):
    return make_strategy(people["quincy"], name="quincy-mom", kind="momentum")


def visible(user) -> set[str]:
    return set(selectors.strategies_visible(user).values_list("name", flat=True))


def test_quant_sees_and_edits_own_not_others_until_shared(people, mine, theirs):
    quinn, quincy = people["quinn"], people["quincy"]
    assert visible(quinn) == {"quinn-ma"}
    assert permissions.can_edit(quinn, mine) and not permissions.can_view(quinn, theirs)
    with pytest.raises(PermissionDenied):
        strategy_update(strategy=theirs, by=quinn, description="mine now")
    with pytest.raises(PermissionDenied):
        strategy_share(strategy=theirs, user=quinn, by=quinn)
    strategy_share(strategy=theirs, user=quinn, by=quincy)
    assert visible(quinn) == {"quinn-ma", "quincy-mom"}
    updated = strategy_update(strategy=theirs, by=quinn, description="tuned by quinn")
    assert updated.description == "tuned by quinn"
    assert visible(quincy) == {"quincy-mom"}


@pytest.mark.parametrize("who", ["victor", "alice", "rita", "bob"])
def test_read_only_roles_see_all_and_edit_none(people, mine, theirs, who):
    user = people[who]
    assert visible(user) == {"quinn-ma", "quincy-mom"}
    assert not permissions.can_edit(user, mine)
    assert not permissions.can_create(user)
    assert not permissions.can_request_promotion(user, mine)
    with pytest.raises(PermissionDenied):
        strategy_update(strategy=mine, by=user, description="x")
    with pytest.raises(PermissionDenied):
        strategy_create(owner=user, name=f"{who}-s", config=config())


def test_decide_permission_by_role(people):
    assert {n for n, u in people.items() if permissions.can_decide(u)} == {"bob", "betty", "ada"}


def test_admin_sees_and_edits_everything(people, mine, theirs):
    ada = people["ada"]
    assert visible(ada) == {"quinn-ma", "quincy-mom"}
    assert permissions.can_edit(ada, theirs)
    strategy_update(strategy=theirs, by=ada, config=config("momentum", model={"lookback": 60, "skip": 2}))
    theirs.refresh_from_db()
    assert theirs.config["model"] == {"lookback": 60, "skip": 2}


def test_create_validates_and_names_the_bad_field(people, universe):
    quinn = people["quinn"]
    with pytest.raises(ConfigValidationError) as exc:
        strategy_create(owner=quinn, name="bad", config=config(optimizer={"max_weight": 0}))
    assert exc.value.by_path() == {"optimizer.max_weight": ["must be in (0, 1], got 0"]}
    with pytest.raises(ConfigValidationError, match="no universe named 'nasdaq'"):
        strategy_create(owner=quinn, name="bad", config={**config(), "universe": "nasdaq"})
    make_strategy(quinn, name="dup")
    for name, message in (
        ("dup", "already exists"),
        ("has space", "must be a slug"),
        ("approvals", "reserved"),
    ):
        with pytest.raises(StrategyError, match=message):
            strategy_create(owner=quinn, name=name, config=config())
    s = strategy_create(owner=quinn, name="ridge-1", config=config("ridge", frequency="1h"))
    assert (s.kind, s.frequency, s.universe.name, s.config["model"]) == (
        "ridge",
        "1h",
        "sp500",
        {"alpha": 0.001},
    )
