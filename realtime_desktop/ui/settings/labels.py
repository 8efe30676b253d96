"""Labels whose colour carries meaning (an inline error, a success, help text), derived from
the window's palette so they stay readable in light and dark themes."""

from __future__ import annotations

import enum

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QWidget

# Contrast of at least 4.5:1 (WCAG AA) against typical light (#efefef) and dark (#2d2d2d)
# window backgrounds; checked in the screenshots of both palettes.
_LIGHT = {"error": "#b3261e", "success": "#1b6e2d"}
_DARK = {"error": "#ff8a80", "success": "#7ddc8f"}


class Tone(enum.Enum):
    PLAIN = "plain"
    MUTED = "muted"
    ERROR = "error"
    SUCCESS = "success"


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone_color(palette: QPalette, tone: Tone) -> QColor:
    if tone is Tone.PLAIN:
        return palette.color(QPalette.ColorRole.WindowText)
    if tone is Tone.MUTED:
        # Between text and background: quieter than the text, still readable (PlaceholderText
        # is too faint for a paragraph of help in some styles).
        text = palette.color(QPalette.ColorRole.WindowText)
        window = palette.color(QPalette.ColorRole.Window)
        return QColor(
            (text.red() * 2 + window.red()) // 3,
            (text.green() * 2 + window.green()) // 3,
            (text.blue() * 2 + window.blue()) // 3,
        )
    colors = _DARK if is_dark(palette) else _LIGHT
    return QColor(colors[tone.value])


class StatusLabel(QLabel):
    """A word-wrapped label in a :class:`Tone`; recoloured when the application palette
    changes (a switch between light and dark mode)."""

    def __init__(self, text: str = "", tone: Tone = Tone.PLAIN, parent: QWidget | None = None):
        super().__init__(text, parent)
        self._tone = tone
        self.setWordWrap(True)
        self._recolor()

    @property
    def tone(self) -> Tone:
        return self._tone

    def set_tone(self, tone: Tone) -> None:
        if tone is not self._tone:
            self._tone = tone
            self._recolor()

    def show_message(self, text: str, tone: Tone | None = None) -> None:
        """Shows ``text`` (hidden when empty)."""
        if tone is not None:
            self.set_tone(tone)
        self.setText(text)
        self.setVisible(bool(text))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.ParentChange):
            self._recolor()

    def _recolor(self) -> None:
        # The colour comes from the base palette (the window's), not from this label's own
        # palette, which this method changes.
        parent = self.parentWidget()
        base = parent.palette() if parent is not None else QPalette()
        palette = self.palette()
        color = tone_color(base, self._tone)
        # Disabled keeps the base palette's colour: help text of a disabled field greys out.
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            palette.setColor(group, QPalette.ColorRole.WindowText, color)
        palette.setColor(
            QPalette.ColorGroup.Disabled,
            QPalette.ColorRole.WindowText,
            base.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText),
        )
        self.setPalette(palette)
