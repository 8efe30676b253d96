"""The main window's bars: connection, notices, controls and stats.

Each reads the :class:`ConversationViewModel` through its properties and signals and calls its
commands; none of them awaits anything.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from realtime_desktop.core.controller import Notice, NoticeAction, NoticeLevel, Phase
from realtime_desktop.ui.conversation_vm import ConversationViewModel
from realtime_desktop.ui.timing import LABEL_INTERVAL_MS

_PHASE_COLORS = {
    Phase.IDLE: "#8a8f98",
    Phase.CONNECTING: "#b7791f",
    Phase.LISTENING: "#2e9d58",
    Phase.USER_SPEAKING: "#2f6fde",
    Phase.THINKING: "#805ad5",
    Phase.ASSISTANT_SPEAKING: "#0f8a65",
    Phase.TOOL_RUNNING: "#b7791f",
    Phase.RECONNECTING: "#b7791f",
    Phase.ERROR: "#d13b3b",
}
_NOTICE_COLORS = {
    NoticeLevel.INFO: "#2f6fde",
    NoticeLevel.WARNING: "#b7791f",
    NoticeLevel.ERROR: "#d13b3b",
}
_ACTION_LABELS = {NoticeAction.OPEN_SETTINGS: "Open settings…", NoticeAction.RETRY: "Retry"}
MAX_NOTICES = 3


def _pill(label: QLabel, color: str) -> None:
    label.setStyleSheet(
        f"QLabel {{ background: {color}; color: white; border-radius: 9px; padding: 2px 10px; "
        "font-weight: 600; }"
    )


def format_clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes:d}:{secs:02d}"


class ConnectionBar(QWidget):
    """Provider, model and voice, the state pill, the session clock, connect/disconnect."""

    def __init__(self, vm: ConversationViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._vm = vm
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.provider = QLabel(self)
        self.provider.setAccessibleName("Provider")
        self.details = QLabel(self)
        self.details.setAccessibleName("Model and voice")
        self.state = QLabel(self)
        self.state.setAccessibleName("Conversation state")
        self.clock = QLabel(self)
        self.clock.setAccessibleName("Session time left")
        self.clock.setToolTip(
            "Time until the service ends this session. The app starts a fresh one by itself "
            "between turns, so the conversation carries on."
        )
        self.connect_button = QPushButton(self)
        self.connect_button.setAccessibleName("Connect or disconnect")
        self.connect_button.clicked.connect(self._toggle)
        layout.addWidget(self.provider)
        layout.addWidget(self.details)
        layout.addStretch(1)
        layout.addWidget(self.state)
        layout.addWidget(self.clock)
        layout.addWidget(self.connect_button)
        self._timer = QTimer(self)
        self._timer.setInterval(LABEL_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        vm.phase_changed.connect(self.refresh)
        vm.connection_changed.connect(self.refresh)
        vm.offline_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        vm = self._vm
        self.provider.setText(vm.provider_label)
        _pill(self.provider, "#b7791f" if vm.offline else "#4a5568")
        self.details.setText(f"{vm.model} · {vm.voice}")
        phase = Phase(vm.phase)
        self.state.setText(vm.phase_label)
        _pill(self.state, _PHASE_COLORS[phase])
        active = vm.controller.session is not None
        self.connect_button.setText("Disconnect" if active else "Connect")
        self.connect_button.setEnabled(not vm.busy)
        self._tick()

    def _toggle(self) -> None:
        if self._vm.controller.session is not None:
            self._vm.run(self._vm.disconnect_session())
        else:
            self._vm.run(self._vm.connect_session())

    def _tick(self) -> None:
        expires = self._vm.expires_at
        if expires is None or not self._vm.connected:
            self.clock.setText("")
            return
        self.clock.setText(f"Session {format_clock(expires - time.time())} left")


class NoticeFrame(QFrame):
    """A notice's box: a thin border and a thick left edge in the level's colour. Painted, not
    styled: a style sheet would freeze the frame's and its buttons' colours at creation and
    leave them behind when the system switches between light and dark."""

    def __init__(self, color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = color

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self._color, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.fillRect(QRectF(0, 0, 4, self.height()), self._color)
        painter.end()


class NoticeBar(QWidget):
    """Up to three notices, newest first; a notice replaces an older one with the same key."""

    action_requested = Signal(object)
    approve_requested = Signal(str)
    deny_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 0, 8, 0)
        self._layout.setSpacing(4)
        self._frames: dict[str, QFrame] = {}
        self.setVisible(False)

    @property
    def keys(self) -> list[str]:
        return list(self._frames)

    def text_of(self, key: str) -> str:
        frame = self._frames.get(key)
        label = frame.findChild(QLabel, "text") if frame is not None else None
        return label.text() if label is not None else ""

    def show_notice(self, notice: Notice) -> None:
        key = notice.key or f"notice-{id(notice)}"
        self.clear(key)
        frame = NoticeFrame(QColor(_NOTICE_COLORS[notice.level]), self)
        frame.setObjectName("notice")
        frame.setAccessibleName(f"{notice.level.value} notice")
        row = QHBoxLayout(frame)
        row.setContentsMargins(8, 4, 4, 4)
        text = QLabel(notice.text, frame)
        text.setObjectName("text")
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(text, 1)
        if key.startswith("approval:"):
            call_id = key.split(":", 1)[1]
            approve = QPushButton("Approve", frame)
            approve.setAccessibleName("Approve the tool call")
            approve.clicked.connect(lambda: self.approve_requested.emit(call_id))
            deny = QPushButton("Deny", frame)
            deny.setAccessibleName("Deny the tool call")
            deny.clicked.connect(lambda: self.deny_requested.emit(call_id))
            row.addWidget(approve)
            row.addWidget(deny)
        elif notice.action is not NoticeAction.NONE:
            button = QPushButton(_ACTION_LABELS[notice.action], frame)
            button.clicked.connect(lambda: self.action_requested.emit(notice.action))
            row.addWidget(button)
        close = QToolButton(frame)
        close.setText("✕")
        close.setAccessibleName("Dismiss notice")
        close.setAutoRaise(True)
        close.clicked.connect(lambda: self.clear(key))
        row.addWidget(close)
        self._layout.insertWidget(0, frame)
        frame.show()  # a layout shows a child added to a visible parent only later, queued
        self._frames = {key: frame, **self._frames}
        for old_key in list(self._frames)[MAX_NOTICES:]:
            self.clear(old_key)
        self.setVisible(True)

    def clear(self, key: str) -> None:
        frame = self._frames.pop(key, None)
        if frame is not None:
            frame.hide()
            frame.deleteLater()
        self.setVisible(bool(self._frames))


class ControlsBar(QWidget):
    """Microphone, push-to-talk, interrupt, the text entry and the answer modality."""

    def __init__(self, vm: ConversationViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._vm = vm
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        self.mic = QPushButton("Microphone", self)
        self.mic.setCheckable(True)
        self.mic.setAccessibleName("Microphone on or off")
        self.mic.setToolTip("Turn the microphone on or off (Ctrl+M)")
        self.mic.clicked.connect(lambda: vm.run(vm.toggle_listening()))
        self.talk = QPushButton("Hold to talk", self)
        self.talk.setAccessibleName("Push to talk")
        self.talk.setToolTip("Hold while you speak (or hold Space)")
        self.talk.pressed.connect(lambda: vm.run(vm.push_to_talk_pressed()))
        self.talk.released.connect(lambda: vm.run(vm.push_to_talk_released()))
        self.interrupt = QPushButton("Interrupt", self)
        self.interrupt.setAccessibleName("Interrupt the assistant")
        self.interrupt.setToolTip("Stop the assistant now (Esc)")
        self.interrupt.clicked.connect(lambda: vm.run(vm.interrupt()))
        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText("Type a message and press Enter")
        self.entry.setAccessibleName("Message")
        self.entry.returnPressed.connect(self._send)
        self.send = QPushButton("Send", self)
        self.send.setAccessibleName("Send the message")
        self.send.clicked.connect(self._send)
        self.modality = QComboBox(self)
        self.modality.setAccessibleName("Answers as")
        self.modality.setToolTip("Answer with voice (and a transcript) or with text only")
        self.modality.addItem("Voice answers", "audio")
        self.modality.addItem("Text answers", "text")
        self.modality.activated.connect(self._modality_chosen)
        for widget in (self.mic, self.talk, self.interrupt):
            layout.addWidget(widget)
        layout.addWidget(self.entry, 1)
        layout.addWidget(self.send)
        layout.addWidget(self.modality)
        vm.settings_changed.connect(self.refresh)
        vm.connection_changed.connect(self.refresh)
        vm.phase_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        vm = self._vm
        connected = vm.connected
        self.mic.setChecked(vm.listening)
        self.mic.setText("Microphone on" if vm.listening else "Microphone off")
        self.mic.setEnabled(connected)
        self.talk.setVisible(vm.push_to_talk)
        self.talk.setEnabled(connected)
        self.interrupt.setEnabled(connected and vm.controller.turn_active)
        self.entry.setEnabled(connected)
        self.send.setEnabled(connected)
        self.modality.setEnabled(connected)
        self.modality.setCurrentIndex(0 if vm.modality == "audio" else 1)

    def _send(self) -> None:
        text = self.entry.text().strip()
        if not text:
            return
        self.entry.clear()
        self._vm.run(self._vm.send_text(text))

    def _modality_chosen(self, index: int) -> None:
        self._vm.run(self._vm.set_modality(str(self.modality.itemData(index))))


class StatsLabel(QLabel):
    """Latency, round trip, tokens, cost and audio health, refreshed four times a second."""

    def __init__(self, vm: ConversationViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._vm = vm
        self.setAccessibleName("Statistics")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._timer = QTimer(self)
        self._timer.setInterval(LABEL_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        vm.stats_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        stats = self._vm.stats()
        parts = []
        if stats.last_latency_ms is not None:
            median = stats.median_latency_ms or stats.last_latency_ms
            parts.append(f"Latency {stats.last_latency_ms:.0f} ms (median {median:.0f})")
        if stats.network_rtt_ms is not None:
            parts.append(f"RTT {stats.network_rtt_ms:.0f} ms")
        parts.append(f"Tokens {stats.input_tokens:,} in / {stats.output_tokens:,} out")
        cost = f"${stats.session_cost:.4f}"
        if stats.last_turn_cost is not None:
            cost += f" (last turn ${stats.last_turn_cost:.4f})"
        if not stats.cost_complete:
            cost += " *"
        parts.append(f"Cost {cost}")
        if stats.underruns or stats.overruns:
            parts.append(f"Audio {stats.underruns} underruns, {stats.overruns} overruns")
        else:
            parts.append("Audio OK")
        if stats.dropped_uplink_chunks:
            parts.append(f"{stats.dropped_uplink_chunks} mic chunks dropped")
        text = "   ·   ".join(parts)
        if text != self.text():
            self.setText(text)
            self.setToolTip(
                "Latency: end of your speech to the first assistant audio heard. "
                "Audio OK: no playback underruns or microphone overruns so far. "
                "* : some usage had no price in the price table (Settings → Privacy & storage)."
            )
