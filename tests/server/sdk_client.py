"""A test client written against the official SDK's event types only.

Every server event it receives is validated with ``pydantic.TypeAdapter`` over the members of the
SDK's ``RealtimeServerEvent`` union (GA: ``openai.types.realtime``, beta:
``openai.types.beta.realtime``) and must come out as the member its ``type`` names; anything else
fails the test on the spot. Nothing here imports the server or the protocol package, so the
server cannot pass by agreeing with itself.

A background task reads the socket, so a test may stream audio while events pile up without
either side blocking.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import typing
from collections.abc import AsyncIterator, Callable
from typing import Any, Union

import pydantic
from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.realtime import realtime_server_event as ga_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

WAIT_S = 15.0

# The beta spellings of GA server events and the GA events beta never sent (PROTOCOL.md §3.2),
# written out here independently of the server's dialect code.
BETA_NAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
GA_ONLY = frozenset({"conversation.item.done", "input_audio_buffer.timeout_triggered"})


def _members(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    members = {}
    for model in typing.get_args(union):
        (literal,) = typing.get_args(model.model_fields["type"].annotation)
        members[literal] = model
    return members


SDK_MEMBERS = {
    "ga": _members(ga_server.RealtimeServerEvent),
    "beta": _members(beta_server.RealtimeServerEvent),
}
_ADAPTERS = {
    dialect: pydantic.TypeAdapter(Union[tuple(members.values())])  # noqa: UP007
    for dialect, members in SDK_MEMBERS.items()
}


def validate(payload: dict[str, Any], dialect: str) -> pydantic.BaseModel:
    """The SDK model of ``payload``; AssertionError when the SDK does not accept it."""
    expected = SDK_MEMBERS[dialect].get(payload.get("type", ""))
    assert expected is not None, f"{dialect}: {payload.get('type')!r} is not an SDK server event"
    try:
        model = _ADAPTERS[dialect].validate_python(payload)
    except pydantic.ValidationError as exc:
        raise AssertionError(
            f"{dialect}: SDK rejects {json.dumps(payload)[:600]}:\n{exc}"
        ) from None
    assert isinstance(model, expected), f"{payload['type']} validated as {type(model).__name__}"
    return model


def wire_name(ga_type: str, dialect: str) -> str:
    return BETA_NAMES.get(ga_type, ga_type) if dialect == "beta" else ga_type


class RealtimeClient:
    """One connection: send events, wait for the server's, every one SDK-validated."""

    def __init__(self, ws: ClientConnection, dialect: str, *, validating: bool = True) -> None:
        self.ws = ws
        self.dialect = dialect
        self.validating = validating
        self.log: list[dict[str, Any]] = []  # every event received, in order
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.failure: BaseException | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        url: str,
        token: str | None,
        *,
        dialect: str = "ga",
        headers: dict[str, str] | None = None,
        validating: bool = True,
        max_size: int | None = None,
    ) -> AsyncIterator[RealtimeClient]:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers.setdefault("Authorization", f"Bearer {token}")
        if dialect == "beta":
            all_headers.setdefault("OpenAI-Beta", "realtime=v1")
        async with connect(
            url + "?model=gpt-realtime", additional_headers=all_headers, max_size=max_size
        ) as ws:
            client = cls(ws, dialect, validating=validating)
            try:
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await client._reader
        if client.failure is not None:
            raise client.failure

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                payload = json.loads(message)
                if self.validating:
                    validate(payload, self.dialect)
                self.log.append(payload)
                await self._queue.put(payload)
        except ConnectionClosed:
            pass
        except (AssertionError, ValueError) as exc:
            self.failure = exc
        finally:
            await self._queue.put(None)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def name(self, ga_type: str) -> str:
        return wire_name(ga_type, self.dialect)

    # Sending ------------------------------------------------------------------------------------

    async def send(self, event_type: str, **fields: Any) -> str:
        """Sends an event with a fresh ``event_id``; returns the id."""
        event_id = f"evt_test_{next(self._ids)}"
        await self.ws.send(json.dumps({"type": event_type, "event_id": event_id, **fields}))
        return event_id

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def append_audio(self, audio: bytes, chunk_bytes: int = 960) -> None:
        """Streams ``audio`` in chunks (960 bytes: 20 ms of 24 kHz PCM16), as fast as the
        socket takes it."""
        for start in range(0, len(audio), chunk_bytes):
            chunk = base64.b64encode(audio[start : start + chunk_bytes]).decode()
            await self.ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))

    async def update_session(self, **session: Any) -> dict[str, Any]:
        """A ``session.update`` (GA shape gets ``type: realtime``); returns ``session.updated``."""
        if self.dialect == "ga":
            session = {"type": "realtime", **session}
        event_id = await self.send("session.update", session=session)
        reply = await self.next_of("session.updated", "error")
        assert reply["type"] == "session.updated", f"update {event_id} refused: {reply}"
        return reply

    # Receiving ----------------------------------------------------------------------------------

    async def next(self, within: float = WAIT_S) -> dict[str, Any]:
        async with asyncio.timeout(within):
            payload = await self._queue.get()
        if payload is None:
            self._queue.put_nowait(None)
            if self.failure is not None:
                raise self.failure
            raise ConnectionError(f"connection closed ({self.close_code})")
        return payload

    async def next_of(self, *ga_types: str, within: float = WAIT_S) -> dict[str, Any]:
        """The next event of one of these (GA-named) types; others are skipped (and logged)."""
        wanted = {self.name(t) for t in ga_types}
        while True:
            payload = await self.next(within)
            if payload["type"] in wanted:
                return payload

    async def until(
        self,
        ga_type: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        within: float = WAIT_S,
    ) -> list[dict[str, Any]]:
        """Every event up to and including the first ``ga_type`` event matching ``where``."""
        seen = []
        while True:
            payload = await self.next(within)
            seen.append(payload)
            if payload["type"] == self.name(ga_type) and where(payload):
                return seen

    async def error_for(self, event_id: str) -> dict[str, Any]:
        """The ``error`` object answering the client event ``event_id``."""
        payload = await self.next_of("error")
        assert payload["error"]["event_id"] == event_id, payload
        return payload["error"]

    async def wait_closed(self, within: float = WAIT_S) -> int | None:
        """Drains events until the server closes; returns the close code."""
        async with asyncio.timeout(within):
            while await self._queue.get() is not None:
                pass
        self._queue.put_nowait(None)
        await self.ws.wait_closed()
        return self.close_code
