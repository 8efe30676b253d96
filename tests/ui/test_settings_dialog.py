"""The settings dialog: every field round-trips through the widgets and the file, invalid input
is refused inline with the model's own words, restore defaults, the API key goes to the keyring
and nowhere else, Test connection against the offline server, the device list and the meter.

The dialog starts asyncio tasks (keyring, device scans, connection tests), so each test runs as
a coroutine on the Qt loop (``run_async``) and waits for the dialog's signals or ``idle()`` —
never for time to pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QFileDialog,
    QLabel,
    QWidget,
)
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from realtime_desktop.audio.backends import DeviceError, DeviceInfo
from realtime_desktop.audio.engine import Level
from realtime_desktop.core.from_settings import OfflineEndpoint
from realtime_desktop.server import start_in_thread
from realtime_desktop.server.server import OfflineServerThread
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.secrets import SecretStore, service_name
from realtime_desktop.storage.settings import FIELDS, FIELDS_BY_PATH, FieldSpec, Settings
from realtime_desktop.storage.settings_file import SettingsFile
from realtime_desktop.ui.settings.fields import (
    SECONDARY,
    BoolEditor,
    ChoiceEditor,
    DeviceEditor,
    FolderEditor,
    MultilineEditor,
    NumberEditor,
    StringListEditor,
    SuggestionEditor,
    TextEditor,
    ToolSwitchesEditor,
)
from realtime_desktop.ui.settings.labels import Tone
from realtime_desktop.ui.settings.pages import BUTTON_MNEMONICS, assign_mnemonics
from realtime_desktop.ui.settings.tables import HeadersEditor, PricesEditor
from realtime_desktop.ui.settings_dialog import SettingsDialog, SettingsServices
from tests.storage.conftest import MemoryKeyring
from tests.ui.signals import Emitted, RunAsync

KEY = "sk-proj-test-0123456789abcdefWXYZ"


class FakeAudio:
    """Devices that can be plugged in and out, and a microphone level that says when it was
    read (so a test waits for the meter's timer instead of for time)."""

    def __init__(self) -> None:
        self.devices = [
            DeviceInfo(0, "Built-in Audio", "ALSA", 2, 2, 48000.0, True, True),
            DeviceInfo(1, "USB Headset", "ALSA", 1, 2, 48000.0, False, False),
            DeviceInfo(2, "HDMI Output", "ALSA", 0, 8, 48000.0, False, False),
        ]
        self.level: Level | None = None
        self.polls = 0
        self.polled = asyncio.Event()
        self.tones = 0
        self.opened: list[Path] = []
        self.broken = False

    def list_devices(self) -> list[DeviceInfo]:
        if self.broken:
            raise DeviceError("PortAudio is not available")
        return list(self.devices)

    def input_level(self) -> Level | None:
        self.polls += 1
        if self.polls >= 5:
            self.polled.set()
        return self.level

    def play_test_tone(self) -> None:
        self.tones += 1

    def open_folder(self, folder: Path) -> bool:
        self.opened.append(folder)
        return True


@pytest.fixture(autouse=True)
def dialogs_do_not_quit_the_app(qapp: QApplication) -> Iterator[None]:
    """In the app the main window outlives the dialog; here the dialog is the only window, and
    closing it must not end the event loop the test runs on."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


@pytest.fixture(scope="module")
def offline_server() -> Iterator[OfflineServerThread]:
    server = start_in_thread()
    yield server
    server.stop()


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def secrets(keyring_backend: MemoryKeyring) -> SecretStore:
    return SecretStore(backend=keyring_backend, environ={})


@pytest.fixture
def audio() -> FakeAudio:
    return FakeAudio()


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths.under(tmp_path / "profile").ensure()


@pytest.fixture
def services(
    audio: FakeAudio, paths: AppPaths, offline_server: OfflineServerThread
) -> SettingsServices:
    return SettingsServices(
        list_devices=audio.list_devices,
        test_connection=SettingsServices.connection_test_with(
            OfflineEndpoint(offline_server.url, offline_server.token)
        ),
        input_level=audio.input_level,
        play_test_tone=audio.play_test_tone,
        log_dir=paths.log_dir,
        open_folder=audio.open_folder,
        default_conversations_dir=paths.default_conversations_dir,
    )


@pytest.fixture
def make_dialog(
    qtbot: QtBot, secrets: SecretStore, services: SettingsServices
) -> Callable[..., Coroutine[Any, Any, SettingsDialog]]:
    """``await make_dialog(settings=..., secrets=..., services=...)``: shown, keyring read."""

    async def make(
        settings: Settings | None = None,
        secrets_: SecretStore | None = None,
        services_: SettingsServices | None = None,
    ) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), secrets_ or secrets, services_ or services)
        qtbot.addWidget(dialog)
        dialog.show()
        await dialog.idle()
        return dialog

    return make


MakeDialog = Callable[..., Coroutine[Any, Any, SettingsDialog]]


async def press_ok(dialog: SettingsDialog, qtbot: QtBot) -> Settings:
    applied = Emitted(dialog.applied)
    closed = Emitted(dialog.finished)
    assert dialog.ok_button.isEnabled(), dialog.errors()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    (settings,) = await applied.wait()
    await closed.wait()
    assert isinstance(settings, Settings)
    return settings


def click_check_box(qtbot: QtBot, check: QCheckBox) -> None:
    """Clicks the box itself (a check box's widget can be wider than what reacts to clicks)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(4, check.height() // 2))


def set_text(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Selects everything in a text field and types ``text`` over it, key by key."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    qtbot.keyClicks(widget, text)


# ---------------------------------------------------------------------------------------------
# What the round trip sets each field to: a valid value that is not the default. A new field
# of kind "text" needs an entry here (the test says so), a new kind needs a driver below.

TEXT_VALUES = {
    "connection.model": "gpt-realtime-2.1-mini",
    "connection.custom_url": "wss://realtime.example.com/v1/realtime",
    "connection.azure_resource": "voice-lab",
    "connection.azure_deployment": "realtime-deploy",
    "connection.ephemeral_key_url": "https://keys.example.com/session",
    "voice.voice": "cedar",
    "audio.input_device": "USB Headset",
    "audio.output_device": "HDMI Output",
    "transcription.model": "gpt-4o-transcribe",
    "transcription.language": "de",
}
MULTILINE_VALUES = {
    "voice.instructions": "Speak like a ship's captain.\nKeep it short.",
    "transcription.prompt": "Names: Zoë, Anaïs, Ngozi",
}


def number_value(spec: FieldSpec) -> float | int:
    assert spec.minimum is not None
    assert spec.maximum is not None
    if spec.kind == "optional_int":
        return int(spec.maximum)
    quarter = spec.minimum + (spec.maximum - spec.minimum) / 4
    return round(quarter) if spec.kind == "int" else round(quarter, 3)


def next_choice(spec: FieldSpec) -> str:
    return spec.choices[(spec.choices.index(spec.default) + 1) % len(spec.choices)]


def drive(
    qtbot: QtBot, dialog: SettingsDialog, spec: FieldSpec, folder: Path
) -> Any:  # the value the file must hold afterwards
    """Changes one field through its widgets, as a user would; returns the expected value."""
    editor = dialog.editors[spec.path]
    dialog.show_page(dialog.page_of(spec.path))
    if spec.kind == "bool":
        assert isinstance(editor, BoolEditor)
        click_check_box(qtbot, editor.check)
        return not spec.default
    if spec.kind == "choice":
        assert isinstance(editor, ChoiceEditor)
        wanted = next_choice(spec)
        editor.combo.setFocus()
        for _ in spec.choices:
            if editor.combo.currentData() == wanted:
                break
            qtbot.keyClick(editor.combo, Qt.Key.Key_Down)
        assert editor.combo.currentData() == wanted
        return wanted
    if spec.kind in ("int", "float", "optional_int"):
        assert isinstance(editor, NumberEditor)
        value = number_value(spec)
        set_text(qtbot, editor.edit, str(value))
        return value
    if spec.kind == "text":
        if spec.path not in TEXT_VALUES:
            pytest.fail(f"add a value for the new text field {spec.path} to TEXT_VALUES")
        value = TEXT_VALUES[spec.path]
        if isinstance(editor, DeviceEditor):
            editor.combo.setCurrentIndex(editor.combo.findData(value))
        elif isinstance(editor, SuggestionEditor):
            line_edit = editor.combo.lineEdit()
            assert line_edit is not None
            set_text(qtbot, line_edit, value)
        else:
            assert isinstance(editor, TextEditor)
            set_text(qtbot, editor.edit, value)
        return value
    if spec.kind == "multiline":
        assert isinstance(editor, MultilineEditor)
        value = MULTILINE_VALUES[spec.path]
        editor.edit.setFocus()
        editor.edit.clear()
        # QTest types ASCII only; the rest arrives the way it does for most people: pasted.
        typed = value.encode("ascii", "ignore").decode()
        cut = next(
            (i for i, (a, b) in enumerate(zip(value, typed, strict=False)) if a != b), len(typed)
        )
        qtbot.keyClicks(editor.edit, value[:cut].replace("\n", "\r"))
        editor.edit.insertPlainText(value[cut:])
        return value
    if spec.kind == "folder":
        assert isinstance(editor, FolderEditor)
        set_text(qtbot, editor.edit, str(folder))
        return str(folder)
    if spec.kind == "list" and isinstance(editor, ToolSwitchesEditor):
        click_check_box(qtbot, editor.checks["calculate"])
        return ["calculate"]
    if spec.kind == "list":
        assert isinstance(editor, StringListEditor)
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
        item = editor.list.currentItem()
        assert item is not None
        item.setText("gpt-realtime-3-preview")  # what the item's editor commits
        return [*spec.default, "gpt-realtime-3-preview"]
    if spec.kind == "mapping":
        assert isinstance(editor, HeadersEditor)
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
        row = editor.model.rowCount() - 1
        editor.model.setData(editor.model.index(row, 0), "X-Team")
        editor.model.setData(editor.model.index(row, 1), "voice lab")
        return {"X-Team": "voice lab"}
    if spec.kind == "prices":
        assert isinstance(editor, PricesEditor)
        model = editor.model
        model.setData(model.index(0, 4), "30.5")  # gpt-realtime-2, audio input
        qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
        row = model.rowCount() - 1
        model.setData(model.index(row, 0), "my-local-model")
        model.setData(model.index(row, 3), "1.25")  # text output
        expected = json.loads(json.dumps(spec.default))
        expected["gpt-realtime-2"]["audio_input"] = 30.5
        expected["my-local-model"] = dict.fromkeys(expected["gpt-realtime-2"], 0.0)
        expected["my-local-model"]["text_output"] = 1.25
        return expected
    pytest.fail(f"the round trip has no driver for fields of kind {spec.kind!r} ({spec.path})")


def test_every_field_has_an_editor_on_a_page(run_async: RunAsync, make_dialog: MakeDialog) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        assert dialog.unplaced_fields() == [], "place new fields in ui/settings/pages.py"
        assert set(dialog.editors) == {spec.path for spec in FIELDS}
        assert dialog.page_titles() == [
            "Connection",
            "Voice & responses",
            "Turn detection",
            "Audio",
            "Transcription",
            "Tools",
            "Privacy & storage",
        ]
        assert dialog.page_of("prices") == "Privacy & storage"

    run_async(scenario())


def test_every_field_round_trips_through_the_dialog_and_the_file(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot, paths: AppPaths, tmp_path: Path
) -> None:
    settings_file = SettingsFile.for_paths(paths)
    # Recording needs saved conversations (a cross-field rule): the first pass turns saving
    # off, the second turns recording on with saving back on.
    second_pass = "privacy.record_audio"
    # Switches and choices go last: they enable or disable other fields (a disabled field takes
    # no typing), and some need other fields first (provider "azure" needs the Azure fields).
    order = sorted(
        (spec for spec in FIELDS if spec.path != second_pass),
        key=lambda spec: (spec.kind == "bool", spec.kind == "choice"),
    )

    async def scenario() -> None:
        dialog = await make_dialog()
        dialog.show_page("Audio")
        await Emitted(dialog.devices_refreshed).wait()
        expected = {spec.path: drive(qtbot, dialog, spec, tmp_path / "talks") for spec in order}
        for spec in order:
            assert expected[spec.path] != spec.default, spec.path
        settings_file.save(await press_ok(dialog, qtbot))

        loaded = settings_file.load()
        assert loaded.notices == ()
        for path, value in expected.items():
            assert loaded.settings.value_at(path) == value, path

        dialog = await make_dialog(loaded.settings)
        drive(qtbot, dialog, FIELDS_BY_PATH["privacy.save_conversations"], tmp_path)
        assert drive(qtbot, dialog, FIELDS_BY_PATH[second_pass], tmp_path) is True
        settings_file.save(await press_ok(dialog, qtbot))
        reloaded = settings_file.load().settings
        assert reloaded.privacy.record_audio is True
        assert reloaded.privacy.save_conversations is True
        assert reloaded.voice == loaded.settings.voice  # nothing else moved

    run_async(scenario())


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("connection.custom_url", "realtime.example.com", "must start with wss://"),
        ("connection.custom_url", "ws://realtime.example.com/v1", "allowed only for a server"),
        ("connection.ephemeral_key_url", "http://keys.example.com", "allowed only for a server"),
        ("connection.ephemeral_key_url", "https://x.example.com/?api_key=1", "Remove 'api_key'"),
        ("turn_detection.threshold", "1.5", "between 0 and 1"),
        ("turn_detection.prefix_padding_ms", "three hundred", "whole number"),
        ("turn_detection.idle_timeout_ms", "1000", "between 5000 and 30000"),
        ("voice.speed", "fast", "must be a number"),
        ("connection.azure_resource", "My Resource!", "resource name"),
        ("transcription.language", "english", "two-letter"),
        ("privacy.conversations_dir", "relative/folder", "full folder path"),
        ("voice.voice", "robot", "custom voice id"),
    ],
)
def test_invalid_input_is_refused_inline(  # noqa: PLR0917 - fixtures and parameters
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot, path: str, text: str, message: str
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        editor = dialog.editors[path]
        dialog.show_page(dialog.page_of(path))
        widget = editor.input
        if isinstance(editor, SuggestionEditor):
            line_edit = editor.combo.lineEdit()
            assert line_edit is not None
            widget = line_edit
        set_text(qtbot, widget, text)

        shown = editor.error_label
        assert shown.isVisible()
        assert message in shown.text()
        # The settings model's own words, not the dialog's.
        model_message = Settings().validate_field(path, editor.value())
        assert shown.text() == model_message
        assert shown.tone is Tone.ERROR
        assert dialog.draft() is None
        assert not dialog.ok_button.isEnabled()
        assert not dialog.apply_button.isEnabled()
        assert editor.spec.title in dialog.problem_label.text()
        assert editor.field.isEnabled()  # a field with a problem is never disabled

        editor.set_value(Settings().value_at(path))
        assert not shown.isVisible()
        assert dialog.ok_button.isEnabled()
        assert dialog.draft() == Settings()

    run_async(scenario())


def test_cross_field_rules_show_at_the_field_to_fix(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        dialog.editors["connection.provider"].set_value("custom")
        url = dialog.editors["connection.custom_url"]
        assert url.error == "Enter the server URL for the custom provider."
        assert dialog.pages[0].sections["custom"].isVisible()
        set_text(qtbot, url.input, "ws://127.0.0.1:8765/v1/realtime")  # loopback: allowed
        assert url.error == ""
        assert dialog.ok_button.isEnabled()

        headers = dialog.editors["connection.custom_headers"]
        assert isinstance(headers, HeadersEditor)
        headers.set_value({"Authorization": "Bearer sk-secret"})
        assert "Do not put 'Authorization' here" in headers.error
        headers.set_value({"X-Team": "a", "x-team": "b"})
        assert "appears twice" in headers.error  # header names are case-insensitive
        assert not dialog.ok_button.isEnabled()
        headers.set_value({})

        # A section hidden for another provider stays visible while it holds a problem.
        set_text(qtbot, url.input, "ws://example.com/v1")
        dialog.editors["connection.provider"].set_value("openai")
        assert dialog.pages[0].sections["custom"].isVisible()
        assert "Server URL (Connection)" in dialog.problem_label.text()

        dialog.editors["connection.custom_url"].set_value("")
        assert not dialog.pages[0].sections["custom"].isVisible()

        record = dialog.editors["privacy.record_audio"]
        dialog.editors["privacy.save_conversations"].set_value(False)
        record.set_value(True)
        assert "turn on Save conversations" in record.error

        prices = dialog.editors["prices"]
        assert isinstance(prices, PricesEditor)
        prices.model.setData(prices.model.index(1, 2), "-1")
        assert prices.error.startswith("gpt-realtime-2.1: ")
        assert prices.model.problem_at(1, 2) is not None
        assert prices.model.data(prices.model.index(1, 2), Qt.ItemDataRole.ForegroundRole)

    run_async(scenario())


def test_restore_page_defaults_resets_only_the_page_on_show(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot
) -> None:
    start = Settings().with_values(
        {
            "turn_detection.mode": "semantic_vad",
            "turn_detection.threshold": 0.8,
            "turn_detection.eagerness": "high",
            "voice.voice": "ash",
        }
    )

    async def scenario() -> None:
        dialog = await make_dialog(start)
        dialog.show_page("Turn detection")
        set_text(qtbot, dialog.editors["turn_detection.silence_duration_ms"].input, "900")
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
        settings = await press_ok(dialog, qtbot)
        assert settings.turn_detection == Settings().turn_detection
        assert settings.voice.voice == "ash"  # another page: untouched

    run_async(scenario())


def test_apply_keeps_the_dialog_open_and_cancel_changes_nothing(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        assert not dialog.apply_button.isEnabled()  # nothing changed yet
        set_text(qtbot, dialog.editors["voice.speed"].input, "1.2")
        assert dialog.apply_button.isEnabled()
        applied = Emitted(dialog.applied)
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        (settings,) = await applied.wait()
        assert settings.voice.speed == 1.2
        assert dialog.isVisible()
        assert dialog.settings == settings
        assert not dialog.apply_button.isEnabled()

        set_text(qtbot, dialog.editors["voice.speed"].input, "0.5")
        emitted: list[object] = []
        dialog.applied.connect(emitted.append)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        await dialog.idle()
        assert not dialog.isVisible()
        assert emitted == []

    run_async(scenario())


def test_the_api_key_goes_to_the_keyring_and_nowhere_else(  # noqa: PLR0917 - fixtures
    run_async: RunAsync,
    make_dialog: MakeDialog,
    qtbot: QtBot,
    keyring_backend: MemoryKeyring,
    paths: AppPaths,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        dialog = await make_dialog()
        key_edit = dialog.api_key.edit
        assert "No key is saved" in dialog.api_key.explanation.text()
        set_text(qtbot, key_edit, f"{KEY} ")
        assert dialog.api_key.error() is None
        assert "saved in the system keyring when you apply" in dialog.api_key.explanation.text()
        assert keyring_backend.entries == {}  # nothing before OK
        settings = await press_ok(dialog, qtbot)
        SettingsFile.for_paths(paths).save(settings)

        assert keyring_backend.entries == {(service_name("openai"), "api-key"): KEY}
        for root in (paths.config_dir, paths.data_dir, paths.log_dir):
            for file in root.rglob("*"):
                if file.is_file():
                    assert KEY not in file.read_text(errors="replace"), file
        leaked = [record.getMessage() for record in caplog.records if KEY in record.getMessage()]
        assert leaked == []

        dialog = await make_dialog(settings)
        assert dialog.api_key.explanation.text() == "Using the key saved in the system keyring."
        assert dialog.api_key.edit.text() == ""  # the key itself is never put back in a field
        assert dialog.api_key.edit.placeholderText().startswith("sk-…WXYZ")
        qtbot.mouseClick(dialog.api_key.remove_button, Qt.MouseButton.LeftButton)
        assert "will be removed" in dialog.api_key.explanation.text()
        await press_ok(dialog, qtbot)
        assert keyring_backend.entries == {}

    run_async(scenario())


def test_a_key_typed_and_cancelled_never_reaches_the_keyring(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot, keyring_backend: MemoryKeyring
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        set_text(qtbot, dialog.api_key.edit, KEY)
        dialog.editors["connection.provider"].set_value("azure")  # the key stays with OpenAI
        await dialog.idle()
        assert dialog.api_key.edit.text() == ""
        set_text(qtbot, dialog.api_key.edit, "azure key with spaces")
        assert dialog.api_key.error() == (
            "The API key must not contain spaces, line breaks or control characters."
        )
        assert dialog.errors()["api_key"]
        assert not dialog.ok_button.isEnabled()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        await dialog.idle()
        assert keyring_backend.entries == {}

    run_async(scenario())


def test_the_environment_fallback_is_explained(
    run_async: RunAsync, make_dialog: MakeDialog, keyring_backend: MemoryKeyring
) -> None:
    from_environment = SecretStore(
        backend=keyring_backend, environ={"OPENAI_API_KEY": "sk-from-the-environment-9876"}
    )

    async def scenario() -> None:
        dialog = await make_dialog(secrets_=from_environment)
        explanation = dialog.api_key.explanation.text()
        assert "OPENAI_API_KEY environment variable" in explanation
        assert dialog.api_key.edit.placeholderText().startswith("sk-…9876")
        assert not dialog.api_key.remove_button.isEnabled()  # nothing in the keyring to remove
        dialog.editors["connection.provider"].set_value("offline")
        assert dialog.api_key.explanation.text() == "The offline server needs no key."
        assert not dialog.api_key.edit.isEnabled()

    run_async(scenario())


def test_connection_succeeds_against_the_offline_server(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog(Settings().with_value("connection.provider", "offline"))
        tested = Emitted(dialog.connection_tested)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        assert not dialog.test_button.isEnabled()  # one test at a time
        assert dialog.test_progress.isVisible()
        ok, message = await tested.wait()
        assert ok, message
        assert message.startswith("Connected to the offline server")
        assert dialog.test_result.text() == message
        assert dialog.test_result.tone is Tone.SUCCESS
        assert not dialog.test_progress.isVisible()
        assert dialog.test_button.isEnabled()
        dialog.editors["voice.voice"].set_value("ash")
        assert dialog.test_result.isVisible()  # still about these connection settings
        dialog.editors["connection.provider"].set_value("openai")
        assert not dialog.test_result.isVisible()  # no longer

    run_async(scenario())


def test_connection_with_a_wrong_token_says_why(
    run_async: RunAsync,
    make_dialog: MakeDialog,
    qtbot: QtBot,
    services: SettingsServices,
    offline_server: OfflineServerThread,
) -> None:
    wrong = dataclasses.replace(
        services,
        test_connection=SettingsServices.connection_test_with(
            OfflineEndpoint(offline_server.url, "not-the-token")
        ),
    )

    async def scenario() -> None:
        dialog = await make_dialog(
            Settings().with_value("connection.provider", "offline"), services_=wrong
        )
        tested = Emitted(dialog.connection_tested)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        ok, message = await tested.wait()
        assert not ok
        assert "Incorrect API key" in message
        assert "not-the-token" not in message
        assert dialog.test_result.tone is Tone.ERROR

    run_async(scenario())


def test_connection_test_uses_the_key_as_typed(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot, offline_server: OfflineServerThread
) -> None:
    """A custom server with the key typed but not yet saved: the test uses what was typed."""
    settings = Settings().with_values(
        {"connection.provider": "custom", "connection.custom_url": offline_server.url}
    )

    async def scenario() -> None:
        dialog = await make_dialog(settings)
        tested = Emitted(dialog.connection_tested)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        ok, message = await tested.wait()
        assert not ok  # no key yet
        set_text(qtbot, dialog.api_key.edit, offline_server.token)
        tested = Emitted(dialog.connection_tested)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        ok, message = await tested.wait()
        assert ok, message
        assert message.startswith("Connected to the custom server")

    run_async(scenario())


def test_device_list_refreshes_while_the_audio_page_shows_and_keeps_the_selection(
    run_async: RunAsync, make_dialog: MakeDialog, audio: FakeAudio
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        assert not dialog.device_rescans_active
        dialog.show_page("Audio")
        assert dialog.device_rescans_active
        await Emitted(dialog.devices_refreshed).wait()
        microphone = dialog.editors["audio.input_device"]
        speaker = dialog.editors["audio.output_device"]
        assert isinstance(microphone, DeviceEditor)
        assert isinstance(speaker, DeviceEditor)
        assert microphone.device_names() == ["Built-in Audio", "USB Headset"]
        assert speaker.device_names() == ["Built-in Audio", "USB Headset", "HDMI Output"]
        assert microphone.combo.itemText(0) == "System default (Built-in Audio)"
        microphone.combo.setCurrentIndex(microphone.combo.findData("USB Headset"))

        audio.devices = [device for device in audio.devices if device.name != "USB Headset"]
        refreshed = Emitted(dialog.devices_refreshed)
        dialog.rescan_devices()
        await refreshed.wait()
        assert microphone.value() == "USB Headset"
        assert microphone.combo.currentText() == "USB Headset (not connected)"
        assert dialog.draft() is not None

        audio.devices.append(DeviceInfo(7, "USB Headset", "ALSA", 1, 2, 48000.0, False, False))
        audio.devices.append(DeviceInfo(8, "Conference Speakerphone", "ALSA", 1, 2, 16e3, 0, 0))
        refreshed = Emitted(dialog.devices_refreshed)
        dialog.rescan_devices()
        await refreshed.wait()
        assert microphone.combo.currentText() == "USB Headset"
        assert "Conference Speakerphone" in microphone.device_names()

        audio.broken = True
        dialog.rescan_devices()
        await dialog.idle()
        assert "PortAudio is not available" in dialog.device_status.text()
        assert microphone.value() == "USB Headset"

        dialog.show_page("Tools")
        assert not dialog.device_rescans_active

    run_async(scenario())


def test_the_meter_shows_the_live_microphone_level(
    run_async: RunAsync, make_dialog: MakeDialog, audio: FakeAudio, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        dialog.show_page("Audio")
        await audio.polled.wait()
        assert dialog.meter_status.isVisible()  # no engine running: says so
        assert "while a conversation is running" in dialog.meter_status.text()
        audio.level = Level(rms_dbfs=-18.0, peak_dbfs=-6.0)
        audio.polls, audio.polled = 0, asyncio.Event()
        await audio.polled.wait()
        assert dialog.meter.ballistics.rms_dbfs == pytest.approx(-18.0, abs=1.0)
        assert dialog.meter.ballistics.peak_dbfs == pytest.approx(-6.0, abs=1.0)
        assert not dialog.meter_status.isVisible()

        qtbot.mouseClick(dialog.tone_button, Qt.MouseButton.LeftButton)
        assert audio.tones == 1
        dialog.show_page("Privacy & storage")
        qtbot.mouseClick(dialog.log_folder_button, Qt.MouseButton.LeftButton)
        assert audio.opened == [dialog_log_dir(dialog)]

    run_async(scenario())


def dialog_log_dir(dialog: SettingsDialog) -> Path:
    return Path(dialog.log_folder_label.text())


def test_the_folder_is_chosen_with_a_folder_dialog(
    run_async: RunAsync, make_dialog: MakeDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        dialog.show_page("Privacy & storage")
        folder = dialog.editors["privacy.conversations_dir"]
        assert isinstance(folder, FolderEditor)
        qtbot.mouseClick(folder.choose_button, Qt.MouseButton.LeftButton)
        [chooser] = dialog.findChildren(QFileDialog)
        assert chooser.isVisible()
        assert chooser.fileMode() == QFileDialog.FileMode.Directory
        chooser.selectFile(str(tmp_path))
        chooser.accept()
        await dialog.idle()
        assert folder.value() == str(tmp_path)
        draft = dialog.draft()
        assert draft is not None
        assert draft.privacy.conversations_dir == str(tmp_path)

    run_async(scenario())


def test_turn_detection_mode_enables_only_its_fields(
    run_async: RunAsync, make_dialog: MakeDialog
) -> None:
    server_fields = [
        "turn_detection.threshold",
        "turn_detection.prefix_padding_ms",
        "turn_detection.silence_duration_ms",
        "turn_detection.idle_timeout_ms",
    ]
    shared = ["turn_detection.create_response", "turn_detection.interrupt_response"]

    async def scenario() -> None:
        dialog = await make_dialog()

        def enabled(path: str) -> bool:
            return dialog.editors[path].field.isEnabled()

        mode = dialog.editors["turn_detection.mode"]
        assert all(enabled(path) for path in server_fields + shared)
        assert not enabled("turn_detection.eagerness")
        mode.set_value("semantic_vad")
        assert not any(enabled(path) for path in server_fields)
        assert enabled("turn_detection.eagerness")
        assert all(enabled(path) for path in shared)
        assert "sounds finished" in mode.help_label.text()
        mode.set_value("push_to_talk")
        assert not any(enabled(path) for path in [*server_fields, *shared])
        assert not enabled("turn_detection.eagerness")

        dialog.editors["turn_detection.threshold"].set_value(2)
        assert enabled("turn_detection.threshold")  # the user must be able to fix it

    run_async(scenario())


def test_every_control_is_named_and_has_its_own_mnemonic(
    run_async: RunAsync, make_dialog: MakeDialog
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        for page in dialog.pages:
            dialog.show_page(page.layout.title)
            providers = ["openai", "azure", "custom"] if page is dialog.pages[0] else [None]
            for provider in providers:
                if provider is not None:
                    dialog.editors["connection.provider"].set_value(provider)
                check_page(dialog, page.content, f"{page.layout.title} ({provider})")
        for button in (dialog.ok_button, dialog.apply_button, dialog.restore_button):
            assert "&" in button.text()

    run_async(scenario())


def check_page(dialog: SettingsDialog, content: QWidget, where: str) -> None:
    """Every control on show has an accessible name; labels, check boxes and buttons each
    have an Alt+letter no other control on show (or a dialog button) uses."""
    letters: list[str] = []
    for widget in content.findChildren(QWidget):
        if widget.window() is not dialog or not widget.isVisibleTo(dialog):
            continue  # a combo box's popup list (a window of its own), a hidden section
        if widget.focusPolicy() != Qt.FocusPolicy.NoFocus and _is_control(widget):
            # A button's text is its accessible name unless it is given another.
            shown = widget.text() if isinstance(widget, QAbstractButton) else ""
            assert widget.accessibleName() or shown, f"{where}: {widget!r}"
        if widget.property(SECONDARY):
            continue  # Add, Remove, Choose…: Tab away from their field's mnemonic
        labelled = isinstance(widget, QLabel) and widget.buddy() is not None
        if labelled or isinstance(widget, QAbstractButton):
            assert isinstance(widget, QLabel | QAbstractButton)
            letter = mnemonic_of(widget.text())
            assert letter, f"{where}: {widget.text()!r} has no mnemonic"
            letters.append(letter)
    assert len(letters) == len(set(letters)), (where, sorted(letters))
    assert not set(letters) & BUTTON_MNEMONICS, where


def mnemonic_of(text: str) -> str:
    """The Alt+letter of a label or button text ("" if none); "&&" is a literal "&"."""
    position = 0
    while position < len(text) - 1:
        if text[position] == "&":
            if text[position + 1] != "&":
                return text[position + 1].lower()
            position += 1
        position += 1
    return ""


def _is_control(widget: QWidget) -> bool:
    # The inner parts of composite widgets (a combo box's line edit and list, a scroll area's
    # viewport) are named through their owner.
    parent = widget.parentWidget()
    owners = ("QComboBox", "QAbstractScrollArea", "QAbstractSpinBox")
    return not any(
        parent is not None and parent.inherits(owner) for owner in owners
    ) and widget.metaObject().className() not in ("QScrollBar", "QWidget", "QHeaderView")


def test_tab_follows_the_page_from_top_to_bottom(
    run_async: RunAsync, make_dialog: MakeDialog
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        dialog.show_page("Turn detection")
        order = [
            dialog.editors[path].input
            for path in (
                "turn_detection.mode",
                "turn_detection.threshold",
                "turn_detection.prefix_padding_ms",
                "turn_detection.silence_duration_ms",
                "turn_detection.idle_timeout_ms",
            )
        ]
        widget: QWidget = order[0]
        visited = []
        while len(visited) < len(order):
            visited.append(widget)
            widget = widget.nextInFocusChain()
            while widget.focusPolicy() == Qt.FocusPolicy.NoFocus or not widget.isEnabled():
                widget = widget.nextInFocusChain()
        assert visited == order

    run_async(scenario())


def test_mnemonics_avoid_taken_letters() -> None:
    assert assign_mnemonics(["Model", "Model list", "Mode"], {"o"}) == [
        "&Model",
        "Model &list",
        "Mo&de",
    ]
    assert assign_mnemonics(["A & B"], ()) == ["&A & B"]
    assert assign_mnemonics(["x"], {"x"}) == ["x"]


def test_table_models_stay_consistent(
    run_async: RunAsync, make_dialog: MakeDialog, qtmodeltester: ModelTester
) -> None:
    async def scenario() -> None:
        dialog = await make_dialog()
        for path in ("prices", "connection.custom_headers"):
            editor = dialog.editors[path]
            assert isinstance(editor, PricesEditor | HeadersEditor)
            qtmodeltester.check(editor.model)
            editor.add_row()
            editor.view.setCurrentIndex(editor.model.index(0, 0))
            editor.remove_selected()
            editor.set_value({})
            qtmodeltester.check(editor.model)

    run_async(scenario())
