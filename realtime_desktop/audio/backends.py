"""Where the audio callbacks come from: PortAudio through sounddevice, or a fake clock.

A backend opens one input and one output stream at the device's native rate and channel
count and calls the engine's two callbacks, with sounddevice's signatures. The fake backend
drives the very same callbacks from a clock, either stepped by a test or in real time, so
unit tests and machines without a sound server exercise the real code.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.constants import GIL_SWITCH_INTERVAL_S, MAX_DEVICE_CHANNELS

FloatArray = npt.NDArray[np.float32]


class CallbackTime(Protocol):
    """PortAudio's ``PaStreamCallbackTimeInfo`` (stream clock, seconds)."""

    @property
    def currentTime(self) -> float: ...
    @property
    def inputBufferAdcTime(self) -> float: ...
    @property
    def outputBufferDacTime(self) -> float: ...


class CallbackStatus(Protocol):
    @property
    def input_overflow(self) -> bool: ...
    @property
    def output_underflow(self) -> bool: ...


InputCallback = Callable[[FloatArray, int, Any, Any], None]
OutputCallback = Callable[[FloatArray, int, Any, Any], None]
DeviceSelector = str | int | None


class DeviceError(RuntimeError):
    """A device cannot be found or opened; the message names it and says why."""


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """One entry of ``list_devices()``."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    is_default_input: bool
    is_default_output: bool


@dataclasses.dataclass(frozen=True)
class OpenedStreams:
    """What the backend actually opened."""

    input_device: str
    output_device: str
    input_sample_rate: int
    output_sample_rate: int
    input_channels: int
    output_channels: int
    block_frames_in: int
    block_frames_out: int


class AudioBackend(Protocol):
    """The engine's view of a sound system."""

    #: True when the backend steps time itself and runs the DSP step after each block.
    manual_clock: bool

    def monotonic(self) -> float:
        """The clock callbacks and the engine share (``time.monotonic`` for real devices)."""
        ...

    def list_devices(self) -> list[DeviceInfo]: ...

    def open(
        self,
        input_device: DeviceSelector,
        output_device: DeviceSelector,
        block_ms: int,
        input_callback: InputCallback,
        output_callback: OutputCallback,
    ) -> OpenedStreams: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    def failure(self) -> str | None:
        """Why the open streams stopped working, or None while they are fine."""
        ...

    def attach_dsp(self, step: Callable[[], None] | None) -> None:
        """For manual clocks: the DSP step to run after every block."""
        ...


# ---------------------------------------------------------------------------------------------
class SoundDeviceBackend:
    """Real devices through sounddevice (PortAudio).

    PortAudio enumerates devices once, when it is initialised; the backend re-initialises it
    before opening streams (when this process has none open), so a sound server started or a
    device plugged in after import is found.
    """

    manual_clock = False
    _open_backends = 0  # backends of this process with streams open: PortAudio must stay up
    _switch_interval_before: float | None = None  # the process's own, restored on last close

    def __init__(self, latency: str | float = "low") -> None:
        import sounddevice

        self._sd = sounddevice
        self.latency = latency
        self._input: Any = None
        self._output: Any = None
        self._failure: str | None = None
        self._counted = False  # this backend's streams are in ``_open_backends``

    def monotonic(self) -> float:
        return time.monotonic()

    def attach_dsp(self, step: Callable[[], None] | None) -> None:
        return None

    def _rescan(self) -> None:
        if SoundDeviceBackend._open_backends == 0:
            self._sd._terminate()
            self._sd._initialize()

    def list_devices(self) -> list[DeviceInfo]:
        """Every device PortAudio knows, with the defaults marked."""
        if self._input is None and self._output is None:
            self._rescan()
        apis = self._sd.query_hostapis()
        default_in, default_out = self._sd.default.device
        devices = []
        for info in self._sd.query_devices():
            devices.append(
                DeviceInfo(
                    index=int(info["index"]),
                    name=str(info["name"]),
                    host_api=str(apis[info["hostapi"]]["name"]),
                    max_input_channels=int(info["max_input_channels"]),
                    max_output_channels=int(info["max_output_channels"]),
                    default_sample_rate=float(info["default_samplerate"]),
                    is_default_input=info["index"] == default_in,
                    is_default_output=info["index"] == default_out,
                )
            )
        return devices

    def _resolve(self, selector: DeviceSelector, kind: str) -> dict[str, Any]:
        try:
            info: dict[str, Any] = self._sd.query_devices(selector, kind=kind)
        except (ValueError, self._sd.PortAudioError) as exc:
            raise DeviceError(f"no {kind} device {selector!r}: {exc}") from exc
        return info

    def open(
        self,
        input_device: DeviceSelector,
        output_device: DeviceSelector,
        block_ms: int,
        input_callback: InputCallback,
        output_callback: OutputCallback,
    ) -> OpenedStreams:
        self.close()
        self._rescan()
        self._failure = None
        in_info = self._resolve(input_device, "input")
        out_info = self._resolve(output_device, "output")
        # Native rate and channel count (issue 5): never ask a device for 24 kHz.
        in_rate = round(in_info["default_samplerate"])
        out_rate = round(out_info["default_samplerate"])
        in_channels = max(1, min(int(in_info["max_input_channels"]), MAX_DEVICE_CHANNELS))
        out_channels = max(1, min(int(out_info["max_output_channels"]), MAX_DEVICE_CHANNELS))
        in_block = in_rate * block_ms // 1000
        out_block = out_rate * block_ms // 1000
        try:
            self._input = self._sd.InputStream(
                device=in_info["index"],
                samplerate=in_rate,
                channels=in_channels,
                dtype="float32",
                blocksize=in_block,
                latency=self.latency,
                callback=input_callback,
                finished_callback=lambda: self._finished("input"),
            )
            self._output = self._sd.OutputStream(
                device=out_info["index"],
                samplerate=out_rate,
                channels=out_channels,
                dtype="float32",
                blocksize=out_block,
                latency=self.latency,
                callback=output_callback,
                finished_callback=lambda: self._finished("output"),
            )
        except self._sd.PortAudioError as exc:
            self.close()
            raise DeviceError(f"cannot open the audio devices: {exc}") from exc
        SoundDeviceBackend._open_backends += 1
        self._counted = True
        _shorten_gil_switch_interval()
        return OpenedStreams(
            input_device=str(in_info["name"]),
            output_device=str(out_info["name"]),
            input_sample_rate=in_rate,
            output_sample_rate=out_rate,
            input_channels=in_channels,
            output_channels=out_channels,
            block_frames_in=in_block,
            block_frames_out=out_block,
        )

    def _finished(self, which: str) -> None:
        # Runs on PortAudio's thread when a stream ends; a stream we did not stop was lost.
        if self._failure is None and (self._input is not None or self._output is not None):
            self._failure = f"the {which} stream stopped"

    def start(self) -> None:
        try:
            self._input.start()
            self._output.start()
        except self._sd.PortAudioError as exc:
            raise DeviceError(f"cannot start the audio devices: {exc}") from exc

    def failure(self) -> str | None:
        return self._failure

    def close(self) -> None:
        streams = [s for s in (self._input, self._output) if s is not None]
        self._input = self._output = None
        for stream in streams:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except self._sd.PortAudioError:
                pass  # the device is already gone; nothing left to release
        if self._counted:
            self._counted = False
            SoundDeviceBackend._open_backends -= 1
            if SoundDeviceBackend._open_backends == 0:
                _restore_gil_switch_interval()

    @property
    def input_stream(self) -> Any:
        return self._input

    @property
    def output_stream(self) -> Any:
        return self._output


def _shorten_gil_switch_interval() -> None:
    # Python callbacks on PortAudio's threads need the GIL on time (constants.py says why).
    if SoundDeviceBackend._switch_interval_before is None:
        SoundDeviceBackend._switch_interval_before = sys.getswitchinterval()
        sys.setswitchinterval(min(GIL_SWITCH_INTERVAL_S, sys.getswitchinterval()))


def _restore_gil_switch_interval() -> None:
    before = SoundDeviceBackend._switch_interval_before
    if before is not None:
        SoundDeviceBackend._switch_interval_before = None
        sys.setswitchinterval(before)


# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FakeCallbackTime:
    currentTime: float = 0.0  # noqa: N815 - PortAudio's names
    inputBufferAdcTime: float = 0.0  # noqa: N815
    outputBufferDacTime: float = 0.0  # noqa: N815


@dataclasses.dataclass
class FakeCallbackStatus:
    input_overflow: bool = False
    output_underflow: bool = False


class FakeBackend:
    """A sound system made of a clock: microphone samples in, rendered samples out.

    Args:
        sample_rate: the fake devices' native rate.
        input_channels / output_channels: the fake devices' channel counts.
        input_latency_s / output_latency_s: reported through the callbacks' time info.
        realtime: drive the callbacks from a thread at the real block rate; otherwise the test
            calls ``step()`` and the engine's DSP step runs after every block, so the whole
            pipeline is deterministic.
        keep_rendered: keep a copy of everything rendered for ``rendered()`` (tests compare it);
            off for long runs such as the memory soak, where it would grow without end.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 48_000,
        input_channels: int = 1,
        output_channels: int = 2,
        input_latency_s: float = 0.010,
        output_latency_s: float = 0.020,
        realtime: bool = False,
        keep_rendered: bool = True,
    ) -> None:
        self.sample_rate = sample_rate
        self.input_channels = input_channels
        self.output_channels = output_channels
        self.input_latency_s = input_latency_s
        self.output_latency_s = output_latency_s
        self.manual_clock = not realtime
        self._time = 1000.0  # the fake clock: stream time and "monotonic" time are the same
        self._mic = np.zeros(0, dtype=np.float32)
        self._mic_lock = threading.Lock()
        self._rendered: list[FloatArray] = []
        self.keep_rendered = keep_rendered
        self._in_cb: InputCallback | None = None
        self._out_cb: OutputCallback | None = None
        self._dsp: Callable[[], None] | None = None
        self._block = 0
        self._failure: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.blocks_run = 0
        self.opened = 0

    def monotonic(self) -> float:
        return self._time if self.manual_clock else time.monotonic()

    def attach_dsp(self, step: Callable[[], None] | None) -> None:
        self._dsp = step

    def list_devices(self) -> list[DeviceInfo]:
        return [
            DeviceInfo(0, "fake microphone", "fake", self.input_channels, 0,
                       self.sample_rate, True, False),
            DeviceInfo(1, "fake speaker", "fake", 0, self.output_channels,
                       self.sample_rate, False, True),
        ]  # fmt: skip

    def open(
        self,
        input_device: DeviceSelector,
        output_device: DeviceSelector,
        block_ms: int,
        input_callback: InputCallback,
        output_callback: OutputCallback,
    ) -> OpenedStreams:
        for selector, kind in ((input_device, "microphone"), (output_device, "speaker")):
            if selector not in (None, 0, 1) and not (
                isinstance(selector, str) and "fake" in selector
            ):
                raise DeviceError(f"no {kind} device {selector!r}")
        self.close()
        self._failure = None
        self._in_cb, self._out_cb = input_callback, output_callback
        self._block = self.sample_rate * block_ms // 1000
        self._indata = np.zeros((self._block, self.input_channels), dtype=np.float32)
        self._outdata = np.zeros((self._block, self.output_channels), dtype=np.float32)
        self._time_info = FakeCallbackTime()
        self._status = FakeCallbackStatus()
        self.opened += 1
        return OpenedStreams(
            "fake microphone", "fake speaker", self.sample_rate, self.sample_rate,
            self.input_channels, self.output_channels, self._block, self._block,
        )  # fmt: skip

    def start(self) -> None:
        if not self.manual_clock:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="fake-audio", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        period = self._block / self.sample_rate
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += period
            self.step()
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def feed_microphone(self, samples: FloatArray) -> None:
        """Queue mono samples (at ``sample_rate``) for the microphone; silence follows them."""
        with self._mic_lock:
            self._mic = np.concatenate((self._mic, np.asarray(samples, dtype=np.float32)))

    def rendered(self) -> FloatArray:
        """Channel 0 of every output block so far."""
        if not self._rendered:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._rendered)

    @property
    def last_rendered(self) -> FloatArray:
        """Channel 0 of the latest output block: a view the next step overwrites (a test's
        simulated room plays it back into the microphone)."""
        return self._outdata[:, 0]

    def rendered_all_channels_equal(self) -> bool:
        return bool(np.all(self._outdata == self._outdata[:, :1]))

    def step(self, blocks: int = 1) -> None:
        """Run ``blocks`` input and output callbacks (and the DSP step, with a manual clock)."""
        for _ in range(blocks):
            if self._in_cb is None or self._out_cb is None:
                return
            if self._failure is not None:
                # A lost device produces no callbacks, but time goes on for the engine.
                if self.manual_clock:
                    self._time += self._block / self.sample_rate
                    if self._dsp is not None:
                        self._dsp()
                continue
            with self._mic_lock:
                take = min(self._block, len(self._mic))
                mono = self._mic[:take]
                self._mic = self._mic[take:]
            self._indata[:take] = mono[:, None]
            self._indata[take:] = 0.0
            now = self.monotonic()
            self._time_info.currentTime = now
            self._time_info.inputBufferAdcTime = now - self.input_latency_s
            self._time_info.outputBufferDacTime = now + self.output_latency_s
            self._in_cb(self._indata, self._block, self._time_info, self._status)
            self._out_cb(self._outdata, self._block, self._time_info, self._status)
            if self.keep_rendered:
                self._rendered.append(self._outdata[:, 0].copy())
            self.blocks_run += 1
            if self.manual_clock:
                self._time += self._block / self.sample_rate
                if self._dsp is not None:
                    self._dsp()

    def simulate_loss(self, reason: str = "device unplugged") -> None:
        """Make the streams fail as a removed device would."""
        self._failure = reason

    def failure(self) -> str | None:
        return self._failure

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
