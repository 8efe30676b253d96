"""Screenshots of every settings page and of the history window, with real fonts.

Run under a virtual X server (the offscreen platform has no font hinting and no real style)::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots_settings.py OUT_DIR

``capture(out_dir)`` is what the main screenshot script calls: it builds the dialog and the
window with realistic content — a key in an (in-memory) keyring, a few audio devices, a live
microphone level, a connection test against the embedded offline server, five saved
conversations in a temporary store — and saves one PNG per view. Nothing touches the real
keyring, the sound card or the user's files.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import sys
import tempfile
import time
from pathlib import Path

import PySide6.QtWidgets  # noqa: F401 - imported before qasync so qasync binds to PySide6
import qasync
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

from realtime_desktop.audio.backends import DeviceInfo
from realtime_desktop.audio.engine import Level
from realtime_desktop.core.from_settings import OfflineEndpoint
from realtime_desktop.server import start_in_thread
from realtime_desktop.storage.conversation import (
    ConversationDocument,
    ConversationItem,
    Interruption,
    ResponseRecord,
    TokenUsage,
    ToolCall,
)
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.secrets import SecretStore
from realtime_desktop.storage.settings import Settings
from realtime_desktop.ui.history_window import HistoryWindow
from realtime_desktop.ui.settings_dialog import SettingsDialog, SettingsServices


class _ScreenshotKeyring(KeyringBackend):
    """In memory, for the pictures; never registered for auto-detection."""

    @properties.classproperty
    def priority(self) -> float:
        raise RuntimeError("install explicitly")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


DEVICES = [
    DeviceInfo(0, "Built-in Audio Analog Stereo", "ALSA", 2, 2, 48000.0, True, True),
    DeviceInfo(1, "Jabra Evolve2 65 Mono", "ALSA", 1, 0, 16000.0, False, False),
    DeviceInfo(2, "Jabra Evolve2 65 Stereo", "ALSA", 0, 2, 48000.0, False, False),
    DeviceInfo(3, "HDMI / DisplayPort 1 Output", "ALSA", 0, 8, 48000.0, False, False),
]


def _speaking_level() -> Level:
    """A level that moves like speech, so the meter shows a bar and a peak."""
    phase = time.monotonic() * 3.0
    rms = -26.0 + 8.0 * math.sin(phase)
    return Level(rms_dbfs=rms, peak_dbfs=rms + 9.0)


Turn = tuple[str, ...]


def _said(text: str) -> Turn:
    return ("user", text)


def _typed(text: str) -> Turn:
    return ("typed", text)


def _answer(text: str) -> Turn:
    return ("assistant", text)


def _cut_off(text: str, heard: str) -> Turn:
    return ("interrupted", text, heard)


def _tool(name: str, arguments: str, result: str) -> Turn:
    return ("tool", name, arguments, result)


SCRIPTS: list[tuple[str, str, int, list[Turn]]] = [
    (
        "Weather in Lyon for the weekend",
        "gpt-realtime-2",
        184_000,
        [
            _said("What's the weather going to be like in Lyon this weekend?"),
            _tool(
                "get_weather",
                '{"city": "Lyon", "days": 2}',
                '{"saturday": "sunny, 18°C", "sunday": "showers, 14°C"}',
            ),
            _answer(
                "Saturday looks sunny and mild, around 18 degrees. Sunday turns wetter with "
                "showers and about 14 degrees, so take an umbrella if you go out."
            ),
            _said("And should I book the boat trip on Saturday or Sunday?"),
            _cut_off(
                "Saturday, definitely: dry and calm. Sunday's showers would",
                "Saturday, definitely",
            ),
            _said("Great, Saturday it is. Thanks!"),
            _answer("Have a lovely trip!"),
        ],
    ),
    (
        "",
        "gpt-realtime-2",
        95_000,
        [
            _said("How many days are there between March 3rd and June 21st?"),
            _tool(
                "days_between",
                '{"start_date": "2027-03-03", "end_date": "2027-06-21"}',
                '{"days": 110}',
            ),
            _answer("There are 110 days between March 3rd and June 21st."),
        ],
    ),
    (
        "Spanish practice — ordering food",
        "gpt-realtime-2.1-mini",
        1_262_000,
        [
            _said("Let's practise ordering in a restaurant, in Spanish please."),
            _answer("¡Claro! Bienvenido al restaurante. ¿Qué le gustaría tomar?"),
            _said("Quisiera una paella y un agua con gas, por favor."),
            _answer("Muy bien. Una paella y un agua con gas. ¿Algo más?"),
        ],
    ),
    (
        "Unit conversion for the recipe",
        "gpt-realtime-mini",
        41_000,
        [
            _typed("Convert 350 degrees Fahrenheit to Celsius"),
            _tool(
                "convert_units",
                '{"value": 350, "from_unit": "F", "to_unit": "C"}',
                '{"value": 176.67}',
            ),
            _answer("350 °F is about 177 °C."),
        ],
    ),
    (
        "Offline echo test",
        "gpt-realtime",
        12_000,
        [_said("Testing, one, two, three."), _answer("Testing, one, two, three.")],
    ),
]


def _conversations(store: ConversationStore) -> None:
    """Five conversations like a week of use: spoken questions, tool calls, an interruption,
    a typed question; one model without a known price."""
    now = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)
    for number, (title, model, duration_ms, turns) in enumerate(SCRIPTS):
        started = now - datetime.timedelta(days=number * 1.7, hours=number * 3)
        document = ConversationDocument(
            title=title,
            created_at=started,
            updated_at=started + datetime.timedelta(milliseconds=duration_ms),
            provider="offline" if title == "Offline echo test" else "openai",
            model=model,
            voice="marin",
            instructions="You are a helpful, friendly voice assistant.",
            duration_ms=duration_ms,
        )
        for index, turn in enumerate(turns):
            moment = started + datetime.timedelta(seconds=index * 9)
            item_id = f"item_{number}_{index}"
            kind = turn[0]
            if kind == "tool":
                document.items.append(
                    ConversationItem(
                        id=item_id,
                        kind="tool_call",
                        role="assistant",
                        created_at=moment,
                        tool_call=ToolCall(
                            call_id=f"call_{number}_{index}",
                            name=turn[1],
                            arguments=turn[2],
                            status="completed",
                            result=turn[3],
                        ),
                    )
                )
            elif kind in ("user", "typed"):
                document.items.append(
                    ConversationItem(
                        id=item_id,
                        role="user",
                        created_at=moment,
                        text=turn[1] if kind == "typed" else "",
                        transcript=turn[1] if kind == "user" else "",
                        has_audio=kind == "user",
                    )
                )
            else:
                response_id = f"resp_{number}_{index}"
                interrupted = kind == "interrupted"
                document.items.append(
                    ConversationItem(
                        id=item_id,
                        role="assistant",
                        created_at=moment,
                        transcript=turn[1],
                        has_audio=True,
                        response_id=response_id,
                        status="incomplete" if interrupted else "completed",
                        interruption=Interruption(audio_end_ms=1800, partial_transcript=turn[2])
                        if interrupted
                        else None,
                    )
                )
                document.responses.append(
                    ResponseRecord(
                        response_id=response_id,
                        created_at=moment,
                        usage=TokenUsage(
                            input_text_tokens=420 + 60 * index,
                            input_audio_tokens=180,
                            output_text_tokens=40,
                            output_audio_tokens=260,
                        ),
                        cost_usd=None if model == "gpt-realtime" else 0.0213 + 0.004 * index,
                    )
                )
        store.save(document)


def _dark_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2d2d30",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e1e",
        QPalette.ColorRole.AlternateBase: "#262628",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#3a3a3d",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#2f65ca",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#3a3a3d",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.PlaceholderText: "#9a9a9a",
        QPalette.ColorRole.Mid: "#555555",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return palette


async def _settle(seconds: float = 0.15) -> None:
    """Lets timers fire and layouts settle before a picture is taken. The qasync loop is Qt's
    event loop, so sleeping runs Qt's events; processEvents() here would re-enter the loop
    from inside a task, and asyncio refuses to step another task from there."""
    await asyncio.sleep(seconds)


def _save(widget: QWidget, out_dir: Path, name: str, saved: list[Path]) -> None:
    path = out_dir / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    saved.append(path)


async def capture_async(out_dir: Path) -> list[Path]:
    """The screenshots, taken on the running qasync loop. Returns the files written."""
    saved: list[Path] = []
    server = await asyncio.to_thread(start_in_thread)
    try:
        with tempfile.TemporaryDirectory(prefix="realtime-desktop-shots-") as scratch:
            root = Path(scratch)
            backend = _ScreenshotKeyring()
            secrets = SecretStore(backend=backend, environ={})
            secrets.store_key("openai", "sk-proj-screenshot-example-0000000000000wxyz")
            services = SettingsServices(
                list_devices=lambda: list(DEVICES),
                test_connection=SettingsServices.connection_test_with(
                    OfflineEndpoint(server.url, server.token)
                ),
                input_level=_speaking_level,
                play_test_tone=lambda: None,
                log_dir=root / "logs",
                open_folder=lambda _folder: True,
                default_conversations_dir=Path("~/.local/share/realtime-desktop/conversations"),
            )
            await _capture_settings(Settings(), secrets, services, out_dir, saved)
            await _capture_history(root / "conversations", out_dir, saved)
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            light = app.palette()
            app.setPalette(_dark_palette())
            try:
                await _capture_dark(secrets, services, out_dir, saved)
            finally:
                app.setPalette(light)
    finally:
        server.stop()
    return saved


async def _capture_settings(
    settings: Settings,
    secrets: SecretStore,
    services: SettingsServices,
    out_dir: Path,
    saved: list[Path],
) -> None:
    dialog = SettingsDialog(settings, secrets, services)
    dialog.show()
    await dialog.idle()
    await _settle()
    names = {
        "Connection": "settings-1-connection",
        "Voice & responses": "settings-2-voice",
        "Turn detection": "settings-3-turn-detection",
        "Audio": "settings-4-audio",
        "Transcription": "settings-5-transcription",
        "Tools": "settings-6-tools",
        "Privacy & storage": "settings-7-privacy",
    }
    for title, name in names.items():
        dialog.show_page(title)
        await _settle(0.4 if title == "Audio" else 0.1)
        await dialog.idle()
        _save(dialog, out_dir, name, saved)

    # The same dialog as a user meets it when something is wrong, and after a test.
    dialog.show_page("Connection")
    dialog.editors["connection.provider"].set_value("custom")
    dialog.editors["connection.custom_url"].set_value("ws://realtime.example.com/v1/realtime")
    headers = dialog.editors["connection.custom_headers"]
    headers.set_value({"X-Team": "voice-lab", "Authorization": "Bearer sk-oops"})
    await _settle()
    _save(dialog, out_dir, "settings-1b-connection-invalid", saved)

    dialog.editors["connection.custom_url"].set_value("")
    headers.set_value({})
    dialog.editors["connection.provider"].set_value("offline")
    await _settle()
    dialog.test_connection()
    await dialog.idle()
    await _settle()
    _save(dialog, out_dir, "settings-1c-connection-tested", saved)

    dialog.resize(dialog.minimumSize())
    dialog.show_page("Audio")
    await _settle()
    _save(dialog, out_dir, "settings-8-smallest-size", saved)
    dialog.resize(dialog.sizeHint())

    dialog.show_page("Turn detection")
    dialog.editors["turn_detection.mode"].set_value("semantic_vad")
    dialog.editors["turn_detection.threshold"].set_value("1.5")
    await _settle()
    _save(dialog, out_dir, "settings-3b-turn-detection-semantic", saved)
    dialog.reject()


async def _capture_history(folder: Path, out_dir: Path, saved: list[Path]) -> None:
    store = ConversationStore(folder)
    await asyncio.to_thread(_conversations, store)
    window = HistoryWindow(store)
    window.show()
    await window.idle()
    first = window.visible_ids()[0]
    window.select(first)
    await _settle(0.3)
    await window.idle()
    await _settle()
    _save(window, out_dir, "history-1-list", saved)

    window.search_edit.setText("umbrella")
    await _settle(0.5)
    await window.idle()
    await _settle()
    visible = window.visible_ids()
    if visible:
        window.select(visible[0])
        await _settle(0.3)
        await window.idle()
    _save(window, out_dir, "history-2-search", saved)

    window.search_edit.clear()
    await window.idle()
    window.select(window.visible_ids()[-1])
    window.delete_selected()
    await window.idle()
    await _settle()
    _save(window, out_dir, "history-3-deleted-undo", saved)
    window.close()


async def _capture_dark(
    secrets: SecretStore, services: SettingsServices, out_dir: Path, saved: list[Path]
) -> None:
    dialog = SettingsDialog(Settings(), secrets, services)
    dialog.show()
    dialog.show_page("Turn detection")
    dialog.editors["turn_detection.threshold"].set_value("1.5")
    await dialog.idle()
    await _settle()
    _save(dialog, out_dir, "settings-dark-turn-detection", saved)
    dialog.reject()


def capture(out_dir: Path) -> list[Path]:
    """:func:`capture_async` on a qasync loop of its own (call it where no loop runs)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # Fusion looks the same everywhere, so the pictures show our layout, not the host's theme.
    app.setStyle(QStyleFactory.create("Fusion"))
    # Each view is closed after its picture; that must not end the event loop.
    app.setQuitOnLastWindowClosed(False)
    out_dir.mkdir(parents=True, exist_ok=True)
    loop = qasync.QEventLoop(app, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(capture_async(out_dir))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT_DIR", file=sys.stderr)
        return 2
    for path in capture(Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
