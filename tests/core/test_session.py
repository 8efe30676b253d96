"""RealtimeSession over a real WebSocket against scripted servers (issue 3, acceptance 1)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from realtime_desktop.core import (
    ApiError,
    AuthenticationError,
    Conversation,
    NetworkError,
    RealtimeSession,
    SessionState,
    StateChange,
)
from realtime_desktop.protocol import (
    ConversationItemDelete,
    ConversationItemRetrieved,
    ErrorEvent,
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    RealtimeSessionConfig,
    ResponseDone,
    ResponseOutputAudioTranscriptDelta,
    ServerEvent,
    SessionCreated,
    UnknownServerEvent,
)

from . import sequences
from .scripted import Peer, ScriptedServer, standard

E = TypeVar("E", bound=ServerEvent)


async def first(
    stream: AsyncIterator[ServerEvent], kind: type[E], predicate: Any = lambda e: True
) -> E:
    async for event in stream:
        if isinstance(event, kind) and predicate(event):
            return event
    raise AssertionError(f"the stream ended before a {kind.__name__}")


async def until(stream: AsyncIterator[StateChange], state: SessionState) -> list[StateChange]:
    """Every change up to and including the first one into ``state``."""
    seen = []
    async for change in stream:
        seen.append(change)
        if change.state is state:
            return seen
    raise AssertionError(f"the session never became {state}: {[c.state for c in seen]}")


def error_event(code: str, message: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": None,
            "event_id": event_id,
        },
    }


async def test_every_client_event_has_an_event_id_and_an_error_names_its_cause() -> None:
    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        while True:
            event = await peer.recv()
            await peer.answer(event)
            if event["type"] == "conversation.item.delete":
                message = f"Item with item_id '{event['item_id']}' not found."
                await peer.send(error_event("item_not_found", message, event["event_id"]))

    async with ScriptedServer(on_connect) as server:
        config = RealtimeSessionConfig.text_only(instructions="Be brief.")
        session = RealtimeSession(server.settings(session_config=config))
        events = session.events()
        await session.connect()
        await session.create_item(MessageItem.user_text("hello"))
        delete_id = await session.delete_item("item_missing")

        error = await first(events, ErrorEvent)
        cause = session.cause_of(error)
        assert cause is not None
        assert (cause.event_id, cause.type) == (delete_id, "conversation.item.delete")
        assert isinstance(cause.event, ConversationItemDelete)
        assert cause.event.item_id == "item_missing"
        exc = session.api_error(error)
        assert isinstance(exc, ApiError)
        assert exc.event_id == delete_id
        assert f"conversation.item.delete {delete_id}" in exc.message

        peer = await server.peer(1)
        ids = [event.get("event_id") for event in peer.received]
        assert [event["type"] for event in peer.received] == [
            "session.update",
            "conversation.item.create",
            "conversation.item.delete",
        ]
        assert all(ids)
        assert len(set(ids)) == len(ids)
        await session.close()


async def test_reconnects_with_exponential_backoff_after_an_abrupt_drop() -> None:
    async def on_connect(peer: Peer) -> None:
        if peer.number in (2, 3):  # the first two reconnects are dropped before session.created
            peer.abort()
            return
        await standard(peer)

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(reconnect_delay=0.02, max_reconnect_delay=1.0))
        await session.connect()
        changes = session.state_changes()
        (await server.peer(1)).abort()

        seen = await until(changes, SessionState.CONNECTED)
        assert SessionState.FAILED not in [c.state for c in seen]
        reconnecting = [c for c in seen if c.state is SessionState.RECONNECTING]
        assert [c.attempt for c in reconnecting] == [1, 2, 3]
        for change in reconnecting:
            ceiling = 0.02 * 2 ** (change.attempt - 1)
            assert ceiling / 2 <= change.delay <= ceiling
            assert change.max_attempts == 5
        cause = reconnecting[0].error
        assert isinstance(cause, NetworkError)
        assert cause.retryable
        assert cause.code == "close_1006"
        assert seen[-1].reconnected
        assert session.state is SessionState.CONNECTED
        assert len(server.peers) == 4
        await session.close()


async def test_gives_up_after_the_configured_attempts() -> None:
    async def on_connect(peer: Peer) -> None:
        if peer.number > 1:
            peer.abort()
            return
        await standard(peer)

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(max_reconnect_attempts=2))
        await session.connect()
        changes = session.state_changes()
        (await server.peer(1)).abort()
        seen = [change async for change in changes]
        assert [c.state for c in seen][-1] is SessionState.FAILED
        assert [c.attempt for c in seen if c.state is SessionState.RECONNECTING] == [1, 2]
        assert isinstance(session.failure, NetworkError)
        assert "after 2 attempts" in session.failure.message
        assert len(server.peers) == 3


async def test_session_expired_with_close_1001_reconnects_at_once() -> None:
    expire = asyncio.Event()

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        answering = asyncio.create_task(peer.respond())
        if peer.number == 1:
            await expire.wait()
            text = "Your session hit the maximum duration of 60 minutes."
            await peer.send(error_event("session_expired", text))
            # websockets reports 1001 to the client as a *normal* close (ConnectionClosedOK).
            await peer.ws.close(1001, text)
        await answering

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(reconnect_delay=5.0))
        events = session.events()
        await session.connect()
        changes = session.state_changes()
        expire.set()

        seen = await until(changes, SessionState.CONNECTED)
        reconnecting = [c for c in seen if c.state is SessionState.RECONNECTING]
        assert len(reconnecting) == 1
        # No backoff for an expiry: the 5 s base delay would show here.
        assert reconnecting[0].delay == 0.0
        cause = reconnecting[0].error
        assert cause is not None
        assert cause.code == "session_expired"
        assert cause.retryable
        assert seen[-1].reconnected
        assert len(server.peers) == 2
        error = await first(events, ErrorEvent)
        assert error.error.code == "session_expired"
        created = await first(events, SessionCreated)
        assert created.session.id == "sess_2"  # type: ignore[union-attr]
        assert session.session_id == "sess_2"
        await session.close()


async def test_invalid_api_key_with_close_4000_fails_at_connect_without_retrying() -> None:
    async def on_connect(peer: Peer) -> None:
        await peer.send(error_event("invalid_api_key", "Incorrect API key provided."))
        await peer.ws.close(4000, "invalid_api_key")

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(reconnect_delay=0.0))
        events = session.events()
        with pytest.raises(AuthenticationError) as raised:
            await session.connect()
        assert "Check the API key" in raised.value.user_message
        assert not raised.value.retryable
        assert session.state is SessionState.FAILED
        assert session.failure is raised.value
        received = [event async for event in events]  # ends: the session failed
        assert [e.type for e in received] == ["error"]
        assert len(server.peers) == 1


async def test_invalid_api_key_mid_session_fails_without_reconnecting() -> None:
    revoke = asyncio.Event()

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        await revoke.wait()
        await peer.send(error_event("invalid_api_key", "The API key was revoked."))
        await peer.ws.close(4000, "invalid_api_key")

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(reconnect_delay=0.0))
        events = session.events()
        await session.connect()
        changes = session.state_changes()
        revoke.set()
        # Every reconnect passes through `reconnecting`; the stream ends with the failure.
        states = [change.state async for change in changes]
        assert states == [SessionState.FAILED]
        assert isinstance(session.failure, AuthenticationError)
        assert [event.type async for event in events] == ["session.created", "error"]
        assert len(server.peers) == 1


async def test_config_is_reapplied_and_the_conversation_replayed_after_a_reconnect() -> None:
    history = [
        MessageItem.user_text("What is 2 + 2?", item_id="item_u1"),
        MessageItem.assistant_text("Let me compute it.", item_id="item_a1"),
        FunctionCallItem(
            id="item_f1", call_id="call_1", name="calculate", arguments='{"expression":"2+2"}'
        ),
        FunctionCallOutputItem(id="item_o1", call_id="call_1", output='{"value":4}'),
    ]
    release = asyncio.Event()

    async def on_connect(peer: Peer) -> None:
        if peer.number == 2:
            await release.wait()
        await standard(peer)

    async with ScriptedServer(on_connect) as server:
        config = RealtimeSessionConfig.text_only(instructions="Be brief.")
        session = RealtimeSession(
            server.settings(session_config=config), replay_items=lambda: history
        )
        await session.connect()
        changes = session.state_changes()
        await session.update(
            RealtimeSessionConfig(instructions="Be very brief.", tool_choice="none")
        )
        first_peer = await server.peer(1)
        await first_peer.wait_for("session.update", lambda e: "tool_choice" in e["session"])
        first_peer.abort()

        await until(changes, SessionState.RECONNECTING)
        await session.append_audio(b"\x00\x00" * 480)  # stale microphone audio: dropped
        typed_id = await session.create_item(MessageItem.user_text("typed while offline"))
        release.set()
        connected = (await until(changes, SessionState.CONNECTED))[-1]
        assert connected.reconnected
        assert connected.context_restored
        assert connected.replayed_items == 4
        assert "context restored: 4 items" in connected.message

        peer = await server.peer(2)
        await peer.wait_for("conversation.item.create", lambda e: e["event_id"] == typed_id)
        assert peer.received[0]["type"] == "session.update"
        reapplied = peer.received[0]["session"]
        assert reapplied["type"] == "realtime"
        assert reapplied["instructions"] == "Be very brief."
        assert reapplied["output_modalities"] == ["text"]
        assert reapplied["tool_choice"] == "none"
        creates = peer.of_type("conversation.item.create")
        assert [c["item"]["id"] for c in creates[:4]] == [
            "item_u1",
            "item_a1",
            "item_f1",
            "item_o1",
        ]
        assert creates[1]["item"]["content"] == [
            {"type": "output_text", "text": "Let me compute it."}
        ]
        assert creates[4]["event_id"] == typed_id
        assert "input_audio_buffer.append" not in [e["type"] for e in peer.received]
        assert session.dropped_audio_events == 1
        await session.close()


async def test_rollover_before_expiry_waits_for_the_response_in_progress() -> None:
    start_turn = asyncio.Event()
    finish_turn = asyncio.Event()

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()  # expires in an hour
        answering = asyncio.create_task(peer.respond())
        if peer.number == 1:
            await start_turn.wait()
            response = {"id": "resp_1", "object": "realtime.response", "output": []}
            await peer.send(
                {"type": "response.created", "response": {**response, "status": "in_progress"}}
            )
            # The expiry moves inside the rollover margin while the response runs.
            soon = {"type": "realtime", "id": "sess_1", "expires_at": int(time.time()) + 5}
            await peer.send({"type": "session.updated", "session": soon})
            await peer.send({"type": "test.marker"})
            await finish_turn.wait()
            await peer.send(
                {"type": "response.done", "response": {**response, "status": "completed"}}
            )
        await answering

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings(rollover_margin=60.0))
        events = session.events()
        await session.connect()
        changes = session.state_changes()
        start_turn.set()

        await first(events, UnknownServerEvent, lambda e: e.type == "test.marker")
        # The session has seen the new expiry (the marker came after it) and waits.
        assert session.rollover_pending
        assert session.response_in_progress
        assert session.state is SessionState.CONNECTED
        assert len(server.peers) == 1

        finish_turn.set()
        await first(events, ResponseDone)
        seen = await until(changes, SessionState.CONNECTED)
        assert seen[0].state is SessionState.RECONNECTING
        assert seen[0].rollover
        assert seen[-1].reconnected
        assert seen[-1].rollover
        old = server.peers[0]
        await old.closed.wait()
        assert old.ws.close_code == 1000  # the client closed it, after the response
        assert len(server.peers) == 2
        assert not session.rollover_pending
        await session.close()


async def test_a_5_mib_server_frame_is_received() -> None:
    audio = base64.b64encode(bytes(range(256)) * (5 * 2**20 // 256 + 1)).decode()
    assert len(audio) > 5 * 2**20

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        item = {
            "id": "item_a1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "audio": audio, "transcript": "hello"}],
        }
        await peer.send({"type": "conversation.item.retrieved", "item": item})
        await peer.respond()

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings())
        events = session.events()
        await session.connect()
        retrieved = await first(events, ConversationItemRetrieved)
        assert isinstance(retrieved.item, MessageItem)
        assert retrieved.item.content
        assert retrieved.item.content[0].audio == audio
        assert session.state is SessionState.CONNECTED
        await session.close()

        # The same frame with websockets' default 1 MiB limit closes the connection (1009).
        limited = RealtimeSession(server.settings(max_message_size=2**20))
        await limited.connect()
        changes = limited.state_changes()
        assert [change.state async for change in changes] == [SessionState.FAILED]
        assert isinstance(limited.failure, ApiError)
        assert "1009" in limited.failure.message


async def test_unknown_event_types_reach_events() -> None:
    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        await peer.send({"type": "response.hologram.delta", "delta": "✨", "extra": [1, 2]})
        await peer.respond()

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings())
        events = session.events()
        await session.connect()
        unknown = await first(events, UnknownServerEvent)
        assert unknown.type == "response.hologram.delta"
        assert unknown.raw["delta"] == "✨"
        assert unknown.raw["extra"] == [1, 2]
        await session.close()


async def test_events_end_after_close() -> None:
    async with ScriptedServer() as server:
        session = RealtimeSession(server.settings())
        events = session.events()
        await session.connect()
        collected: list[str] = []

        async def consume() -> None:
            async for event in events:
                collected.append(event.type)

        consumer = asyncio.create_task(consume())
        await session.close()
        await consumer  # finishes: the stream ended
        assert collected == ["session.created"]
        assert session.state is SessionState.CLOSED
        assert [e async for e in session.events()] == []  # a late subscriber ends at once
        await session.close()  # idempotent
        with pytest.raises(NetworkError):
            await session.commit_audio()
        peer = await server.peer(1)
        await peer.closed.wait()
        assert peer.ws.close_code == 1000


async def test_beta_dialect_is_translated_at_the_wire() -> None:
    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        update = await peer.recv()
        await peer.send({"type": "session.updated", "session": update["session"]})
        delta = {
            "type": "response.audio_transcript.delta",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hel",
        }
        await peer.send(delta)
        await peer.respond()

    async with ScriptedServer(on_connect) as server:
        config = RealtimeSessionConfig.voice_conversation(voice="alloy")
        session = RealtimeSession(server.settings(dialect="beta", session_config=config))
        events = session.events()
        await session.connect()
        delta = await first(events, ResponseOutputAudioTranscriptDelta)
        assert delta.delta == "Hel"
        peer = await server.peer(1)
        assert peer.headers.get("OpenAI-Beta") == "realtime=v1"
        flat = peer.received[0]["session"]
        assert peer.received[0]["type"] == "session.update"
        assert flat["voice"] == "alloy"
        assert "type" not in flat
        assert "audio" not in flat
        await session.close()


async def test_the_conversation_built_from_events_is_what_a_reconnect_replays() -> None:
    """The app's wiring: events → Conversation; Conversation.replay_items → the next session."""
    turn = sequences.parallel_function_calls()

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        if peer.number == 1:
            for event in turn:
                await peer.send(event)
            await peer.send({"type": "test.turn_over"})
        await peer.respond()

    async with ScriptedServer(on_connect) as server:
        conversation = Conversation()
        session = RealtimeSession(server.settings(), replay_items=conversation.replay_items)
        activity = session.activity()
        await session.connect()
        lost_while_streaming = None
        async for update in activity:
            if isinstance(update, StateChange):
                if update.state is SessionState.RECONNECTING:
                    lost_while_streaming = conversation.active_response
                    conversation.mark_connection_lost()
                if update.state is SessionState.CONNECTED and update.reconnected:
                    break
                continue
            conversation.apply(update)
            if isinstance(update, UnknownServerEvent):  # the turn is over: drop the line
                before = [item.id for item in conversation]
                (await server.peer(1)).abort()
        assert lost_while_streaming is None
        assert update.replayed_items == 6
        assert update.context_restored
        peer = await server.peer(2)
        replayed = [e["item"] for e in peer.of_type("conversation.item.create")]
        assert [item["id"] for item in replayed] == before
        assert [item["type"] for item in replayed] == [
            "message",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output",
            "message",
        ]
        assert replayed[-1]["content"] == [{"type": "output_text", "text": "It is 14:05 and 42."}]
        # The new session's acknowledgements named the same ids: nothing was duplicated.
        assert [item.id for item in conversation] == before
        await session.close()
