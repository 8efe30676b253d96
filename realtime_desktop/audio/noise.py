"""Noise suppression with WebRTC's audio processing module (livekit), its echo canceller off.

Echo is cancelled before this, by ``echo.EchoCanceller``: AEC3's residual echo suppressor
removed most of the user during double talk (issue 5), and livekit exposes no way to tune it. The
module still does what it does well: stationary noise suppression and a high-pass filter (DC and
rumble), on 10 ms frames at the processing rate, processed in place in preallocated int16
buffers.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

_TO_INT16: Final = np.float32(32767.0)
_FROM_INT16: Final = np.float32(1.0 / 32768.0)


class NoiseSuppressor:
    """One ``livekit.rtc.AudioProcessingModule`` with only noise suppression and the high-pass
    filter on.

    Args:
        sample_rate: the processing rate.
        frame_len: samples per frame (10 ms: the module takes nothing else).
    """

    def __init__(self, sample_rate: int, frame_len: int) -> None:
        from livekit import rtc

        self.sample_rate = sample_rate
        self.frame_len = frame_len
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=False,
            noise_suppression=True,
            high_pass_filter=True,
            auto_gain_control=False,
        )
        self._bytes = bytearray(frame_len * 2)
        self._pcm = np.frombuffer(self._bytes, dtype=np.int16)
        self._scaled = np.zeros(frame_len, dtype=np.float32)
        self._frame = rtc.AudioFrame(self._bytes, sample_rate, 1, frame_len)

    def process(self, frame: FloatArray) -> None:
        """Suppress noise in one frame, in place."""
        scaled = self._scaled
        np.multiply(frame, _TO_INT16, out=scaled)
        np.clip(scaled, -32768.0, 32767.0, out=scaled)
        np.rint(scaled, out=scaled)
        self._pcm[:] = scaled
        self._apm.process_stream(self._frame)
        np.multiply(self._pcm, _FROM_INT16, out=frame)
