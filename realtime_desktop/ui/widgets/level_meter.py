"""A horizontal level meter: RMS as a bar, peak as a tick, in dBFS.

The engine hands over the latest RMS/peak and forgets it (a lossy slot); the falling bar and the
held peak — the meter's ballistics — are computed here, in the view, per STYLE.md lesson 5.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from realtime_desktop.ui.timing import METER_DECAY_DB_PER_S, PEAK_HOLD_S

FLOOR_DBFS = -60.0


class MeterBallistics:
    """Rises at once, falls at ``METER_DECAY_DB_PER_S``; the peak holds for ``PEAK_HOLD_S``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self.rms_dbfs = FLOOR_DBFS
        self.peak_dbfs = FLOOR_DBFS
        self._peak_set_at = self._last

    def update(self, rms_dbfs: float, peak_dbfs: float) -> None:
        now = self._clock()
        fall = (now - self._last) * METER_DECAY_DB_PER_S
        self._last = now
        self.rms_dbfs = max(_floor(rms_dbfs), self.rms_dbfs - fall)
        if peak_dbfs >= self.peak_dbfs:
            self.peak_dbfs = _floor(peak_dbfs)
            self._peak_set_at = now
        elif now - self._peak_set_at > PEAK_HOLD_S:
            self.peak_dbfs = max(_floor(peak_dbfs), self.peak_dbfs - fall)


def _floor(dbfs: float) -> float:
    return max(FLOOR_DBFS, min(0.0, dbfs))


def fraction(dbfs: float) -> float:
    """Position of a level on the meter's scale, 0 at the floor and 1 at full scale."""
    return (_floor(dbfs) - FLOOR_DBFS) / -FLOOR_DBFS


class LevelMeter(QWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.ballistics = MeterBallistics()

    def sizeHint(self) -> QSize:
        return QSize(140, 10)

    def set_level(self, rms_dbfs: float, peak_dbfs: float) -> None:
        before = (round(self.ballistics.rms_dbfs), round(self.ballistics.peak_dbfs))
        self.ballistics.update(rms_dbfs, peak_dbfs)
        after = (round(self.ballistics.rms_dbfs), round(self.ballistics.peak_dbfs))
        self.setAccessibleDescription(f"{after[0]} dBFS, peak {after[1]} dBFS")
        if after != before:
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(rect, 2, 2)
        level = fraction(self.ballistics.rms_dbfs)
        # Green up to -12 dBFS, amber to -3, red above: where speech should sit, and clipping.
        color = QColor("#2e9d58")
        if self.ballistics.rms_dbfs > -3:
            color = QColor("#d13b3b")
        elif self.ballistics.rms_dbfs > -12:
            color = QColor("#d69e2e")
        painter.setPen(QColor(0, 0, 0, 0))
        painter.setBrush(color)
        painter.drawRect(QRectF(rect.left(), rect.top(), rect.width() * level, rect.height()))
        peak_x = rect.left() + rect.width() * fraction(self.ballistics.peak_dbfs)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawLine(
            QRectF(peak_x, rect.top(), 0, rect.height()).topLeft(),
            QRectF(peak_x, rect.top(), 0, rect.height()).bottomLeft(),
        )
        painter.end()
