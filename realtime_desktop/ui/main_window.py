"""The main window: connection bar, notices, transcript, waveform and meters, controls, stats,
and the event inspector dock."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop import __version__
from realtime_desktop.core.controller import Notice, NoticeAction
from realtime_desktop.core.tools import ToolRun, ToolRunStatus
from realtime_desktop.ui.conversation_vm import ConversationViewModel
from realtime_desktop.ui.models.transcript_model import TranscriptFilter, TranscriptModel
from realtime_desktop.ui.timing import FRAME_INTERVAL_MS, LABEL_INTERVAL_MS
from realtime_desktop.ui.widgets.bars import ConnectionBar, ControlsBar, NoticeBar, StatsLabel
from realtime_desktop.ui.widgets.inspector import InspectorDock
from realtime_desktop.ui.widgets.level_meter import LevelMeter
from realtime_desktop.ui.widgets.transcript_view import TranscriptView
from realtime_desktop.ui.widgets.waveform import WaveformView

log = logging.getLogger(__name__)

WINDOW_TITLE = "Realtime Desktop"

# (menu text, shortcut) — one table, shown in the menus and in Help → Keyboard shortcuts.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "new": ("&New conversation", "Ctrl+N"),
    "history": ("Conversation &history…", "Ctrl+H"),
    "settings": ("&Settings…", "Ctrl+,"),
    "quit": ("&Quit", "Ctrl+Q"),
    "connect": ("&Connect / disconnect", "Ctrl+K"),
    "mic": ("&Microphone on / off", "Ctrl+M"),
    "interrupt": ("&Interrupt the assistant", "Esc"),
    "modality": ("Answer with &voice / text", "Ctrl+T"),
    "focus_entry": ("&Type a message", "Ctrl+L"),
    "inspector": ("Event &inspector", "Ctrl+I"),
    "shortcuts": ("&Keyboard shortcuts", "F1"),
}
PUSH_TO_TALK_KEY = "Space (hold, when not typing)"


class MainWindow(QMainWindow):
    """See the module docstring. ``open_settings`` / ``open_history`` are provided by the
    application (they need the storage and device services)."""

    shown_first = Signal()

    def __init__(
        self,
        vm: ConversationViewModel,
        *,
        state_file: Path | None = None,
        open_settings: Callable[[], None] | None = None,
        open_history: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self._open_settings = open_settings
        self._open_history = open_history
        self._state_file = state_file
        self._closing = False
        self._shutdown_task: asyncio.Task[None] | None = None
        self._was_shown = False
        self._inspector_sized = False  # true once restored from saved state or sized once
        self.setWindowTitle(WINDOW_TITLE)
        self.setObjectName("main-window")

        self.connection_bar = ConnectionBar(vm, self)
        self.notices = NoticeBar(self)
        self.transcript_model = TranscriptModel(self)
        self.transcript_model.set_conversation(vm.controller.conversation)
        self.transcript_filter = TranscriptFilter(self)
        self.transcript_filter.setSourceModel(self.transcript_model)
        self.transcript = TranscriptView(self)
        self.transcript.setModel(self.transcript_filter)
        # At the window's smallest the conversation still shows a message or two.
        self.transcript.setMinimumHeight(self.transcript.fontMetrics().height() * 9)
        self.transcript.set_empty_text(
            "Say something — the microphone is on — or type a message below.\n"
            "Press Esc to interrupt the assistant; Ctrl+I shows the raw protocol."
        )
        self.waveform = WaveformView(self)
        self.mic_meter = LevelMeter("Microphone level", self)
        self.speaker_meter = LevelMeter("Assistant level", self)
        self.controls = ControlsBar(vm, self)
        self.stats = StatsLabel(vm, self)
        self.inspector = InspectorDock(vm.event_log, self)
        self.inspector.hide()
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector)
        self.statusBar().addWidget(self.stats, 1)
        self.setCentralWidget(self._central())
        self._build_menus()
        self._wire()
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(FRAME_INTERVAL_MS)
        self._meter_timer.timeout.connect(self._pull_levels)
        self._tool_timer = QTimer(self)
        self._tool_timer.setInterval(LABEL_INTERVAL_MS)
        self._tool_timer.timeout.connect(self.transcript_model.refresh_tool_rows)
        self._tool_timer.start()
        self._set_tab_order()
        self._follow_engine()
        self.resize(1040, 760)
        self._restore_state()

    # Layout -------------------------------------------------------------------------------------
    def _central(self) -> QWidget:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.connection_bar)
        layout.addWidget(self.notices)
        layout.addWidget(self.transcript, 1)
        audio_row = QHBoxLayout()
        audio_row.setContentsMargins(8, 0, 8, 0)
        audio_row.addWidget(self.waveform, 1)
        meters = QVBoxLayout()
        meters.addStretch(1)
        for label_text, meter in (("Mic", self.mic_meter), ("Out", self.speaker_meter)):
            row = QHBoxLayout()
            label = QLabel(label_text, central)
            label.setBuddy(meter)
            row.addWidget(label)
            row.addWidget(meter, 1)
            meters.addLayout(row)
        meters.addStretch(1)
        audio_row.addLayout(meters)
        layout.addLayout(audio_row)
        layout.addWidget(self.controls)
        return central

    def _action(self, key: str, slot: Callable[[], object], *, checkable: bool = False) -> QAction:
        text, shortcut = SHORTCUTS[key]
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        vm = self.vm
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        file_menu.addAction(self._action("new", lambda: vm.run(vm.new_conversation())))
        self.history_action = self._action("history", self.open_history)
        file_menu.addAction(self.history_action)
        file_menu.addSeparator()
        self.settings_action = self._action("settings", self.open_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        quit_action = self._action("quit", self.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(quit_action)

        conversation_menu = menu_bar.addMenu("&Conversation")
        conversation_menu.addAction(self._action("connect", self.connection_bar._toggle))
        self.mic_action = self._action("mic", lambda: vm.run(vm.toggle_listening()))
        conversation_menu.addAction(self.mic_action)
        self.interrupt_action = self._action("interrupt", lambda: vm.run(vm.interrupt()))
        conversation_menu.addAction(self.interrupt_action)
        conversation_menu.addAction(self._action("modality", self._toggle_modality))
        conversation_menu.addAction(self._action("focus_entry", self._focus_entry))

        view_menu = menu_bar.addMenu("&View")
        inspector_action = self.inspector.toggleViewAction()
        inspector_action.setText(SHORTCUTS["inspector"][0])
        inspector_action.setShortcut(QKeySequence(SHORTCUTS["inspector"][1]))
        self.addAction(inspector_action)
        view_menu.addAction(inspector_action)

        help_menu = menu_bar.addMenu("&Help")
        help_menu.addAction(self._action("shortcuts", self.show_shortcuts))
        about = QAction("&About Realtime Desktop", self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.controls.entry,
            self.controls.send,
            self.controls.mic,
            self.controls.talk,
            self.controls.interrupt,
            self.controls.modality,
            self.connection_bar.connect_button,
            self.transcript,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _wire(self) -> None:
        vm = self.vm
        vm.notice.connect(self._show_notice)
        vm.notice_cleared.connect(self.notices.clear)
        vm.tool_changed.connect(self._tool_changed)
        vm.conversation_changed.connect(self._conversation_changed)
        vm.connection_changed.connect(self._follow_engine)
        self.notices.action_requested.connect(self._notice_action)
        self.notices.approve_requested.connect(vm.approve_tool)
        self.notices.deny_requested.connect(vm.deny_tool)
        self.inspector.visibilityChanged.connect(self._size_inspector_once)
        delegate = self.transcript.delegate
        delegate.approve_requested.connect(vm.approve_tool)
        delegate.deny_requested.connect(vm.deny_tool)
        delegate.cancel_requested.connect(vm.cancel_tool)
        QApplication.instance().installEventFilter(self)  # type: ignore[union-attr]

    # Reactions ------------------------------------------------------------------------------------
    def _show_notice(self, notice: Notice) -> None:
        self.notices.show_notice(notice)

    def _tool_changed(self, run: ToolRun) -> None:
        self.transcript_model.tool_changed(run)
        if run.status is not ToolRunStatus.AWAITING_APPROVAL:
            self.notices.clear(f"approval:{run.call_id}")

    def _conversation_changed(self) -> None:
        self.transcript_model.set_conversation(self.vm.controller.conversation)

    def _follow_engine(self) -> None:
        engine = self.vm.controller.audio
        self.waveform.set_source(engine)
        if engine is not None and self.isVisible():
            self._meter_timer.start()
        else:
            self._meter_timer.stop()

    def _pull_levels(self) -> None:
        engine = self.vm.controller.audio
        if engine is None:
            return
        mic, out = engine.input_level, engine.output_level
        self.mic_meter.set_level(mic.rms_dbfs, mic.peak_dbfs)
        self.speaker_meter.set_level(out.rms_dbfs, out.peak_dbfs)

    def _notice_action(self, action: NoticeAction) -> None:
        if action is NoticeAction.OPEN_SETTINGS:
            self.open_settings()
        elif action is NoticeAction.RETRY:
            self.vm.run(self.vm.retry())

    def _toggle_modality(self) -> None:
        modality = "text" if self.vm.modality == "audio" else "audio"
        self.vm.run(self.vm.set_modality(modality))

    def _focus_entry(self) -> None:
        self.controls.entry.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def set_dialog_openers(
        self, open_settings: Callable[[], None], open_history: Callable[[], None]
    ) -> None:
        self._open_settings = open_settings
        self._open_history = open_history

    def open_settings(self) -> None:
        if self._open_settings is not None:
            self._open_settings()

    def open_history(self) -> None:
        if self._open_history is not None:
            self._open_history()

    def show_shortcuts(self) -> None:
        text = "\n".join(
            f"{shortcut:<12} {label.replace('&', '')}" for label, shortcut in SHORTCUTS.values()
        )
        text += f"\n{'Space':<12} Push to talk: hold while you speak (when not typing)"
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText("Keyboard shortcuts")
        view = QPlainTextEdit(text, box)
        view.setReadOnly(True)
        box.setInformativeText(text)
        box.exec()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Realtime Desktop",
            f"Realtime Desktop {__version__}\n\nA desktop voice client for the OpenAI Realtime "
            "API, with an offline echo-test server.",
        )

    # Push-to-talk on Space ------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._is_push_to_talk_key(event):
            if event.type() == QEvent.Type.KeyPress:
                self.vm.run(self.vm.push_to_talk_pressed())
            else:
                self.vm.run(self.vm.push_to_talk_released())
            return True
        return super().eventFilter(watched, event)

    def _is_push_to_talk_key(self, event: QEvent) -> bool:
        """Space held while the conversation is in push-to-talk mode and nothing is being
        typed (in a text field Space is a space)."""
        return (
            event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Space
            and not event.isAutoRepeat()
            and self.vm.push_to_talk
            and self.vm.connected
            and self.isActiveWindow()
            and not isinstance(QApplication.focusWidget(), QLineEdit)
        )

    # Window state ---------------------------------------------------------------------------------
    def _qsettings(self) -> QSettings:
        if self._state_file is not None:
            return QSettings(str(self._state_file), QSettings.Format.IniFormat)
        return QSettings()

    def _restore_state(self) -> None:
        settings = self._qsettings()
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self._inspector_sized = self.restoreState(state)

    def _size_inspector_once(self, visible: bool) -> None:
        """The first time the inspector docks (and no saved layout says otherwise), it gets
        room for its event types instead of the dock area's minimum; the user's own width
        wins from then on."""
        if not visible or self._inspector_sized or self.inspector.isFloating():
            return
        self._inspector_sized = True
        width = min(self.inspector.sizeHint().width(), int(self.width() * 0.45))
        self.resizeDocks([self.inspector], [width], Qt.Orientation.Horizontal)

    def save_state(self) -> None:
        settings = self._qsettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._follow_engine()
        if not self._was_shown:
            self._was_shown = True
            QTimer.singleShot(0, self.shown_first.emit)

    def closeEvent(self, event: QCloseEvent) -> None:
        """The first close shuts the conversation down (session, audio, pending saves) and
        closes the window when that is done; nothing is lost on quit."""
        loop = asyncio.get_event_loop()
        if self._closing or self.vm.is_shut_down or not loop.is_running():
            # Already shut down (or nothing left to run it on): close now.
            if not self._closing:
                self.save_state()
            event.accept()
            return
        event.ignore()
        self.save_state()
        self._closing = True
        self._shutdown_task = loop.create_task(self._shut_down_and_close())

    async def _shut_down_and_close(self) -> None:
        QApplication.instance().removeEventFilter(self)  # type: ignore[union-attr]
        self._meter_timer.stop()
        self._tool_timer.stop()
        try:
            await self.vm.shutdown()
        finally:
            if shiboken6.isValid(self):  # an embedding program may have deleted the window
                self.close()
