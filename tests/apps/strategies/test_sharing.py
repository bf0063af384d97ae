"""Sharing a strategy: only the owner (or an admin) shares, only quants become editors, guardian's
anonymous user is never offered or accepted, and a grant that reached a non-quant gives nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from guardian.shortcuts import assign_perm
from guardian.utils import get_anonymous_user

from apps.strategies import permissions, selectors
from apps.strategies.services import StrategyError, strategy_share, strategy_update

from .conftest import make_strategy

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(people, universe):
    return make_strategy(people["quinn"], name="quinn-ma")


@pytest.mark.parametrize("who", ["victor", "alice", "rita", "bob"])
def test_non_quants_cannot_be_made_editors(people, mine, who):
    with pytest.raises(StrategyError, match="only active quants can be made editors"):
        strategy_share(strategy=mine, user=people[who], by=people["quinn"])
    assert not permissions.can_edit(people[who], mine)


def test_anonymous_user_is_neither_offered_nor_accepted(people, mine):
    anonymous = get_anonymous_user()
    names = set(selectors.share_candidates(mine).values_list("username", flat=True))
    assert names == {"quincy"}  # the other quant only: no AnonymousUser, no read-only role
    with pytest.raises(StrategyError):
        strategy_share(strategy=mine, user=anonymous, by=people["quinn"])


def test_a_shared_editor_cannot_share_on_but_the_owner_and_admin_can(people, mine):
    quinn, quincy, ada = people["quinn"], people["quincy"], people["ada"]
    strategy_share(strategy=mine, user=quincy, by=quinn)
    assert permissions.can_edit(quincy, mine) and not permissions.can_share(quincy, mine)
    other = type(quinn).objects.create_user("quentin")
    other.groups.add(*quinn.groups.all())
    with pytest.raises(PermissionDenied):
        strategy_share(strategy=mine, user=other, by=quincy)
    strategy_share(strategy=mine, user=other, by=ada)
    assert permissions.can_edit(other, mine)


def test_a_stale_grant_to_a_viewer_gives_no_write_access(people, mine):
    """A grant made before the rule (or in a shell) must not let a viewer wipe the config."""
    victor = people["victor"]
    assign_perm("change_strategy", victor, mine)
    assert not permissions.can_edit(victor, mine)
    with pytest.raises(PermissionDenied):
        strategy_update(strategy=mine, by=victor, config={"kind": "ma_crossover", "universe": "sp500"})
    assert "victor" not in {u.username for u in selectors.strategy_collaborators(mine)}


def test_share_page_offers_quants_only_and_refuses_a_viewer(client, people, mine):
    client.force_login(people["quinn"])
    html = client.get(reverse("strategies:detail", args=["quinn-ma"])).content.decode()
    assert 'value="quincy"' in html
    assert 'value="victor"' not in html and "AnonymousUser" not in html
    resp = client.post(reverse("strategies:share", args=["quinn-ma"]), {"username": "victor"})
    assert resp.status_code == 302
    assert not permissions.can_edit(people["victor"], mine)
    # A shared editor sees no share form and a POST is a 403.
    strategy_share(strategy=mine, user=people["quincy"], by=people["quinn"])
    client.force_login(people["quincy"])
    assert (
        'id="share-form"' not in client.get(reverse("strategies:detail", args=["quinn-ma"])).content.decode()
    )
    assert (
        client.post(reverse("strategies:share", args=["quinn-ma"]), {"username": "quinn"}).status_code == 403
    )


def test_a_viewer_holding_an_edit_grant_cannot_wipe_launch_or_share_over_http(client, people, mine):
    """The issue's attack: a viewer given edit rights (a grant made before the rule) tries to wipe
    the config, launch a job and share the strategy on."""
    from apps.research.models import BacktestRun

    victor = people["victor"]
    assign_perm("change_strategy", victor, mine)
    before = dict(type(mine).objects.values("config", "description").get(pk=mine.pk))
    client.force_login(victor)
    edit = client.post(
        reverse("strategies:edit", args=["quinn-ma"]),
        {"description": "", "kind": "ma_crossover", "universe": "sp500", "frequency": "1d", "config": "{}"},
    )
    launch = client.post(reverse("research:backtest_create", args=[mine.pk]))
    share = client.post(reverse("strategies:share", args=["quinn-ma"]), {"username": "quincy"})
    assert (edit.status_code, launch.status_code, share.status_code) == (403, 403, 403)
    assert dict(type(mine).objects.values("config", "description").get(pk=mine.pk)) == before
    assert not BacktestRun.objects.exists()
    assert not permissions.can_edit(people["quincy"], mine)
