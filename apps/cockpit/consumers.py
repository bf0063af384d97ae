"""The cockpit's websocket: `/ws/cockpit/<account>/` and `/ws/cockpit/desk/`. Authenticate, check
the user may view the account, join the account's stream and the desk's, forward. Nothing else:
services publish (after commit), the page resyncs from the snapshot on a gap.

Refusals are sent after the handshake (accept, then close with the code) so a browser sees the
code and stops reconnecting: 4401 signed out, 4403 may not view trading accounts, 4404 no such
account. A foreign Origin is refused at the handshake by the ASGI stack
(AllowedHostsOriginValidator, tradingsite/asgi.py)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.realtime import DESK_STREAM, account_stream, stream_group
from apps.trading.models import TradingAccount

from . import permissions

SIGNED_OUT, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


class CockpitConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def connect(self) -> None:
        user = self.scope.get("user")
        code, groups = await self._authorise(user, self.scope["url_route"]["kwargs"].get("account"))
        await self.accept()
        if code:
            await self.close(code=code)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups

    @database_sync_to_async
    def _authorise(self, user, name: str | None) -> tuple[int, tuple[str, ...]]:
        if user is None or not user.is_authenticated:
            return SIGNED_OUT, ()
        if not permissions.may_view(user):
            return FORBIDDEN, ()
        desk = stream_group(DESK_STREAM)
        if name is None:
            return 0, (desk,)
        pk = TradingAccount.objects.filter(name=name).values_list("pk", flat=True).first()
        if pk is None:
            return NOT_FOUND, ()
        return 0, (stream_group(account_stream(pk)), desk)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def desk_event(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "payload": message["payload"]})
