"""The real main window driven against the offline server (issue 6, acceptance 1).

The window, view model, controller, session and server are all real; the audio engine is real
too, on the fake backend's real-time clock thread, with espeak-ng speech as the microphone.
Tests wait on observable state (``until``), never on fixed sleeps. Every test body runs as one
coroutine on the Qt-bound loop (``run_async``), as the app does: Qt only processes events while
asyncio runs too, so no task step ever runs outside its loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from keyring.backend import KeyringBackend
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from realtime_desktop.audio.backends import FakeBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
from realtime_desktop.audio.espeak import espeak_available, synthesize
from realtime_desktop.core.conversation import ConversationItem, ItemKind
from realtime_desktop.core.event_log import Direction
from realtime_desktop.core.tools import ToolRunStatus
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.secrets import SecretStore
from realtime_desktop.storage.settings import Settings
from realtime_desktop.ui.conversation_vm import ConversationViewModel
from realtime_desktop.ui.main_window import MainWindow
from realtime_desktop.ui.models.transcript_model import ITEM_ROLE, TOOL_RUN_ROLE
from realtime_desktop.ui.widgets.transcript_view import message_text, tool_header

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

Run = Callable[[Coroutine[Any, Any, Any]], Any]


class MemoryKeyring(KeyringBackend):
    """No key stored: the app must fall back to the offline echo server."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


class Window:
    """The window under test and handles on what it drives."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.backend = FakeBackend(sample_rate=48_000, realtime=True)
        self.store = ConversationStore(tmp_path / "conversations")
        self.vm = ConversationViewModel(
            settings=settings,
            secrets=SecretStore(backend=MemoryKeyring(), environ={}),
            store=self.store,
            make_engine=lambda s: AudioEngine(
                AudioEngineConfig(echo_cancellation=False, noise_suppression=False), self.backend
            ),
        )
        self.window = MainWindow(self.vm, state_file=tmp_path / "window.ini")

    def rows(self) -> list[ConversationItem]:
        model = self.window.transcript_filter
        return [model.data(model.index(r, 0), ITEM_ROLE) for r in range(model.rowCount())]

    def assistant(self) -> list[ConversationItem]:
        return [i for i in self.rows() if i.role == "assistant"]

    def sent(self, event_type: str) -> list[dict[str, Any]]:
        return [
            row.payload
            for row in self.vm.event_log
            if row.direction is Direction.SENT and row.type == event_type
        ]


async def until(condition: Callable[[], object], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def make_window(
    qtbot: QtBot, run_async: Run, tmp_path: Path
) -> Iterator[Callable[[Settings], Window]]:
    """Builds, shows and connects windows; shuts every one down afterwards."""
    made: list[Window] = []

    def make(settings: Settings) -> Window:
        harness = Window(settings, tmp_path)
        qtbot.addWidget(harness.window)
        harness.window.show()
        run_async(harness.vm.connect_session())
        made.append(harness)
        return harness

    yield make
    for harness in made:
        run_async(harness.vm.shutdown())
        assert harness.vm.server is None


@pytest.fixture
def window(make_window: Callable[[Settings], Window]) -> Window:
    return make_window(Settings())


def test_connects_to_the_offline_echo_and_says_so(window: Window) -> None:
    bar = window.window.connection_bar
    assert bar.provider.text() == "Offline echo"
    assert bar.state.text() == "Listening"
    assert bar.connect_button.text() == "Disconnect"
    assert "offline" in window.window.notices.keys
    assert "no API key" in window.window.notices.text_of("offline")
    assert re.fullmatch(r"Session (60|59):\d\d left", bar.clock.text())


def test_a_typed_turn_streams_the_assistant_bubble(
    window: Window, qtbot: QtBot, run_async: Run
) -> None:
    entry = window.window.controls.entry
    changes: list[int] = []
    window.window.transcript_model.dataChanged.connect(lambda a, b, *_: changes.append(a.row()))

    async def scenario() -> None:
        qtbot.keyClicks(entry, "Tell me something")
        qtbot.keyClick(entry, Qt.Key.Key_Return)
        assert entry.text() == ""
        await until(lambda: any("Tell me something" in i.transcript for i in window.assistant()))
        await until(lambda: window.vm.phase == "listening")

    run_async(scenario())
    user, answer = window.rows()[-2:]
    assert user.role == "user"
    assert user.text == "Tell me something"
    assert answer.status.value == "completed"
    answer_row = window.vm.controller.conversation.index_of(answer.id)
    assert changes.count(answer_row) > 3  # the bubble was updated as deltas arrived
    assert message_text(answer)[0] == answer.transcript


def test_a_spoken_turn_shows_both_bubbles(window: Window, run_async: Run) -> None:
    async def scenario() -> None:
        speech = synthesize("Hello from the microphone.", 48_000)
        window.backend.feed_microphone(np.concatenate([speech, np.zeros(48_000, np.float32)]))
        await until(lambda: any(i.transcript.startswith("Echo of") for i in window.assistant()))

    run_async(scenario())
    user = [i for i in window.rows() if i.role == "user"]
    assert user
    assert user[-1].has_audio
    # Transcription is on by default; offline, the server says honestly that none ran.
    assert "no speech recognizer runs offline" in message_text(user[-1])[0]


def test_interrupting_marks_the_bubble_and_truncates_at_what_was_heard(
    window: Window, qtbot: QtBot, run_async: Run
) -> None:
    engine = window.vm.controller.audio
    assert engine is not None

    async def scenario() -> str:
        window.window.controls.entry.setText(" ".join(["A long answer to interrupt."] * 8))
        qtbot.keyClick(window.window.controls.entry, Qt.Key.Key_Return)
        await until(lambda: engine.playing_item_id is not None)
        item_id = engine.playing_item_id
        assert item_id is not None
        await until(lambda: engine.played_ms(item_id) > 500)
        assert window.window.controls.interrupt.isEnabled()
        qtbot.mouseClick(window.window.controls.interrupt, Qt.MouseButton.LeftButton)
        await until(
            lambda: (i := window.vm.controller.conversation.item(item_id)) and i.interrupted
        )
        await until(lambda: not engine.is_playing, within=1)
        return item_id

    item_id = run_async(scenario())
    item = window.vm.controller.conversation.item(item_id)
    assert item is not None
    assert item.truncated_at_ms is not None
    _, grey_from, footer = message_text(item)
    assert footer == f"Interrupted at {item.truncated_at_ms / 1000:.1f} s"
    assert grey_from is not None
    assert grey_from < len(item.transcript)  # the unheard tail is greyed
    (truncate,) = window.sent("conversation.item.truncate")
    assert truncate["item_id"] == item_id
    assert truncate["audio_end_ms"] == item.truncated_at_ms
    assert abs(engine.played_ms(item_id) - item.truncated_at_ms) <= 10


def test_a_tool_card_goes_from_approval_to_done(
    make_window: Callable[[Settings], Window], qtbot: QtBot, run_async: Run
) -> None:
    harness = make_window(Settings().with_value("tools.approval", "always"))

    async def scenario() -> tuple[ConversationItem, Any]:
        await harness.vm.send_text('/call calculate {"expression": "2 + 3"}')
        await until(lambda: bool(harness.vm.controller.executor.awaiting_approval))
        (card,) = [i for i in harness.rows() if i.kind is ItemKind.FUNCTION_CALL]
        model = harness.window.transcript_filter
        row = harness.rows().index(card)
        run = model.data(model.index(row, 0), TOOL_RUN_ROLE)
        assert run.status is ToolRunStatus.AWAITING_APPROVAL
        assert "Waiting for your approval" in tool_header(card, run)
        approve = [
            button
            for button in harness.window.notices.findChildren(QPushButton)
            if button.text() == "Approve" and button.isVisible()
        ]
        assert approve, "the notice bar offers Approve (accessible, unlike the painted card)"
        qtbot.mouseClick(approve[0], Qt.MouseButton.LeftButton)
        await until(lambda: run.finished)
        await until(lambda: any("5" in i.display_text for i in harness.assistant()))
        return card, run

    card, run = run_async(scenario())
    assert run.status is ToolRunStatus.SUCCEEDED
    assert "Done" in tool_header(card, run)
    assert f"approval:{run.call_id}" not in harness.window.notices.keys


def test_a_dropped_connection_shows_a_notice_and_recovers(window: Window, run_async: Run) -> None:
    server = window.vm.server
    assert server is not None
    session = window.vm.controller.session
    assert session is not None
    held = server.call(lambda: server.server.session_by_id(session.session_id or ""))
    seen: list[str] = []

    def reconnected() -> bool:
        text = window.window.notices.text_of("connection")
        seen.append(text)
        return text.startswith("Reconnected")

    async def scenario() -> None:
        server.call(held.drop)
        await until(reconnected)
        await until(lambda: window.window.connection_bar.state.text() == "Listening")

    run_async(scenario())
    assert any(text.startswith("Reconnecting") for text in seen)


def test_the_inspector_collapses_audio_deltas(window: Window, qtbot: QtBot, run_async: Run) -> None:
    async def scenario() -> None:
        qtbot.keyClick(window.window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
        assert window.window.inspector.isVisible()
        await window.vm.send_text("Play some audio")
        await until(lambda: window.vm.phase == "listening" and window.assistant())

    run_async(scenario())
    log = window.window.inspector.model.log
    deltas = [row for row in log if row.type == "response.output_audio.delta"]
    assert len(deltas) == 1
    assert deltas[0].count > 5
    assert "elided" in deltas[0].payload["delta"]


def test_the_transcript_model_stays_consistent(
    window: Window, qtmodeltester: ModelTester, run_async: Run
) -> None:
    qtmodeltester.check(window.window.transcript_model)
    qtmodeltester.check(window.window.transcript_filter)

    async def scenario() -> None:
        await window.vm.send_text("Check the model")
        await until(lambda: window.vm.phase == "listening" and window.assistant())

    run_async(scenario())


def test_closing_saves_the_conversation(window: Window, run_async: Run) -> None:
    async def scenario() -> None:
        await window.vm.send_text("Remember me")
        await until(lambda: window.vm.phase == "listening" and window.assistant())
        window.window.close()
        await until(lambda: not window.window.isVisible())

    run_async(scenario())
    assert window.vm.is_shut_down
    (summary,) = window.store.list_conversations("")
    document = window.store.open(summary.id)
    assert [i.role for i in document.items] == ["user", "assistant"]
    assert document.items[0].text == "Remember me"
