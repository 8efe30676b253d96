"""Signal comparisons for tests, benchmarks and the app's self-test: alignment and energy.

These run on whole recordings after the fact, never on the audio threads.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclasses.dataclass(frozen=True)
class Alignment:
    """Where ``reference`` starts inside ``signal``, and how well it matches there."""

    lag: int  # sample index in ``signal`` of ``reference[0]`` (may be negative)
    correlation: float  # Pearson correlation over the overlap


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


def cross_correlation(signal: FloatArray, reference: FloatArray) -> npt.NDArray[np.float64]:
    """Full cross-correlation by FFT; index ``k`` is lag ``k - (len(reference) - 1)``."""
    n = _next_pow2(len(signal) + len(reference) - 1)
    spectrum = np.fft.rfft(signal, n) * np.conj(np.fft.rfft(reference, n))
    full = np.fft.irfft(spectrum, n)
    # Rearrange the circular result so negative lags come first.
    negative = full[n - (len(reference) - 1) :] if len(reference) > 1 else full[:0]
    return np.concatenate((negative, full[: len(signal)]))


def align(signal: FloatArray, reference: FloatArray) -> Alignment:
    """The lag at which ``reference`` best matches ``signal`` (both at the same rate)."""
    xcorr = cross_correlation(signal.astype(np.float64), reference.astype(np.float64))
    lag = int(np.argmax(xcorr)) - (len(reference) - 1)
    return Alignment(lag=lag, correlation=overlap_correlation(signal, reference, lag))


def overlap_correlation(signal: FloatArray, reference: FloatArray, lag: int) -> float:
    """Pearson correlation of ``reference`` against ``signal[lag:]`` where they overlap."""
    start = max(0, lag)
    ref_start = start - lag
    length = min(len(signal) - start, len(reference) - ref_start)
    if length <= 1:
        return 0.0
    a = signal[start : start + length].astype(np.float64)
    b = reference[ref_start : ref_start + length].astype(np.float64)
    if not a.std() or not b.std():
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def energy(samples: FloatArray) -> float:
    return float(np.sum(np.square(samples, dtype=np.float64)))


def db(ratio: float) -> float:
    """A power ratio in decibels."""
    return 10.0 * float(np.log10(max(ratio, 1e-30)))
