"""The cockpit's websocket: anonymous sockets closed 4401 and foreign origins refused at the
handshake (through tradingsite.asgi.application, with its origin and auth guards), a user who may
not view trading accounts closed 4403, an unknown account 4404, and a message a service publishes
after commit forwarded to the account's socket with its sequence number."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from apps.core.realtime import account_stream, stream_seq
from apps.live.services import killswitch_stop
from tests.apps.trading.conftest import account, paper_version  # noqa: F401 - fixtures
from tradingsite.asgi import application
from tradingsite.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://127.0.0.1")]


def _close_code(comm_app, path: str, *, user=None, headers=ORIGIN):
    async def run():
        comm = WebsocketCommunicator(comm_app, path, headers=headers)
        if user is not None:
            comm.scope["user"] = user
        connected, code = await comm.connect()
        if not connected:
            return "refused", code
        out = await comm.receive_output(timeout=2)
        await comm.disconnect()
        return out["type"], out.get("code")

    return async_to_sync(run)()


def test_anonymous_is_closed_4401_through_the_asgi_stack(account):  # noqa: F811
    assert _close_code(application, f"/ws/cockpit/{account.name}/") == ("websocket.close", 4401)
    assert _close_code(application, "/ws/cockpit/desk/") == ("websocket.close", 4401)


def test_a_foreign_origin_is_refused_at_the_handshake(account):  # noqa: F811
    kind, _code = _close_code(
        application, f"/ws/cockpit/{account.name}/", headers=[(b"origin", b"http://evil.example")]
    )
    assert kind == "refused"


def test_a_user_without_the_view_permission_is_closed_4403_and_an_unknown_account_4404(people, account):  # noqa: F811
    nobody = get_user_model().objects.create_user("nobody", password="nobody-pw")
    router = URLRouter(websocket_urlpatterns)
    assert _close_code(router, f"/ws/cockpit/{account.name}/", user=nobody) == ("websocket.close", 4403)
    assert _close_code(router, "/ws/cockpit/desk/", user=nobody) == ("websocket.close", 4403)
    assert _close_code(router, "/ws/cockpit/no-such/", user=people["victor"]) == ("websocket.close", 4404)


def test_a_published_message_is_forwarded_with_its_seq(people, account):  # noqa: F811
    async def run():
        comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/cockpit/{account.name}/")
        comm.scope["user"] = people["victor"]
        connected, _ = await comm.connect()
        assert connected
        await sync_to_async(killswitch_stop)(by=people["alice"], account=account, reason="forwarding test")
        messages = []
        while True:
            message = await comm.receive_json_from(timeout=3)
            messages.append(message)
            if message["event"] == "killswitch" and message["payload"].get("account") == account.name:
                break
        await comm.disconnect()
        return messages

    messages = async_to_sync(run)()
    last = messages[-1]
    assert last["payload"]["kill_switch"]["state"] == "stopped"
    assert last["payload"]["stream"] == account_stream(account.pk)
    assert last["payload"]["seq"] == stream_seq(account_stream(account.pk))
