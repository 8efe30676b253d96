"""Acoustic echo cancellation on the DSP thread: a linear, double-talk-robust canceller in numpy.

Why our own (issue 5, acceptance 4): WebRTC AEC3 (livekit's ``AudioProcessingModule``) removes
the echo, but its residual echo suppressor, which livekit exposes no knob for, also removes most
of the user whenever the assistant talks at the same time (1-30 % of the user's energy kept in
``EchoRoom``; 22 % offline even with a perfect echo model). A barge-in is exactly that moment.
This canceller subtracts a linear estimate of the echo, and suppresses at most
ECHO_SUPPRESSION_DB more, only while the residual echo dominates the microphone, so the user
goes through untouched.

The pieces, per frame of N samples (10 ms, N = 240 at 24 kHz):

- ``AdaptiveEchoFilter``: a partitioned-block frequency-domain adaptive filter (MDF, Soo & Pang
  1990): K partitions of N taps, overlap-save with 2N-point real FFTs, so 160 ms of room costs K
  spectral multiply-adds per frame instead of a 3 840-tap convolution. Double talk is handled by
  the step size rather than by a detector that must decide: each bin adapts at
  mu(k) = residual echo(k) / error(k), the optimal NLMS step when the error also contains the
  user (Valin, "On Adjusting the Learning Rate in Frequency Domain Echo Cancellation With
  Double-Talk", IEEE TASLP 2007). The residual echo is the "leak" times the echo estimate's power,
  the leak being the regression of the error's power fluctuations on the echo estimate's: while
  the user talks, the error grows by power the echo estimate does not explain, so the step
  shrinks by that ratio and the filter barely moves; after an echo path change the error follows
  the echo estimate again and the step grows back. A detector would need a "the user talks"
  threshold that is wrong in some room; this needs none. As a second line of defence two filters
  run (two-path, as speexdsp does): the background one adapts; the foreground one produces the
  output and takes the background's coefficients only when they cancel measurably more, so a burst
  of double talk that slips past the step control can disturb the background but not the output,
  and a background that diverges is reset from the foreground.
- ``EchoDelayEstimator``: the callbacks' timing pairs far and near samples in time, but says
  nothing of the room (or of an unreported device buffer), and PulseAudio's reported input
  latency is wrong by up to 600 ms during a stream's first second (measured on the rig). The
  estimator finds the direct path's delay from GCC-PHAT over the last half second, and the
  filter's window is placed so the direct path sits at the start of its newest partition: with
  speech as the far end, every empty partition before the echo costs about 3.5 dB of ERLE two
  seconds in, because adjacent far-end blocks are so strongly correlated that an empty partition
  learns a copy of its neighbour's echo and then has to unlearn it. When the delay is first found,
  the filter re-learns the last half second with the window in its place: the first syllables
  after silence teach it most, and they went by while the delay was unknown.
- ``ResidualEchoSuppressor``: a broadband gain of at least -ECHO_SUPPRESSION_DB, from the ratio of
  the estimated residual echo to the output. It is 1 whenever the user is clearly louder than
  the residual (double talk); per-band gains were tried and cost the user more energy (73 % kept
  against 90 %, offline on rig recordings), because the user's weaker bands sit under echo.
- ``EchoCanceller`` ties them together for the engine: the far end is exactly what the output
  callback rendered (resampled to 24 kHz), at absolute stream positions; each near frame comes
  with its absolute position; the two are paired by the offset the callbacks' timing gives
  (``set_stream_alignment``) plus the estimated delay; until that is known, the delay the
  callbacks' time info gives (input + output latency, ``set_delay_hint_ms``) places the window.

Every per-frame step works in preallocated arrays (numpy ``out=``): a frame allocates no sample
buffers. The arithmetic is float64: numpy's float32 FFTs allocate a working copy of their input
on every call (125 kB for the 16 partitions), its float64 ones do not, and are no slower.
"""

from __future__ import annotations

import collections
import math
import statistics
from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.ring import next_power_of_two

FloatArray = npt.NDArray[np.float32]  # samples, as the engine hands them over
RealArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]


def _long_dot(a: RealArray, b: RealArray) -> float:
    """Dot product of two long vectors (thousands of samples) without BLAS: np.dot goes to
    OpenBLAS, which on this two-core machine took 2.2-7.8 ms for the estimator's 12 000-sample
    dot (its worker threads), against 5 us for einsum's own loop and 0.6 ms for the whole search's
    FFTs. Frame-sized dots stay on np.dot, which is faster there."""
    return float(np.einsum("i,i->", a, b))


def _rfft_into(signal: RealArray, out: ComplexArray, axis: int = -1) -> None:
    np.fft.rfft(signal, axis=axis, out=out)


def _irfft_into(spectrum: ComplexArray, n: int, out: RealArray, axis: int = -1) -> None:
    np.fft.irfft(spectrum, n=n, axis=axis, out=out)


# ----------------------------------------------------------------------------- adaptive filter
# Partition steps decay from the newest far block to the oldest (10:1 over the filter), as a
# room's impulse response does, and sum to 0.8: the whole filter moves like an NLMS of step 0.8.
# Measured on rig recordings: 20 dB after 2 s of speech against 14 dB with equal steps.
_PARTITION_STEP_SUM: Final = 0.8
_PARTITION_STEP_RATIO: Final = 10.0
# The NLMS normaliser is the far end's power per bin, averaged over about one filter length,
# plus a floor of 1 % of its mean across bins: bins the far end never excites (espeak stops at
# 11 kHz) would otherwise get huge steps whose constrained gradient leaks into every other bin.
_FAR_POWER_FRAMES_PER_PARTITION: Final = 1.0
_RELATIVE_POWER_FLOOR: Final = 0.01
_POWER_FLOOR: Final = 1e-7  # about -70 dBFS white noise per bin
_TINY: Final = 1e-12
# Leak estimation (Valin 2007): the power spectra's running means move over about a second; the
# regression updates at most this fast, and faster while the echo estimate dominates the error.
_SPECTRUM_MEAN_RATE: Final = 0.01
_LEAK_RATE_SCALE: Final = 0.02
_LEAK_RATE_MAX: Final = 0.005
# The step never assumes less residual than this (-15 dB): a linear canceller in a room does not
# get much further, and a smaller step could no longer follow a moving echo path.
_MIN_LEAK: Final = 0.03
# The per-bin step is capped, and blended with the frame's residual-to-error ratio (RER) so a bin
# that the echo estimate misses can still learn.
_MAX_BIN_STEP: Final = 0.5
_BIN_STEP_WEIGHT: Final = 0.7
_MAX_RESIDUAL_TO_ERROR: Final = 0.5
# Before the filter has learnt anything the leak-based step is zero. Until this much adaptation
# (summed step sizes, in partitions) has happened, a fixed step is used instead, scaled down when
# the microphone is louder than the far end (then it is mostly the user, not echo).
_BOOTSTRAP_RATE: Final = 0.25
_BOOTSTRAP_PARTITIONS: Final = 1.0
# A far end quieter than about -60 dBFS has nothing to teach: no adaptation, so silence or
# dither can never make the filter drift.
_FAR_ACTIVE_POWER: Final = 1e-6
# The unconstrained gradient is applied to every partition and the time-domain constraint
# (zero the second half of each partition's taps) to this many per frame, round robin
# (alternately updated MDF): measured on rig recordings, the same ERLE as constraining all 16
# every frame, for a fifth of the FFT work.
_CONSTRAINED_PER_FRAME: Final = 3
# Two-path control: a smoothed error difference is "real" when its square beats these fractions
# of the errors' product, at two time scales (about 20 and 70 ms).
_COPY_THRESHOLD_SHORT: Final = 0.5
_COPY_THRESHOLD_LONG: Final = 0.25
_RESET_THRESHOLD: Final = 4.0
# Residual ratio (leak without the adaptation floor), for the suppressor.
_MIN_RESIDUAL_RATIO: Final = 1e-4

_BACKGROUND: Final = 0
_FOREGROUND: Final = 1


class AdaptiveEchoFilter:
    """The two-path MDF filter: echo estimate, cancellation and adaptation, frame by frame.

    Args:
        frame_len: N, samples per frame and taps per partition.
        partitions: K; the filter spans K * N taps.
    """

    def __init__(self, frame_len: int, partitions: int) -> None:
        n, k = frame_len, partitions
        if k < 2:
            raise ValueError("an echo filter needs at least two partitions")
        bins = n + 1
        self.frame_len = n
        self.partitions = k
        self._fft_len = 2 * n
        # Coefficients: [background, foreground] x partitions (oldest far block first) x bins.
        self.weights = np.zeros((2, k, bins), dtype=np.complex128)
        decay = _PARTITION_STEP_RATIO ** (-np.arange(k, dtype=np.float64) / (k - 1))
        steps = decay[::-1] * (_PARTITION_STEP_SUM / decay.sum())
        self._partition_step = steps.astype(np.complex128)
        self._far_power_rate = 1.0 / (_FAR_POWER_FRAMES_PER_PARTITION * k)
        self._constrained = min(_CONSTRAINED_PER_FRAME, k)
        # Scratch, reused every frame.
        self._spectra = np.zeros((2, bins), dtype=np.complex128)  # echo spectra, then E and Y
        self._time = np.zeros((2, self._fft_len), dtype=np.float64)
        self._padded = np.zeros((2, self._fft_len), dtype=np.float64)  # [zeros(N), frame]
        self._errors = np.zeros((2, n), dtype=np.float64)
        self._powers = np.zeros((2, bins), dtype=np.float64)  # |E|^2, |Y|^2 of the background
        self._far_now = np.zeros(bins, dtype=np.float64)
        self._step = np.zeros(bins, dtype=np.float64)
        self._work = np.zeros((2, bins), dtype=np.float64)
        self._normaliser = np.zeros(bins, dtype=np.float64)
        self._scaled_error = np.zeros(bins, dtype=np.complex128)
        self._step_complex = np.zeros(bins, dtype=np.complex128)
        self._gradient = np.zeros((k, bins), dtype=np.complex128)
        self._step_grid = np.zeros((k, bins), dtype=np.complex128)
        self._constraint_time = np.zeros((self._constrained, self._fft_len), dtype=np.float64)
        self._full_time = np.zeros((k, self._fft_len), dtype=np.float64)
        self._constraint_spectra = np.zeros((self._constrained, bins), dtype=np.complex128)
        self._crossfade = np.arange(1, n + 1, dtype=np.float64) / n
        self.far_power = np.zeros(bins, dtype=np.float64)
        self._error_mean = np.zeros(bins, dtype=np.float64)
        self._echo_mean = np.zeros(bins, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the echo path and what was learnt about it (the far end's power is a fact
        about the far end, and is kept)."""
        self.weights.fill(0)
        self._error_mean.fill(0)
        self._echo_mean.fill(0)
        self._cross = 1.0  # smoothed covariance of the error's and echo's power fluctuations
        self._auto = 1.0  # smoothed variance of the echo's power fluctuations
        self.leak = 1.0
        self.residual_ratio = 1.0
        self.adapted = False
        self._adaptation = 0.0
        self._next_constrained = 0
        self._diff_short = self._diff_long = 0.0
        self._var_short = self._var_long = 0.0
        self.foreground_updates = 0
        self.background_resets = 0
        self.far_active = False

    @property
    def echo_estimate(self) -> RealArray:
        """The foreground filter's echo estimate of the last frame (N samples)."""
        return self._time[_FOREGROUND, self.frame_len :]

    def shift(self, blocks: int) -> None:
        """The far-end window moved ``blocks`` blocks into the past (negative: the future):
        move the coefficients with it, so the echo path keeps its place. Rare (a new delay)."""
        k, weights = self.partitions, self.weights
        if abs(blocks) >= k:
            weights.fill(0)
        elif blocks > 0:
            for index in range(k - 1, blocks - 1, -1):  # from the end: nothing is overwritten
                weights[:, index] = weights[:, index - blocks]  # before it is moved
            weights[:, :blocks] = 0
        elif blocks < 0:
            for index in range(k + blocks):
                weights[:, index] = weights[:, index - blocks]
            weights[:, k + blocks :] = 0

    def process(
        self, near: FloatArray, far: ComplexArray, far_energy: float, out: FloatArray
    ) -> None:
        """Cancel the echo in one frame, then adapt.

        Args:
            near: N microphone samples.
            far: K x (N + 1) spectra of the far-end blocks the filter spans, oldest first; each
                the 2N-point real FFT of [previous block, block].
            far_energy: energy of the newest far block's N samples.
            out: receives N samples: the microphone minus the foreground's echo estimate.
        """
        n = self.frame_len
        # Both filters' echo estimates: sum over partitions of W_k X_k, to the time domain; the
        # last N samples of the circular convolution are the linear one (overlap-save).
        np.einsum("wkb,kb->wb", self.weights, far, out=self._spectra)
        _irfft_into(self._spectra, self._fft_len, self._time, axis=1)
        errors = self._errors
        np.subtract(near, self._time[_BACKGROUND, n:], out=errors[_BACKGROUND])
        np.subtract(near, self._time[_FOREGROUND, n:], out=errors[_FOREGROUND])
        e_b = float(np.dot(errors[_BACKGROUND], errors[_BACKGROUND]))
        e_f = float(np.dot(errors[_FOREGROUND], errors[_FOREGROUND]))
        if self._background_is_better(e_f, e_b):
            # From now on the background speaks: cross-fade inside this frame, so the switch
            # makes no step in the residual.
            np.subtract(errors[_BACKGROUND], errors[_FOREGROUND], out=out)
            np.multiply(out, self._crossfade, out=out)
            np.add(out, errors[_FOREGROUND], out=out)
            # Both continue from the background fully constrained to N taps per partition: the
            # round-robin constraint leaves wrapped taps behind in most partitions, and the
            # foreground is what the user's voice goes through. A copy happens a few times a
            # second at most, so the full constraint costs little here.
            background = self.weights[_BACKGROUND]
            _irfft_into(background, self._fft_len, self._full_time, axis=1)
            self._full_time[:, n:] = 0.0
            _rfft_into(self._full_time, background, axis=1)
            self.weights[_FOREGROUND] = background
            self._time[_FOREGROUND] = self._time[_BACKGROUND]
            self.foreground_updates += 1
        else:
            out[:] = errors[_FOREGROUND]
        self.far_active = far_energy > _FAR_ACTIVE_POWER * n
        if self.far_active:
            self._adapt(far, far_energy, e_b)

    def _background_is_better(self, e_f: float, e_b: float) -> bool:
        """Two-path statistics; True when the foreground should take the background's
        coefficients. A background that has diverged is reset from the foreground here."""
        diff = e_f - e_b
        product = e_f * e_b
        self._diff_short = 0.6 * self._diff_short + 0.4 * diff
        self._diff_long = 0.85 * self._diff_long + 0.15 * diff
        self._var_short = 0.36 * self._var_short + 0.16 * product
        self._var_long = 0.7225 * self._var_long + 0.0225 * product
        # A difference consistently large against the errors' own spread is real, at either
        # time scale; the sampling noise of two similar filters never is.
        short, long_ = self._diff_short, self._diff_long
        if (short > 0 and short * short > _COPY_THRESHOLD_SHORT * self._var_short) or (
            long_ > 0 and long_ * long_ > _COPY_THRESHOLD_LONG * self._var_long
        ):
            self._diff_short = self._diff_long = self._var_short = self._var_long = 0.0
            return True
        if (short < 0 and short * short > _RESET_THRESHOLD * self._var_short) or (
            long_ < 0 and long_ * long_ > _RESET_THRESHOLD * self._var_long
        ):
            self.weights[_BACKGROUND] = self.weights[_FOREGROUND]
            self._errors[_BACKGROUND] = self._errors[_FOREGROUND]
            self._time[_BACKGROUND] = self._time[_FOREGROUND]
            self._diff_short = self._diff_long = self._var_short = self._var_long = 0.0
            self.background_resets += 1
        return False

    def _adapt(self, far: ComplexArray, far_energy: float, e_b: float) -> None:
        """One step of the background filter at the double-talk-aware step size."""
        n = self.frame_len
        padded = self._padded
        padded[0, n:] = self._errors[_BACKGROUND]
        padded[1, n:] = self._time[_BACKGROUND, n:]
        spectra = self._spectra
        _rfft_into(padded, spectra, axis=1)  # [E, Y]: background error and echo
        powers = self._powers
        np.abs(spectra, out=powers)
        np.square(powers, out=powers)
        error_power, echo_power = powers[0], powers[1]
        np.abs(far[-1], out=self._far_now)
        np.square(self._far_now, out=self._far_now)
        np.subtract(self._far_now, self.far_power, out=self._far_now)
        self._far_now *= self._far_power_rate
        self.far_power += self._far_now

        echo = self._time[_BACKGROUND, n:]
        e_y = float(np.dot(echo, echo))
        cross_ey = float(np.dot(self._errors[_BACKGROUND], echo))
        e_b += _TINY
        self._update_leak(error_power, echo_power, e_y, e_b)

        step, work = self._step, self._work[0]
        normaliser = self._normaliser
        floor = max(
            _POWER_FLOOR, _RELATIVE_POWER_FLOOR * float(self.far_power.sum()) / len(self.far_power)
        )
        np.add(self.far_power, floor, out=normaliser)
        if self.adapted:
            # mu(k) = residual echo / error, capped, blended with the frame's residual-to-error
            # ratio, normalised by the far end's power.
            rer = (1e-4 * far_energy + 3.0 * self.leak * e_y) / e_b
            rer = max(rer, cross_ey * cross_ey / (e_y * e_b + _TINY))
            rer = min(rer, _MAX_RESIDUAL_TO_ERROR)
            np.multiply(echo_power, self.leak, out=step)
            np.multiply(error_power, _MAX_BIN_STEP, out=work)
            np.minimum(step, work, out=step)
            step *= _BIN_STEP_WEIGHT
            np.multiply(error_power, (1.0 - _BIN_STEP_WEIGHT) * rer, out=work)
            step += work
            np.add(error_power, _TINY, out=work)
            work *= normaliser
            np.divide(step, work, out=step)
        else:
            bootstrap = _BOOTSTRAP_RATE * min(far_energy, e_b) / e_b
            np.divide(2.0 * bootstrap, normaliser, out=step)
            self._adaptation += bootstrap
            self.adapted = self._adaptation >= _BOOTSTRAP_PARTITIONS * self.partitions

        # Gradient per partition: conj(X_k) mu E, weighted per partition. (numpy buffers a
        # broadcasting ufunc through K x bins temporaries; einsum's outer product does not.)
        # (complex times real would make numpy cast through a temporary: the step goes into the
        # real part of a complex buffer instead.)
        np.copyto(self._step_complex.real, step)
        np.multiply(spectra[0], self._step_complex, out=self._scaled_error)
        np.einsum("k,b->kb", self._partition_step, self._scaled_error, out=self._step_grid)
        gradient = self._gradient
        np.conjugate(far, out=gradient)
        gradient *= self._step_grid
        background = self.weights[_BACKGROUND]
        background += gradient
        # Keep a few partitions to N taps per frame: the second half of each one's 2N taps would
        # wrap around in the circular convolution.
        first = self._next_constrained
        last = first + self._constrained
        if last > self.partitions:
            first, last = self.partitions - self._constrained, self.partitions
        part = background[first:last]
        _irfft_into(part, self._fft_len, self._constraint_time, axis=1)
        self._constraint_time[:, n:] = 0.0
        _rfft_into(self._constraint_time, self._constraint_spectra, axis=1)
        part[:] = self._constraint_spectra
        self._next_constrained = 0 if last >= self.partitions else last

    def _update_leak(
        self, error_power: FloatArray, echo_power: FloatArray, e_y: float, e_b: float
    ) -> None:
        """Leak: how much of the echo estimate's power is still in the error (Valin 2007), as
        the regression of the error's power fluctuations on the echo estimate's."""
        d_error, d_echo = self._work[0], self._work[1]
        np.subtract(error_power, self._error_mean, out=d_error)
        np.subtract(echo_power, self._echo_mean, out=d_echo)
        cross = float(np.dot(d_error, d_echo))
        auto = float(np.dot(d_echo, d_echo))
        d_error *= _SPECTRUM_MEAN_RATE
        self._error_mean += d_error
        d_echo *= _SPECTRUM_MEAN_RATE
        self._echo_mean += d_echo
        auto = math.sqrt(auto) + _TINY
        # Faster while the echo estimate dominates the error (the regression is reliable),
        # slowly while the user talks.
        rate = min(_LEAK_RATE_SCALE * e_y / e_b, _LEAK_RATE_MAX)
        self._cross += rate * (cross / auto - self._cross)
        self._auto = max(self._auto + rate * (auto - self._auto), _TINY)
        self._cross = min(self._cross, self._auto)
        ratio = self._cross / self._auto
        self.leak = max(ratio, _MIN_LEAK)
        self.residual_ratio = max(ratio, _MIN_RESIDUAL_RATIO)


# ----------------------------------------------------------------------- residual suppression
# The suppressor over-estimates the residual by this factor (it is only ever echo that it
# removes in single talk), never assumes less than 1 % of the echo estimate is left, and follows
# the frame energies with this smoothing (one frame of memory: a user's onset opens it at once).
_SUPPRESSOR_OVERESTIMATE: Final = 2.0
_SUPPRESSOR_MIN_RESIDUAL: Final = 0.01
_SUPPRESSOR_SMOOTHING: Final = 0.5


class ResidualEchoSuppressor:
    """A broadband gain in [10^(-depth/20), 1]: low while the residual echo dominates the
    output, 1 while anything louder (the user) is there. The gain moves linearly across each
    frame, so it never clicks.

    Args:
        frame_len: samples per frame.
        depth_db: the most it attenuates.
    """

    def __init__(self, frame_len: int, depth_db: float) -> None:
        self.floor = 10.0 ** (-depth_db / 20.0)
        self._ramp = np.arange(1, frame_len + 1, dtype=np.float32) / np.float32(frame_len)
        self._gains = np.zeros(frame_len, dtype=np.float32)
        self._residual = 0.0
        self._output = 0.0
        self.gain = 1.0

    def process(self, frame: FloatArray, echo: RealArray, residual_ratio: float) -> None:
        """Attenuate ``frame`` (in place) by the residual of ``echo``, the echo estimate."""
        smoothing = _SUPPRESSOR_SMOOTHING
        residual = max(residual_ratio, _SUPPRESSOR_MIN_RESIDUAL) * float(np.dot(echo, echo))
        self._residual = smoothing * self._residual + (1.0 - smoothing) * residual
        self._output = smoothing * self._output + (1.0 - smoothing) * float(np.dot(frame, frame))
        ratio = _SUPPRESSOR_OVERESTIMATE * self._residual / (self._output + _TINY)
        gain = min(1.0, max(self.floor, 1.0 - ratio))
        previous, self.gain = self.gain, gain
        if gain == previous == 1.0:
            return
        np.multiply(self._ramp, gain - previous, out=self._gains)
        self._gains += previous
        frame *= self._gains


# ----------------------------------------------------------------------------- delay estimate
# GCC-PHAT over half a second: long enough for a sharp, reliable peak in speech (measured on the
# rig: the direct path found within 0.1-0.4 s of the assistant's first words, peak 13-37 times
# the correlation's spread; wrong peaks stayed under 8), short enough to follow a changed path.
# The microphone segment is Hann-windowed: with a rectangular one, the segment's edges put
# spurious peaks at the ends of the searched range.
_DELAY_WINDOW_MS: Final = 500
_DELAY_MIN_PROMINENCE: Final = 10.0
# Two estimates this close in a row confirm a delay (samples). Not closer: on the rig the delay
# can slide by about 50 samples a second while the streams settle (estimates 0.1 s apart 5-6
# samples apart for the first 1.6 s); at 4 samples no two agreed until it stopped, and the filter
# started late (24.6 dB). The filter and the slip check take up the few samples left.
_DELAY_AGREEMENT: Final = 8
# Segments quieter than about -50 dBFS (far) or -60 dBFS (microphone) say nothing.
_DELAY_FAR_ACTIVE_POWER: Final = 1e-5
_DELAY_NEAR_ACTIVE_POWER: Final = 1e-6


class EchoDelayEstimator:
    """The echo's delay, from the generalized cross-correlation with phase transform (GCC-PHAT,
    Knapp & Carter 1976) of the microphone and the far end: whitening every frequency to unit
    magnitude leaves a sharp peak at the direct path, however coloured the speech and however
    long the room's tail.

    Positions are absolute processing-rate samples. ``pairing`` (far minus near position of
    samples handled at the same moment) places the search; delays are searched from 0 to
    ``max_delay`` samples beyond it.

    Args:
        sample_rate: the processing rate.
        max_delay: the longest delay searched, in samples.
    """

    def __init__(self, sample_rate: int, max_delay: int) -> None:
        window = sample_rate * _DELAY_WINDOW_MS // 1000
        self.window = window
        self.max_delay = max_delay
        self._fft_len = next_power_of_two(window + max_delay + 1)
        bins = self._fft_len // 2 + 1
        self._far = np.zeros(next_power_of_two(window + max_delay + sample_rate // 10), np.float32)
        self._near = np.zeros(next_power_of_two(window + sample_rate // 10), np.float32)
        self._far_end = 0  # absolute position after the last far sample
        self._near_end = 0
        self._taper = np.hanning(window).astype(np.float64)
        self._near_segment = np.zeros(self._fft_len, dtype=np.float64)
        self._far_segment = np.zeros(self._fft_len, dtype=np.float64)
        self._near_spectrum = np.zeros(bins, dtype=np.complex128)
        self._far_spectrum = np.zeros(bins, dtype=np.complex128)
        self._magnitude = np.zeros(bins, dtype=np.float64)
        self._magnitude_complex = np.zeros(bins, dtype=np.complex128)
        self._correlation = np.zeros(self._fft_len, dtype=np.float64)
        self.prominence = 0.0
        self.attempts = 0  # correlations computed (segments were active)

    @staticmethod
    def _store(ring: FloatArray, position: int, samples: FloatArray | RealArray) -> int:
        """Write ``samples`` (absolute ``position`` on) into ``ring``; returns the new end."""
        total = len(samples)
        count = min(total, len(ring))  # only the newest ring-full can be kept
        start = (position + total - count) & (len(ring) - 1)
        first = min(count, len(ring) - start)
        ring[start : start + first] = samples[total - count : total - count + first]
        ring[: count - first] = samples[total - count + first :]
        return position + total

    def add_far(self, samples: FloatArray, position: int) -> None:
        """Far-end samples starting at absolute ``position`` (contiguous with the last ones)."""
        self._far_end = self._store(self._far, position, samples)

    def add_near(self, samples: FloatArray, position: int) -> None:
        """Microphone samples starting at absolute ``position``."""
        self._near_end = self._store(self._near, position, samples)

    @property
    def far_kept_from(self) -> int:
        """The oldest far-end position still kept."""
        return max(0, self._far_end - len(self._far))

    def read_far(self, position: int, out: FloatArray) -> None:
        """Copy the far-end samples from absolute ``position`` (kept, and written) into ``out``."""
        self._read(self._far, position, out)

    def read_near(self, position: int, out: FloatArray | RealArray) -> bool:
        """Copy the microphone samples from absolute ``position`` into ``out``, if kept."""
        if position < self._near_end - len(self._near) or position + len(out) > self._near_end:
            return False
        self._read(self._near, position, out)
        return True

    @staticmethod
    def _read(ring: FloatArray, start: int, out: FloatArray | RealArray) -> None:
        mask = len(ring) - 1
        begin = start & mask
        first = min(len(out), len(ring) - begin)
        out[:first] = ring[begin : begin + first]
        out[first:] = ring[: len(out) - first]

    def estimate(self, pairing: int) -> int | None:
        """The delay (samples beyond ``pairing``) of the direct path in the last window of the
        microphone, or None when the segments are silent or no peak stands out."""
        window, max_delay = self.window, self.max_delay
        # The newest microphone window whose far end (paired, up to the longest delay) is all
        # there: the far end normally leads, by the output latency.
        near_start = min(self._near_end, self._far_end - pairing) - window
        far_start = near_start + pairing - max_delay
        far_len = window + max_delay
        if near_start < max(0, self._near_end - len(self._near)) or far_start < self._far_end - len(
            self._far
        ):
            return None
        near_segment, far_segment = self._near_segment, self._far_segment
        self._read(self._near, near_start, near_segment[:window])
        self._read(self._far, far_start, far_segment[:far_len])
        near_energy = _long_dot(near_segment[:window], near_segment[:window])
        far_energy = _long_dot(far_segment[:far_len], far_segment[:far_len])
        if (
            near_energy < _DELAY_NEAR_ACTIVE_POWER * window
            or far_energy < _DELAY_FAR_ACTIVE_POWER * far_len
        ):
            return None
        self.attempts += 1
        near_segment[:window] *= self._taper
        _rfft_into(near_segment, self._near_spectrum)
        _rfft_into(far_segment, self._far_spectrum)
        spectrum = self._far_spectrum
        np.conjugate(self._near_spectrum, out=self._near_spectrum)
        spectrum *= self._near_spectrum
        np.abs(spectrum, out=self._magnitude)
        self._magnitude += _TINY
        np.copyto(self._magnitude_complex.real, self._magnitude)  # complex / real would cast
        spectrum /= self._magnitude_complex
        _irfft_into(spectrum, self._fft_len, self._correlation)
        # correlation[k] pairs near sample t with far sample t + k, and the echo of far sample
        # (t + pairing - delay) is in near sample t: k = max_delay - delay.
        searched = self._correlation[: max_delay + 1]
        peak_at = int(np.argmax(searched))
        count = len(searched)
        mean = float(np.sum(searched)) / count
        spread = math.sqrt(max(_long_dot(searched, searched) / count - mean * mean, 0.0))
        self.prominence = float(searched[peak_at]) / (spread + _TINY)
        if self.prominence < _DELAY_MIN_PROMINENCE:
            return None
        return max_delay - peak_at


# ----------------------------------------------------------------------------- the canceller
# Until the delay estimator has spoken, the filter's window starts this many blocks before the
# delay the callbacks' time info gives (it leaves out the room and any unreported buffer).
_HINT_LEAD_BLOCKS: Final = 1
# When the delay is first found, the filter re-learns this much of the microphone's past with
# the window in its new place (``EchoCanceller._catch_up``).
_CATCH_UP_MS: Final = 500
# The estimated direct path is placed this far into the newest partition: room for the
# resamplers' pre-ringing. Placing it matters: each empty partition before the echo, whose far-end
# block is strongly correlated with the next one in speech, costs about 3.5 dB of ERLE after 2 s,
# and a partition too few cuts the direct path off (rig, espeak speech).
_DIRECT_PATH_MARGIN_MS: Final = 1.0
# The estimator runs this often (frames) until it has found the delay, then less often, and not at
# all while the filter cancels: then the filter knows the echo path better. It cancels while the
# leak is below _TRUST_FILTER_LEAK (-5 dB) and its output, over the last ~100 ms of far end, is
# below the microphone. The leak is a regression on the echo estimate, so the user talking does
# not raise it, but it takes about a second to notice that the path moved; a filter whose window
# no longer holds the path adds its echo estimate to the microphone instead of removing it, within
# a few frames of a jump, while the user talking over a filter in place only leaves the output
# closer to the microphone. (Searching during double talk found spurious delays 95 ms off in the
# rig recordings.) A delay is taken once this many estimates in a row agree.
_DELAY_SEARCH_FRAMES: Final = 10
_DELAY_TRACK_FRAMES: Final = 50
_TRUST_FILTER_LEAK: Final = 0.3
_CANCELLATION_RATE: Final = 0.1
_DELAY_CONFIRMATIONS: Final = 2
# Searching often costs about 1 % of a core (a 32k-point FFT correlation every 10 frames); after
# this many correlations without finding an echo (about 2 s of far end and microphone both
# active: a headset, or a microphone that does not hear the speaker) the search slows down.
_DELAY_SEARCH_ATTEMPTS: Final = 20
# Slips: a device or pipe buffer that under- or overruns delays the whole echo path by a few
# samples to tens of ms at once (rig: 0.5, 8 and 25 ms, several a minute on a busy machine). Half a
# millisecond is enough to undo the filter (30 dB of ERLE to 0), and the leak-based step takes
# seconds to notice. The filter's own echo estimate knows the path's whole shape, so the
# microphone of the last 100 ms is correlated with it at lags up to +-30 ms every 30 ms: a peak
# away from lag 0 that explains the microphone well, twice in a row, is a slip, and the window
# follows it at once (``_place_window``, moved_path). The user's voice does not correlate with the
# echo estimate, so double talk lowers the peak rather than moving it. Bigger jumps, and jumps
# before the filter cancels, are the delay search's (``_track_delay``).
_SLIP_WINDOW_MS: Final = 100
_SLIP_MAX_MS: Final = 30
_SLIP_FRAMES: Final = 3
# A lag is a slip when the echo estimate moved by it would leave at most this share of the
# microphone's energy, and at most this share of what the estimate leaves where it is.
_SLIP_MAX_RESIDUAL: Final = 0.3
_SLIP_MIN_IMPROVEMENT: Final = 0.5
_SLIP_MIN_SAMPLES: Final = 2
_SLIP_AGREEMENT: Final = 1
_SLIP_ECHO_ACTIVE_POWER: Final = 1e-6
# A pairing of the streams that moved by this many blocks for this many consecutive updates
# (about a second of DSP steps) means a stream dropped or repeated frames: follow it.
_REALIGN_BLOCKS: Final = 4
_REALIGN_UPDATES: Final = 50
# Before the delay is found, the pairing is the median of this many recent values.
_PAIRING_MEDIAN: Final = 15


class EchoCanceller:
    """The engine's echo stage: far-end history, alignment, delay, filter and suppressor.

    Args:
        sample_rate: the processing rate of both directions.
        frame_ms: frame and partition length.
        filter_ms: room tail the filter covers (rounded up to whole frames).
        max_delay_ms: the longest echo delay searched beyond the callbacks' pairing in time.
        suppression_db: the residual suppressor's depth (0 turns it off).
        far_position: absolute position of the next far-end sample ``add_far_end`` receives.
    """

    def __init__(
        self,
        sample_rate: int,
        *,
        frame_ms: int,
        filter_ms: int,
        max_delay_ms: int,
        suppression_db: float,
        far_position: int = 0,
    ) -> None:
        n = sample_rate * frame_ms // 1000
        k = max(2, -(-filter_ms // frame_ms))
        max_lag = max_delay_ms // frame_ms
        # Far blocks kept: the filter's span at the longest delay, plus the frames re-learnt
        # when the delay is first found (``_catch_up``).
        catch_up = _CATCH_UP_MS // frame_ms
        history = next_power_of_two(k + max_lag + catch_up + 2)
        self._catch_up_frames = catch_up
        self._estimator_frames = -(-_DELAY_WINDOW_MS // frame_ms)
        self.sample_rate = sample_rate
        self.frame_len = n
        self.frame_ms = frame_ms
        self.partitions = k
        self._max_lag = max_lag
        self.filter = AdaptiveEchoFilter(n, k)
        self.delay_estimator = EchoDelayEstimator(sample_rate, max_lag * n)
        self.suppressor = ResidualEchoSuppressor(n, suppression_db) if suppression_db else None
        self._mask = history - 1
        bins = n + 1
        # Far end: spectra and energies of the last ``history`` blocks by absolute block number,
        # and the 2N-sample window [previous block, block being filled].
        self._far_spectra = np.zeros((history, bins), dtype=np.complex128)
        self._far_energy = np.zeros(history, dtype=np.float64)
        self._far_window = np.zeros(2 * n, dtype=np.float64)
        self._far_position = far_position
        # Far block b holds samples [b N + phase, (b + 1) N + phase): the phase puts the direct
        # path just after a partition's start, to the sample (``_place_window``).
        self._phase = 0
        self._far_block = far_position // n  # the block being filled
        self._far_fill = far_position % n
        self._view = np.zeros((k, bins), dtype=np.complex128)
        self._view_index = np.zeros(k, dtype=np.intp)
        self._partition_offsets = np.arange(k - 1, -1, -1, dtype=np.intp)
        self._margin = max(1, round(_DIRECT_PATH_MARGIN_MS * sample_rate / 1000))
        # Alignment: far sample p + pairing was rendered when near sample p was captured; the
        # filter spans far blocks up to (near frame + offset - window_delay).
        self._pairing: float | None = None
        self._recent_pairings: collections.deque[float] = collections.deque(maxlen=_PAIRING_MEDIAN)
        self._pairing_moved = 0
        self._offset = 0
        self.window_delay = 0
        self.delay: int | None = None  # estimated direct-path delay beyond the pairing, samples
        self._candidate: int | None = None
        self._frames = 0
        self._next_estimate = 0
        self.late_frames = 0  # frames passed through because their far end was not there
        self._catch_up_near = np.zeros(n, dtype=np.float32)
        # For re-cutting the far history at a new phase (``_rephase``).
        self._recut_history = np.zeros((history + 1) * n, dtype=np.float32)
        self._recut_windows = np.zeros((history, 2 * n), dtype=np.float64)
        self._recut_spectra = np.zeros((history, bins), dtype=np.complex128)
        self._recut_energy = np.zeros(history, dtype=np.float64)
        self._attempts_at_search = 0
        # Microphone and filter output energies per frame, smoothed over the frames with far end.
        self._near_mean = 0.0
        self._output_mean = 0.0
        self._agreeing = 0
        self._catch_up_out = np.zeros(n, dtype=np.float32)
        # Slip detection: the foreground's echo estimate by absolute near position, and scratch.
        slip_window = sample_rate * _SLIP_WINDOW_MS // 1000
        slip_max = sample_rate * _SLIP_MAX_MS // 1000
        self._slip_window, self._slip_max = slip_window, slip_max
        self._echo_history = np.zeros(
            next_power_of_two(slip_window + 2 * slip_max + 2 * n), dtype=np.float32
        )
        slip_fft = next_power_of_two(slip_window + 2 * slip_max)
        self._slip_fft = slip_fft
        self._slip_near = np.zeros(slip_fft, dtype=np.float64)
        self._slip_echo = np.zeros(slip_fft, dtype=np.float64)
        self._slip_near_spectrum = np.zeros(slip_fft // 2 + 1, dtype=np.complex128)
        self._slip_echo_spectrum = np.zeros(slip_fft // 2 + 1, dtype=np.complex128)
        self._slip_correlation = np.zeros(slip_fft, dtype=np.float64)
        self._slip_squares = np.zeros(slip_window + 2 * slip_max, dtype=np.float64)
        self._slip_cumulative = np.zeros(slip_window + 2 * slip_max + 1, dtype=np.float64)
        self._slip_score = np.zeros(2 * slip_max + 1, dtype=np.float64)
        self._slip_energy = np.zeros(2 * slip_max + 1, dtype=np.float64)
        self._slip_candidate: int | None = None
        self._silent_frame = np.zeros(n, dtype=np.float32)
        self._slip_checked_from = 0  # near position from which the echo estimate is comparable
        self._next_slip_check = 0
        self.slips = 0

    @property
    def delay_ms(self) -> float | None:
        """The echo's direct-path delay beyond the callbacks' pairing in time, once found."""
        return None if self.delay is None else self.delay * 1000.0 / self.sample_rate

    def set_stream_alignment(self, far_minus_near: float) -> None:
        """Far-end position minus near-end position of samples the callbacks handled at the
        same moment (processing-rate samples). Until the delay is found, the pairing follows the
        median of the recent values (a stream's first callbacks come in bursts). Then it is kept:
        on the rig the callback times drift by +-6 ms as PulseAudio moves its buffer levels while
        the streams' sample positions do not, and moving the far end under the filter would undo
        its convergence. Only a lasting move of several blocks (a stream that dropped or repeated
        frames) is followed, keeping the filter's window where it is in absolute far-end blocks;
        the delay estimator takes it from there."""
        if self.delay is None:
            self._recent_pairings.append(far_minus_near)
            self._pairing = statistics.median(self._recent_pairings)
            self._offset = round(self._pairing / self.frame_len)
            return
        assert self._pairing is not None
        if abs(far_minus_near - self._pairing) < _REALIGN_BLOCKS * self.frame_len:
            self._pairing_moved = 0
            return
        self._pairing_moved += 1
        if self._pairing_moved >= _REALIGN_UPDATES:
            offset = round(far_minus_near / self.frame_len)
            self.window_delay = max(0, self.window_delay + offset - self._offset)
            self._pairing, self._offset, self._pairing_moved = far_minus_near, offset, 0
            self.delay = self._candidate = None
            self._recent_pairings.clear()
            # The filter goes on cancelling with the room it learnt, and the search looks again
            # at full pace, while the delay is found anew.
            self._attempts_at_search = self.delay_estimator.attempts

    def set_delay_hint_ms(self, delay_ms: float) -> None:
        """The callbacks' own idea of the echo delay (input + output latency), used until the
        delay estimator has found the real one."""
        if self.delay is None:
            lag = min(self._max_lag, round(delay_ms / self.frame_ms))
            self._set_window_delay(max(0, lag - _HINT_LEAD_BLOCKS))

    def _set_window_delay(self, blocks: int) -> None:
        if blocks == self.window_delay:
            return
        if abs(blocks - self.window_delay) >= self.partitions:
            self.filter.reset()  # nothing it learnt is inside the new window
        else:
            self.filter.shift(blocks - self.window_delay)
        self.window_delay = blocks

    def add_far_end(self, samples: FloatArray) -> None:
        """What the output callback rendered, resampled to the processing rate, in order."""
        self.delay_estimator.add_far(samples, self._far_position)
        self._far_position += len(samples)
        n = self.frame_len
        window = self._far_window
        done = 0
        total = len(samples)
        while done < total:
            take = min(n - self._far_fill, total - done)
            start = n + self._far_fill
            window[start : start + take] = samples[done : done + take]
            self._far_fill += take
            done += take
            if self._far_fill == n:
                slot = self._far_block & self._mask
                _rfft_into(window, self._far_spectra[slot])
                block = window[n:]
                self._far_energy[slot] = float(np.dot(block, block))
                window[:n] = block
                self._far_block += 1
                self._far_fill = 0

    def process(self, near: FloatArray, near_position: int, out: FloatArray) -> None:
        """Cancel the echo in one near-end frame starting at absolute ``near_position``."""
        self._frames += 1
        if self._frames >= self._next_estimate:
            self._track_delay(near_position)
        self.delay_estimator.add_near(near, near_position)
        if self._no_echo_found():
            # Nothing the filter learns now survives the window's placement once a delay is
            # found (a new phase resets it, and the last half second is re-learnt then), and in
            # two seconds the filter at the hinted window would have cancelled something if the
            # microphone heard the far end: pass the microphone through until the search finds
            # an echo. (The bench's duplex run is this case: its microphone hears only the user.)
            out[:] = near
            self._record_echo(None, near_position)
            return
        if not self._filter_frame(near, near_position, out):
            # The far end is not there (a stalled output stream): nothing to subtract.
            self.late_frames += 1
            out[:] = near
            self._record_echo(None, near_position)
            return
        self._record_echo(self.filter.echo_estimate, near_position)
        if self.filter.far_active:
            rate = _CANCELLATION_RATE
            self._near_mean += rate * (float(np.dot(near, near)) - self._near_mean)
            self._output_mean += rate * (float(np.dot(out, out)) - self._output_mean)
        if self.delay is not None and self._frames >= self._next_slip_check:
            self._next_slip_check = self._frames + _SLIP_FRAMES
            self._check_slip(near_position + self.frame_len)
        if self.suppressor is not None:
            self.suppressor.process(out, self.filter.echo_estimate, self.filter.residual_ratio)

    def _filter_frame(self, near: FloatArray, near_position: int, out: FloatArray) -> bool:
        """Run the filter on one frame; False when its far-end blocks are not (or no longer)
        kept."""
        newest = near_position // self.frame_len + self._offset - self.window_delay
        newest_far = self._far_block - 1
        if newest > newest_far or newest_far - newest > self._mask - self.partitions:
            return False
        np.subtract(newest, self._partition_offsets, out=self._view_index)
        np.bitwise_and(self._view_index, self._mask, out=self._view_index)
        # mode="wrap": the indices are masked already, and the default mode ("raise") copies the
        # whole result through a temporary.
        np.take(self._far_spectra, self._view_index, axis=0, out=self._view, mode="wrap")
        far_energy = float(self._far_energy[newest & self._mask])
        self.filter.process(near, self._view, far_energy, out)
        return True

    def _record_echo(self, echo: RealArray | None, near_position: int) -> None:
        EchoDelayEstimator._store(
            self._echo_history, near_position, self._silent_frame if echo is None else echo
        )

    def _check_slip(self, end: int) -> None:
        """Compare the microphone with the echo estimate at lags up to _SLIP_MAX_MS, up to near
        position ``end``, and follow a confirmed slip of the echo path."""
        window, max_lag = self._slip_window, self._slip_max
        near_start = end - max_lag - window
        if near_start < self._slip_checked_from:
            return
        near_segment, echo_segment = self._slip_near, self._slip_echo
        if not self.delay_estimator.read_near(near_start, near_segment[:window]):
            return
        EchoDelayEstimator._read(
            self._echo_history, near_start - max_lag, echo_segment[: window + 2 * max_lag]
        )
        middle = echo_segment[max_lag : max_lag + window]
        echo_power = _long_dot(middle, middle)
        if echo_power < _SLIP_ECHO_ACTIVE_POWER * window:
            return
        near_power = _long_dot(near_segment[:window], near_segment[:window])
        _rfft_into(near_segment, self._slip_near_spectrum)
        _rfft_into(echo_segment, self._slip_echo_spectrum)
        np.conjugate(self._slip_near_spectrum, out=self._slip_near_spectrum)
        self._slip_echo_spectrum *= self._slip_near_spectrum
        _irfft_into(self._slip_echo_spectrum, self._slip_fft, self._slip_correlation)
        # correlation[m] = sum_i near[i] echo[i + m]: the microphone against the echo estimate
        # of ``max_lag - m`` samples earlier. Subtracting that estimate would leave
        # near_power + its energy - 2 correlation[m]; score[m] is what it takes away.
        span = 2 * max_lag + 1
        np.square(echo_segment[: window + 2 * max_lag], out=self._slip_squares)
        np.cumsum(self._slip_squares, out=self._slip_cumulative[1:])
        np.subtract(
            self._slip_cumulative[window : window + span],
            self._slip_cumulative[:span],
            out=self._slip_energy,
        )
        score = self._slip_score
        np.multiply(self._slip_correlation[:span], 2.0, out=score)
        score -= self._slip_energy
        best = int(np.argmax(score))
        lag = max_lag - best
        left = near_power - float(score[best])
        left_in_place = near_power - float(score[max_lag])
        if (
            abs(lag) < _SLIP_MIN_SAMPLES
            or left > _SLIP_MAX_RESIDUAL * near_power
            or left > _SLIP_MIN_IMPROVEMENT * left_in_place
        ):
            self._slip_candidate = None
            return
        candidate, self._slip_candidate = self._slip_candidate, lag
        if candidate is None or abs(candidate - lag) > _SLIP_AGREEMENT:
            return
        assert self.delay is not None
        assert self._pairing is not None
        self.delay += lag
        self._place_window(round(self._pairing) - self.delay + self._margin, moved_path=True)
        self.slips += 1
        self._slip_candidate = None
        # The delay estimator's half second still holds mostly the old path: it would take the
        # window back there. It looks again once its window is past the slip.
        self._candidate = None
        self._next_estimate = self._frames + self._estimator_frames
        # The echo estimate so far belongs to the old path.
        self._slip_checked_from = end

    def _catch_up(self, near_position: int) -> None:
        """Re-learn the frames before ``near_position`` with the window where it now is: the
        first syllables after silence teach the filter most (rig: learning from the assistant's
        first 0.2 s on, against from 0.4 s on, is 5 dB of ERLE two seconds later), and they went
        by while the delay was still unknown. Their output has been sent already; only the
        filter learns."""
        n = self.frame_len
        frames = min(self._catch_up_frames, self._frames - 1)
        frame, scratch = self._catch_up_near, self._catch_up_out
        for back in range(frames, 0, -1):
            position = near_position - back * n
            if self.delay_estimator.read_near(position, frame):
                self._filter_frame(frame, position, scratch)

    def _track_delay(self, near_position: int) -> None:
        """Run the delay estimator when it is due, and move the window to a confirmed delay."""
        if self.delay is not None and self._cancelling():
            self._next_estimate = self._frames + _DELAY_TRACK_FRAMES
            self._attempts_at_search = self.delay_estimator.attempts
            return
        if self._pairing is None:
            return
        estimator = self.delay_estimator
        estimate = estimator.estimate(round(self._pairing))
        searching = estimator.attempts - self._attempts_at_search <= _DELAY_SEARCH_ATTEMPTS
        self._next_estimate = self._frames + (
            _DELAY_SEARCH_FRAMES if searching else _DELAY_TRACK_FRAMES
        )
        if estimate is None:
            return
        candidate, self._candidate = self._candidate, estimate
        if candidate is None or abs(estimate - candidate) > _DELAY_AGREEMENT:
            self._agreeing = 1
            return
        self._agreeing += 1
        if self.delay is not None and abs(estimate - self.delay) <= _DELAY_AGREEMENT:
            return
        # Moving a delay the filter has worked with used to take three agreeing estimates: that
        # cost about 0.1 s of the recovery from a jump, and 1-2 dB in the measured window; the
        # search no longer runs during double talk, where its wrong delays came from.
        if self._agreeing < _DELAY_CONFIRMATIONS:
            return
        # In the filter's frame the far end is paired by whole blocks (offset), not by the exact
        # pairing: the direct path lies at this tap counted from the same-moment block.
        newest_start = round(self._pairing) - estimate + self._margin
        if self.delay is None:
            self.delay = estimate
            self._place_window(newest_start)
            self._catch_up(near_position)
            return
        # A delay that moves once the filter has started learning is, on the rig, the same
        # room behind a buffer that slipped (by 0.5-25 ms without an xrun, more with one), often
        # before the filter has converged, where the slip check cannot see it, or beyond the
        # slip check's reach. The window follows the direct path and the coefficients, counted
        # from it, are kept, then the last half second (mostly the new path, since the estimator
        # saw it there) is re-learnt. In simulated jumps of -16 to +60 ms at 0.4-1.1 s this gave
        # 25-28 dB from 2 s on, against 20-24 dB when resetting the filter or keeping its taps
        # where they were in time; a room that really changed is relearnt from there.
        self.delay = estimate
        self._place_window(newest_start, moved_path=True)
        self._catch_up(near_position)
        self._slip_candidate = None
        self._slip_checked_from = near_position

    def _no_echo_found(self) -> bool:
        """The search has looked at about 2 s of far end and microphone and found no echo."""
        return (
            self.delay is None
            and self.delay_estimator.attempts - self._attempts_at_search > _DELAY_SEARCH_ATTEMPTS
        )

    def _cancelling(self) -> bool:
        """Whether the filter is known to cancel the echo where its window is."""
        return self.filter.leak < _TRUST_FILTER_LEAK and self._output_mean < self._near_mean

    def _place_window(self, newest_start: int, *, moved_path: bool = False) -> None:
        """Put the newest partition's far block at ``newest_start`` (far minus near position):
        the far sample ``newest_start`` later than a near frame's first one pairs with the
        filter's first tap. Far blocks are re-cut at the phase this needs, from the history the
        delay estimator keeps.

        ``moved_path``: the whole echo path slipped (a buffer under- or overran) and kept its
        shape: the window follows the direct path and the coefficients, counted from it, stay
        valid, so the filter cancels again at once."""
        n = self.frame_len
        phase = newest_start % n
        if phase != self._phase:
            self._rephase(phase)
            if not moved_path:
                self.filter.reset()  # every tap moved by a fraction of a block
        blocks = self._offset - (newest_start - phase) // n
        if moved_path:
            self.window_delay = max(0, blocks)
        else:
            self._set_window_delay(blocks)

    def _rephase(self, phase: int) -> None:
        """Cut the far end into blocks starting at ``phase`` (mod N) from now on, and re-cut the
        kept history the same way (rare: when a delay is found)."""
        n = self.frame_len
        self._phase = phase
        end = self._far_position
        self._far_block = (end - phase) // n
        self._far_fill = (end - phase) % n
        estimator = self.delay_estimator
        oldest = max(self._far_block - self._mask, (estimator.far_kept_from + n - phase) // n + 1)
        blocks = max(0, self._far_block - oldest)
        if blocks:
            history = self._recut_history[: blocks * n + n]
            estimator.read_far((oldest - 1) * n + phase, history)
            # Rows are [block b - 1, block b], for b = oldest ... (views, not copies).
            windows = np.lib.stride_tricks.as_strided(
                history, shape=(blocks, 2 * n), strides=(n * history.itemsize, history.itemsize)
            )
            recut = self._recut_windows[:blocks]
            np.copyto(recut, windows)
            spectra = self._recut_spectra[:blocks]
            _rfft_into(recut, spectra, axis=1)
            energies = self._recut_energy[:blocks]
            np.einsum("bn,bn->b", recut[:, n:], recut[:, n:], out=energies)
            first_slot = oldest & self._mask
            head = min(blocks, len(self._far_spectra) - first_slot)
            self._far_spectra[first_slot : first_slot + head] = spectra[:head]
            self._far_spectra[: blocks - head] = spectra[head:]
            self._far_energy[first_slot : first_slot + head] = energies[:head]
            self._far_energy[: blocks - head] = energies[head:]
        self._far_window.fill(0.0)
        start = self._far_block * n + phase - n
        if start >= estimator.far_kept_from:
            partial = self._recut_history[: n + self._far_fill]
            estimator.read_far(start, partial)
            self._far_window[: len(partial)] = partial
