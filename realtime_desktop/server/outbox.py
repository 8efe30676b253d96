"""The one writer of a connection: server events leave in the order they were queued.

Events are serialised when they are queued, so an item that changes later (an assistant message
that completes) is sent as it was at that moment. One task sends; fault injection lives here, at
the last step before the socket, so every fault hits whatever event happens to be next.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections.abc import Callable
from typing import Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_desktop.protocol import GA_ONLY_SERVER_EVENTS, Dialect, ServerEvent
from realtime_desktop.server.config import Faults

log = logging.getLogger(__name__)

# Deep enough that a response streams without stalling on every delta, shallow enough that a
# client which stops reading pushes back on the response (and on nothing else in memory).
QUEUE_FRAMES: Final = 256
UNKNOWN_EVENT_TYPE: Final = "offline.unknown_event"
MALFORMED_FRAME: Final = '{"type": "response.output_audio.delta", "delta": "AAAA'
HUGE_EVENT_BYTES: Final = 5 * 1024 * 1024
FLUSH_WAIT_S: Final = 2.0
FLUSH_POLL_S: Final = 0.002


@dataclasses.dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Outbox:
    """Serialises, queues and sends server events for one connection."""

    def __init__(
        self,
        connection: ServerConnection,
        dialect: Dialect,
        faults: Faults,
        *,
        huge_event: Callable[[], str] | None = None,
    ) -> None:
        self._connection = connection
        self._dialect = dialect
        self._faults = faults
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue(QUEUE_FRAMES)
        self._huge_event = huge_event
        self.sent = 0
        self.closed = asyncio.Event()

    async def put(self, event: ServerEvent) -> None:
        """Queues ``event`` in this connection's dialect. A beta connection never sees GA-only
        events (``conversation.item.done`` …), as a beta server never sent them."""
        if self._dialect == "beta" and event.type in GA_ONLY_SERVER_EVENTS:
            return
        await self._queue.put(json.dumps(event.to_wire(self._dialect)))

    async def close(self, code: int, reason: str) -> None:
        """Closes the connection once everything queued before has been sent."""
        await self._queue.put(_Close(code, reason))

    def abort_now(self, why: str) -> None:
        """Cuts the TCP connection without a close frame, ahead of anything queued."""
        log.info("fault: dropping the connection (%s)", why)
        self._connection.transport.abort()

    async def run(self) -> None:
        """Sends until the connection closes; the connection's only writer."""
        try:
            while True:
                frame = await self._queue.get()
                if isinstance(frame, _Close):
                    await self._connection.close(frame.code, frame.reason)
                    return
                if self._faults.frame_delay_ms:
                    await asyncio.sleep(self._faults.frame_delay_ms / 1000)
                await self._connection.send(frame)
                self.sent += 1
                if await self._after_send():
                    return
        except ConnectionClosed:
            log.debug("connection closed while sending")
        finally:
            self.closed.set()

    async def _after_send(self) -> bool:
        """Faults keyed to the event count; True when the connection was dropped."""
        faults = self._faults
        if faults.malformed_frame_after_events == self.sent:
            await self._connection.send(MALFORMED_FRAME)
        if faults.unknown_event_after_events == self.sent:
            await self._connection.send(
                json.dumps(
                    {
                        "type": UNKNOWN_EVENT_TYPE,
                        "event_id": "event_offlinefault",
                        "detail": "An event type no client knows, sent on purpose (fault).",
                    }
                )
            )
        if faults.huge_event_after_events == self.sent and self._huge_event is not None:
            await self._connection.send(self._huge_event())
        if faults.drop_after_events == self.sent:
            await self._flushed()
            self.abort_now(f"after {self.sent} events")
            return True
        return False

    async def _flushed(self) -> None:
        """Waits (briefly) until the OS has every byte sent so far: "after N events" means
        the client can receive all N, and an abort discards what is still buffered."""
        transport = self._connection.transport
        async with asyncio.timeout(FLUSH_WAIT_S):
            # The transport signals only its high-water mark, never an empty buffer.
            while transport.get_write_buffer_size() > 0:  # noqa: ASYNC110
                await asyncio.sleep(FLUSH_POLL_S)

    async def drop_at_random(self, within_s: float, seed: int | None) -> None:
        """Aborts the connection at a random moment within ``within_s`` seconds."""
        delay = random.Random(seed).uniform(0.0, within_s)
        await asyncio.sleep(delay)
        self.abort_now(f"at a random moment, {delay:.3f} s in")
