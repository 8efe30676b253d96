"""Voice activity detection: webrtcvad decisions gated by an energy floor.

``SpeechDetector`` turns float32 audio at any rate into per-frame speech decisions placed on
the caller's absolute sample positions. ``SpeechSegmenter`` turns those decisions into onset
and offset events with a minimum speech length (a cough or a "mhm" must not interrupt the
assistant, PEERS.md pain point 14) and a hangover. The engine uses both for local barge-in;
the offline server builds its ``server_vad`` turn detector on them.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

import numpy as np
import numpy.typing as npt
import webrtcvad

from realtime_desktop.audio.codecs import float32_to_pcm16
from realtime_desktop.audio.constants import (
    SILENCE_DBFS,
    VAD_DEFAULT_THRESHOLD,
    VAD_FRAME_MS,
    VAD_HANGOVER_MS,
    VAD_MIN_SPEECH_MS,
)
from realtime_desktop.audio.resample import StreamResampler

FloatArray = npt.NDArray[np.float32]

# webrtcvad accepts only these rates; anything else is resampled to 16 kHz, where it is
# tuned for speech.
WEBRTCVAD_RATES: Final = (8000, 16000, 32000, 48000)
_FALLBACK_VAD_RATE: Final = 16000

# The energy floor moves from -60 dBFS (threshold 0, hears a whisper) to -30 dBFS
# (threshold 1, only close, loud speech).
_FLOOR_AT_ZERO_DBFS: Final = -60.0
_FLOOR_SPAN_DB: Final = 30.0


def dbfs(rms_or_peak: float) -> float:
    """A linear level in dBFS, floored at SILENCE_DBFS instead of -inf."""
    if rms_or_peak <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * float(np.log10(rms_or_peak)))


@dataclasses.dataclass(frozen=True)
class VadSensitivity:
    """What a 0..1 threshold means for the detector: higher is stricter."""

    aggressiveness: int  # webrtcvad mode 0..3
    energy_floor_dbfs: float

    @classmethod
    def from_threshold(cls, threshold: float) -> VadSensitivity:
        clamped = min(1.0, max(0.0, threshold))
        return cls(
            aggressiveness=min(3, int(clamped * 4)),
            energy_floor_dbfs=_FLOOR_AT_ZERO_DBFS + _FLOOR_SPAN_DB * clamped,
        )


@dataclasses.dataclass(frozen=True)
class VadFrame:
    """One frame's decision; ``start`` and ``length`` count samples at the caller's rate."""

    start: int
    length: int
    is_speech: bool
    level_dbfs: float

    @property
    def end(self) -> int:
        return self.start + self.length


class SpeechDetector:
    """Frame-level speech decisions for a continuous stream of float32 mono samples.

    Args:
        sample_rate: the rate of the samples passed to ``process``.
        threshold: 0..1 sensitivity (see ``VadSensitivity``).
        frame_ms: 10, 20 or 30 (webrtcvad's frame lengths).
    """

    def __init__(
        self,
        sample_rate: int,
        threshold: float = VAD_DEFAULT_THRESHOLD,
        frame_ms: int = VAD_FRAME_MS,
    ) -> None:
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"webrtcvad frames are 10, 20 or 30 ms, not {frame_ms}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self._vad_rate = sample_rate if sample_rate in WEBRTCVAD_RATES else _FALLBACK_VAD_RATE
        self._resampler = StreamResampler(sample_rate, self._vad_rate)
        self._frame_len = self._vad_rate * frame_ms // 1000
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames_done = 0  # whole frames decided so far, at the VAD rate
        self._position = 0  # samples consumed, at the caller's rate
        self._origin = 0  # the caller's position of frame 0
        self._vad = webrtcvad.Vad()
        self.sensitivity = VadSensitivity.from_threshold(threshold)

    @property
    def sensitivity(self) -> VadSensitivity:
        return self._sensitivity

    @sensitivity.setter
    def sensitivity(self, value: VadSensitivity) -> None:
        self._sensitivity = value
        self._vad.set_mode(value.aggressiveness)

    def set_threshold(self, threshold: float) -> None:
        """Change the 0..1 threshold; takes effect from the next frame."""
        self.sensitivity = VadSensitivity.from_threshold(threshold)

    @property
    def position(self) -> int:
        """Samples consumed so far, at the caller's rate."""
        return self._position

    def reset(self, position: int = 0) -> None:
        """Forget buffered audio and restart counting at ``position``."""
        self._resampler.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames_done = 0
        self._position = position
        self._origin = position

    def process(self, samples: FloatArray) -> list[VadFrame]:
        """Decisions for every frame completed by ``samples``, in order."""
        self._position += len(samples)
        converted = self._resampler.process(samples)
        pending = np.concatenate((self._pending, converted)) if self._pending.size else converted
        n_frames = len(pending) // self._frame_len
        frames: list[VadFrame] = []
        floor = self._sensitivity.energy_floor_dbfs
        for k in range(n_frames):
            frame = pending[k * self._frame_len : (k + 1) * self._frame_len]
            level = dbfs(float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))))
            speech = level >= floor and self._vad.is_speech(
                float32_to_pcm16(frame).tobytes(), self._vad_rate
            )
            frames.append(self._place(self._frames_done + k, speech, level))
        self._frames_done += n_frames
        self._pending = pending[n_frames * self._frame_len :].copy()
        return frames

    def _place(self, frame_index: int, is_speech: bool, level: float) -> VadFrame:
        # Map the frame's span at the VAD rate back onto the caller's sample positions; soxr
        # output is time-aligned with its input, so this is a pure rate conversion.
        ratio = self.sample_rate / self._vad_rate
        start = self._origin + round(frame_index * self._frame_len * ratio)
        end = self._origin + round((frame_index + 1) * self._frame_len * ratio)
        return VadFrame(start=start, length=end - start, is_speech=is_speech, level_dbfs=level)


class VadEventKind(enum.Enum):
    ONSET = "onset"
    OFFSET = "offset"


@dataclasses.dataclass(frozen=True)
class VadEvent:
    """Speech started (at ``position``, the first speech frame) or ended (after the last one)."""

    kind: VadEventKind
    position: int
    sample_rate: int

    @property
    def position_ms(self) -> float:
        return self.position * 1000.0 / self.sample_rate


class SpeechSegmenter:
    """Onset/offset events from frame decisions.

    An onset needs ``min_speech_ms`` of speech frames in a row, and is placed at the first of
    them; an offset needs ``hangover_ms`` of non-speech after speech, and is placed where the
    speech ended.
    """

    def __init__(
        self,
        sample_rate: int,
        min_speech_ms: float = VAD_MIN_SPEECH_MS,
        hangover_ms: float = VAD_HANGOVER_MS,
    ) -> None:
        self.sample_rate = sample_rate
        self.min_speech = round(min_speech_ms * sample_rate / 1000)
        self.hangover = round(hangover_ms * sample_rate / 1000)
        self.in_speech = False
        self._run_start: int | None = None  # first frame of the current speech run
        self._last_speech_end = 0

    def feed(self, frames: list[VadFrame]) -> list[VadEvent]:
        events: list[VadEvent] = []
        for frame in frames:
            if frame.is_speech:
                if self._run_start is None:
                    self._run_start = frame.start
                self._last_speech_end = frame.end
                if not self.in_speech and frame.end - self._run_start >= self.min_speech:
                    self.in_speech = True
                    events.append(VadEvent(VadEventKind.ONSET, self._run_start, self.sample_rate))
            elif not self.in_speech:
                self._run_start = None
            elif frame.end - self._last_speech_end >= self.hangover:
                self.in_speech = False
                self._run_start = None
                events.append(
                    VadEvent(VadEventKind.OFFSET, self._last_speech_end, self.sample_rate)
                )
        return events

    def reset(self) -> None:
        self.in_speech = False
        self._run_start = None
