"""SPSC rings under two real threads, the waveform history and the lossy slot."""

from __future__ import annotations

import threading
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_desktop.audio.ring import HistoryRing, LatestValue, SpscRing


def _pump_through_threads(
    capacity: int, total: int, write_sizes: list[int], read_sizes: list[int]
) -> np.ndarray:
    """A writer and a reader thread move ``total`` frames through the ring; returns what arrived."""
    ring = SpscRing(capacity)
    source = np.arange(total, dtype=np.float32)
    received = np.full(total, -1.0, dtype=np.float32)
    deadline = time.monotonic() + 20

    def writer() -> None:
        sent, k = 0, 0
        while sent < total and time.monotonic() < deadline:
            size = min(write_sizes[k % len(write_sizes)], total - sent)
            k += 1
            written = ring.write(source[sent : sent + size]) if ring.free >= size else 0
            sent += written
            if not written:
                time.sleep(0)  # yield the GIL to the reader

    def reader() -> None:
        got, k = 0, 0
        scratch = np.empty(max(read_sizes), dtype=np.float32)
        while got < total and time.monotonic() < deadline:
            size = read_sizes[k % len(read_sizes)]
            k += 1
            n = ring.read_into(scratch, size)
            received[got : got + n] = scratch[:n]
            got += n
            if not n:
                time.sleep(0)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ring.overrun_frames == 0  # the writer only wrote what fit
    return received


@settings(max_examples=25, deadline=None)
@given(
    capacity=st.integers(1, 4096),
    total=st.integers(0, 20_000),
    write_sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8),
    read_sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8),
)
def test_two_threads_keep_order_and_content(
    capacity: int, total: int, write_sizes: list[int], read_sizes: list[int]
) -> None:
    write_sizes = [min(s, SpscRing(capacity).capacity) for s in write_sizes]
    received = _pump_through_threads(capacity, total, write_sizes, read_sizes)
    assert np.array_equal(received, np.arange(total, dtype=np.float32))


def test_capacity_is_a_power_of_two_and_wraps_in_two_regions() -> None:
    ring = SpscRing(100, channels=2)
    assert ring.capacity == 128
    block = np.arange(200, dtype=np.float32).reshape(100, 2)
    assert ring.write(block) == 100
    assert ring.skip(90) == 90
    wrapped = np.arange(200, 300, dtype=np.float32).reshape(50, 2)
    assert ring.write(wrapped) == 50  # crosses the end of the array
    out = ring.read()
    assert np.array_equal(out, np.concatenate((block[90:], wrapped)))


def test_a_full_ring_counts_the_overrun_and_keeps_what_it_had() -> None:
    ring = SpscRing(8)
    assert ring.write(np.arange(6, dtype=np.float32)) == 6
    assert ring.write(np.arange(6, 12, dtype=np.float32)) == 2
    assert ring.overruns == 1
    assert ring.overrun_frames == 4
    assert ring.read().tolist() == list(range(8))


def test_history_gives_each_reader_its_own_cursor() -> None:
    history = HistoryRing(16)
    history.write(np.arange(10, dtype=np.float32))
    first, cursor_a, missed = history.read_since(0)
    assert first.tolist() == list(range(10))
    assert (cursor_a, missed) == (10, 0)
    history.write(np.arange(10, 30, dtype=np.float32))
    newer, cursor_a, missed = history.read_since(cursor_a)
    # The reader fell 20 behind a 16-sample history: it gets the newest 16 and is told.
    assert newer.tolist() == list(range(14, 30))
    assert (cursor_a, missed) == (30, 4)
    other, cursor_b, _ = history.read_since(25)
    assert other.tolist() == [25, 26, 27, 28, 29]
    assert cursor_b == 30


def test_latest_value_drops_stale_values() -> None:
    slot: LatestValue[int] = LatestValue()
    assert slot.latest() is None
    for value in range(5):
        slot.publish(value)
    assert slot.latest() == 4
    assert slot.version == 5
