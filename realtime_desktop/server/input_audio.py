"""The input audio buffer of one session and the turn detector listening to it (PROTOCOL.md §4.3).

Offsets follow the SDK's definitions: ``audio_start_ms`` / ``audio_end_ms`` count milliseconds of
audio appended during the session (not wall time). ``speech_started.audio_start_ms`` includes
``prefix_padding_ms`` (it is where the committed audio begins) and ``speech_stopped.audio_end_ms``
includes the ``silence_duration_ms`` that confirmed the end (it is where the committed audio
ends). So the speech itself runs from ``audio_start_ms + prefix_padding_ms`` to
``audio_end_ms - silence_duration_ms``.

Detection runs on the audio actually received: webrtcvad decisions on 10 ms frames gated by an
energy floor that ``threshold`` moves (:mod:`realtime_desktop.audio.vad`). While turn detection
is on and nobody speaks, the buffer keeps only the last second or so (what a coming turn's
prefix padding needs, or the silent span an idle timeout commits), so a manual commit then
commits that much.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Final

from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.constants import VAD_FRAME_MS, VAD_MIN_SPEECH_MS
from realtime_desktop.audio.vad import SpeechDetector, SpeechSegmenter, VadEventKind
from realtime_desktop.server import errors
from realtime_desktop.server.conversation import AudioClip, new_id
from realtime_desktop.server.session_config import TurnSettings

log = logging.getLogger(__name__)

# A commit needs this much audio (PROTOCOL.md §1.5).
MIN_COMMIT_MS: Final = 100.0
# While nobody speaks, the buffer keeps only what a coming onset may need: the prefix padding,
# the speech it takes to confirm the onset, and slack for the detector's frame lag.
_IDLE_KEEP_SLACK_MS: Final = 500


@dataclasses.dataclass(frozen=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclasses.dataclass(frozen=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int
    clip: AudioClip


@dataclasses.dataclass(frozen=True)
class IdleTimeout:
    item_id: str
    audio_start_ms: int
    audio_end_ms: int
    clip: AudioClip


TurnEvent = SpeechStarted | SpeechStopped | IdleTimeout


class InputAudio:
    """Appended audio, commits, and server-side turn detection for one session."""

    def __init__(self, fmt: WireFormat) -> None:
        self.format = fmt
        self._ms_base = 0.0  # ms of audio appended in earlier formats
        self._total = 0  # whole samples appended in the current format
        self._buffer = bytearray()
        self._buffer_start = 0  # sample index of the buffer's first byte
        self._partial = b""  # bytes of a sample not yet complete
        self._turns: TurnSettings | None = None
        self._detector: SpeechDetector | None = None
        self._segmenter: SpeechSegmenter | None = None
        self._speech: tuple[str, int] | None = None  # (item id, first committed sample)
        self._idle_anchor: int | None = None

    # Positions ----------------------------------------------------------------------------------

    def _ms(self, sample: int) -> int:
        return round(self._ms_base + sample * 1000 / self.format.sample_rate)

    def _samples(self, ms: float) -> int:
        return round(ms * self.format.sample_rate / 1000)

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio appended during the session so far."""
        return self._ms(self._total)

    @property
    def buffered_ms(self) -> float:
        return self.format.duration_ms(len(self._buffer))

    @property
    def in_speech(self) -> bool:
        return self._speech is not None

    # Configuration ------------------------------------------------------------------------------

    def set_format(self, fmt: WireFormat) -> None:
        """A new input format starts a fresh buffer: bytes of two formats cannot be mixed."""
        if fmt is self.format:
            return
        self._ms_base += self._total * 1000 / self.format.sample_rate
        self.format = fmt
        self._total = 0
        self._buffer = bytearray()
        self._buffer_start = 0
        self._partial = b""
        self._idle_anchor = None
        self._rebuild_detector()

    def set_turn_detection(self, turns: TurnSettings | None) -> None:
        if turns == self._turns:
            return
        self._turns = turns
        self._rebuild_detector()
        if turns is not None and turns.idle_timeout_ms is not None and self._idle_anchor is None:
            self._idle_anchor = self._total

    def _rebuild_detector(self) -> None:
        self._speech = None
        if self._turns is None:
            self._detector = None
            self._segmenter = None
            return
        rate = self.format.sample_rate
        self._detector = SpeechDetector(rate, self._turns.threshold, VAD_FRAME_MS)
        self._detector.reset(self._total)
        self._segmenter = SpeechSegmenter(
            rate, min_speech_ms=VAD_MIN_SPEECH_MS, hangover_ms=self._turns.silence_duration_ms
        )

    def arm_idle_timeout(self, after_ms: float = 0.0) -> None:
        """Starts the idle clock ``after_ms`` of appended audio from now (the playing time of
        the response that just ended, PROTOCOL.md §4.3)."""
        self._idle_anchor = self._total + self._samples(after_ms)

    def disarm_idle_timeout(self) -> None:
        self._idle_anchor = None

    # Audio in -----------------------------------------------------------------------------------

    def append(self, data: bytes) -> list[TurnEvent]:
        """Adds audio; returns what turn detection made of it, in order. CPU-bound (VAD)."""
        data = self._partial + data
        whole = len(data) - len(data) % self.format.bytes_per_sample
        self._partial = data[whole:]
        chunk = data[:whole]
        self._buffer += chunk
        self._total += whole // self.format.bytes_per_sample
        turns = self._turns
        if self._detector is None or self._segmenter is None or turns is None:
            return []
        events: list[TurnEvent] = []
        frames = self._detector.process(self.format.decode(chunk))
        for vad_event in self._segmenter.feed(frames):
            if vad_event.kind is VadEventKind.ONSET:
                events.append(self._onset(turns, vad_event.position))
            elif self._speech is not None:
                events.append(self._offset(turns, self._speech, vad_event.position))
        if self._speech is None:
            idle = self._check_idle(turns)
            if idle is not None:
                events.append(idle)
            self._trim(turns)
        return events

    def _onset(self, turns: TurnSettings, speech_start: int) -> SpeechStarted:
        start = max(self._buffer_start, speech_start - self._samples(turns.prefix_padding_ms))
        item_id = new_id("item_")
        self._speech = (item_id, start)
        self._idle_anchor = None
        return SpeechStarted(item_id=item_id, audio_start_ms=self._ms(start))

    def _offset(
        self, turns: TurnSettings, speech: tuple[str, int], speech_end: int
    ) -> SpeechStopped:
        item_id, start = speech
        self._speech = None
        end = min(self._total, speech_end + self._samples(turns.silence_duration_ms))
        return SpeechStopped(
            item_id=item_id, audio_end_ms=self._ms(end), clip=self._take(start, end)
        )

    def _check_idle(self, turns: TurnSettings) -> IdleTimeout | None:
        if turns.idle_timeout_ms is None or self._idle_anchor is None:
            return None
        if self._total < self._idle_anchor + self._samples(turns.idle_timeout_ms):
            return None
        start = max(self._buffer_start, self._idle_anchor)
        self._idle_anchor = None
        return IdleTimeout(
            item_id=new_id("item_"),
            audio_start_ms=self._ms(start),
            audio_end_ms=self._ms(self._total),
            clip=self._take(start, self._total),
        )

    def _trim(self, turns: TurnSettings) -> None:
        keep = self._samples(turns.prefix_padding_ms + VAD_MIN_SPEECH_MS + _IDLE_KEEP_SLACK_MS)
        cut = self._total - keep
        if self._idle_anchor is not None and turns.idle_timeout_ms is not None:
            # An idle timeout commits the whole silent span (PROTOCOL.md §3.1).
            cut = min(cut, self._idle_anchor)
        if cut > self._buffer_start:
            self._drop_before(cut)

    def _take(self, start: int, end: int) -> AudioClip:
        """The audio of samples [start, end); everything before ``end`` leaves the buffer."""
        size = self.format.bytes_per_sample
        start = max(start, self._buffer_start)
        data = bytes(
            self._buffer[(start - self._buffer_start) * size : (end - self._buffer_start) * size]
        )
        self._drop_before(end)
        return AudioClip(data, self.format)

    def _drop_before(self, sample: int) -> None:
        drop = min(len(self._buffer), (sample - self._buffer_start) * self.format.bytes_per_sample)
        if drop > 0:
            del self._buffer[:drop]
            self._buffer_start = sample

    # Commits ------------------------------------------------------------------------------------

    def commit(self) -> AudioClip:
        """Everything buffered, as one clip; raises ``input_audio_buffer_commit_empty`` under
        100 ms. A commit during detected speech ends that speech without ``speech_stopped``."""
        if self.buffered_ms < MIN_COMMIT_MS:
            raise errors.commit_empty(self.buffered_ms)
        clip = self._take(self._buffer_start, self._total)
        self._reset_speech()
        return clip

    def clear(self) -> None:
        self._buffer = bytearray()
        self._buffer_start = self._total
        self._partial = b""
        self._reset_speech()

    def _reset_speech(self) -> None:
        if self._speech is not None and self._segmenter is not None:
            self._segmenter.reset()
        self._speech = None
