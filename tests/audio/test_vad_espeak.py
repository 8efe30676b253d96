"""The VAD on its own (any rate, absolute positions, sensitivity) and espeak-ng synthesis."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from realtime_desktop.audio import espeak
from realtime_desktop.audio.vad import (
    SpeechDetector,
    SpeechSegmenter,
    VadEventKind,
    VadFrame,
    VadSensitivity,
)


def test_threshold_maps_onto_aggressiveness_and_energy_floor() -> None:
    assert VadSensitivity.from_threshold(0.0) == VadSensitivity(0, -60.0)
    assert VadSensitivity.from_threshold(0.5) == VadSensitivity(2, -45.0)
    assert VadSensitivity.from_threshold(1.0) == VadSensitivity(3, -30.0)
    assert VadSensitivity.from_threshold(7.0) == VadSensitivity.from_threshold(1.0)


@pytest.mark.parametrize("rate", [24_000, 44_100, 16_000])
def test_speech_is_found_at_its_absolute_position_at_any_rate(rate: int, speech) -> None:  # type: ignore[no-untyped-def]
    voice = speech("Is anybody there?", rate)
    lead = rate  # one second of silence first
    signal = np.concatenate((np.zeros(lead, np.float32), voice, np.zeros(rate, np.float32)))
    detector = SpeechDetector(rate, threshold=0.5)
    detector.reset(position=10_000)  # positions continue from the caller's counter
    frames: list[VadFrame] = []
    for start in range(0, len(signal), 441):  # odd chunk sizes on purpose
        frames += detector.process(signal[start : start + 441])
    assert detector.position == 10_000 + len(signal)
    assert all(b.start == a.end for a, b in itertools.pairwise(frames))
    first_speech = next(f for f in frames if f.is_speech)
    voiced = np.flatnonzero(np.abs(voice) > 0.01)
    true_onset = 10_000 + lead + voiced[0]
    assert abs(first_speech.start - true_onset) <= rate * 0.03
    assert not any(f.is_speech for f in frames if f.end <= 10_000 + lead)


def test_a_strict_threshold_ignores_quiet_speech(speech) -> None:  # type: ignore[no-untyped-def]
    quiet = speech("Is anybody there?", 16_000) * 0.01  # about -45 dBFS peaks
    lenient = SpeechDetector(16_000, threshold=0.0).process(quiet)
    strict = SpeechDetector(16_000, threshold=1.0).process(quiet)
    assert any(f.is_speech for f in lenient)
    assert not any(f.is_speech for f in strict)


def test_segmenter_needs_minimum_speech_and_hangover() -> None:
    def frames(pattern: str) -> list[VadFrame]:
        return [VadFrame(i * 240, 240, c == "s", -20.0) for i, c in enumerate(pattern)]

    segmenter = SpeechSegmenter(24_000, min_speech_ms=50, hangover_ms=100)
    # A 30 ms blip is not speech; then 60 ms of speech, 80 ms pause, more speech, 110 ms quiet.
    events = segmenter.feed(frames("sss......ssssss........ssss" + "." * 11))
    assert [(e.kind, e.position) for e in events] == [
        (VadEventKind.ONSET, 9 * 240),
        (VadEventKind.OFFSET, 27 * 240),
    ]


def test_synthesize_gives_float_speech_at_the_requested_rate(speech) -> None:  # type: ignore[no-untyped-def]
    at_24k = speech("Testing one two three.", 24_000)
    at_espeak = speech("Testing one two three.", 22_050)
    assert at_24k.dtype == np.float32
    assert len(at_24k) == pytest.approx(len(at_espeak) * 24_000 / 22_050, abs=2)
    assert 0.1 < np.abs(at_24k).max() <= 1.0


def test_missing_espeak_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak, "ESPEAK_COMMAND", "espeak-ng-that-is-not-installed")
    assert not espeak.espeak_available()
    with pytest.raises(espeak.EspeakUnavailableError, match="not installed"):
        espeak.synthesize("hello")
