"""Real PortAudio streams on PulseAudio null sinks (ENVIRONMENT.md), with espeak-ng speech.

The session fixture starts PulseAudio itself; these tests skip only when the rig cannot exist
here (no pulseaudio/pactl binaries), and say so.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
import soxr

from realtime_desktop.audio.analysis import align, db, energy
from realtime_desktop.audio.backends import SoundDeviceBackend
from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.constants import GIL_SWITCH_INTERVAL_S
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig, UplinkChunk
from realtime_desktop.audio.selftest import (
    EchoMeasurement,
    enqueue_in_deltas,
    measure_echo,
    uplink_audio,
    voiced_cut_points,
    wait_for_steady_streams,
    wait_until,
)
from realtime_desktop.audio.virtual_devices import PulseRig

pytestmark = [pytest.mark.realaudio, pytest.mark.slow]

RIG_RATE = 48_000


class ForeignCpu:
    """CPU time other processes used since this was created, in cores (from /proc/stat)."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # everything but idle and iowait
        own = os.times()
        return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system, time.monotonic()

    def cores(self) -> float:
        return self._cores_between(self._start, self._sample())

    def lap(self) -> float:
        """Cores since the last lap (or creation); the next lap starts now."""
        sample = self._sample()
        cores = self._cores_between(self._start, sample)
        self._start = sample
        return cores

    @staticmethod
    def _cores_between(start: tuple[float, float, float], end: tuple[float, float, float]) -> float:
        busy, own, now = end
        start_busy, start_own, start_time = start
        return max(0.0, (busy - start_busy) - (own - start_own)) / max(now - start_time, 1e-3)


#: Beyond this many cores used by other processes, a 2-core machine cannot keep a Python
#: audio callback on time (measured: 0 xruns with an idle main thread, 6-12 per 30 s with a
#: busy one, whenever other test suites ran beside it).
_FOREIGN_CPU_LIMIT = 0.75


def skip_if_glitched_by_a_busy_machine(xruns: int, foreign: ForeignCpu, what: str) -> None:
    """Skip, saying why, when the devices glitched while other processes held the CPU.

    PulseAudio's ALSA plugin answers one missed deadline with up to two seconds of silence,
    and a Python callback misses one whenever the thread holding the GIL is preempted by
    another process; real-time figures from an oversubscribed machine say nothing about the
    engine. On a machine with spare cores, xruns fail the test as they should.
    """
    cores = foreign.cores()
    if xruns and cores > _FOREIGN_CPU_LIMIT:
        pytest.skip(
            f"{what}: {xruns} device xruns while other processes used {cores:.1f} of "
            f"{os.cpu_count()} cores; the audio threads could not get the CPU"
        )


class XrunTimeline:
    """When xruns happened, and how much CPU other processes took in the second before each.

    A two-minute average hides the bursts that starve a Python callback: another process
    taking a whole core for a few hundred ms leaves the GIL holder off the CPU for tens of
    ms (measured: 40-55 ms callback gaps, each while others held ~1 core). An xrun in a
    second when the rest of the machine was quiet is the engine's fault.
    """

    _WINDOW_S = 1.0

    def __init__(self, xruns: int) -> None:
        self._xruns = xruns
        self._foreign = ForeignCpu()
        self._samples: list[tuple[float, float]] = []  # (end time, foreign cores) per sample
        self._xrun_times: list[float] = []

    def sample(self, xruns: int) -> None:
        now = time.monotonic()
        self._samples.append((now, self._foreign.lap()))
        self._xrun_times.extend([now] * (xruns - self._xruns))
        self._xruns = xruns

    @property
    def count(self) -> int:
        return len(self._xrun_times)

    def _foreign_before(self, moment: float) -> float:
        window = [c for t, c in self._samples if moment - self._WINDOW_S < t <= moment]
        return sum(window) / len(window) if window else 0.0

    def xruns_without_foreign_load(self) -> list[str]:
        start = self._samples[0][0] if self._samples else 0.0
        return [
            f"{t - start:.1f} s (others: {self._foreign_before(t):.2f} cores)"
            for t in self._xrun_times
            if self._foreign_before(t) < _FOREIGN_CPU_LIMIT
        ]

    def describe(self) -> str:
        start = self._samples[0][0] if self._samples else 0.0
        return ", ".join(
            f"{t - start:.1f} s: {self._foreign_before(t):.2f}" for t in self._xrun_times
        )


@pytest.fixture
def real_engine(pulse_rig: PulseRig) -> Iterator[AudioEngine]:
    engine = AudioEngine(
        AudioEngineConfig(echo_cancellation=False, noise_suppression=False), SoundDeviceBackend()
    )
    engine.start()
    wait_for_steady_streams(engine)
    yield engine
    engine.stop()


def test_open_streams_hand_the_gil_over_every_half_millisecond(pulse_rig: PulseRig) -> None:
    before = sys.getswitchinterval()
    engine = AudioEngine(AudioEngineConfig(), SoundDeviceBackend())
    engine.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    finally:
        engine.stop()
    assert sys.getswitchinterval() == before


def test_speech_in_the_microphone_arrives_at_24_khz(
    pulse_rig: PulseRig,
    real_engine: AudioEngine,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    foreign = ForeignCpu()
    chunks: list[UplinkChunk] = []
    real_engine.set_uplink_sink(chunks.append)
    wait_until(lambda: len(chunks) > 10, 5, "the input stream to run")
    source = speech("The quick brown fox jumps over the lazy dog.", RIG_RATE)
    pulse_rig.play_into_mic(source, RIG_RATE).wait(timeout=30)
    settled = len(chunks) + 25
    wait_until(lambda: len(chunks) > settled, 5, "the tail of the speech")
    uplink = uplink_audio(chunks)
    alignment = align(uplink, soxr.resample(source, RIG_RATE, 24_000))
    if alignment.correlation < 0.9:
        skip_if_glitched_by_a_busy_machine(real_engine.stats.xruns, foreign, "uplink speech")
    assert alignment.correlation >= 0.9
    assert all(c.format is WireFormat.PCM16 and len(c.audio) == 960 for c in chunks)


def test_queued_audio_is_recorded_intact_from_the_speaker(
    pulse_rig: PulseRig,
    real_engine: AudioEngine,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    source = speech("This is the assistant, speaking through the speaker sink.", 24_000)
    foreign = ForeignCpu()
    recorder = pulse_rig.record_speaker()
    try:
        wait_until(lambda: recorder.duration_s() > 0.1, 5, "the recorder to start")
        enqueue_in_deltas(real_engine, "item_a", source)
        real_engine.finish_item("item_a")
        received = real_engine.received_ms("item_a")
        wait_until(lambda: real_engine.played_ms("item_a") >= received, 15, "playback to end")
        wait_until(lambda: not real_engine.is_playing, 5, "the output to fall silent")
        time.sleep(0.2)
    finally:
        recorded = recorder.stop()
    expected = soxr.resample(source, 24_000, RIG_RATE)
    alignment = align(recorded, expected)
    if alignment.correlation <= 0.999:
        skip_if_glitched_by_a_busy_machine(real_engine.stats.xruns, foreign, "intact playback")
    assert alignment.correlation > 0.999
    segment = recorded[alignment.lag : alignment.lag + len(expected)]
    assert len(segment) == len(expected)
    # No gap and no click anywhere: every 10 ms window matches the source to -20 dB or better
    # (PulseAudio resamples 44.1 -> 48 kHz on the way; a 1 ms gap would score about 10 dB).
    window = RIG_RATE // 100
    for start in range(0, len(expected) - window, window):
        reference = energy(expected[start : start + window])
        if reference < 1e-6:
            continue
        error = energy(segment[start : start + window] - expected[start : start + window])
        assert db(reference / max(error, 1e-20)) > 20, f"window at {start / RIG_RATE:.2f} s"


def test_barge_in_silences_within_one_block_and_played_ms_matches(
    pulse_rig: PulseRig,
    real_engine: AudioEngine,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    source = speech(
        "This is a long answer from the assistant, which the user is about to interrupt "
        "somewhere in the middle, while it is still talking.",
        24_000,
    )
    foreign = ForeignCpu()
    recorder = pulse_rig.record_speaker()
    try:
        wait_until(lambda: recorder.duration_s() > 0.1, 5, "the recorder to start")
        enqueue_in_deltas(real_engine, "item_a", source)
        cut_at = voiced_cut_points(source, 24_000, 1, after_ms=2000)[0]
        wait_until(lambda: real_engine.played_ms("item_a") > cut_at, 10, "2 s of playback")
        generation = real_engine.flush_playback()
        rendered_at_request = real_engine.rendered_ms("item_a")
        wait_until(lambda: real_engine.is_flush_applied(generation), 1, "the flush")
        report = real_engine.flush_report(generation)
        wait_until(lambda: not real_engine.is_playing, 1, "silence")
        time.sleep(0.3)
    finally:
        recorded = recorder.stop()
    skip_if_glitched_by_a_busy_machine(real_engine.stats.xruns, foreign, "barge-in")
    assert report is not None
    assert report.item_id == "item_a"
    expected = soxr.resample(source, 24_000, RIG_RATE)
    alignment = align(recorded, expected[: 2 * RIG_RATE])
    assert alignment.correlation > 0.99
    tail = recorded[alignment.lag :]
    audible = np.flatnonzero(np.abs(tail) > 1e-3)
    stop_ms = (audible[-1] + 1) * 1000 / RIG_RATE
    block_ms = real_engine.config.block_ms
    # Silent within one block of the request: only the fade follows what was already queued.
    assert -1.0 <= stop_ms - rendered_at_request <= block_ms
    assert np.max(np.abs(tail[audible[-1] + 1 :])) < 1e-3
    assert abs(real_engine.played_ms("item_a") - stop_ms) <= 10
    assert abs(report.played_ms - stop_ms) <= 10


@pytest.fixture(scope="module")
def echo_run(pulse_rig: PulseRig) -> tuple[EchoMeasurement, float]:
    """Assistant speech played into a simulated room that feeds the microphone, with user
    speech injected half-way (one run shared by the two echo tests), and the CPU other
    processes used meanwhile."""
    foreign = ForeignCpu()
    return measure_echo(pulse_rig), foreign.cores()


def test_echo_is_attenuated_25_db_after_2_s(echo_run: tuple[EchoMeasurement, float]) -> None:
    measurement, foreign_cores = echo_run
    if measurement.erle_db < 25 and measurement.xruns and foreign_cores > _FOREIGN_CPU_LIMIT:
        pytest.skip(f"echo: {measurement.xruns} xruns while others used {foreign_cores:.1f} cores")
    assert measurement.erle_db >= 25


def test_user_speech_keeps_70_percent_of_its_energy_during_echo(
    echo_run: tuple[EchoMeasurement, float],
) -> None:
    measurement, foreign_cores = echo_run
    if measurement.user_kept < 0.7 and measurement.xruns and foreign_cores > _FOREIGN_CPU_LIMIT:
        pytest.skip(f"echo: {measurement.xruns} xruns while others used {foreign_cores:.1f} cores")
    # Energy in the uplink while the user talks over the assistant, against the user's own: the
    # echo canceller subtracts the echo and leaves the rest (noise suppression takes some 7 %).
    assert measurement.user_kept >= 0.7
    # ... and not echo in its place: more than the user's energy would be echo getting through.
    assert measurement.user_kept <= 1.2
    # The canceller found the echo behind the devices' reported latency (EchoRoom's pipes and its
    # 30 ms room); it searches up to ECHO_MAX_DELAY_MS.
    assert measurement.echo_delay_ms is not None


@pytest.mark.timeout(200)
def test_two_minutes_full_duplex_without_xruns_while_the_main_thread_is_busy(
    pulse_rig: PulseRig,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    assistant = speech("I am talking continuously while the main thread is busy.", 24_000)
    user = speech("And I am talking into the microphone at the same time.", RIG_RATE)
    engine = AudioEngine(AudioEngineConfig(), SoundDeviceBackend())
    chunks: list[UplinkChunk] = []
    engine.set_uplink_sink(chunks.append)
    engine.start()
    feed = pulse_rig.open_mic_feed(RIG_RATE)
    try:
        wait_for_steady_streams(engine)
        timeline = XrunTimeline(engine.stats.xruns)
        feed.loop(user)
        started = time.monotonic()
        queued_items = 0
        while time.monotonic() - started < 120:
            if engine.stats.playback_queue_ms < 1500:
                enqueue_in_deltas(engine, f"item_{queued_items}", assistant)
                engine.finish_item(f"item_{queued_items}")
                queued_items += 1
            burst_end = time.monotonic() + 0.050
            busy = 0
            while time.monotonic() < burst_end:  # the GUI thread hogging the GIL for 50 ms
                busy += sum(i * i for i in range(200))
            time.sleep(0.010)
            timeline.sample(engine.stats.xruns)
        stats = engine.stats
    finally:
        feed.stop()
        engine.stop()
    unexplained = timeline.xruns_without_foreign_load()
    # Xruns before the timeline started (the streams settling) are not explained by it.
    if stats.xruns and stats.xruns == timeline.count and not unexplained:
        pytest.skip(
            f"two-minute duplex run: every one of {stats.xruns} xruns came while other "
            f"processes held >= {_FOREIGN_CPU_LIMIT} of {os.cpu_count()} cores "
            f"({timeline.describe()}); the audio threads could not get the CPU"
        )
    assert unexplained == [], f"xruns on an otherwise idle machine at {unexplained}: {stats}"
    assert stats.xruns == 0, stats
    assert queued_items > 10
    assert stats.uplink_chunks > 0.95 * 120 * 50
