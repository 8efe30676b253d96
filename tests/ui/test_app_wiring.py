"""The main window with its dialogs: a saved conversation continued in a new session (issue 7,
acceptance 4), settings applied live, the settings dialog and the history window opened from the
window."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from realtime_desktop.audio.espeak import espeak_available
from realtime_desktop.protocol import MessageItem
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.settings import Settings
from realtime_desktop.storage.settings_file import SettingsFile
from realtime_desktop.ui.application import AppDialogs
from realtime_desktop.ui.history_window import HistoryWindow
from realtime_desktop.ui.settings_dialog import SettingsDialog

from .test_main_window import Window, until

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

Run = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture
def window(qtbot: QtBot, run_async: Run, tmp_path: Path) -> Iterator[Window]:
    harness = Window(Settings().with_value("voice.output_modality", "text"), tmp_path)
    paths = AppPaths.under(tmp_path / "app").ensure()
    harness.vm._settings_file = SettingsFile.for_paths(paths)
    harness.window.set_dialog_openers(*_openers(AppDialogs(harness.vm, harness.window, paths)))
    qtbot.addWidget(harness.window)
    harness.window.show()
    run_async(harness.vm.connect_session())
    yield harness
    run_async(harness.vm.shutdown())


def _openers(dialogs: AppDialogs) -> tuple[Callable[[], None], Callable[[], None]]:
    return dialogs.open_settings, dialogs.open_history


def _server_items(window: Window) -> list[Any]:
    server = window.vm.server
    session = window.vm.controller.session
    assert server is not None
    assert session is not None
    held = server.call(lambda: server.server.session_by_id(session.session_id or ""))
    return held.conversation.items


def test_a_saved_conversation_continues_in_a_new_session(window: Window, run_async: Run) -> None:
    async def scenario() -> None:
        await window.vm.send_text("The code word is pineapple.")
        await until(lambda: window.vm.phase == "listening" and window.assistant())
        first_session = window.vm.controller.session.session_id  # type: ignore[union-attr]
        conversation_id = window.vm.document.id  # type: ignore[union-attr]
        await window.vm.new_conversation()
        assert window.rows() == []  # a fresh conversation
        await window.vm.continue_conversation(conversation_id)
        assert window.vm.controller.session.session_id != first_session  # type: ignore[union-attr]
        await until(lambda: len(window.rows()) == 2)

        # The new server session holds the replayed items…
        held = _server_items(window)
        texts = [i.text for i in held if isinstance(i, MessageItem)]
        assert texts[:2] == ["The code word is pineapple.", "The code word is pineapple."]

        # …and the next turn sees them.
        await window.vm.send_text("/history")
        await until(
            lambda: "/history" not in window.assistant()[-1].text and len(window.assistant()) == 2
        )
        await until(lambda: window.vm.phase == "listening")

    run_async(scenario())
    assert "pineapple" in window.assistant()[-1].text


def test_settings_apply_live_with_a_session_update(window: Window, run_async: Run) -> None:
    async def scenario() -> None:
        new = window.vm.settings.with_values(
            {"turn_detection.silence_duration_ms": 850, "voice.instructions": "Be terse."}
        )
        session_before = window.vm.controller.session
        await window.vm.apply_settings(new)
        assert window.vm.controller.session is session_before  # no reconnect was needed
        server = window.vm.server
        assert server is not None
        session = window.vm.controller.session
        assert session is not None

        def config() -> Any:
            return server.call(lambda: server.server.session_by_id(session.session_id or "").config)

        await until(lambda: config().instructions == "Be terse.")
        detection = config().audio.input.turn_detection
        assert detection.silence_duration_ms == 850
        assert detection.threshold is not None  # the whole object was sent, not a fragment

    run_async(scenario())
    saved = window.vm._settings_file.load().settings  # type: ignore[union-attr]
    assert saved.turn_detection.silence_duration_ms == 850


def test_the_menus_open_the_settings_dialog_and_the_history(
    window: Window, qtbot: QtBot, run_async: Run
) -> None:
    async def scenario() -> None:
        window.window.settings_action.trigger()
        dialog = window.window.findChild(SettingsDialog)
        assert dialog is not None
        await until(dialog.isVisible)
        changed = window.vm.settings.with_value("voice.speed", 1.25)
        dialog.applied.emit(changed)
        await until(lambda: window.vm.settings.voice.speed == 1.25)
        dialog.reject()

        await window.vm.send_text("Something to list")
        await until(lambda: window.vm.phase == "listening" and window.assistant())
        await asyncio.sleep(0)  # let the autosaver's timer be armed
        await window.vm._autosaver.flush()  # type: ignore[union-attr]
        window.window.history_action.trigger()
        await until(lambda: _history_window() is not None)
        history = _history_window()
        assert history is not None
        await until(lambda: history.visible_ids() != [])
        assert window.vm.document is not None
        assert history.visible_ids() == [window.vm.document.id]
        history.close()

    run_async(scenario())


def _history_window() -> HistoryWindow | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, HistoryWindow) and widget.isVisible():
            return widget
    return None
