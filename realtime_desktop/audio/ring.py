"""Hand-offs between the audio threads: SPSC rings, a waveform history, a lossy latest value.

Why these are safe without locks (DESIGN.md, ANCHORS.md §9.2): every ring has exactly one
writer and one reader. Counters are monotonic Python ints (they never wrap; positions in the
array are ``counter & mask``). The writer copies the data first and assigns its counter last;
the reader computes what is available from the counters, copies, and assigns its own counter
last. Under CPython's GIL each attribute store is atomic, and a thread only runs while holding
the GIL, whose hand-over between threads is a full memory barrier; so a reader that sees the
new ``write_count`` also sees the samples written before it, and the writer never overwrites
a region the reader has not released. This relies on the GIL: on a free-threaded build the
counters would need explicit atomics.

Nothing here allocates on the hot path except numpy view objects: reads and writes copy
between caller arrays and the preallocated storage in at most two regions (before and after
the wrap).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")


def next_power_of_two(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


class SpscRing:
    """A single-producer single-consumer ring of float32 frames over a preallocated array.

    Args:
        min_capacity: frames it must hold; rounded up to a power of two.
        channels: samples per frame; 0 makes a one-dimensional (mono) ring.
    """

    def __init__(self, min_capacity: int, channels: int = 0) -> None:
        self.capacity = next_power_of_two(min_capacity)
        self._mask = self.capacity - 1
        shape = (self.capacity,) if channels == 0 else (self.capacity, channels)
        self._buffer: npt.NDArray[np.float32] = np.zeros(shape, dtype=np.float32)
        self.write_count = 0  # frames ever written; assigned only by the writer, after the data
        self.read_count = 0  # frames ever read; assigned only by the reader, after the copy
        self.overrun_frames = 0  # frames the writer had to drop because the ring was full
        self.overruns = 0  # writes that had to drop frames

    @property
    def available(self) -> int:
        """Frames written and not yet read."""
        return self.write_count - self.read_count

    @property
    def free(self) -> int:
        return self.capacity - (self.write_count - self.read_count)

    def write(self, frames: npt.NDArray[np.float32]) -> int:
        """Writer side: copy as many frames as fit; the rest are counted as overrun, not written.

        Returns the number of frames written.
        """
        wanted = len(frames)
        n = min(wanted, self.capacity - (self.write_count - self.read_count))
        if n < wanted:
            self.overrun_frames += wanted - n
            self.overruns += 1
        if n <= 0:
            return 0
        start = self.write_count & self._mask
        first = min(n, self.capacity - start)
        self._buffer[start : start + first] = frames[:first]
        if n > first:
            self._buffer[: n - first] = frames[first:n]
        self.write_count += n  # publish last: the data above is complete
        return n

    def write_zeros(self, n: int) -> int:
        """Writer side: append ``n`` frames of silence (same rules as ``write``)."""
        n = min(n, self.capacity - (self.write_count - self.read_count))
        if n <= 0:
            return 0
        start = self.write_count & self._mask
        first = min(n, self.capacity - start)
        self._buffer[start : start + first] = 0.0
        if n > first:
            self._buffer[: n - first] = 0.0
        self.write_count += n
        return n

    def read_into(self, out: npt.NDArray[np.float32], n: int) -> int:
        """Reader side: copy up to ``n`` frames into ``out[:n]``; returns how many were copied."""
        n = min(n, self.write_count - self.read_count)
        if n <= 0:
            return 0
        start = self.read_count & self._mask
        first = min(n, self.capacity - start)
        out[:first] = self._buffer[start : start + first]
        if n > first:
            out[first:n] = self._buffer[: n - first]
        self.read_count += n  # release last: the copy above is complete
        return n

    def read(self, n: int | None = None) -> npt.NDArray[np.float32]:
        """Reader side, off the audio threads: a new array of up to ``n`` (default all) frames."""
        available = self.write_count - self.read_count
        n = available if n is None else min(n, available)
        out = np.empty((n, *self._buffer.shape[1:]), dtype=np.float32)
        self.read_into(out, n)
        return out

    def skip(self, n: int) -> int:
        """Reader side: discard up to ``n`` frames."""
        n = min(n, self.write_count - self.read_count)
        if n > 0:
            self.read_count += n
        return max(n, 0)


class HistoryRing:
    """A rolling history of mono samples with one writer and any number of readers.

    Readers do not release anything: each keeps its own absolute cursor (STYLE.md lesson 3) and
    gets whatever was written since, up to the capacity. A reader that fell behind by more than
    the capacity gets the newest ``capacity`` samples and learns how many it missed. The copy is
    checked against the write counter after it is taken, so a sample the writer overwrote
    during the copy is never returned.
    """

    def __init__(self, min_capacity: int) -> None:
        self.capacity = next_power_of_two(min_capacity)
        self._mask = self.capacity - 1
        self._buffer: npt.NDArray[np.float32] = np.zeros(self.capacity, dtype=np.float32)
        self.write_count = 0

    def write(self, samples: npt.NDArray[np.float32]) -> None:
        n = len(samples)
        if n > self.capacity:
            samples = samples[-self.capacity :]
            self.write_count += n - self.capacity
            n = self.capacity
        start = self.write_count & self._mask
        first = min(n, self.capacity - start)
        self._buffer[start : start + first] = samples[:first]
        if n > first:
            self._buffer[: n - first] = samples[first:n]
        self.write_count += n

    def read_since(self, cursor: int) -> tuple[npt.NDArray[np.float32], int, int]:
        """Samples written after absolute position ``cursor``.

        Returns:
            (samples, new_cursor, missed): ``new_cursor`` is the position after the last
            sample returned; ``missed`` counts samples that were overwritten before they
            could be read.
        """
        end = self.write_count
        begin = max(cursor, end - self.capacity)
        n = end - begin
        out = np.empty(max(n, 0), dtype=np.float32)
        if n > 0:
            start = begin & self._mask
            first = min(n, self.capacity - start)
            out[:first] = self._buffer[start : start + first]
            if n > first:
                out[first:] = self._buffer[: n - first]
        # The writer may have lapped the oldest part of the copy while it was taken.
        lapped = self.write_count - self.capacity - begin
        if lapped > 0:
            out = out[lapped:]
            begin += lapped
        return out, end, begin - cursor if begin > cursor else 0


class LatestValue(Generic[T]):
    """A lossy slot: the producer overwrites, the consumer reads the newest value or nothing.

    Meters use this instead of a queue (STYLE.md lesson 4): a consumer that is late sees the
    newest value, never a backlog. A single attribute assignment is atomic under the GIL.
    """

    def __init__(self) -> None:
        self._value: T | None = None
        self.version = 0

    def publish(self, value: T) -> None:
        self._value = value
        self.version += 1

    def latest(self) -> T | None:
        return self._value
