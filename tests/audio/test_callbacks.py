"""The device callbacks only copy and count: nothing is allocated once they are warm."""

from __future__ import annotations

import tracemalloc

import numpy as np

from realtime_desktop.audio.backends import FakeBackend, FakeCallbackStatus, FakeCallbackTime
from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig

# A 10 ms block at 48 kHz is 1920 bytes of float32: any per-block array would show up.
_BLOCK_BYTES = 480 * 4
# Numpy view objects (about 100 bytes each, freed at once) and Python scalars are all a pure
# Python callback can create; a handful of them at a time stays well under half a block.
_SCALAR_NOISE_BYTES = 512
_VIEW_OBJECTS_BYTES = _BLOCK_BYTES // 2


_INDATA = np.random.default_rng(1).uniform(-0.5, 0.5, (480, 1)).astype(np.float32)
_OUTDATA = np.zeros((480, 2), dtype=np.float32)
_TIME_INFO = FakeCallbackTime(currentTime=10.0, inputBufferAdcTime=9.99, outputBufferDacTime=10.02)
_STATUS = FakeCallbackStatus()


def _run_callbacks(engine: AudioEngine, blocks: int, flush_at: int | None = None) -> int:
    """Runs the callbacks; with tracemalloc on, returns the most any one call allocated."""
    worst = 0
    tracing = tracemalloc.is_tracing()
    for block in range(blocks):
        if block == flush_at:
            engine.flush_playback()
        for callback, data in ((engine._input_callback, _INDATA),
                               (engine._output_callback, _OUTDATA)):  # fmt: skip
            if tracing:
                before, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
            callback(data, 480, _TIME_INFO, _STATUS)
            if tracing:
                _, peak = tracemalloc.get_traced_memory()
                worst = max(worst, peak - before)
    return worst


def test_callbacks_allocate_nothing_after_warm_up() -> None:
    backend = FakeBackend(sample_rate=48_000)
    engine = AudioEngine(AudioEngineConfig(), backend)
    engine.start()
    try:
        speech = WireFormat.PCM16.encode(np.full(24_000 * 3, 0.1, dtype=np.float32))
        for item in ("a", "b", "c"):
            engine.enqueue_playback(item, speech)
            engine.finish_item(item)
        for _ in range(10):  # DSP steps fill the playback ring and its marks
            engine.pump()
        assert engine.stats.playback_queue_ms > 8000
        _run_callbacks(engine, 100)  # warm-up: first item starts, caches fill
        tracemalloc.start()
        try:
            # Counters are Python ints: their current objects are replaced each block, so
            # measure from a point where the traced ones already are the live ones.
            _run_callbacks(engine, 100)
            before, _ = tracemalloc.get_traced_memory()
            # Crosses item boundaries, a flush with its fade, discarding, and silence.
            worst_call = _run_callbacks(engine, 1000, flush_at=600)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert engine.is_flush_applied(1)
        # What remains is a few Python scalars (the counters' current int and float objects);
        # no sample buffer is ever allocated or kept.
        assert after - before < _SCALAR_NOISE_BYTES, f"callbacks kept {after - before} bytes"
        assert worst_call < _VIEW_OBJECTS_BYTES, f"a callback allocated {worst_call} bytes"
    finally:
        engine.stop()


def test_the_check_would_see_a_per_block_copy() -> None:
    # The measurement above must be able to fail: a callback that copies its block is caught.
    block = np.zeros((480, 1), dtype=np.float32)
    kept = []
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(10):
            kept.append(block.copy())
            kept.pop()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before >= _BLOCK_BYTES
