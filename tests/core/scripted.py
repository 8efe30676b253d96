"""Scripted Realtime servers for the session tests: a real ``websockets`` server on
127.0.0.1 (port chosen by the OS) whose behaviour each test writes.

Every connection is a :class:`Peer`. By default a peer sends ``session.created`` and then
answers like the service: ``session.update`` → ``session.updated``, ``conversation.item.create``
→ ``conversation.item.added`` + ``conversation.item.done``. A test replaces that per connection
(``on_connect``) to drop the connection, close it with a code, or send exactly the events it
needs, and waits for what the client sent with :meth:`Peer.wait_for` — never with a sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from realtime_desktop.core import ConnectionSettings

Event = dict[str, Any]
TEST_KEY = "sk-test-0123456789abcdefABCDEF"

_ids = itertools.count(1)

# The test servers log to their own logger, kept out of the root logger: the security tests
# capture every record there, and a server printing the client's Authorization header is not
# the client leaking it.
server_log = logging.getLogger("tests.core.scripted")
server_log.propagate = False


def server_event_id() -> str:
    return f"event_{next(_ids)}"


class Peer:
    """One client connection as the scripted server sees it."""

    def __init__(self, ws: ServerConnection, number: int) -> None:
        self.ws = ws
        self.number = number
        self.received: list[Event] = []
        self.items: list[str] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Condition()

    @property
    def headers(self) -> dict[str, str]:
        assert self.ws.request is not None
        return dict(self.ws.request.headers.raw_items())

    async def send(self, event: Event) -> None:
        event.setdefault("event_id", server_event_id())
        await self.ws.send(json.dumps(event))

    async def recv(self) -> Event:
        event: Event = json.loads(await self.ws.recv())
        async with self._changed:
            self.received.append(event)
            self._changed.notify_all()
        return event

    async def wait_for(
        self, type_: str, predicate: Callable[[Event], bool] = lambda e: True
    ) -> Event:
        """The first event of ``type_`` (matching ``predicate``) the client sent."""
        async with self._changed:
            while True:
                for event in self.received:
                    if event["type"] == type_ and predicate(event):
                        return event
                await self._changed.wait()

    def of_type(self, type_: str) -> list[Event]:
        return [e for e in self.received if e["type"] == type_]

    async def handshake(self, *, expires_at: float | None = None, **session: Any) -> None:
        body = {"type": "realtime", "object": "realtime.session", "id": f"sess_{self.number}"}
        body["expires_at"] = int(expires_at if expires_at is not None else time.time() + 3600)
        body.update(session)
        await self.send({"type": "session.created", "session": body})

    async def respond(self) -> None:
        """Answers like the service until the connection ends."""
        try:
            while True:
                await self.answer(await self.recv())
        except ConnectionClosed:
            return

    async def answer(self, event: Event) -> None:
        if event["type"] == "session.update":
            session = dict(event["session"])
            session.update(id=f"sess_{self.number}", object="realtime.session")
            await self.send({"type": "session.updated", "session": session})
        elif event["type"] == "conversation.item.create":
            item = dict(event["item"])
            item.setdefault("id", f"item_{next(_ids)}")
            item["object"] = "realtime.item"
            item["status"] = "completed"
            previous = self.items[-1] if self.items else None
            self.items.append(item["id"])
            for kind in ("conversation.item.added", "conversation.item.done"):
                await self.send({"type": kind, "previous_item_id": previous, "item": item})

    def abort(self) -> None:
        """Drops the TCP connection without a close frame (the client sees 1006)."""
        transport = self.ws.transport
        assert transport is not None
        transport.abort()


async def standard(peer: Peer) -> None:
    await peer.handshake()
    await peer.respond()


class ScriptedServer:
    """``async with ScriptedServer(on_connect) as server:`` — ``server.url`` to connect to,
    ``await server.peer(n)`` for the n-th connection (1-based)."""

    def __init__(self, on_connect: Callable[[Peer], Awaitable[None]] = standard) -> None:
        self._on_connect = on_connect
        self._server: Server | None = None
        self.peers: list[Peer] = []
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None, logger=server_log)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def settings(self, **overrides: Any) -> ConnectionSettings:
        """Offline-provider settings for this server with small delays and timeouts."""
        values: dict[str, Any] = {
            "provider": "offline",
            "url": self.url,
            "api_key": TEST_KEY,
            "reconnect_delay": 0.01,
            "max_reconnect_delay": 0.2,
            "open_timeout": 5.0,
            "replay_timeout": 5.0,
            "close_timeout": 2.0,
            "ping_interval": None,
        }
        values.update(overrides)
        return ConnectionSettings(**values)

    async def peer(self, number: int) -> Peer:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.peers) >= number)
        return self.peers[number - 1]

    async def _handle(self, ws: ServerConnection) -> None:
        async with self._changed:
            peer = Peer(ws, len(self.peers) + 1)
            self.peers.append(peer)
            self._changed.notify_all()
        try:
            await self._on_connect(peer)
        except ConnectionClosed:
            pass
        finally:
            peer.closed.set()
