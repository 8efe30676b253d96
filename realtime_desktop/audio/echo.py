"""Echo cancellation and noise suppression with WebRTC's audio processing module (livekit).

The far end is exactly what the output callback rendered (read back from its ring on the DSP
thread); the near end is the microphone. Both arrive here at the processing rate, mono, and
are processed in the 10 ms frames the module requires, through preallocated int16 buffers it
processes in place.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.codecs import float32_to_pcm16
from realtime_desktop.audio.constants import APM_FRAME_MS

FloatArray = npt.NDArray[np.float32]

_INT16_SCALE: Final = np.float32(1.0 / 32768.0)
# The module's delay hint is clamped to what WebRTC accepts.
_MAX_DELAY_MS: Final = 500


class EchoCanceller:
    """One ``livekit.rtc.AudioProcessingModule`` and its frame buffers.

    Args:
        sample_rate: the processing rate of both directions.
        echo_cancellation: cancel the far end from the near end.
        noise_suppression: suppress stationary noise in the near end.
    """

    def __init__(self, sample_rate: int, *, echo_cancellation: bool, noise_suppression: bool):
        from livekit import rtc

        self.sample_rate = sample_rate
        self.frame_len = sample_rate * APM_FRAME_MS // 1000
        self.echo_cancellation = echo_cancellation
        self.noise_suppression = noise_suppression
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=echo_cancellation,
            noise_suppression=noise_suppression,
            high_pass_filter=echo_cancellation or noise_suppression,
            auto_gain_control=False,
        )
        self._near_bytes = bytearray(self.frame_len * 2)
        self._far_bytes = bytearray(self.frame_len * 2)
        self._near = np.frombuffer(self._near_bytes, dtype=np.int16)
        self._far = np.frombuffer(self._far_bytes, dtype=np.int16)
        self._near_frame = rtc.AudioFrame(self._near_bytes, sample_rate, 1, self.frame_len)
        self._far_frame = rtc.AudioFrame(self._far_bytes, sample_rate, 1, self.frame_len)
        self._delay_ms = -1

    def set_delay_ms(self, delay_ms: float) -> None:
        """The echo path's delay hint: render-to-DAC plus ADC-to-processing time."""
        rounded = int(min(_MAX_DELAY_MS, max(0, round(delay_ms))))
        if self.echo_cancellation and rounded != self._delay_ms:
            self._apm.set_stream_delay_ms(rounded)
            self._delay_ms = rounded

    def analyze_far_end(self, frame: FloatArray) -> None:
        """Give the module one 10 ms frame of what was played."""
        if not self.echo_cancellation:
            return
        self._far[:] = float32_to_pcm16(frame)
        self._apm.process_reverse_stream(self._far_frame)

    def process_near_end(self, frame: FloatArray) -> FloatArray:
        """One 10 ms microphone frame with the echo and noise removed."""
        self._near[:] = float32_to_pcm16(frame)
        self._apm.process_stream(self._near_frame)
        return self._near.astype(np.float32) * _INT16_SCALE
