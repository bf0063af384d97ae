"""Websocket consumer for desk-wide events: authenticate, join the group, forward. Nothing else."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .realtime import DESK_GROUP


class DeskStatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(DESK_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(DESK_GROUP, self.channel_name)

    async def desk_event(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "payload": message["payload"]})
