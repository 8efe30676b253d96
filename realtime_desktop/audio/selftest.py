"""Measurements on real devices shared by the tests, the benchmark and the app's self-test.

Each one drives a real engine on the PulseAudio rig (or any devices routed like it) and
reports figures; none of them asserts anything.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import soxr

from realtime_desktop.audio.analysis import align, db, energy
from realtime_desktop.audio.backends import SoundDeviceBackend
from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.constants import WIRE_SAMPLE_RATE
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig, UplinkChunk
from realtime_desktop.audio.espeak import synthesize
from realtime_desktop.audio.virtual_devices import EchoRoom, PulseRig

FloatArray = npt.NDArray[np.float32]

ASSISTANT_TEXT = (
    "Hello, I am the assistant. I keep talking for a while, so that the echo canceller has "
    "time to converge, and so that the user can talk over me in the middle."
)
USER_TEXT = "Excuse me, I have a question."


class MeasurementTimeoutError(RuntimeError):
    """The devices did not do what was asked in time (a stalled or missing stream)."""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 10 ms; raise MeasurementTimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise MeasurementTimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def wait_for_steady_streams(engine: AudioEngine, timeout: float = 10.0) -> None:
    """Wait until both streams have run for half a second: PulseAudio's ALSA plugin can
    pause a new stream for up to two seconds before it settles."""
    start = engine.stats
    wait_until(
        lambda: (
            engine.stats.input_blocks >= start.input_blocks + 50
            and engine.stats.output_blocks >= start.output_blocks + 50
        ),
        timeout,
        "the audio streams to run",
    )


def voiced_cut_points(
    speech: FloatArray, sample_rate: int, count: int, *, after_ms: float = 1000.0
) -> list[float]:
    """Positions (ms) early in voiced stretches of at least 250 ms, to flush playback at.

    A flush that lands in a pause between words cannot be located in a recording (silence
    looks the same wherever playback stopped), so barge-in measurements cut inside speech;
    the stretch leaves room for the frames already inside the device.
    """
    frame = sample_rate // 100
    n_frames = len(speech) // frame
    rms = np.sqrt(np.mean(np.square(speech[: n_frames * frame].reshape(n_frames, frame)), axis=1))
    voiced = rms > 0.1 * float(rms.max())
    cuts: list[float] = []
    run_start: int | None = None
    for index, is_voiced in enumerate([*voiced.tolist(), False]):
        if is_voiced and run_start is None:
            run_start = index
        elif not is_voiced and run_start is not None:
            if index - run_start >= 25 and run_start * 10 >= after_ms:
                cuts.append(run_start * 10.0 + 20.0)
            run_start = None
    if len(cuts) < count:
        raise ValueError(f"the speech has only {len(cuts)} voiced stretches of 250 ms")
    return cuts[:count]


def enqueue_in_deltas(
    engine: AudioEngine, item_id: str, samples: FloatArray, ms: int = 100
) -> None:
    """Queue 24 kHz samples as PCM16 deltas of ``ms`` each, as a server would send them."""
    step = WIRE_SAMPLE_RATE * ms // 1000
    for start in range(0, len(samples), step):
        engine.enqueue_playback(item_id, WireFormat.PCM16.encode(samples[start : start + step]))


def uplink_audio(chunks: list[UplinkChunk]) -> FloatArray:
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([c.format.decode(c.audio) for c in chunks])


@dataclasses.dataclass(frozen=True)
class EchoMeasurement:
    """Echo reduction after 2 s, the share of the user's energy that got through, the echo
    delay the canceller found beyond the callbacks' pairing (None: not found, or AEC off), and
    the DSP thread's CPU (percent of one core) while it cancelled the echo."""

    erle_db: float
    user_kept: float
    xruns: int
    echo_delay_ms: float | None = None
    dsp_cpu_pct: float = 0.0


def measure_echo(rig: PulseRig, config: AudioEngineConfig | None = None) -> EchoMeasurement:
    """Play assistant speech into ``EchoRoom`` while the user talks over it half-way."""
    assistant = synthesize(ASSISTANT_TEXT, WIRE_SAMPLE_RATE)
    user = synthesize(USER_TEXT, rig.sample_rate, voice="en-us+f3", pitch=70)
    engine = AudioEngine(config or AudioEngineConfig(), SoundDeviceBackend())
    chunks: list[UplinkChunk] = []
    engine.set_uplink_sink(chunks.append)
    engine.start()
    wait_for_steady_streams(engine)
    room = EchoRoom(rig)
    cpu_start, wall_start = engine.dsp_cpu_seconds, time.monotonic()
    try:
        enqueue_in_deltas(engine, "assistant", assistant)
        engine.finish_item("assistant")
        wait_until(lambda: engine.played_ms("assistant") > 4500, 10, "4.5 s of playback")
        user_at = room.samples_written
        room.say(user)
        received = engine.received_ms("assistant")
        wait_until(lambda: engine.played_ms("assistant") >= received, 20, "playback to end")
        stats = engine.stats
        dsp_cpu_pct = 100.0 * (engine.dsp_cpu_seconds - cpu_start) / (time.monotonic() - wall_start)
    finally:
        room.stop()
        engine.stop()
    rate = WIRE_SAMPLE_RATE
    ratio = rate / rig.sample_rate
    uplink = uplink_audio(chunks)
    echo = soxr.resample(np.concatenate(room.echo_written), rig.sample_rate, rate)
    near = soxr.resample(np.concatenate(room.near_written), rig.sample_rate, rate)
    # The room's stream and the uplink start within a few ms of each other; the exact offset
    # comes from the user's speech, which the canceller keeps.
    lag = align(uplink, near).lag
    user_start = round(user_at * ratio)
    echo_window = slice(2 * rate, user_start - rate // 10)
    user_window = slice(user_start, user_start + round(len(user) * ratio))

    def uplink_at(window: slice) -> FloatArray:
        return uplink[max(0, window.start + lag) : max(0, window.stop + lag)]

    echo_left = max(energy(uplink_at(echo_window)), 1e-20)
    return EchoMeasurement(
        erle_db=db(energy(echo[echo_window]) / echo_left),
        user_kept=energy(uplink_at(user_window)) / energy(near[user_window]),
        xruns=stats.xruns,
        echo_delay_ms=stats.echo_delay_ms,
        dsp_cpu_pct=dsp_cpu_pct,
    )
