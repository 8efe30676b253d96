"""The output side: the playback ring, item marks, prebuffer, flush, and what was heard.

Three threads touch this module, each through its own methods:
- the **DSP thread** (the only writer) appends samples at the device rate with ``begin_item``,
  ``write`` and ``end_item``;
- the **output callback** (the only reader) renders blocks with ``render``;
- the **main thread** asks for a flush (``request_flush``) and reads the tracker.

Item boundaries travel beside the samples through a second SPSC ring of marks: "item slot S
(flush generation G) starts at ring position P" or "the item queued before P is complete".
The callback therefore knows which item each rendered frame belongs to, so the tracker counts
frames actually rendered per item, not frames received (PEERS.md M1 and its caveats).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.backends import CallbackStatus, CallbackTime
from realtime_desktop.audio.constants import (
    FLUSH_FADE_MS,
    PLAYBACK_ITEM_SLOTS,
    PLAYBACK_RING_SECONDS,
    PREBUFFER_GROWTH_MS,
    PREBUFFER_LIMIT_MS,
    PREBUFFER_MAX_WAIT_MS,
    PREBUFFER_START_MS,
    RENDERED_RING_SECONDS,
)
from realtime_desktop.audio.ring import SpscRing, next_power_of_two

FloatArray = npt.NDArray[np.float32]

END_OF_ITEM: Final = -1  # a mark's slot for "the item before this position is complete"
_MARK_CAPACITY: Final = 1024
_TIMING_CAPACITY: Final = 1024

_IDLE: Final = 0  # nothing to play
_PREBUFFERING: Final = 1  # an item has started arriving; waiting for enough of it
_PLAYING: Final = 2


class PlaybackTracker:
    """Per-item counters the output callback fills in and the main thread reads.

    Slots are reused round-robin (PLAYBACK_ITEM_SLOTS); all arrays are preallocated so the
    callback only stores numbers.
    """

    def __init__(self, sample_rate: int, slots: int = PLAYBACK_ITEM_SLOTS) -> None:
        self.sample_rate = sample_rate
        self.slots = slots
        self.rendered_frames = np.zeros(slots, dtype=np.int64)
        # Output-timeline positions (frames since the stream started, silence included) of the
        # first frame rendered for the item and of the frame after its last one.
        self.first_out_pos = np.full(slots, -1, dtype=np.int64)
        self.end_out_pos = np.zeros(slots, dtype=np.int64)
        # Monotonic time at which the item's first frame reaches the DAC.
        self.first_heard_at = np.full(slots, np.nan, dtype=np.float64)

    def reset_slot(self, slot: int) -> None:
        self.rendered_frames[slot] = 0
        self.first_out_pos[slot] = -1
        self.end_out_pos[slot] = 0
        self.first_heard_at[slot] = np.nan


class PlaybackRenderer:
    """The playback ring and the output callback's state machine.

    Args:
        sample_rate: the output device's rate.
        channels: the output device's channel count (mono is copied to every channel).
        tracker: per-item counters (kept across device re-opens).
        clock: the monotonic clock shared with the engine.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        tracker: PlaybackTracker,
        clock: Callable[[], float] = time.monotonic,
        prebuffer_target_ms: float = PREBUFFER_START_MS,
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.tracker = tracker
        self._clock = clock
        self.ring = SpscRing(int(PLAYBACK_RING_SECONDS * sample_rate))
        # What the callback rendered, silence included: the echo canceller's far end and the
        # output meter read it on the DSP thread.
        self.rendered = SpscRing(int(RENDERED_RING_SECONDS * sample_rate))
        self._mark_pos = np.zeros(_MARK_CAPACITY, dtype=np.int64)
        self._mark_slot = np.zeros(_MARK_CAPACITY, dtype=np.int64)
        self._mark_gen = np.zeros(_MARK_CAPACITY, dtype=np.int64)
        self._mark_mask = _MARK_CAPACITY - 1
        self.marks_written = 0  # DSP thread only; published after the mark's fields
        self.marks_read = 0  # callback only
        fade_len = max(1, sample_rate * FLUSH_FADE_MS // 1000)
        self._fade = np.linspace(1.0, 0.0, fade_len + 1, dtype=np.float32)[1:]
        # PortAudio may hand a block longer than asked for; a second of scratch covers any.
        self._scratch = np.zeros(sample_rate, dtype=np.float32)
        # Callback state.
        self._state = _IDLE
        self._slot = -1
        self._item_complete = False  # an end mark for the current item was passed
        self._waited = 0
        self.prebuffer_target = round(prebuffer_target_ms * sample_rate / 1000)
        self._prebuffer_max_wait = round(PREBUFFER_MAX_WAIT_MS * sample_rate / 1000)
        self._prebuffer_step = round(PREBUFFER_GROWTH_MS * sample_rate / 1000)
        self._prebuffer_limit = round(PREBUFFER_LIMIT_MS * sample_rate / 1000)
        self._discard_below_gen = -1  # while >= 0, drop data until a mark of this generation
        # Flush hand-shake: the main thread bumps flush_requested; the callback applies it and
        # then publishes flush_applied (last), with what it did in the fields before it.
        self.flush_requested = 0
        self.flush_applied = 0
        self.flush_slot = -1
        self.flush_silent_at = 0.0
        # Counters (plain ints: the callback only counts).
        self.total_out = 0  # frames output since the stream started
        self.underruns = 0  # the ring ran dry in the middle of an item
        self.device_underruns = 0  # PortAudio reported an output underflow
        self.output_latency_s = 0.0
        # Output clock for the main thread, under a sequence lock: the position of the last
        # block's first frame and the monotonic time at which it reaches the DAC.
        self.clock_seq = 0
        self.clock_values = np.zeros(2, dtype=np.float64)
        # Per block, like CaptureSink.block_timing: first frame's output position, monotonic time
        # the callback ran, and time that frame reaches the DAC. The echo canceller pairs far and
        # near samples through the callback times. Published by ``blocks`` (written last).
        self.block_timing = np.zeros((_TIMING_CAPACITY, 3), dtype=np.float64)
        self.timing_mask = _TIMING_CAPACITY - 1
        self.blocks = 0
        self.callback_ns = np.zeros(next_power_of_two(4096), dtype=np.int64)

    # ----------------------------------------------------------------------- DSP thread side
    def _push_mark(self, position: int, slot: int, generation: int) -> None:
        index = self.marks_written & self._mark_mask
        self._mark_pos[index] = position
        self._mark_slot[index] = slot
        self._mark_gen[index] = generation
        self.marks_written += 1  # publish last

    def begin_item(self, slot: int, generation: int) -> None:
        """Everything written from now on belongs to ``slot`` (until the next mark)."""
        self._push_mark(self.ring.write_count, slot, generation)

    def end_item(self, generation: int) -> None:
        """The current item is complete: running dry after it is not an underrun."""
        self._push_mark(self.ring.write_count, END_OF_ITEM, generation)

    def write(self, samples: FloatArray) -> int:
        """Append device-rate samples of the current item; returns how many fit."""
        return self.ring.write(samples)

    @property
    def marks_free(self) -> int:
        return _MARK_CAPACITY - (self.marks_written - self.marks_read)

    # --------------------------------------------------------------------- main thread side
    def request_flush(self) -> int:
        """Ask the callback to fade out and drop everything queued; returns the generation."""
        self.flush_requested += 1
        return self.flush_requested

    def output_clock(self) -> tuple[float, float]:
        """(output position, monotonic DAC time of that position), consistent with each other."""
        while True:
            before = self.clock_seq
            position, dac_time = self.clock_values[0], self.clock_values[1]
            if before == self.clock_seq and not before & 1:
                return float(position), float(dac_time)

    def audible_position(self, now: float) -> float:
        """The output-timeline position being heard at monotonic time ``now``."""
        position, dac_time = self.output_clock()
        heard = position + (now - dac_time) * self.sample_rate
        return min(heard, float(self.total_out))

    @property
    def queued_frames(self) -> int:
        return self.ring.available

    # ------------------------------------------------------------------------ callback side
    def render(
        self, outdata: FloatArray, frames: int, time_info: CallbackTime, status: CallbackStatus
    ) -> None:
        """The output callback: copy from the ring and count; no allocation, locks or logging."""
        started_ns = time.perf_counter_ns()
        if status.output_underflow:
            self.device_underruns += 1
        latency = time_info.outputBufferDacTime - time_info.currentTime
        self.output_latency_s = latency
        now = self._clock()
        dac_time = now + latency
        # Render mono into our own scratch and broadcast it to every channel at the end:
        # copying one column of ``outdata`` onto the others would overlap in memory and make
        # numpy allocate a temporary.
        out = self._scratch[:frames]
        tracker = self.tracker
        pos = 0
        if self.flush_requested != self.flush_applied:
            pos = self._apply_flush(out, frames, dac_time)
        while pos < frames:
            if self._discard_below_gen >= 0 and not self._discard():
                break
            self._take_marks()
            if self._slot < 0:
                break
            available = self._frames_until_next_mark()
            if self._state != _PLAYING:
                complete = self._item_complete or self.marks_written != self.marks_read
                if (
                    available >= self.prebuffer_target
                    or (complete and available > 0)
                    or (available > 0 and self._waited >= self._prebuffer_max_wait)
                ):
                    self._state = _PLAYING
                else:
                    if available > 0:
                        self._waited += frames - pos
                    break
            n = min(frames - pos, available)
            if n <= 0:
                if self.marks_written != self.marks_read:
                    continue  # a mark sits right here; take it on the next pass
                if not self._item_complete:
                    # Ran dry in the middle of an item: count it, and ask for a deeper cushion.
                    self.underruns += 1
                    self.prebuffer_target = min(
                        self._prebuffer_limit, self.prebuffer_target + self._prebuffer_step
                    )
                    self._state = _PREBUFFERING
                    self._waited = 0
                else:
                    self._state = _IDLE
                    self._slot = -1
                break
            self.ring.read_into(out[pos:], n)
            slot = self._slot
            if tracker.first_out_pos[slot] < 0:
                tracker.first_out_pos[slot] = self.total_out + pos
                tracker.first_heard_at[slot] = dac_time + pos / self.sample_rate
            tracker.rendered_frames[slot] += n
            tracker.end_out_pos[slot] = self.total_out + pos + n
            pos += n
        if pos < frames:
            out[pos:] = 0.0
        outdata[:] = out[:, np.newaxis]
        self.rendered.write(out)
        # Publish the output clock under the sequence lock (odd = being written).
        self.clock_seq += 1
        self.clock_values[0] = self.total_out
        self.clock_values[1] = dac_time
        self.clock_seq += 1
        timing = self.block_timing[self.blocks & self.timing_mask]
        timing[0] = self.total_out
        timing[1] = now
        timing[2] = dac_time
        self.total_out += frames
        self.callback_ns[self.blocks & (len(self.callback_ns) - 1)] = (
            time.perf_counter_ns() - started_ns
        )
        self.blocks += 1

    def _apply_flush(self, out: FloatArray, frames: int, dac_time: float) -> int:
        """Fade the current item out at the start of this block and drop the rest of the queue.

        Returns the number of frames of ``out`` filled (the fade).
        """
        target = self.flush_requested
        faded = 0
        slot = self._slot
        if self._state == _PLAYING and slot >= 0:
            faded = min(len(self._fade), frames, self._frames_until_next_mark())
            if faded > 0:
                self.ring.read_into(out, faded)
                np.multiply(out[:faded], self._fade[:faded], out=out[:faded])
                tracker = self.tracker
                tracker.rendered_frames[slot] += faded
                tracker.end_out_pos[slot] = self.total_out + faded
        self.flush_slot = slot
        self.flush_silent_at = dac_time + faded / self.sample_rate
        self._slot = -1
        self._state = _IDLE
        self._item_complete = False
        self._discard_below_gen = target
        self.flush_applied = target  # publish last
        return faded

    def _discard(self) -> bool:
        """Drop data queued before the flush. True once a post-flush item is reached."""
        while self.marks_written != self.marks_read:
            index = self.marks_read & self._mark_mask
            if self._mark_gen[index] >= self._discard_below_gen and self._mark_slot[index] >= 0:
                self.ring.skip(int(self._mark_pos[index]) - self.ring.read_count)
                self._discard_below_gen = -1
                return True
            self.marks_read += 1
        self.ring.skip(self.ring.available)
        return False

    def _take_marks(self) -> None:
        """Apply every mark at the current read position."""
        read_at = self.ring.read_count
        while self.marks_written != self.marks_read:
            index = self.marks_read & self._mark_mask
            if self._mark_pos[index] > read_at:
                return
            slot = int(self._mark_slot[index])
            if slot == END_OF_ITEM:
                self._item_complete = True
            else:
                if self._slot != slot:
                    self._waited = 0
                    if self._slot < 0 or self._item_complete:
                        # A new response after a pause: cushion it again. An item that
                        # directly continues a playing one keeps playing without a gap.
                        self._state = _PREBUFFERING
                self._slot = slot
                self._item_complete = False
            self.marks_read += 1

    def _frames_until_next_mark(self) -> int:
        available = self.ring.available
        if self.marks_written != self.marks_read:
            next_pos = int(self._mark_pos[self.marks_read & self._mark_mask])
            return min(available, next_pos - self.ring.read_count)
        return available
