"""The waveform's envelope maths and its pull-while-visible behaviour."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtGui import QColor, QPalette
from pytestqt.qtbot import QtBot

from realtime_desktop.ui.widgets.level_meter import (
    FLOOR_DBFS,
    LevelMeter,
    MeterBallistics,
    fraction,
)
from realtime_desktop.ui.widgets.waveform import (
    EnvelopeHistory,
    WaveformView,
    columns,
    envelope_mask,
)

FloatArray = npt.NDArray[np.float32]


class FakeSource:
    """Hands out pre-set microphone and speaker audio through per-consumer cursors."""

    def __init__(self, mic: FloatArray, out: FloatArray) -> None:
        self.mic, self.out = mic, out
        self.reads = 0

    def read_input_waveform(self, cursor: int) -> tuple[FloatArray, int]:
        self.reads += 1
        return self.mic[cursor:], len(self.mic)

    def read_output_waveform(self, cursor: int) -> tuple[FloatArray, int]:
        return self.out[cursor:], len(self.out)


def test_bins_hold_min_and_max_across_partial_chunks() -> None:
    history = EnvelopeHistory(sample_rate=1000, bin_ms=10, span_s=0.1)  # 10 samples a bin
    ramp = np.linspace(-1, 1, 95, dtype=np.float32)
    for chunk in np.array_split(ramp, 7):  # uneven chunks across bin edges
        history.extend(chunk)
    assert history.bins_written == 9  # 5 samples still wait in the partial bin
    mins, maxs = history.latest()
    assert np.allclose(mins[1:], ramp[0:90:10])
    assert np.allclose(maxs[1:], ramp[9:90:10])
    assert mins[0] == maxs[0] == 0  # not heard yet: silent


def test_history_keeps_only_its_span() -> None:
    history = EnvelopeHistory(sample_rate=1000, bin_ms=10, span_s=0.05)  # 5 bins
    history.extend(np.arange(200, dtype=np.float32))  # 20 bins, in one call
    mins, maxs = history.latest()
    assert list(mins) == [150, 160, 170, 180, 190]
    assert list(maxs) == [159, 169, 179, 189, 199]


def test_columns_give_one_min_max_pair_per_pixel() -> None:
    mins = np.arange(800, dtype=np.float32)
    mins_c, maxs_c = columns(mins, mins + 0.5, 100)
    assert len(mins_c) == len(maxs_c) == 100
    assert mins_c[0] == 0
    assert maxs_c[0] == 7.5
    short = np.zeros(50, np.float32)
    assert len(columns(short, short, 100)[0]) == 50


def test_envelope_covers_max_to_min_in_each_column() -> None:
    mins = np.array([-1.0, -0.25, 0.0], np.float32)
    maxs = np.array([1.0, 0.25, 0.0], np.float32)
    mask = envelope_mask(mins, maxs, 3, 8)
    assert mask[:, 0].all()  # full scale fills the lane
    assert list(np.flatnonzero(mask[:, 1])) == [2, 3, 4, 5]  # 0.25 shows as half (square root)
    assert not mask[:, 2].any()  # silence draws nothing over the guide line


def test_short_history_is_stretched_across_the_lane() -> None:
    mins = np.array([0.0, -1.0], np.float32)
    mask = envelope_mask(mins, -mins, 6, 4)
    assert [bool(mask[:, x].any()) for x in range(6)] == [False] * 3 + [True] * 3


def test_view_pulls_only_while_visible_and_draws_the_audio(qtbot: QtBot) -> None:
    t = np.arange(24_000 * 2) / 24_000
    source = FakeSource(
        (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), np.zeros(10, np.float32)
    )
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(400, 100)
    view.set_source(source)
    pulling_before_shown = view.is_pulling
    assert not pulling_before_shown
    view.show()
    qtbot.waitUntil(lambda: view.mic.bins_written == 200)
    pulling_while_shown = view.is_pulling
    assert pulling_while_shown
    image = view.grab().toImage()
    highlight = view.palette().color(QPalette.ColorRole.Highlight)
    right_edge = [QColor(image.pixel(395, y)) for y in range(50)]
    assert highlight in right_edge  # the newest audio is drawn at the right edge of its lane
    view.hide()
    pulling_after_hidden = view.is_pulling
    assert not pulling_after_hidden
    reads = source.reads
    view.pull()  # an explicit pull still works; the timer no longer calls it
    assert source.reads == reads + 1


def test_meter_rises_at_once_and_falls_slowly() -> None:
    now = [0.0]
    meter = MeterBallistics(clock=lambda: now[0])
    meter.update(-6.0, -3.0)
    assert meter.rms_dbfs == -6.0
    now[0] = 0.5
    meter.update(FLOOR_DBFS, FLOOR_DBFS)
    assert meter.rms_dbfs == -18.0  # 24 dB/s for half a second
    assert meter.peak_dbfs == -3.0  # still held
    now[0] = 1.6
    meter.update(FLOOR_DBFS, FLOOR_DBFS)
    assert meter.peak_dbfs < -3.0
    assert fraction(0.0) == 1.0
    assert fraction(-200) == 0.0


def test_level_meter_describes_its_level(qtbot: QtBot) -> None:
    meter = LevelMeter("Microphone level")
    qtbot.addWidget(meter)
    meter.set_level(-20.0, -10.0)
    assert meter.accessibleName() == "Microphone level"
    assert meter.accessibleDescription() == "-20 dBFS, peak -10 dBFS"
    assert not meter.grab().isNull()
