"""A scrolling waveform of the microphone and the assistant, drawn from numpy.

The widget pulls audio on a timer while it is visible (STYLE.md lessons 3–5): each lane keeps its
own absolute cursor into the engine's 24 kHz history and reduces new samples to min/max bins of
10 ms. Painting maps the bins to about one min/max pair per pixel column and rasterises both
lanes in numpy into one image — no per-point Python loop, no polygon filling.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QHideEvent, QImage, QPainter, QPaintEvent, QPalette, QShowEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from realtime_desktop.ui.timing import FRAME_INTERVAL_MS

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

SAMPLE_RATE = 24_000
BIN_MS = 10
SPAN_S = 8.0
# Speech sits far below full scale; a square-root curve makes a normal voice fill a useful part
# of the lane while loud audio still fits.
_DISPLAY_EXPONENT = 0.5
# Below -60 dBFS is silence to the eye: the echo canceller's residue and a quiet room's hiss
# would otherwise draw a coloured line over the whole lane.
_DISPLAY_FLOOR = 1e-3


class WaveformSource(Protocol):
    """What the widget reads: the audio engine, or anything shaped like it."""

    def read_input_waveform(self, cursor: int) -> tuple[FloatArray, int]: ...

    def read_output_waveform(self, cursor: int) -> tuple[FloatArray, int]: ...


class EnvelopeHistory:
    """Min/max envelope of a sample stream in fixed bins, for the last ``span_s`` seconds."""

    def __init__(
        self, sample_rate: int = SAMPLE_RATE, bin_ms: int = BIN_MS, span_s: float = SPAN_S
    ) -> None:
        self.bin_size = sample_rate * bin_ms // 1000
        self.capacity = round(span_s * 1000 / bin_ms)
        self._mins = np.zeros(self.capacity, np.float32)
        self._maxs = np.zeros(self.capacity, np.float32)
        self._bins_written = 0
        self._partial = np.zeros(self.bin_size, np.float32)
        self._partial_len = 0

    @property
    def bins_written(self) -> int:
        return self._bins_written

    def extend(self, samples: FloatArray) -> None:
        if len(samples) == 0:
            return
        if self._partial_len:
            take = min(len(samples), self.bin_size - self._partial_len)
            self._partial[self._partial_len : self._partial_len + take] = samples[:take]
            self._partial_len += take
            samples = samples[take:]
            if self._partial_len < self.bin_size:
                return
            self._store(self._partial[None, :])
            self._partial_len = 0
        whole = len(samples) // self.bin_size * self.bin_size
        if whole:
            self._store(samples[:whole].reshape(-1, self.bin_size))
        rest = len(samples) - whole
        if rest:
            self._partial[:rest] = samples[whole:]
            self._partial_len = rest

    def _store(self, bins: FloatArray) -> None:
        count = len(bins)
        if count > self.capacity:
            bins = bins[-self.capacity :]
            self._bins_written += count - self.capacity
            count = self.capacity
        positions = (self._bins_written + np.arange(count)) % self.capacity
        self._mins[positions] = bins.min(axis=1)
        self._maxs[positions] = bins.max(axis=1)
        self._bins_written += count

    def latest(self) -> tuple[FloatArray, FloatArray]:
        """The whole span, oldest first; bins not yet heard are silent (zero)."""
        start = self._bins_written % self.capacity
        order = np.roll(np.arange(self.capacity), -start)
        mins, maxs = self._mins[order], self._maxs[order]
        if self._bins_written < self.capacity:
            silent = self.capacity - self._bins_written
            mins[:silent] = 0.0
            maxs[:silent] = 0.0
        return mins, maxs


def columns(mins: FloatArray, maxs: FloatArray, width: int) -> tuple[FloatArray, FloatArray]:
    """About one min/max pair per pixel column: bins grouped when there are more bins than
    pixels, kept as they are otherwise."""
    if width <= 0 or len(mins) <= width:
        return mins, maxs
    edges = np.linspace(0, len(mins), width + 1).astype(np.intp)[:-1]
    return np.minimum.reduceat(mins, edges), np.maximum.reduceat(maxs, edges)


def envelope_mask(mins: FloatArray, maxs: FloatArray, width: int, height: int) -> BoolArray:
    """The pixels of a ``height`` × ``width`` lane the envelope covers: in each column, the rows
    from its max down to its min, zero being the lane's middle. A history shorter than the
    lane is stretched across it."""
    count = len(mins)
    if count == 0 or width <= 0 or height <= 0:
        return np.zeros((max(height, 0), max(width, 0)), np.bool_)
    at = np.arange(width) * count // width
    half = height / 2.0
    top = np.floor(half - _display(maxs[at]) * half)
    bottom = np.ceil(half - _display(mins[at]) * half)
    rows = np.arange(height, dtype=np.float64)[:, None]
    mask: BoolArray = (rows >= top) & (rows < bottom)
    return mask


def _display(values: FloatArray) -> npt.NDArray[np.float64]:
    clipped = np.clip(values.astype(np.float64), -1.0, 1.0)
    clipped[np.abs(clipped) < _DISPLAY_FLOOR] = 0.0
    shaped: npt.NDArray[np.float64] = np.sign(clipped) * np.abs(clipped) ** _DISPLAY_EXPONENT
    return shaped


def _blend(under: QColor, over: QColor, alpha: float) -> QColor:
    return QColor.fromRgbF(
        under.redF() + (over.redF() - under.redF()) * alpha,
        under.greenF() + (over.greenF() - under.greenF()) * alpha,
        under.blueF() + (over.blueF() - under.blueF()) * alpha,
    )


class WaveformView(QWidget):
    """Two lanes: the microphone (after echo cancellation) and what the speaker played."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Audio waveform")
        self.setAccessibleDescription("Scrolling waveform of your microphone and the assistant")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.mic = EnvelopeHistory()
        self.assistant = EnvelopeHistory()
        self._source: WaveformSource | None = None
        self._mic_cursor = 0
        self._assistant_cursor = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_INTERVAL_MS)
        self._timer.timeout.connect(self.pull)

    def sizeHint(self) -> QSize:
        return QSize(480, 96)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 64)

    def set_source(self, source: WaveformSource | None) -> None:
        """Follows a new engine (or none); cursors restart because each engine counts anew."""
        self._source = source
        self._mic_cursor = 0
        self._assistant_cursor = 0
        if source is not None and self.isVisible():
            self._timer.start()
        elif source is None:
            self._timer.stop()

    @property
    def is_pulling(self) -> bool:
        return self._timer.isActive()

    def pull(self) -> None:
        """Reads what the engine produced since the last frame and repaints."""
        if self._source is None:
            return
        mic, self._mic_cursor = self._source.read_input_waveform(self._mic_cursor)
        out, self._assistant_cursor = self._source.read_output_waveform(self._assistant_cursor)
        if len(mic) or len(out):
            self.mic.extend(mic)
            self.assistant.extend(out)
            self.update()

    # Idle while hidden: nothing is read or painted for a window nobody sees.
    def showEvent(self, event: QShowEvent) -> None:
        if self._source is not None:
            self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        # Rasterised in numpy and drawn as one image: Qt's polygon filler spent most of a
        # frame on two jagged 1 600-edge envelopes.
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text_color = palette.color(QPalette.ColorRole.PlaceholderText)
        ratio = self.devicePixelRatioF()
        width, height = round(self.width() * ratio), round(self.height() * ratio)
        if width <= 0 or height <= 0:
            return
        pixels = np.full((height, width), base.rgb(), np.uint32)
        guide = _blend(base, text_color, 0.25).rgb()
        margin = round(3 * ratio)
        lanes = (
            (self.mic, palette.color(QPalette.ColorRole.Highlight), self.tr("You")),
            (self.assistant, _assistant_color(palette), self.tr("Assistant")),
        )
        for index, (history, color, _label) in enumerate(lanes):
            lane = pixels[index * height // 2 : (index + 1) * height // 2][margin : -margin or None]
            lane[len(lane) // 2] = guide
            mins, maxs = columns(*history.latest(), width)
            lane[envelope_mask(mins, maxs, width, len(lane))] = color.rgb()
        image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(ratio)
        painter = QPainter(self)
        painter.drawImage(0, 0, image)
        # Labels on a veil of the background, readable over loud audio.
        veil = QColor(base)
        veil.setAlpha(200)
        painter.setPen(text_color)
        metrics = self.fontMetrics()
        lane_height = self.height() / 2.0
        for index, (_history, _color, label) in enumerate(lanes):
            box = QRectF(
                4, index * lane_height + 3, metrics.horizontalAdvance(label) + 6, metrics.height()
            )
            painter.fillRect(box, veil)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        painter.end()


def _assistant_color(palette: QPalette) -> QColor:
    """An accent distinct from the highlight colour, readable on light and dark bases."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return QColor("#4fd1a5") if dark else QColor("#0f8a65")
