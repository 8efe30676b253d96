"""Start-up and shutdown of the desktop app: paths and logging, settings and the keyring, the
conversation store, the audio engine, the Qt application on one qasync loop, the main window.

With no API key the app connects to its embedded offline echo server (a banner says so and how
to add a key), so a first run works with no network at all.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import sys
from pathlib import Path

import numpy as np
import PySide6.QtWidgets  # noqa: F401 - before qasync, so qasync binds to PySide6
import qasync
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from realtime_desktop.audio.backends import DeviceError, SoundDeviceBackend
from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.engine import AudioEngine, Level
from realtime_desktop.core.controller import Notice, NoticeAction, NoticeLevel
from realtime_desktop.core.from_settings import OfflineEndpoint, engine_config
from realtime_desktop.core.redaction import install_secret_redaction, register_secret
from realtime_desktop.resources import APP_ID, resource_path
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.notices import Severity, StorageNotice
from realtime_desktop.storage.paths import AppPaths
from realtime_desktop.storage.secrets import SecretStore
from realtime_desktop.storage.settings import Settings
from realtime_desktop.storage.settings_file import SettingsFile
from realtime_desktop.ui.conversation_vm import ConversationViewModel
from realtime_desktop.ui.gc_policy import MainThreadCollector
from realtime_desktop.ui.history_window import HistoryWindow
from realtime_desktop.ui.main_window import WINDOW_TITLE, MainWindow
from realtime_desktop.ui.settings_dialog import SettingsDialog, SettingsServices

log = logging.getLogger(__name__)

LOG_FILE = "realtime-desktop.log"
LOG_BYTES = 2_000_000
LOG_BACKUPS = 3
_NOTICE_LEVELS = {
    Severity.INFO: NoticeLevel.INFO,
    Severity.WARNING: NoticeLevel.WARNING,
    Severity.ERROR: NoticeLevel.ERROR,
}


def configure_logging(log_dir: Path, level: str) -> Path:
    """A rotating log file in ``log_dir`` plus warnings on stderr; every handler redacts keys."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    root.addHandler(file_handler)
    root.addHandler(console)
    install_secret_redaction()
    return path


def storage_notice(notice: StorageNotice) -> Notice:
    return Notice(_NOTICE_LEVELS[notice.severity], notice.message, key=notice.kind.value)


def make_engine(settings: Settings) -> AudioEngine | None:
    """The audio engine on the system's devices, or None (typing only) when there is none."""
    try:
        return AudioEngine(engine_config(settings), SoundDeviceBackend())
    except (OSError, DeviceError) as exc:
        # sounddevice raises OSError when PortAudio itself is missing.
        log.warning("no audio: %s", exc)
        return None


TEST_TONE_HZ = 440.0
TEST_TONE_S = 0.6


def test_tone(wire: WireFormat) -> bytes:
    """A soft 440 Hz tone with short fades, in the engine's output wire format."""
    rate = wire.sample_rate
    t = np.arange(int(rate * TEST_TONE_S)) / rate
    tone = 0.2 * np.sin(2 * np.pi * TEST_TONE_HZ * t)
    fade = int(rate * 0.02)
    tone[:fade] *= np.linspace(0.0, 1.0, fade)
    tone[-fade:] *= np.linspace(1.0, 0.0, fade)
    return wire.encode(tone.astype(np.float32))


class AppDialogs:
    """Opens the settings dialog and the history window with the services they need."""

    def __init__(self, vm: ConversationViewModel, window: MainWindow, paths: AppPaths) -> None:
        self._vm = vm
        self._window = window
        self._paths = paths
        self._history: HistoryWindow | None = None
        self._tone_count = 0

    def open_settings(self) -> None:
        server = self._vm.server
        offline = OfflineEndpoint(server.url, server.token) if server is not None else None
        services = SettingsServices(
            list_devices=SoundDeviceBackend().list_devices,
            test_connection=SettingsServices.connection_test_with(offline),
            input_level=self._input_level,
            play_test_tone=self._play_test_tone,
            log_dir=self._paths.log_dir,
            default_conversations_dir=self._paths.default_conversations_dir,
        )
        dialog = SettingsDialog(self._vm.settings, self._vm.secrets, services, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(lambda settings: self._vm.run(self._vm.apply_settings(settings)))
        dialog.open()

    def open_history(self) -> None:
        store = self._vm.store
        if store is None:
            return
        if self._history is None:
            self._history = HistoryWindow(store)
            self._history.continue_requested.connect(
                lambda conversation_id: self._vm.run(
                    self._vm.continue_conversation(conversation_id)
                )
            )
        self._history.refresh()
        self._history.show()
        self._history.raise_()
        self._history.activateWindow()

    def _input_level(self) -> Level | None:
        engine = self._vm.engine
        return engine.input_level if engine is not None and engine.running else None

    def _play_test_tone(self) -> None:
        engine = self._vm.engine
        if engine is None:
            self._window.notices.show_notice(
                Notice(
                    NoticeLevel.WARNING, "No audio device is open to play a tone on.", key="audio"
                )
            )
            return
        if not engine.running:
            engine.start()
            # Stop the engine again once the tone has played, unless a session took it over.
            QTimer.singleShot(int(TEST_TONE_S * 1000) + 500, self._stop_idle_engine)
        self._tone_count += 1
        item_id = f"test-tone-{self._tone_count}"
        engine.enqueue_playback(item_id, test_tone(engine.config.output_format))
        engine.finish_item(item_id)

    def _stop_idle_engine(self) -> None:
        engine = self._vm.engine
        if engine is not None and engine.running and self._vm.controller.session is None:
            engine.stop()


def create_application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv)
    app.setApplicationName("realtime-desktop")
    app.setApplicationDisplayName(WINDOW_TITLE)
    app.setOrganizationName("realtime-desktop")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(QIcon(str(resource_path("icons/realtime-desktop.svg"))))
    return app


def run_app(*, config_dir: Path | None, force_offline: bool, exit_after_shown: bool = False) -> int:
    paths = AppPaths.resolve(config_dir).ensure()
    settings_file = SettingsFile.for_paths(paths)
    loaded = settings_file.load()
    settings = loaded.settings
    configure_logging(paths.log_dir, settings.privacy.log_level)
    log.info("realtime-desktop starting; settings from %s", settings_file.path)
    app = create_application()
    collector = MainThreadCollector(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    secrets = SecretStore(on_key_seen=register_secret)
    store = ConversationStore(paths.conversations_dir(settings.privacy.conversations_dir))
    vm = ConversationViewModel(
        settings=settings,
        secrets=secrets,
        settings_file=settings_file,
        store=store,
        make_engine=make_engine,
        force_offline=force_offline,
    )
    window = MainWindow(vm, state_file=paths.config_dir / "window.ini")
    dialogs = AppDialogs(vm, window, paths)
    window.set_dialog_openers(dialogs.open_settings, dialogs.open_history)
    if vm.engine is None:
        window.notices.show_notice(
            Notice(
                NoticeLevel.WARNING,
                "No audio devices could be opened (is PortAudio installed?). You can still "
                "type; see the README's troubleshooting section.",
                NoticeAction.OPEN_SETTINGS,
                key="audio",
            )
        )
    for notice in loaded.notices:
        window.notices.show_notice(storage_notice(notice))
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    if exit_after_shown:
        # For start-up timing (the app benchmark, the bundle's cold start): the parent times
        # from launch to this line.
        window.shown_first.connect(lambda: (print("window shown", flush=True), window.close()))
    else:
        window.shown_first.connect(lambda: vm.run(vm.connect_session()))
    window.shown_first.connect(collector.freeze_startup_objects)
    window.show()

    async def until_closed() -> None:
        await closed.wait()

    with loop:
        loop.run_until_complete(until_closed())
    collector.stop()
    return 0
