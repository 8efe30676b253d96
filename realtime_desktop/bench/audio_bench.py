"""``realtime-desktop-bench audio``: the audio engine on real devices (PulseAudio null sinks).

Sets up the rig itself (audio/virtual_devices.py), then measures, full duplex:
- callback cost (p99 of both callbacks, µs) at the configured block size;
- DSP thread CPU as a percentage of one core, without and with echo cancellation;
- mouth to wire: a sample reaching the input callback -> its encoded chunk ready to send,
  measured for the chunk's last sample (net of the device's own input latency);
- wire to ear: a delta queued -> its first sample at the DAC (the callbacks' DAC time);
- barge-in: flush request -> the last sample handed to the device (``barge_in_cutoff_ms``,
  net of the device's own output buffer, like mouth to wire) and -> silence at its DAC
  (``barge_in_cutoff_at_dac_ms``, which adds PortAudio's reported output latency), and
  |played_ms - where the speaker recording stops| (truncation error);
- echo reduction (ERLE) after 2 s in a simulated room, and the user's energy kept;
- xruns over all of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import soxr

from realtime_desktop.audio.analysis import align
from realtime_desktop.audio.backends import SoundDeviceBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig, UplinkChunk
from realtime_desktop.audio.espeak import synthesize
from realtime_desktop.audio.selftest import (
    enqueue_in_deltas,
    measure_echo,
    voiced_cut_points,
    wait_for_steady_streams,
    wait_until,
)
from realtime_desktop.audio.virtual_devices import PulseRig
from realtime_desktop.bench.stats import percentile

_SPEECH = (
    "This is a benchmark of the audio engine. The assistant keeps talking while the user "
    "talks into the microphone, so that both directions are busy at the same time."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each duplex run")
    parser.add_argument("--block-ms", type=int, default=10, help="device callback period")
    parser.add_argument("--barge-ins", type=int, default=3, help="flushes to measure")


def _wait_heard(engine: AudioEngine, item_id: str) -> float:
    wait_until(lambda: engine.first_heard_at(item_id) is not None, 2, "playback to start")
    heard_at = engine.first_heard_at(item_id)
    if heard_at is None:
        raise RuntimeError(f"{item_id} was never heard")
    return heard_at


def _duplex_run(rig: PulseRig, config: AudioEngineConfig, seconds: float) -> dict[str, Any]:
    assistant = synthesize(_SPEECH, 24_000)
    user = synthesize(_SPEECH, rig.sample_rate, voice="en-us+f3")
    engine = AudioEngine(config, SoundDeviceBackend())
    chunks: list[UplinkChunk] = []
    engine.set_uplink_sink(chunks.append)
    engine.start()
    feed = rig.open_mic_feed()
    wire_to_ear: list[float] = []
    wire_to_render: list[float] = []
    try:
        wait_for_steady_streams(engine)
        feed.loop(user)
        cpu_start, wall_start = engine.dsp_cpu_seconds, time.monotonic()
        item = 0
        while time.monotonic() - wall_start < seconds:
            if engine.stats.playback_queue_ms < 300 and not engine.is_playing:
                item_id = f"item_{item}"
                queued_at = time.monotonic()
                enqueue_in_deltas(engine, item_id, assistant)
                engine.finish_item(item_id)
                heard_at = _wait_heard(engine, item_id)
                wire_to_ear.append((heard_at - queued_at) * 1000.0)
                wire_to_render.append(
                    (heard_at - queued_at) * 1000.0 - engine.stats.output_latency_ms
                )
                item += 1
            time.sleep(0.02)
        cpu = engine.dsp_cpu_seconds - cpu_start
        wall = time.monotonic() - wall_start
        stats = engine.stats
        durations_in, durations_out = engine.callback_durations_us()
    finally:
        feed.stop()
        engine.stop()
    steady = chunks[10:]
    last_sample = [(c.ready_time - c.arrival_time) * 1000.0 for c in steady]
    first_sample = [(c.ready_time - c.capture_time) * 1000.0 for c in steady]
    callbacks = np.concatenate((durations_in, durations_out)).tolist()
    return {
        "dsp_cpu_pct": 100.0 * cpu / wall,
        "callback_p99_us": percentile(callbacks, 0.99),
        "callback_median_us": statistics.median(callbacks),
        "mouth_to_wire_ms": statistics.median(last_sample),
        "mouth_to_wire_p95_ms": percentile(last_sample, 0.95),
        "first_sample_to_wire_ms": statistics.median(first_sample),
        "wire_to_ear_ms": statistics.median(wire_to_ear) if wire_to_ear else float("nan"),
        "wire_to_render_ms": statistics.median(wire_to_render) if wire_to_render else float("nan"),
        "xruns": stats.xruns,
        "input_latency_ms": stats.input_latency_ms,
        "output_latency_ms": stats.output_latency_ms,
        "device_rate_hz": stats.output_sample_rate,
    }


def _one_barge_in(
    rig: PulseRig, config: AudioEngineConfig, speech: np.ndarray, cut_at_ms: float
) -> tuple[float, float, float, int]:
    """Flush request -> silence handed to the device (ms), -> silence at its DAC (ms),
    |played_ms - where the recording stops| (ms), xruns."""
    expected = soxr.resample(speech, 24_000, rig.sample_rate)
    engine = AudioEngine(config, SoundDeviceBackend())
    engine.start()
    recorder = rig.record_speaker()
    try:
        wait_for_steady_streams(engine)
        wait_until(lambda: recorder.duration_s() > 0.1, 5, "the recorder")
        enqueue_in_deltas(engine, "item", speech)
        wait_until(lambda: engine.played_ms("item") > cut_at_ms, 10, "playback")
        requested_at = time.monotonic()
        generation = engine.flush_playback()
        wait_until(lambda: engine.is_flush_applied(generation), 1, "the flush")
        report = engine.flush_report(generation)
        if report is None:
            raise RuntimeError("the flush report is missing after the flush was applied")
        wait_until(lambda: not engine.is_playing, 1, "silence")
        time.sleep(0.3)  # the recorder's pipe lags the sink by its own latency
        played = engine.played_ms("item")
        xruns = engine.stats.xruns
        device_latency_s = engine.stats.output_latency_ms / 1000.0
    finally:
        recorded = recorder.stop()
        engine.stop()
    lag = align(recorded, expected[: rig.sample_rate]).lag
    tail = recorded[max(lag, 0) :]
    audible = np.flatnonzero(np.abs(tail) > 1e-3)
    stop_ms = (audible[-1] + 1) * 1000.0 / rig.sample_rate if audible.size else 0.0
    to_dac = (report.silent_at - requested_at) * 1000.0
    return to_dac - device_latency_s * 1000.0, to_dac, abs(played - stop_ms), xruns


def _barge_in_run(rig: PulseRig, config: AudioEngineConfig, repeats: int) -> dict[str, Any]:
    speech = synthesize(_SPEECH, 24_000)
    cuts = voiced_cut_points(speech, 24_000, repeats)
    runs = [_one_barge_in(rig, config, speech, cut) for cut in cuts]
    cutoffs = [r[0] for r in runs]
    to_dac = [r[1] for r in runs]
    errors = [r[2] for r in runs]
    return {
        "barge_in_cutoff_ms": statistics.median(cutoffs),
        "barge_in_cutoff_max_ms": max(cutoffs),
        "barge_in_cutoff_at_dac_ms": statistics.median(to_dac),
        "truncation_error_ms": statistics.median(errors),
        "truncation_error_max_ms": max(errors),
        "xruns": sum(r[3] for r in runs),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rig = PulseRig.private().start()
    try:
        return _measure(rig, args)
    finally:
        rig.stop()


def _measure(rig: PulseRig, args: argparse.Namespace) -> dict[str, Any]:
    block_ms = int(getattr(args, "block_ms", 10))
    seconds = float(getattr(args, "seconds", 15.0))
    plain = AudioEngineConfig(block_ms=block_ms, echo_cancellation=False, noise_suppression=False)
    processed = AudioEngineConfig(block_ms=block_ms)
    no_aec = _duplex_run(rig, plain, seconds)
    with_aec = _duplex_run(rig, processed, seconds)
    barge_in = _barge_in_run(rig, processed, int(getattr(args, "barge_ins", 3)))
    echo = measure_echo(rig, processed)
    return {
        "block_ms": block_ms,
        "device_rate_hz": with_aec["device_rate_hz"],
        "callback_p99_us": max(no_aec["callback_p99_us"], with_aec["callback_p99_us"]),
        "callback_median_us": with_aec["callback_median_us"],
        "dsp_cpu_pct_no_aec": no_aec["dsp_cpu_pct"],
        "dsp_cpu_pct_aec": with_aec["dsp_cpu_pct"],
        # The duplex runs' microphone hears no echo, so there the canceller mostly searches;
        # this is its cost while it cancels a room's echo and the user talks over it.
        "dsp_cpu_pct_aec_echo": echo.dsp_cpu_pct,
        "mouth_to_wire_ms": with_aec["mouth_to_wire_ms"],
        "mouth_to_wire_p95_ms": with_aec["mouth_to_wire_p95_ms"],
        "first_sample_to_wire_ms": with_aec["first_sample_to_wire_ms"],
        "wire_to_ear_ms": with_aec["wire_to_ear_ms"],
        "wire_to_render_ms": with_aec["wire_to_render_ms"],
        "output_latency_ms": with_aec["output_latency_ms"],
        "input_latency_ms": with_aec["input_latency_ms"],
        **{k: v for k, v in barge_in.items() if k != "xruns"},
        "aec_erle_db": echo.erle_db,
        "aec_user_energy_kept": echo.user_kept,
        "xruns": no_aec["xruns"] + with_aec["xruns"] + barge_in["xruns"] + echo.xruns,
        # Real-time figures mean little on an oversubscribed machine; say how busy it was.
        "load_average_1min": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
    }
