"""Fixtures of the offline server tests: espeak-ng speech made at test time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from realtime_desktop.audio.espeak import espeak_available

from .helpers import spoken


@pytest.fixture
def speech() -> Callable[[str, int], np.ndarray]:
    """speech(text, rate) -> float32 espeak-ng speech (cached per text and rate)."""
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    return spoken
