"""A PulseAudio "rig" of virtual devices: real streams and callbacks without a sound card.

Two null sinks (ENVIRONMENT.md): ``app_out`` is the app's speaker, whose monitor records what
the app plays; ``mic_in`` is what the app hears, through its monitor source. The rig starts a
daemon when none answers, loads the sinks only when they are missing (so several processes can
share one daemon), and routes the app's default output and input to them. Tests, the audio
benchmark and the app's ``--self-test`` all use this module.

``EchoRoom`` closes the loop through a simulated room: what the app plays comes back into its
microphone delayed and with a decaying tail, mixed with "user" speech, for echo-cancellation
tests and the ERLE figure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

SPEAKER_SINK: Final = "app_out"
MIC_SINK: Final = "mic_in"
# The null sinks run at 48 kHz, the common rate of real hardware, so the rig exercises the same
# 48 kHz <-> 24 kHz conversions as most users' machines.
RIG_SAMPLE_RATE: Final = 48_000
_PACTL_TIMEOUT_S: Final = 5.0
_DAEMON_START_TIMEOUT_S: Final = 10.0
# Injected speech does not need low latency, and a 10 ms pacat buffer runs dry whenever the
# machine is busy for a moment, which would put gaps into the "source" a test compares with.
_FEED_LATENCY_MS: Final = 200
# The simulated room's path (and the recorder) stay short so the echo delay stays realistic.
_ROOM_LATENCY_MS: Final = 20
_RECORD_LATENCY_MS: Final = 10
_FLOAT_BYTES: Final = 4


class VirtualDevicesUnavailableError(RuntimeError):
    """The PulseAudio rig cannot run here; the message says why."""


def _require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise VirtualDevicesUnavailableError(
            f"'{command}' is not installed (Debian: apt-get install pulseaudio pulseaudio-utils)"
        )
    return path


def _pactl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            [_require("pactl"), *args],
            capture_output=True,
            text=True,
            timeout=_PACTL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VirtualDevicesUnavailableError(f"pactl {' '.join(args)} hung") from exc
    if check and result.returncode != 0:
        raise VirtualDevicesUnavailableError(
            f"pactl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def pulse_answers() -> bool:
    """True when a PulseAudio server accepts connections from this process."""
    if shutil.which("pactl") is None:
        return False
    return _pactl("info", check=False).returncode == 0


def _start_daemon() -> None:
    pulseaudio = _require("pulseaudio")
    command = [
        pulseaudio,
        "--daemonize=yes",
        "--exit-idle-time=-1",
        "--system=false",
        "-n",
        "--load=module-native-protocol-unix",
        "--log-target=stderr",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    deadline = time.monotonic() + _DAEMON_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if pulse_answers():
            return
        time.sleep(0.05)
    raise VirtualDevicesUnavailableError(
        "PulseAudio did not start: " + (result.stderr.strip() or f"exit code {result.returncode}")
    )


def _loaded_sinks() -> set[str]:
    lines = _pactl("list", "short", "sinks").stdout.splitlines()
    return {line.split("\t")[1] for line in lines if "\t" in line}


@dataclasses.dataclass
class PulseRig:
    """The two null sinks and the routing of the app's default devices to them."""

    speaker_sink: str = SPEAKER_SINK
    mic_sink: str = MIC_SINK
    sample_rate: int = RIG_SAMPLE_RATE

    @property
    def speaker_monitor(self) -> str:
        """The source that carries what the app plays."""
        return f"{self.speaker_sink}.monitor"

    @property
    def mic_source(self) -> str:
        """The source the app records from."""
        return f"{self.mic_sink}.monitor"

    #: Server-wide default sink/source too (the app's own rig); a private rig routes only
    #: this process, through PULSE_SINK/PULSE_SOURCE.
    set_server_defaults: bool = True
    _loaded_modules: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def private(cls, tag: str | None = None) -> PulseRig:
        """A rig whose sinks belong to this process only (``app_out_<pid>``…), so tests or
        benchmarks running at the same time on one daemon never hear each other."""
        suffix = tag or str(os.getpid())
        return cls(
            speaker_sink=f"{SPEAKER_SINK}_{suffix}",
            mic_sink=f"{MIC_SINK}_{suffix}",
            set_server_defaults=False,
        )

    def start(self) -> PulseRig:
        """Start the daemon if needed, load the sinks if missing, and route the app to them.

        Raises:
            VirtualDevicesUnavailableError: with the reason the rig cannot work here.
        """
        if not pulse_answers():
            _start_daemon()
        loaded = _loaded_sinks()
        for sink in (self.speaker_sink, self.mic_sink):
            if sink not in loaded:
                module = _pactl(
                    "load-module",
                    "module-null-sink",
                    f"sink_name={sink}",
                    f"rate={self.sample_rate}",
                    "channels=2",
                    f"sink_properties=device.description={sink}",
                ).stdout.strip()
                self._loaded_modules.append(module)
        self.route_app_defaults()
        return self

    def stop(self) -> None:
        """Unload the sinks this rig loaded (a shared rig's sinks stay for the others)."""
        for module in self._loaded_modules:
            _pactl("unload-module", module, check=False)
        self._loaded_modules.clear()

    def route_app_defaults(self) -> None:
        """Route streams the app opens from now on to the speaker sink and the mic monitor.

        PortAudio only lists the ``pulse`` and ``default`` ALSA devices here, so the routing is
        done in PulseAudio: PULSE_SINK/PULSE_SOURCE for this process (libpulse reads them per
        connection) and, for the shared rig, the server defaults for every client.
        """
        if self.set_server_defaults:
            _pactl("set-default-sink", self.speaker_sink)
            _pactl("set-default-source", self.mic_source)
        os.environ["PULSE_SINK"] = self.speaker_sink
        os.environ["PULSE_SOURCE"] = self.mic_source

    def play_into_mic(self, samples: FloatArray, sample_rate: int) -> MicFeed:
        """Start playing ``samples`` into the app's microphone; returns the running feed."""
        feed = MicFeed(self.mic_sink, sample_rate)
        feed.write(samples)
        feed.close_input()
        return feed

    def open_mic_feed(self, sample_rate: int | None = None) -> MicFeed:
        """A stream into the app's microphone to write samples to as they are produced."""
        return MicFeed(self.mic_sink, sample_rate or self.sample_rate)

    def record_speaker(self, sample_rate: int | None = None) -> SpeakerRecorder:
        """Start recording what the app plays (mono float32)."""
        return SpeakerRecorder(self.speaker_monitor, sample_rate or self.sample_rate)


def _raw_args(rate: int, latency_ms: int) -> list[str]:
    return [
        "--raw",
        "--format=float32le",
        f"--rate={rate}",
        "--channels=1",
        f"--latency-msec={latency_ms}",
    ]


class MicFeed:
    """A ``pacat`` playback stream into the microphone sink."""

    def __init__(self, sink: str, sample_rate: int, latency_ms: int = _FEED_LATENCY_MS) -> None:
        self.sample_rate = sample_rate
        self._stopping = threading.Event()
        self._looper: threading.Thread | None = None
        self._process = subprocess.Popen(
            [_require("pacat"), "--playback", "-d", sink, *_raw_args(sample_rate, latency_ms)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    @property
    def _stdin(self) -> IO[bytes]:
        assert self._process.stdin is not None
        return self._process.stdin

    def write(self, samples: FloatArray) -> None:
        """Queue ``samples`` (blocks while pacat's pipe is full, i.e. paces in real time)."""
        self._stdin.write(np.ascontiguousarray(samples, dtype="<f4").tobytes())
        self._stdin.flush()

    def loop(self, samples: FloatArray) -> None:
        """Play ``samples`` over and over from a writer thread until ``stop()``; the pipe
        paces the writes, so the caller's thread never blocks on it."""
        data = np.ascontiguousarray(samples, dtype="<f4").tobytes()

        def write_forever() -> None:
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                while not self._stopping.is_set():
                    self._stdin.write(data)
                    self._stdin.flush()

        self._looper = threading.Thread(target=write_forever, name="mic-feed-loop", daemon=True)
        self._looper.start()

    def close_input(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._stdin.close()

    def wait(self, timeout: float) -> None:
        """Wait until everything written has been played."""
        self.close_input()
        self._process.wait(timeout=timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=5)
        if self._looper is not None:
            self._looper.join(timeout=5)
        self.close_input()


class SpeakerRecorder:
    """A ``parec`` recording of the speaker sink's monitor, collected on a reader thread."""

    def __init__(self, source: str, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [_require("parec"), "-d", source, *_raw_args(sample_rate, _RECORD_LATENCY_MS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read, name="speaker-recorder", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        while chunk := os.read(stdout.fileno(), 65536):
            with self._lock:
                self._chunks.append(chunk)

    def samples(self) -> FloatArray:
        """Everything recorded so far."""
        with self._lock:
            data = b"".join(self._chunks)
        usable = len(data) // _FLOAT_BYTES * _FLOAT_BYTES
        return np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)

    def duration_s(self) -> float:
        with self._lock:
            n_bytes = sum(len(c) for c in self._chunks)
        return n_bytes / _FLOAT_BYTES / self.sample_rate

    def stop(self) -> FloatArray:
        """Stop recording and return everything recorded."""
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=5)
        self._reader.join(timeout=5)
        return self.samples()


@contextlib.contextmanager
def recording(rig: PulseRig, sample_rate: int | None = None) -> Iterator[SpeakerRecorder]:
    recorder = rig.record_speaker(sample_rate)
    try:
        yield recorder
    finally:
        recorder.stop()


def room_impulse_response(
    sample_rate: int,
    *,
    delay_ms: float = 30.0,
    direct_gain: float = 0.5,
    tail_ms: float = 120.0,
    rt60_ms: float = 150.0,
    seed: int = 5,
) -> FloatArray:
    """A synthetic room: one delayed direct path and an exponentially decaying noise tail."""
    delay = round(delay_ms * sample_rate / 1000)
    tail = round(tail_ms * sample_rate / 1000)
    response = np.zeros(delay + tail, dtype=np.float64)
    response[delay] = direct_gain
    t = np.arange(1, tail) / sample_rate
    # -60 dB after rt60: amplitude decays as 10 ** (-3 t / rt60).
    decay = 10.0 ** (-3.0 * t / (rt60_ms / 1000.0))
    rng = np.random.default_rng(seed)
    response[delay + 1 :] = 0.15 * direct_gain * decay * rng.standard_normal(tail - 1)
    return response.astype(np.float32)


class EchoRoom:
    """Feeds what the app plays back into its microphone through a simulated room.

    A ``parec`` of the speaker monitor is convolved with ``room_impulse_response`` block by block
    (FFT, keeping the input history) and written to the microphone with ``pacat``. ``say()``
    mixes near-end ("user") speech into the same microphone stream. The room keeps what it wrote,
    split into its echo and near-end parts, so a test can measure each in the app's uplink.
    """

    BLOCK: Final = 480  # 10 ms at 48 kHz

    def __init__(self, rig: PulseRig, impulse_response: FloatArray | None = None) -> None:
        self.sample_rate = rig.sample_rate
        self.impulse_response = (
            impulse_response
            if impulse_response is not None
            else room_impulse_response(self.sample_rate)
        )
        taps = len(self.impulse_response)
        self._fft_size = 1 << int(np.ceil(np.log2(taps + self.BLOCK)))
        self._ir_spectrum = np.fft.rfft(self.impulse_response, self._fft_size)
        self._history = np.zeros(self._fft_size, dtype=np.float32)
        self._near_end: queue.SimpleQueue[FloatArray] = queue.SimpleQueue()
        self._near_pending = np.zeros(0, dtype=np.float32)
        self.echo_written: list[FloatArray] = []
        self.near_written: list[FloatArray] = []
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._source = subprocess.Popen(
            [
                _require("parec"),
                "-d",
                rig.speaker_monitor,
                *_raw_args(self.sample_rate, _ROOM_LATENCY_MS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._sink = MicFeed(rig.mic_sink, self.sample_rate, _ROOM_LATENCY_MS)
        self._thread = threading.Thread(target=self._run, name="echo-room", daemon=True)
        self._thread.start()

    def say(self, samples: FloatArray) -> None:
        """Mix near-end speech (at the room's rate) into the microphone from the next block."""
        self._near_end.put(np.asarray(samples, dtype=np.float32))

    @property
    def samples_written(self) -> int:
        return sum(len(block) for block in self.echo_written)

    def _next_near_end(self, n: int) -> FloatArray:
        while len(self._near_pending) < n:
            try:
                extra = self._near_end.get_nowait()
            except queue.Empty:
                break
            self._near_pending = np.concatenate((self._near_pending, extra))
        block = np.zeros(n, dtype=np.float32)
        take = min(n, len(self._near_pending))
        block[:take] = self._near_pending[:take]
        self._near_pending = self._near_pending[take:]
        return block

    def _run(self) -> None:
        stdout = self._source.stdout
        assert stdout is not None
        n_bytes = self.BLOCK * _FLOAT_BYTES
        try:
            while not self._stop.is_set():
                data = stdout.read(n_bytes)
                if len(data) < n_bytes:
                    return
                block = np.frombuffer(data, dtype="<f4")
                self._history[: -self.BLOCK] = self._history[self.BLOCK :]
                self._history[-self.BLOCK :] = block
                full = np.fft.irfft(np.fft.rfft(self._history) * self._ir_spectrum, self._fft_size)
                # Circular convolution is exact for the newest BLOCK outputs because the
                # history is at least taps + BLOCK long.
                echo = full[-self.BLOCK :].astype(np.float32)
                near = self._next_near_end(self.BLOCK)
                self.echo_written.append(echo)
                self.near_written.append(near)
                self._sink.write(echo + near)
        except (BrokenPipeError, OSError, ValueError) as exc:
            if not self._stop.is_set():
                self._error = exc

    def stop(self) -> None:
        self._stop.set()
        if self._source.poll() is None:
            self._source.terminate()
            self._source.wait(timeout=5)
        self._thread.join(timeout=5)
        self._sink.stop()
        if self._error is not None:
            raise VirtualDevicesUnavailableError(f"the echo room failed: {self._error}")
