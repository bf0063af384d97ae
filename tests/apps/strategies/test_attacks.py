"""Every write endpoint of the strategy pages attacked over HTTP as the wrong role: a viewer, a
trader, a quant who does not own the strategy, an approver where only quants act, and anonymous.
The answer is 403 (or 302 to the login page for anonymous), never 200, a redirect with a flash
message, or a 500 — whatever state the strategy is in (the permission check runs first)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.strategies.models import LifecycleEvent, PromotionRequest, Stage, Strategy
from apps.strategies.services import promotion_request_create

from .conftest import make_backtest, make_strategy, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(people, universe):
    mine = make_strategy(people["quinn"], name="quinn-ma")
    mv = make_version(mine, people["quinn"])
    bt = make_backtest(mine, people["quinn"], version=mv)
    req = promotion_request_create(
        model_version=mv,
        to_stage=Stage.CANDIDATE,
        requested_by=people["quinn"],
        reason="strong OOS",
        evidence_refs=[("backtest", bt.pk)],
    )
    return {"mine": mine, "mv": mv, "req": req}


def writes(setup) -> dict[str, tuple[str, dict]]:
    """endpoint -> (url, POST data) of every write of the strategy pages."""
    req = setup["req"]
    return {
        "create": (
            reverse("strategies:create"),
            {"name": "x", "kind": "ma_crossover", "universe": "sp500", "frequency": "1d"},
        ),
        "edit": (
            reverse("strategies:edit", args=["quinn-ma"]),
            {"description": "mine now", "kind": "ma_crossover", "universe": "sp500", "frequency": "1d"},
        ),
        "share": (reverse("strategies:share", args=["quinn-ma"]), {"username": "quincy"}),
        # quinn-ma has no retired version: the lifecycle would refuse; permission must come first.
        "rollback": (reverse("strategies:rollback", args=["quinn-ma"]), {"reason": "go back"}),
        "promote": (
            reverse("strategies:request_promotion", args=["quinn-ma", 1]),
            {"to_stage": "retired", "reason": "x"},
        ),
        # A version that does not exist: still a 403 for who may not ask, not a 404.
        "promote_missing": (
            reverse("strategies:request_promotion", args=["quinn-ma", 99]),
            {"to_stage": "retired", "reason": "x"},
        ),
        "cancel": (reverse("strategies:cancel", args=[req.pk]), {"reason": "not mine"}),
        "decide": (reverse("strategies:decide", args=[req.pk]), {"decision": "approve", "reason": "ok"}),
        "record_version": (reverse("strategies:version_record", args=["quinn-ma"]), {}),
    }


# Who may NOT use each endpoint (every one of them must get a 403).
REFUSED = {
    "create": ["victor", "alice", "rita", "bob"],
    "edit": ["victor", "alice", "rita", "bob", "quincy"],
    "share": ["victor", "alice", "rita", "bob", "quincy"],
    "rollback": ["victor", "alice", "rita", "bob", "quincy"],
    "promote": ["victor", "alice", "rita", "bob", "quincy"],
    "promote_missing": ["victor", "alice", "rita", "bob", "quincy"],
    "cancel": ["victor", "alice", "rita", "bob", "quincy", "ada"],
    "decide": ["victor", "alice", "rita", "quinn", "quincy"],
    "record_version": ["victor", "alice", "rita", "bob", "quincy"],
}
CASES = [(endpoint, who) for endpoint, users in REFUSED.items() for who in users]


def _state() -> tuple:
    return (
        list(Strategy.objects.values_list("name", "description", "config")),
        list(PromotionRequest.objects.values_list("pk", "status")),
        LifecycleEvent.objects.count(),
    )


@pytest.mark.parametrize(("endpoint", "who"), CASES)
def test_wrong_role_gets_403_and_nothing_changes(client, people, setup, endpoint, who):
    url, data = writes(setup)[endpoint]
    before = _state()
    client.force_login(people[who])
    resp = client.post(url, data)
    assert resp.status_code == 403, (endpoint, who, resp.status_code)
    assert _state() == before
    assert "You may not" in resp.content.decode()  # the site's 403 page, saying why


@pytest.mark.parametrize("endpoint", list(REFUSED))
def test_anonymous_is_sent_to_login(client, setup, endpoint):
    url, data = writes(setup)[endpoint]
    before = _state()
    resp = client.post(url, data)
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("login"))
    assert _state() == before


@pytest.mark.parametrize(
    "url",
    [
        "/strategies/nope/",
        "/strategies/nope/edit/",
        "/strategies/quinn-ma/v99/promote/",
        "/strategies/requests/9999/decide/",
    ],
)
def test_missing_objects_are_404_in_the_site_layout(client, people, setup, url):
    client.force_login(people["ada"])
    resp = client.post(url, {"decision": "approve", "reason": "x"}) if "decide" in url else client.get(url)
    assert resp.status_code == 404
    assert 'class="topbar"' in resp.content.decode() and "Not found" in resp.content.decode()
