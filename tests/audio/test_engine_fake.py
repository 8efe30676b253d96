"""The engine on the fake backend, stepped block by block: deterministic end to end."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

from realtime_desktop.audio.analysis import align
from realtime_desktop.audio.backends import DeviceError, FakeBackend
from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.engine import (
    AudioEngine,
    AudioEngineConfig,
    DeviceEvent,
    DeviceEventKind,
    LocalVadEvent,
    UplinkChunk,
)
from realtime_desktop.audio.vad import VadEventKind

BLOCK = 480  # 10 ms at the fake devices' 48 kHz


def _tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _wire(samples: np.ndarray) -> bytes:
    return WireFormat.PCM16.encode(samples)


def _enqueue_in_deltas(
    engine: AudioEngine, item_id: str, samples: np.ndarray, ms: int = 100
) -> None:
    step = 24 * ms
    for start in range(0, len(samples), step):
        engine.enqueue_playback(item_id, _wire(samples[start : start + step]))


def test_microphone_reaches_the_uplink_as_20_ms_chunks(
    fake_engine: AudioEngine,
    fake_backend: FakeBackend,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    chunks: list[UplinkChunk] = []
    fake_engine.set_uplink_sink(chunks.append)
    source = speech("Testing the microphone path of the audio engine.", 48_000)
    fake_backend.feed_microphone(source)
    fake_backend.step(len(source) // BLOCK + 20)
    assert all(len(c.audio) == 960 and c.format is WireFormat.PCM16 for c in chunks)
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    capture_times = [c.capture_time for c in chunks]
    assert np.allclose(np.diff(capture_times), 0.020, atol=1e-6)
    uplink = np.concatenate([WireFormat.PCM16.decode(c.audio) for c in chunks])
    expected = soxr.resample(source, 48_000, 24_000)
    alignment = align(uplink, expected)
    assert abs(alignment.lag) <= 24  # within 1 ms: no hidden buffering in the DSP path
    assert alignment.correlation > 0.99


def test_g711_session_gets_8_khz_chunks(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    chunks: list[UplinkChunk] = []
    fake_engine.set_uplink_sink(chunks.append)
    fake_engine.set_wire_formats(WireFormat.PCMU, WireFormat.PCMU)
    fake_backend.feed_microphone(_tone(440, 1.0, 48_000))
    fake_backend.step(110)
    assert chunks
    assert all(c.format is WireFormat.PCMU and len(c.audio) == 160 for c in chunks[2:])
    decoded = np.concatenate([WireFormat.PCMU.decode(c.audio) for c in chunks[5:40]])
    spectrum = np.abs(np.fft.rfft(decoded))
    assert abs(np.argmax(spectrum) * 8000 / len(decoded) - 440) < 10


def test_capture_can_be_muted(fake_engine: AudioEngine, fake_backend: FakeBackend) -> None:
    chunks: list[UplinkChunk] = []
    fake_engine.set_uplink_sink(chunks.append)
    fake_engine.set_capture_enabled(False)
    fake_backend.feed_microphone(_tone(440, 0.5, 48_000))
    fake_backend.step(50)
    assert chunks == []
    assert fake_engine.input_level.rms_dbfs > -20  # the meter still shows the microphone


def test_queued_audio_is_rendered_intact_and_tracked(
    fake_engine: AudioEngine,
    fake_backend: FakeBackend,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    source = speech("One item of assistant speech, queued in deltas.", 24_000)
    _enqueue_in_deltas(fake_engine, "item_a", source)
    fake_engine.finish_item("item_a")
    fake_backend.step(len(source) * 2 // BLOCK + 30)
    rendered = fake_backend.rendered()
    expected = soxr.resample(source, 24_000, 48_000)
    alignment = align(rendered, expected)
    assert alignment.correlation > 0.999
    segment = rendered[alignment.lag : alignment.lag + len(expected)]
    assert np.max(np.abs(segment - expected)) < 2e-3
    assert fake_engine.received_ms("item_a") == pytest.approx(len(source) / 24)
    assert fake_engine.played_ms("item_a") == pytest.approx(len(source) / 24, abs=0.1)
    stats = fake_engine.stats
    assert stats.playback_underruns == 0
    assert stats.xruns == 0


def test_playback_starts_within_60_ms_of_a_small_first_delta(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 0.02, 24_000)))
    blocks = 0
    while fake_engine.first_heard_at("item_a") is None and blocks < 20:
        fake_backend.step()
        blocks += 1
    heard_at = fake_engine.first_heard_at("item_a")
    assert heard_at is not None
    queued_at = 1000.0  # the fake clock's origin: the delta was queued before the first block
    assert heard_at - queued_at - fake_backend.output_latency_s <= 0.060


def test_an_underrun_is_counted_and_grows_the_prebuffer(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    initial = fake_engine.stats.prebuffer_ms
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 0.2, 24_000)))
    fake_backend.step(40)  # plays the 200 ms, then runs dry with the item unfinished
    assert fake_engine.stats.playback_underruns == 1
    assert fake_engine.stats.prebuffer_ms > initial
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 0.2, 24_000)))
    fake_engine.finish_item("item_a")
    fake_backend.step(40)
    assert fake_engine.stats.playback_underruns == 1  # a finished item drains without one
    assert fake_engine.played_ms("item_a") == pytest.approx(400, abs=0.1)


def test_playing_item_is_the_audible_one_not_the_last_queued(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 0.5, 24_000)))
    fake_engine.finish_item("item_a")
    fake_engine.enqueue_playback("item_b", _wire(_tone(500, 0.5, 24_000)))
    fake_engine.finish_item("item_b")
    fake_backend.step(20)
    assert fake_engine.playing_item_id == "item_a"
    assert fake_engine.is_playing
    # Rendered frames minus the 20 ms still inside the fake device.
    rendered_ms = 190.0  # 20 blocks, the first of which ran before the DSP step filled the ring
    assert fake_engine.played_ms("item_a") == pytest.approx(rendered_ms - 20.0, abs=0.5)
    assert fake_engine.played_ms("item_b") == 0.0
    fake_backend.step(40)
    assert fake_engine.playing_item_id == "item_b"
    assert fake_engine.played_ms("item_a") == pytest.approx(500.0)
    fake_backend.step(60)
    assert fake_engine.playing_item_id is None
    assert not fake_engine.is_playing


def test_flush_fades_and_silences_within_one_block(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 2.0, 24_000, amplitude=0.5)))
    fake_engine.enqueue_playback("item_b", _wire(_tone(500, 1.0, 24_000)))
    fake_backend.step(50)
    before = len(fake_backend.rendered())
    generation = fake_engine.flush_playback()
    assert not fake_engine.is_flush_applied(generation)
    fake_backend.step(1)
    assert fake_engine.is_flush_applied(generation)
    block = fake_backend.rendered()[before:]
    fade = 48 * 4  # FLUSH_FADE_MS at 48 kHz
    assert np.max(np.abs(block[:fade])) > 0.01  # the fade is audible…
    assert np.all(np.abs(np.diff(block[: fade + 1])) < 0.05)  # …and has no click…
    assert np.all(block[fade:] == 0.0)  # …and the rest of the block is silent
    fake_backend.step(30)
    assert np.all(fake_backend.rendered()[before + BLOCK :] == 0.0)
    report = fake_engine.flush_report(generation)
    assert report is not None
    assert report.item_id == "item_a"
    assert report.discarded_item_ids == ("item_b",)
    rendered_a = np.count_nonzero(fake_backend.rendered()[: before + fade])
    assert report.played_ms == pytest.approx(rendered_a / 48, abs=0.1)
    assert fake_engine.played_ms("item_a") == pytest.approx(report.played_ms)
    # Audio queued after the flush plays again.
    fake_engine.enqueue_playback("item_c", _wire(_tone(400, 0.3, 24_000)))
    fake_engine.finish_item("item_c")
    fake_backend.step(40)
    assert fake_engine.played_ms("item_c") == pytest.approx(300, abs=0.1)


def test_a_lost_device_is_reported_and_reopened(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    events: list[DeviceEvent] = []
    fake_engine.set_device_listener(events.append)
    fake_backend.step(5)
    fake_backend.simulate_loss("unplugged")
    fake_backend.step(1)
    assert [e.kind for e in events] == [DeviceEventKind.LOST]
    assert events[0].reason == "unplugged"
    fake_backend.step(110)  # the engine retries once a second
    assert [e.kind for e in events] == [DeviceEventKind.LOST, DeviceEventKind.REOPENED]
    assert fake_backend.opened == 2
    chunks: list[UplinkChunk] = []
    fake_engine.set_uplink_sink(chunks.append)
    fake_backend.step(10)
    assert chunks  # audio flows again


def test_half_duplex_gates_the_microphone_while_the_assistant_is_heard(
    fake_backend: FakeBackend,
) -> None:
    config = AudioEngineConfig(echo_cancellation=False, noise_suppression=False, half_duplex=True)
    with AudioEngine(config, fake_backend) as engine:
        chunks: list[UplinkChunk] = []
        engine.set_uplink_sink(chunks.append)
        engine.enqueue_playback("item_a", _wire(_tone(300, 0.5, 24_000)))
        engine.finish_item("item_a")
        fake_backend.feed_microphone(_tone(700, 1.5, 48_000))
        fake_backend.step(150)
        energy = [float(np.abs(WireFormat.PCM16.decode(c.audio)).max()) for c in chunks]
        assert max(energy[5:20]) == 0.0  # gated while item_a is audible
        assert min(energy[-10:]) > 0.1  # open again after the hangover


def test_local_vad_reports_speech_onset_and_offset(
    fake_engine: AudioEngine,
    fake_backend: FakeBackend,
    speech,  # type: ignore[no-untyped-def]
) -> None:
    events: list[LocalVadEvent] = []
    fake_engine.set_vad_listener(events.append)
    source = speech("Hello, can you hear me?", 48_000)
    fake_backend.feed_microphone(np.concatenate((np.zeros(24_000, np.float32), source)))
    fake_backend.step((24_000 + len(source)) // BLOCK + 100)
    assert [e.kind for e in events] == [VadEventKind.ONSET, VadEventKind.OFFSET]
    onset_s = events[0].position / 24_000
    assert 0.45 < onset_s < 0.8  # speech starts after 0.5 s of silence (plus espeak's lead-in)


def test_levels_and_waveform_history(fake_engine: AudioEngine, fake_backend: FakeBackend) -> None:
    fake_backend.feed_microphone(_tone(440, 0.5, 48_000, amplitude=0.5))
    fake_backend.step(30)
    level = fake_engine.input_level
    assert level.peak_dbfs == pytest.approx(-6.0, abs=0.5)
    assert level.rms_dbfs == pytest.approx(-9.0, abs=0.5)
    samples, cursor = fake_engine.read_input_waveform(0)
    assert cursor == len(samples) > 0
    more, cursor2 = fake_engine.read_input_waveform(cursor)
    assert len(more) == 0
    assert cursor2 == cursor
    fake_backend.step(10)
    more, cursor3 = fake_engine.read_input_waveform(cursor)
    assert cursor3 - cursor == len(more) == 2400


def test_recording_writes_both_sides(
    fake_engine: AudioEngine, fake_backend: FakeBackend, tmp_path: Path
) -> None:
    files = fake_engine.start_recording(tmp_path)
    fake_backend.feed_microphone(_tone(440, 0.5, 48_000))
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 0.5, 24_000)))
    fake_engine.finish_item("item_a")
    fake_backend.step(60)
    assert fake_engine.stop_recording() == files
    for path in (files.microphone, files.assistant):
        with wave.open(str(path)) as wav:
            assert wav.getframerate() == 24_000
            assert wav.getnframes() == pytest.approx(14_400, abs=480)
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            assert np.abs(samples).max() > 5000


def test_devices_are_listed_with_defaults_and_bad_selections_fail(
    fake_backend: FakeBackend, plain_config: AudioEngineConfig
) -> None:
    engine = AudioEngine(plain_config, fake_backend)
    devices = engine.list_devices()
    assert [d.is_default_input for d in devices] == [True, False]
    assert [d.is_default_output for d in devices] == [False, True]
    bad = AudioEngine(AudioEngineConfig(input_device="no such microphone"), fake_backend)
    with pytest.raises(DeviceError, match="no such microphone"):
        bad.start()
    assert not bad.running
    bad.stop()  # stop is idempotent, also after a failed start


def test_start_and_stop_are_idempotent(plain_config: AudioEngineConfig) -> None:
    backend = FakeBackend(realtime=True)
    engine = AudioEngine(plain_config, backend)
    engine.start()
    engine.start()
    engine.stop()
    engine.stop()
    assert not engine.running


def test_a_second_flush_reports_only_what_it_cut(
    fake_engine: AudioEngine, fake_backend: FakeBackend
) -> None:
    fake_engine.enqueue_playback("item_a", _wire(_tone(300, 1.0, 24_000)))
    fake_engine.enqueue_playback("item_b", _wire(_tone(500, 1.0, 24_000)))
    fake_backend.step(20)
    first = fake_engine.flush_playback()
    fake_backend.step(2)
    report = fake_engine.flush_report(first)
    assert report is not None
    assert report.discarded_item_ids == ("item_b",)
    fake_engine.enqueue_playback("item_c", _wire(_tone(400, 1.0, 24_000)))
    fake_engine.enqueue_playback("item_d", _wire(_tone(450, 1.0, 24_000)))
    fake_backend.step(20)
    second = fake_engine.flush_playback()
    fake_backend.step(2)
    report = fake_engine.flush_report(second)
    assert report is not None
    assert report.item_id == "item_c"
    assert report.discarded_item_ids == ("item_d",)
    assert fake_engine.flush_report(first) is None  # superseded
    assert fake_engine.played_ms("item_a") > 0
    assert fake_engine.played_ms("item_b") == 0.0
