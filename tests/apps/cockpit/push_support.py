"""Listening to push streams in tests: a channel joined to a stream's group on the configured
channel layer (in-memory without REDIS_URL, Redis with it), drained with a timeout. The listener
keeps one event loop of its own (the in-memory layer's queues are bound to the loop that first
waited on them)."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer

from apps.core.realtime import stream_group


class Listener:
    def __init__(self, *streams: str) -> None:
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        for stream in streams:
            self.loop.run_until_complete(self.layer.group_add(stream_group(stream), self.channel))

    def drain(self, *, wait: float = 0.5) -> list[dict]:
        """Every message sent so far ({"event", "payload"}), in arrival order."""

        async def _all() -> list[dict]:
            out = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), wait)
                except TimeoutError:
                    return out
                out.append({"event": message["event"], "payload": message["payload"]})

        return self.loop.run_until_complete(_all())
