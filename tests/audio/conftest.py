"""Fixtures of the audio tests: engines on the fake backend, speech from espeak-ng, the rig."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import pytest

from realtime_desktop.audio.backends import FakeBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
from realtime_desktop.audio.espeak import espeak_available, synthesize
from realtime_desktop.audio.virtual_devices import PulseRig, VirtualDevicesUnavailableError


@functools.cache
def _speech(text: str, sample_rate: int, voice: str = "en-us", pitch: int = 50) -> np.ndarray:
    return synthesize(text, sample_rate, voice=voice, pitch=pitch)


@pytest.fixture
def speech():  # type: ignore[no-untyped-def]
    """speech(text, rate, voice=..., pitch=...) -> float32 mono espeak-ng speech (cached)."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    return _speech


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend(sample_rate=48_000, input_channels=1, output_channels=2)


@pytest.fixture
def plain_config() -> AudioEngineConfig:
    """No echo cancellation or noise suppression: the signal path is exactly resampling."""
    return AudioEngineConfig(echo_cancellation=False, noise_suppression=False)


@pytest.fixture
def fake_engine(
    fake_backend: FakeBackend, plain_config: AudioEngineConfig
) -> Iterator[AudioEngine]:
    engine = AudioEngine(plain_config, fake_backend)
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def pulse_rig() -> Iterator[PulseRig]:
    """Null sinks of this test run's own (PulseAudio is started here if none is running), so
    another run on the same daemon cannot mix its audio into these measurements."""
    try:
        rig = PulseRig.private().start()
    except VirtualDevicesUnavailableError as exc:
        pytest.skip(f"PulseAudio virtual devices unavailable: {exc}")
    yield rig
    rig.stop()
