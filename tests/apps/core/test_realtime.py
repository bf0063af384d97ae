"""The desk websocket: anonymous connections are refused (through the full ASGI stack with its
origin and auth guards); a service broadcast after commit reaches a logged-in user's socket."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from apps.core.consumers import DeskStatusConsumer
from apps.core.services import worker_heartbeat_record
from tradingsite.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_socket_is_refused_by_the_asgi_stack():
    async def run():
        comm = WebsocketCommunicator(application, "/ws/desk/", headers=[(b"origin", b"http://127.0.0.1")])
        connected, code = await comm.connect()
        await comm.disconnect()
        return connected, code

    connected, code = async_to_sync(run)()
    assert not connected
    assert code == 4401


def test_foreign_origin_is_refused():
    async def run():
        comm = WebsocketCommunicator(application, "/ws/desk/", headers=[(b"origin", b"http://evil.example")])
        connected, _ = await comm.connect()
        await comm.disconnect()
        return connected

    assert async_to_sync(run)() is False


def test_broadcast_after_commit_reaches_logged_in_socket():
    user = get_user_model().objects.create_user("alice", password="pw-alice-1234")

    async def run():
        comm = WebsocketCommunicator(DeskStatusConsumer.as_asgi(), "/ws/desk/")
        comm.scope["user"] = user
        connected, _ = await comm.connect()
        assert connected
        await sync_to_async(worker_heartbeat_record)(hostname="celery@ws-test")
        message = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return message

    message = async_to_sync(run)()
    assert message["event"] == "worker.heartbeat"
    assert message["payload"]["hostname"] == "celery@ws-test"
