"""The conversation controller end to end: the real offline server over a real WebSocket, the
real audio engine driven by the fake backend's real-time clock thread, espeak-ng speech as the
microphone. Waits are on observable state with a deadline, never fixed sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest

from realtime_desktop.audio.backends import FakeBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
from realtime_desktop.audio.espeak import espeak_available, synthesize
from realtime_desktop.core import AuthenticationError, ConnectionSettings, ItemKind
from realtime_desktop.core.controller import (
    ControllerListener,
    Notice,
    NoticeAction,
    Phase,
    RealtimeConversation,
)
from realtime_desktop.core.event_log import Direction
from realtime_desktop.core.tools import ToolRunStatus
from realtime_desktop.protocol import RealtimeSessionConfig, TurnDetection
from realtime_desktop.server import OfflineServerThread, start_in_thread

TOKEN = "controller-test-token"

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[OfflineServerThread]:
    running = start_in_thread(token=TOKEN)
    yield running
    running.stop()


class Recorder(ControllerListener):
    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self.notices: list[Notice] = []

    def phase_changed(self, phase: Phase) -> None:
        self.phases.append(phase)

    def notice(self, notice: Notice) -> None:
        self.notices.append(notice)


async def until(condition: Callable[[], Any], within: float = 15.0) -> None:
    """Polls ``condition`` on the loop until it holds; fails with the deadline."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


def connection(
    server: OfflineServerThread, config: RealtimeSessionConfig | None = None, **kw: Any
) -> ConnectionSettings:
    return ConnectionSettings(
        provider="offline",
        url=server.url,
        api_key=kw.pop("api_key", TOKEN),
        session_config=config or RealtimeSessionConfig.voice_conversation(transcription_model=None),
        reconnect_delay=0.05,
        **kw,
    )


Harness = tuple[RealtimeConversation, FakeBackend, Recorder]


@contextlib.asynccontextmanager
async def harness() -> AsyncIterator[Harness]:
    """A controller over the real engine on the fake backend's real-time clock; always ended,
    so no task, thread or connection outlives the test."""
    backend = FakeBackend(sample_rate=48_000, realtime=True)
    engine = AudioEngine(
        AudioEngineConfig(echo_cancellation=False, noise_suppression=False), backend
    )
    conversation = RealtimeConversation(audio=engine)
    recorder = Recorder()
    conversation.add_listener(recorder)
    try:
        yield conversation, backend, recorder
    finally:
        await conversation.end()
        assert not engine.running


def server_session(server: OfflineServerThread, conversation: RealtimeConversation) -> Any:
    session_id = conversation.session.session_id if conversation.session else None
    assert session_id is not None
    return server.call(lambda: server.server.session_by_id(session_id))


def sent_types(controller: RealtimeConversation) -> list[str]:
    """Client event types in the order sent; the inspector collapses runs, so expand them."""
    return [
        row.type
        for row in controller.event_log
        if row.direction is Direction.SENT
        for _ in range(row.count)
    ]


def assistant_items(controller: RealtimeConversation) -> list[Any]:
    return [i for i in controller.conversation if i.role == "assistant"]


async def test_a_text_turn_is_answered_and_played(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, backend, recorder):
        await conversation.start(connection(server))
        assert conversation.phase is Phase.LISTENING
        await conversation.send_text("Hello there")
        await until(
            lambda: any("Hello there" in i.transcript for i in assistant_items(conversation))
        )
        await until(lambda: conversation.phase is Phase.LISTENING and conversation.turns)
        assert Phase.ASSISTANT_SPEAKING in recorder.phases
        assert np.abs(backend.rendered()).max() > 0.05  # the spoken answer reached the speaker
        turn = conversation.turns[-1]
        assert turn.latency_ms is not None
        assert 0 < turn.latency_ms < 5_000
        types = sent_types(conversation)
        assert types[0] == "session.update"
        assert "conversation.item.create" in types
        assert "response.create" in types
        assert conversation.stats().output_tokens > 0


async def test_a_spoken_turn_is_echoed_back(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, backend, recorder):
        await conversation.start(connection(server))
        speech = synthesize("Testing the echo, one two three.", 48_000)
        backend.feed_microphone(np.concatenate([speech, np.zeros(48_000, np.float32)]))
        await until(lambda: Phase.USER_SPEAKING in recorder.phases)
        await until(
            lambda: any(
                i.has_audio and i.status.value == "completed" for i in assistant_items(conversation)
            )
        )
        user = [i for i in conversation.conversation if i.role == "user"]
        assert user
        assert user[0].has_audio
        echo = assistant_items(conversation)[0]
        assert echo.transcript.startswith("Echo of")
        await until(lambda: conversation.turns and conversation.turns[-1].latency_ms is not None)


async def test_interrupting_truncates_at_what_was_heard(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, _recorder):
        await conversation.start(connection(server), listen=False)
        long_text = " ".join(["This is a long answer that keeps going for a while."] * 6)
        await conversation.send_text(long_text)
        await until(lambda: conversation.is_playing)
        playing = conversation.audio.playing_item_id if conversation.audio else None
        assert playing is not None
        await until(
            lambda: conversation.audio is not None and conversation.audio.played_ms(playing) > 600
        )
        await conversation.interrupt()
        await until(
            lambda: (
                (item := conversation.conversation.item(playing)) is not None and item.interrupted
            )
        )
        item = conversation.conversation.item(playing)
        assert item is not None
        assert item.truncated_at_ms is not None
        assert 600 <= item.truncated_at_ms < item.audio_ms
        assert item.heard_transcript  # the partial transcript is kept locally
        assert len(item.heard_transcript) < len(item.transcript)
        # Audible until the last faded block has left the device (its output latency).
        await until(lambda: not conversation.is_playing, within=0.5)
        # The server's copy was cut where the listener stopped hearing it.
        clip = server_session(server, conversation).conversation.audio(playing)
        assert abs(clip.duration_ms - item.truncated_at_ms) <= 1
        assert "conversation.item.truncate" in sent_types(conversation)


async def test_a_tool_call_runs_and_the_answer_reads_its_output(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, _recorder):
        conversation.register_builtin_tools()
        await conversation.start(
            connection(server, RealtimeSessionConfig.text_only()), listen=False
        )
        await conversation.send_text('/call calculate {"expression": "6 * 7"}')
        await until(lambda: any(r.finished for r in conversation.executor.history))
        run = conversation.executor.history[-1]
        assert run.status is ToolRunStatus.SUCCEEDED
        assert "42" in (run.output or "")
        await until(lambda: any("42" in i.text for i in assistant_items(conversation)))
        calls = [i for i in conversation.conversation if i.kind is ItemKind.FUNCTION_CALL]
        assert calls[0].name == "calculate"
        assert (
            sent_types(conversation).count("response.create") == 2
        )  # the turn, then one follow-up


async def test_a_tool_that_needs_approval_waits_for_the_user(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, recorder):
        calls: list[str] = []

        def delete_file(path: str) -> dict[str, str]:
            """Deletes a file (pretend).

            Args:
                path: the file.
            """
            calls.append(path)
            return {"deleted": path}

        conversation.register_tools(
            lambda registry: registry.register(delete_file, requires_approval=True)
        )
        await conversation.start(
            connection(server, RealtimeSessionConfig.text_only()), listen=False
        )
        await conversation.send_text('/call delete_file {"path": "/tmp/x"}')
        await until(lambda: bool(conversation.executor.awaiting_approval))
        assert conversation.phase is Phase.TOOL_RUNNING
        assert any(n.key.startswith("approval:") for n in recorder.notices)
        assert calls == []
        run = conversation.executor.awaiting_approval[0]
        assert conversation.deny_tool(run.call_id)
        await until(lambda: run.finished)
        assert run.status is ToolRunStatus.REJECTED
        assert calls == []
        await until(lambda: conversation.phase is Phase.LISTENING)


async def test_push_to_talk_sends_only_what_was_said_while_held(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, backend, _recorder):
        config = RealtimeSessionConfig.voice_conversation(transcription_model=None)
        config.audio.input.turn_detection = None  # type: ignore[union-attr]
        await conversation.start(connection(server, config))
        assert conversation.push_to_talk
        await conversation.push_to_talk_pressed()
        speech = synthesize("Push to talk works.", 48_000)
        backend.feed_microphone(speech)
        # The user holds the key while speaking: that is how long the turn lasts, not a wait.
        await asyncio.sleep(len(speech) / 48_000 + 0.1)
        await conversation.push_to_talk_released()
        await until(lambda: "input_audio_buffer.commit" in sent_types(conversation))
        types = sent_types(conversation)
        # cleared at the press, the speech appended, then one commit and one response
        assert types.index("input_audio_buffer.clear") < types.index("input_audio_buffer.append")
        assert types.count("input_audio_buffer.append") >= 60  # ~1.5 s in 20 ms chunks
        await until(
            lambda: any(
                i.transcript.startswith("Echo of") and i.status.value == "completed"
                for i in assistant_items(conversation)
            )
        )
        echo = assistant_items(conversation)[-1]
        spoken_s = len(speech) / 48_000
        assert abs(echo.audio_ms / 1000 - spoken_s) < 0.6


async def test_a_dropped_connection_reconnects_and_keeps_the_conversation(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, recorder):
        await conversation.start(
            connection(server, RealtimeSessionConfig.text_only()), listen=False
        )
        await conversation.send_text("remember this")
        await until(lambda: any("remember this" in i.text for i in assistant_items(conversation)))
        items_before = len(conversation.conversation)
        held = server_session(server, conversation)
        server.call(held.drop)
        await until(
            lambda: any(n.key == "connection" and "Reconnected" in n.text for n in recorder.notices)
        )
        assert Phase.RECONNECTING in recorder.phases
        await until(lambda: conversation.phase is Phase.LISTENING)
        assert len(conversation.conversation) == items_before  # replayed, not duplicated
        await conversation.send_text("/history")
        await until(
            lambda: any("remember this" in i.text for i in assistant_items(conversation)[-1:])
        )


async def test_a_rejected_key_fails_with_a_way_to_fix_it(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, recorder):
        with pytest.raises(AuthenticationError):
            await conversation.start(connection(server, api_key="wrong"))
        assert conversation.phase is Phase.ERROR
        notice = recorder.notices[-1]
        assert notice.action is NoticeAction.OPEN_SETTINGS


async def test_turn_detection_switches_to_push_to_talk_and_back(
    server: OfflineServerThread,
) -> None:
    async with harness() as (conversation, _backend, _recorder):
        await conversation.start(connection(server))
        assert not conversation.push_to_talk
        await conversation.update_turn_detection(None)
        await until(lambda: conversation.push_to_talk)
        await conversation.update_turn_detection(TurnDetection.server_vad(silence_duration_ms=400))
        await until(lambda: not conversation.push_to_talk)
        detection = conversation.config.turn_detection
        assert detection is not None
        assert detection.silence_duration_ms == 400
        await conversation.update_modalities("text")
        await until(lambda: conversation.output_modality == "text")
