"""The input side: the capture ring and the timing of each captured block.

The input callback (the only writer) copies each block, at the device's rate and channel
count, into a preallocated ring and records where the block starts and when it was captured;
the DSP thread (the only reader) downmixes, resamples and processes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.backends import CallbackStatus, CallbackTime
from realtime_desktop.audio.constants import CAPTURE_RING_SECONDS
from realtime_desktop.audio.ring import SpscRing, next_power_of_two

FloatArray = npt.NDArray[np.float32]

_TIMING_CAPACITY: Final = 1024


class CaptureSink:
    """Receives input blocks: copy into the ring, note the timing, count; nothing else."""

    def __init__(
        self, sample_rate: int, channels: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._clock = clock
        self.ring = SpscRing(int(CAPTURE_RING_SECONDS * sample_rate), channels)
        # Per block: first frame's ring position, monotonic time the callback ran, and the
        # monotonic time its first frame hit the ADC. Published by ``blocks`` (written last).
        self.block_timing = np.zeros((_TIMING_CAPACITY, 3), dtype=np.float64)
        self.timing_mask = _TIMING_CAPACITY - 1
        self.blocks = 0
        self.device_overruns = 0  # PortAudio reported an input overflow
        self.input_latency_s = 0.0
        self.callback_ns = np.zeros(next_power_of_two(4096), dtype=np.int64)

    @property
    def overrun_frames(self) -> int:
        """Frames dropped because the DSP thread did not keep up."""
        return self.ring.overrun_frames

    def capture(
        self, indata: FloatArray, frames: int, time_info: CallbackTime, status: CallbackStatus
    ) -> None:
        """The input callback."""
        started_ns = time.perf_counter_ns()
        if status.input_overflow:
            self.device_overruns += 1
        now = self._clock()
        latency = time_info.currentTime - time_info.inputBufferAdcTime
        self.input_latency_s = latency
        timing = self.block_timing[self.blocks & self.timing_mask]
        timing[0] = self.ring.write_count
        timing[1] = now
        timing[2] = now - latency
        self.ring.write(indata)
        self.blocks += 1
        self.callback_ns[self.blocks & (len(self.callback_ns) - 1)] = (
            time.perf_counter_ns() - started_ns
        )
