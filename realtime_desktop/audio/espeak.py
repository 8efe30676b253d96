"""Speech from text with the espeak-ng command: test fixtures, benchmarks, the offline server.

espeak-ng is a system package (ENVIRONMENT.md); it writes 22 050 Hz 16-bit mono WAV to stdout,
which is resampled to the rate asked for.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from realtime_desktop.audio.codecs import pcm16_to_float32
from realtime_desktop.audio.constants import ESPEAK_SAMPLE_RATE, WIRE_SAMPLE_RATE

FloatArray = npt.NDArray[np.float32]

ESPEAK_COMMAND: Final = "espeak-ng"
_TIMEOUT_S: Final = 60.0


class EspeakUnavailableError(RuntimeError):
    """espeak-ng is not installed, or failed to speak."""


def espeak_available() -> bool:
    """True when the espeak-ng command is on PATH."""
    return shutil.which(ESPEAK_COMMAND) is not None


def _wav_samples(wav: bytes) -> npt.NDArray[np.int16]:
    # espeak-ng cannot seek back on a pipe, so the RIFF and data sizes in its header are
    # placeholders; the samples are simply everything after the "data" chunk header.
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise EspeakUnavailableError("espeak-ng did not write a WAV stream")
    data_at = wav.find(b"data", 12)
    if data_at < 0:
        raise EspeakUnavailableError("espeak-ng's WAV stream has no data chunk")
    payload = wav[data_at + 8 :]
    payload = payload[: len(payload) // 2 * 2]
    return np.frombuffer(payload, dtype="<i2").astype(np.int16)


def synthesize(
    text: str,
    sample_rate: int = WIRE_SAMPLE_RATE,
    *,
    voice: str = "en-us",
    words_per_minute: int = 165,
    pitch: int = 50,
    amplitude: int = 100,
) -> FloatArray:
    """Float32 mono speech for ``text`` at ``sample_rate``.

    Raises:
        EspeakUnavailableError: when espeak-ng is missing or fails.
    """
    if not espeak_available():
        raise EspeakUnavailableError(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
        )
    command = [
        ESPEAK_COMMAND,
        "--stdout",
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "-p",
        str(pitch),
        "-a",
        str(amplitude),
        "--",
        text,
    ]
    try:
        result = subprocess.run(command, capture_output=True, check=True, timeout=_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.decode(errors="replace").strip()
        raise EspeakUnavailableError(f"espeak-ng failed: {reason}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EspeakUnavailableError(f"espeak-ng took longer than {_TIMEOUT_S} s") from exc
    samples = pcm16_to_float32(_wav_samples(result.stdout))
    if sample_rate == ESPEAK_SAMPLE_RATE:
        return samples
    resampled: FloatArray = soxr.resample(samples, ESPEAK_SAMPLE_RATE, sample_rate, "HQ")
    return resampled.astype(np.float32, copy=False)
