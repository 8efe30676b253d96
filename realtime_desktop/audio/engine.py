"""The audio engine: devices, the DSP thread, and the API the rest of the app codes against.

Threads (DESIGN.md):
- PortAudio's input and output threads run ``CaptureSink.capture`` and
  ``PlaybackRenderer.render``: they only copy and count.
- The DSP thread (``pump`` in a loop) owns resampling, echo cancellation, noise suppression,
  local VAD, levels, the waveform, recording and the wire codecs. It calls the uplink sink, the
  VAD listener and the device listener; those callers hand over to their own loop themselves
  (the audio package never touches asyncio).
- The main thread calls the public methods: queue playback, flush, read the tracker, meters
  and stats. None of them blocks on the audio threads.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from realtime_desktop.audio.backends import (
    AudioBackend,
    CallbackStatus,
    CallbackTime,
    DeviceError,
    DeviceInfo,
    DeviceSelector,
    OpenedStreams,
)
from realtime_desktop.audio.capture import CaptureSink
from realtime_desktop.audio.codecs import CodecError, WireFormat
from realtime_desktop.audio.constants import (
    DEFAULT_BLOCK_MS,
    DOWNLINK_MS_PER_STEP,
    DSP_MIN_WAIT_MS,
    DSP_WAKE_AFTER_BLOCK_MS,
    ECHO_FILTER_MS,
    ECHO_MAX_DELAY_MS,
    ECHO_SUPPRESSION_DB,
    HALF_DUPLEX_HANGOVER_MS,
    MAX_BLOCK_MS,
    MIN_BLOCK_MS,
    PLAYBACK_ITEM_SLOTS,
    PROCESSING_FRAME_MS,
    PROCESSING_SAMPLE_RATE,
    REOPEN_INTERVAL_S,
    STREAM_STALL_TIMEOUT_S,
    STREAM_START_TIMEOUT_S,
    UPLINK_CHUNK_MS,
    VAD_DEFAULT_THRESHOLD,
    VAD_HANGOVER_MS,
    VAD_MIN_SPEECH_MS,
    WAVEFORM_HISTORY_SECONDS,
)
from realtime_desktop.audio.echo import EchoCanceller
from realtime_desktop.audio.noise import NoiseSuppressor
from realtime_desktop.audio.playback import END_OF_ITEM, PlaybackRenderer, PlaybackTracker
from realtime_desktop.audio.recording import RecordingFiles, WavRecorder
from realtime_desktop.audio.resample import StreamResampler
from realtime_desktop.audio.ring import HistoryRing, LatestValue
from realtime_desktop.audio.vad import SpeechDetector, SpeechSegmenter, VadEventKind, dbfs

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]

_PROCESSING_FRAME: Final = PROCESSING_SAMPLE_RATE * PROCESSING_FRAME_MS // 1000
_UPLINK_CHUNK: Final = PROCESSING_SAMPLE_RATE * UPLINK_CHUNK_MS // 1000
_EMPTY: Final = np.zeros(0, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class AudioEngineConfig:
    """Everything the engine needs to know; replace it with ``AudioEngine.apply_config``.

    Attributes:
        input_device / output_device: a device name (substring), a PortAudio index, or None for
            the system default.
        block_ms: device callback period.
        echo_cancellation: cancel what is played from the microphone (on by default; echo.py).
        noise_suppression: WebRTC noise suppression of the microphone (noise.py).
        headset_mode: the user wears headphones: no echo to cancel, AEC off.
        half_duplex: gate the microphone while the assistant is audible (fallback for rooms
            where echo cancellation is not enough).
        local_vad_threshold: 0..1 sensitivity of the local VAD (higher is stricter).
        local_vad_min_speech_ms: speech needed before a local onset is reported.
        input_format / output_format: the session's wire formats.
    """

    input_device: DeviceSelector = None
    output_device: DeviceSelector = None
    block_ms: int = DEFAULT_BLOCK_MS
    echo_cancellation: bool = True
    noise_suppression: bool = True
    headset_mode: bool = False
    half_duplex: bool = False
    local_vad_threshold: float = VAD_DEFAULT_THRESHOLD
    local_vad_min_speech_ms: float = VAD_MIN_SPEECH_MS
    input_format: WireFormat = WireFormat.PCM16
    output_format: WireFormat = WireFormat.PCM16

    def __post_init__(self) -> None:
        if not MIN_BLOCK_MS <= self.block_ms <= MAX_BLOCK_MS:
            raise ValueError(f"block_ms must be {MIN_BLOCK_MS}..{MAX_BLOCK_MS}")

    @property
    def echo_cancellation_active(self) -> bool:
        return self.echo_cancellation and not self.headset_mode


@dataclasses.dataclass(frozen=True)
class UplinkChunk:
    """One encoded microphone chunk, handed to the uplink sink on the DSP thread.

    Attributes:
        audio: wire bytes in ``format``.
        sequence: 0, 1, 2… since the engine started.
        capture_time: ``time.monotonic()`` at which the first sample hit the ADC.
        arrival_time: ``time.monotonic()`` at which the last sample reached the input callback.
        ready_time: ``time.monotonic()`` at which the chunk was encoded.
    """

    audio: bytes
    format: WireFormat
    sequence: int
    capture_time: float
    arrival_time: float
    ready_time: float

    @property
    def duration_ms(self) -> float:
        return self.format.duration_ms(len(self.audio))


@dataclasses.dataclass(frozen=True)
class Level:
    """RMS and peak of the audio since the consumer last looked, in dBFS."""

    rms_dbfs: float
    peak_dbfs: float


@dataclasses.dataclass(frozen=True)
class LocalVadEvent:
    """The local VAD heard speech start or stop.

    ``position`` counts samples at the processing rate (24 kHz) since the engine started;
    ``capture_time`` is when that sample hit the ADC (``time.monotonic()``).
    """

    kind: VadEventKind
    position: int
    capture_time: float


class DeviceEventKind(enum.Enum):
    LOST = "lost"
    REOPENED = "reopened"


@dataclasses.dataclass(frozen=True)
class DeviceEvent:
    kind: DeviceEventKind
    reason: str
    streams: OpenedStreams | None


@dataclasses.dataclass(frozen=True)
class FlushReport:
    """What a flush did, for ``conversation.item.truncate`` (DESIGN.md, barge-in).

    Attributes:
        generation: the flush's generation number.
        item_id: the item that was being rendered when the fade ran (the last one heard), or
            None when nothing was playing.
        played_ms: how much of ``item_id`` the listener hears in total, fade included; every
            frame rendered before the flush is already in the device and will be heard.
        silent_at: ``time.monotonic()`` at which the device goes silent.
        discarded_item_ids: items queued behind it that were never rendered.
    """

    generation: int
    item_id: str | None
    played_ms: float
    silent_at: float
    discarded_item_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class AudioStats:
    """Audio health for the diagnostics panel."""

    running: bool
    input_device: str
    output_device: str
    input_sample_rate: int
    output_sample_rate: int
    device_underruns: int
    device_overruns: int
    playback_underruns: int
    capture_overruns: int
    playback_queue_ms: float
    prebuffer_ms: float
    input_latency_ms: float
    output_latency_ms: float
    echo_cancellation_active: bool
    noise_suppression_active: bool
    half_duplex: bool
    uplink_chunks: int
    reopen_count: int
    input_blocks: int
    output_blocks: int
    # The echo's delay beyond the callbacks' pairing of far and near samples in time (the room
    # and any buffer the devices do not report), once the echo canceller has found it.
    echo_delay_ms: float | None = None

    @property
    def xruns(self) -> int:
        return (
            self.device_underruns
            + self.device_overruns
            + self.playback_underruns
            + self.capture_overruns
        )


@dataclasses.dataclass
class _Item:
    slot: int
    generation: int
    received_bytes: int = 0
    bytes_per_ms: int = WireFormat.PCM16.bytes_per_ms
    finished: bool = False

    @property
    def received_ms(self) -> float:
        return self.received_bytes / self.bytes_per_ms


class _LevelMeter:
    """Accumulates RMS and peak until the consumer takes a value (lossy, never queues)."""

    def __init__(self) -> None:
        self._sum_sq = 0.0
        self._count = 0
        self._peak = 0.0
        self._taken = False
        self.slot: LatestValue[Level] = LatestValue()

    def add(self, samples: FloatArray) -> None:
        if self._taken:
            self._sum_sq, self._count, self._peak, self._taken = 0.0, 0, 0.0, False
        if samples.size:
            self._sum_sq += float(np.dot(samples, samples))
            self._count += samples.size
            self._peak = max(self._peak, float(np.max(np.abs(samples))))
        rms = (self._sum_sq / self._count) ** 0.5 if self._count else 0.0
        self.slot.publish(Level(dbfs(rms), dbfs(self._peak)))

    def take(self) -> Level:
        level = self.slot.latest()
        self._taken = True
        return level if level is not None else Level(dbfs(0.0), dbfs(0.0))


class _DownlinkEntry:
    __slots__ = ("audio", "end", "format", "generation", "slot")

    def __init__(
        self, generation: int, slot: int, audio: bytes, fmt: WireFormat, end: bool = False
    ) -> None:
        self.generation = generation
        self.slot = slot
        self.audio = audio
        self.format = fmt
        self.end = end


class AudioEngine:
    """Capture, playback, echo cancellation and barge-in over one backend.

    Args:
        config: devices, processing switches and wire formats.
        backend: ``SoundDeviceBackend()`` for real devices or ``FakeBackend(...)``.
    """

    def __init__(self, config: AudioEngineConfig, backend: AudioBackend) -> None:
        self._config = config
        self._config_version = 0
        self._backend = backend
        self._clock = backend.monotonic
        self._lock = threading.Lock()  # start/stop/apply_config only; never on audio paths
        self._running = False
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._capture: CaptureSink | None = None
        self._renderer: PlaybackRenderer | None = None
        self._streams: OpenedStreams | None = None
        self._tracker: PlaybackTracker | None = None
        # Main-thread playback bookkeeping.
        self._items: dict[str, _Item] = {}
        self._slot_items: list[str | None] = []
        self._next_slot = 0
        self._flush_generation = 0
        self._recent_items: collections.deque[str] = collections.deque(maxlen=16)
        self._downlink: queue.SimpleQueue[_DownlinkEntry] = queue.SimpleQueue()
        # Listeners, called on the DSP thread.
        self._uplink_sink: Callable[[UplinkChunk], None] | None = None
        self._vad_listener: Callable[[LocalVadEvent], None] | None = None
        self._device_listener: Callable[[DeviceEvent], None] | None = None
        self._capture_enabled = True
        # Meters and history (lossy, read by the GUI).
        self._input_meter = _LevelMeter()
        self._output_meter = _LevelMeter()
        self.input_history = HistoryRing(int(WAVEFORM_HISTORY_SECONDS * PROCESSING_SAMPLE_RATE))
        self.output_history = HistoryRing(int(WAVEFORM_HISTORY_SECONDS * PROCESSING_SAMPLE_RATE))
        self._recorder: WavRecorder | None = None
        self._counters_before_reopen = collections.Counter[str]()
        self._reopen_count = 0
        self._uplink_sequence = 0
        self._dsp_cpu_s = 0.0
        # Held for each DSP step and while streams are swapped, so a re-open never runs in
        # the middle of a step. The DSP thread only ever *tries* to take ``_lock``, so stop()
        # can hold ``_lock`` while it joins the thread.
        self._dsp_lock = threading.Lock()
        self._next_reopen_at = 0.0
        self._lost_reason = ""
        # DSP-thread processing, built with the streams (``_build_processing``).
        self._echo: EchoCanceller | None = None
        self._noise: NoiseSuppressor | None = None

    # ------------------------------------------------------------------------------ lifecycle
    @property
    def config(self) -> AudioEngineConfig:
        return self._config

    @property
    def running(self) -> bool:
        return self._running

    @property
    def streams(self) -> OpenedStreams | None:
        """What the backend opened (device names, native rates, channels)."""
        return self._streams

    def start(self) -> None:
        """Open the devices and start the DSP thread (no-op when already running).

        Raises:
            DeviceError: when a device cannot be found or opened.
        """
        with self._lock:
            if self._running:
                return
            self._open()
            self._running = True
            self._stop_event.clear()
            if self._backend.manual_clock:
                self._backend.attach_dsp(self.pump)
            else:
                self._thread = threading.Thread(
                    target=self._dsp_loop, name="audio-dsp", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop the DSP thread (joined), close the devices and any recording. Idempotent."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._stop_event.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            self._backend.attach_dsp(None)
            self._backend.close()
        self.stop_recording()

    def __enter__(self) -> AudioEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _input_callback(
        self, indata: FloatArray, frames: int, time_info: CallbackTime, status: CallbackStatus
    ) -> None:
        capture = self._capture
        if capture is not None:
            capture.capture(indata, frames, time_info, status)

    def _output_callback(
        self, outdata: FloatArray, frames: int, time_info: CallbackTime, status: CallbackStatus
    ) -> None:
        renderer = self._renderer
        if renderer is None:
            outdata.fill(0.0)
        else:
            renderer.render(outdata, frames, time_info, status)

    def _open(self) -> None:
        config = self._config
        self._capture = None
        self._renderer = None
        streams = self._backend.open(
            config.input_device,
            config.output_device,
            config.block_ms,
            self._input_callback,
            self._output_callback,
        )
        self._streams = streams
        if self._tracker is None or self._tracker.sample_rate != streams.output_sample_rate:
            self._tracker = PlaybackTracker(streams.output_sample_rate)
        renderer = PlaybackRenderer(
            streams.output_sample_rate, streams.output_channels, self._tracker, self._clock
        )
        renderer.flush_requested = renderer.flush_applied = self._flush_generation
        self._setup_dsp(streams)
        self._capture = CaptureSink(streams.input_sample_rate, streams.input_channels, self._clock)
        self._renderer = renderer
        self._backend.start()

    def _setup_dsp(self, streams: OpenedStreams) -> None:
        """DSP-thread state for freshly opened streams."""
        config = self._config
        self._capture_resampler = StreamResampler(streams.input_sample_rate, PROCESSING_SAMPLE_RATE)
        self._far_resampler = StreamResampler(streams.output_sample_rate, PROCESSING_SAMPLE_RATE)
        self._uplink_format = config.input_format
        self._uplink_resampler = StreamResampler(
            PROCESSING_SAMPLE_RATE, config.input_format.sample_rate
        )
        self._downlink_resampler: StreamResampler | None = None
        self._down_slot = -1
        self._down_generation = self._flush_generation
        self._down_pending: collections.deque[FloatArray | _Mark] = collections.deque()
        self._near_pending = _EMPTY
        self._uplink_pending = _EMPTY
        self._processed_position = 0  # processing-rate samples through the near-end pipeline
        self._far_position = 0  # processing-rate samples of what the output callback rendered
        self._capture_timing: collections.deque[tuple[int, float, float]] = collections.deque(
            maxlen=64
        )
        self._capture_blocks_seen = 0
        self._last_capture_progress = self._clock()
        self._half_duplex_until = 0.0
        self._build_processing(config)
        self._applied_version = self._config_version

    def _build_processing(self, config: AudioEngineConfig) -> None:
        self._echo = (
            EchoCanceller(
                PROCESSING_SAMPLE_RATE,
                frame_ms=PROCESSING_FRAME_MS,
                filter_ms=ECHO_FILTER_MS,
                max_delay_ms=ECHO_MAX_DELAY_MS,
                suppression_db=ECHO_SUPPRESSION_DB,
                far_position=self._far_position,
            )
            if config.echo_cancellation_active
            else None
        )
        self._noise = (
            NoiseSuppressor(PROCESSING_SAMPLE_RATE, _PROCESSING_FRAME)
            if config.noise_suppression
            else None
        )
        self._vad = SpeechDetector(PROCESSING_SAMPLE_RATE, config.local_vad_threshold)
        self._vad.reset(self._processed_position)
        self._segmenter = SpeechSegmenter(
            PROCESSING_SAMPLE_RATE, config.local_vad_min_speech_ms, VAD_HANGOVER_MS
        )

    def apply_config(self, config: AudioEngineConfig) -> None:
        """Switch to ``config``: processing changes apply on the DSP thread within a block;
        a change of device or block size re-opens the streams."""
        with self._lock:
            reopen = (
                config.input_device != self._config.input_device
                or config.output_device != self._config.output_device
                or config.block_ms != self._config.block_ms
            )
            self._config = config
            self._config_version += 1
            if reopen and self._running:
                with self._dsp_lock:
                    self._reopen_now("the configured devices changed")

    def set_wire_formats(self, input_format: WireFormat, output_format: WireFormat) -> None:
        """The session's formats: the uplink switches at the next chunk; audio already queued
        keeps the format it was queued in."""
        self.apply_config(
            dataclasses.replace(
                self._config, input_format=input_format, output_format=output_format
            )
        )

    # ---------------------------------------------------------------------------- listeners
    def set_uplink_sink(self, sink: Callable[[UplinkChunk], None] | None) -> None:
        """``sink(chunk)`` is called on the DSP thread for every encoded 20 ms chunk."""
        self._uplink_sink = sink

    def set_capture_enabled(self, enabled: bool) -> None:
        """Mute (False) or unmute the uplink. Meters and the local VAD keep running, so the
        user still sees the microphone and push-to-talk can use the VAD."""
        self._capture_enabled = enabled

    def set_vad_listener(self, listener: Callable[[LocalVadEvent], None] | None) -> None:
        """``listener(event)`` is called on the DSP thread at local speech onsets and offsets."""
        self._vad_listener = listener

    def set_device_listener(self, listener: Callable[[DeviceEvent], None] | None) -> None:
        """``listener(event)`` is called on the DSP thread when a stream is lost or re-opened."""
        self._device_listener = listener

    # ------------------------------------------------------------------------------ devices
    def list_devices(self) -> list[DeviceInfo]:
        """Every device, with the system defaults marked."""
        return self._backend.list_devices()

    # ----------------------------------------------------------------------------- playback
    def enqueue_playback(self, item_id: str, audio: bytes) -> None:
        """Queue decoded (not base64) audio of ``item_id`` in the output wire format.

        Items play in the order they are first queued; an item id seen again after a flush
        starts a new segment.
        """
        item = self._items.get(item_id)
        if item is None or item.generation != self._flush_generation:
            item = self._new_item(item_id)
        item.received_bytes += len(audio)
        self._downlink.put(
            _DownlinkEntry(item.generation, item.slot, audio, self._config.output_format)
        )

    def _new_item(self, item_id: str) -> _Item:
        tracker = self._tracker
        slots = tracker.slots if tracker is not None else PLAYBACK_ITEM_SLOTS
        if not self._slot_items:
            self._slot_items = [None] * slots
        slot = self._next_slot % slots
        self._next_slot += 1
        previous = self._slot_items[slot]
        if previous is not None and self._items.get(previous) is not None:
            del self._items[previous]
        if tracker is not None:
            tracker.reset_slot(slot)
        self._slot_items[slot] = item_id
        item = _Item(
            slot=slot,
            generation=self._flush_generation,
            bytes_per_ms=self._config.output_format.bytes_per_ms,
        )
        self._items[item_id] = item
        self._recent_items.append(item_id)
        return item

    def finish_item(self, item_id: str) -> None:
        """No more audio for ``item_id``: let its tail drain; running dry is not an underrun."""
        item = self._items.get(item_id)
        if item is None or item.finished:
            return
        item.finished = True
        self._downlink.put(
            _DownlinkEntry(item.generation, item.slot, b"", self._config.output_format, end=True)
        )

    def flush_playback(self) -> int:
        """Barge-in: fade out (≤ 5 ms) and silence within the next output block; drop all
        queued audio. Returns a generation to poll with ``is_flush_applied``."""
        self._flush_generation += 1
        renderer = self._renderer
        if renderer is not None:
            renderer.flush_requested = self._flush_generation
        return self._flush_generation

    def is_flush_applied(self, generation: int) -> bool:
        """True once the output callback has applied flush ``generation`` (never blocks)."""
        renderer = self._renderer
        if renderer is None or not self._running:
            return True
        return renderer.flush_applied >= generation

    def flush_report(self, generation: int) -> FlushReport | None:
        """What flush ``generation`` cut, once applied (None before, or for an older flush)."""
        renderer = self._renderer
        tracker = self._tracker
        if renderer is None or tracker is None or renderer.flush_applied != generation:
            return None
        slot = renderer.flush_slot
        item_id = self._slot_items[slot] if slot >= 0 and self._slot_items else None
        played = 0.0
        if item_id is not None and item_id in self._items:
            item = self._items[item_id]
            played = min(
                item.received_ms, tracker.rendered_frames[slot] * 1000.0 / tracker.sample_rate
            )
        discarded = tuple(
            other
            for other, state in self._items.items()
            if state.generation == generation - 1  # queued since the previous flush
            and other != item_id
            and tracker.rendered_frames[state.slot] == 0
        )
        return FlushReport(generation, item_id, played, renderer.flush_silent_at, discarded)

    def received_ms(self, item_id: str) -> float:
        """Audio queued for ``item_id`` so far, in ms of the wire format."""
        item = self._items.get(item_id)
        return item.received_ms if item is not None else 0.0

    def rendered_ms(self, item_id: str) -> float:
        """Audio of ``item_id`` handed to the device so far (some of it may not be heard yet)."""
        item = self._items.get(item_id)
        tracker = self._tracker
        if item is None or tracker is None:
            return 0.0
        return float(tracker.rendered_frames[item.slot]) * 1000.0 / tracker.sample_rate

    def played_ms(self, item_id: str) -> float:
        """How much of ``item_id`` has reached the listener: frames rendered for it minus those
        still inside the device (from the callbacks' DAC times), clamped to [0, received]."""
        item = self._items.get(item_id)
        renderer, tracker = self._renderer, self._tracker
        if item is None or renderer is None or tracker is None:
            return 0.0
        rendered = int(tracker.rendered_frames[item.slot])
        if rendered == 0:
            return 0.0
        audible = renderer.audible_position(self._clock())
        in_flight = min(rendered, max(0.0, float(tracker.end_out_pos[item.slot]) - audible))
        played = (rendered - in_flight) * 1000.0 / tracker.sample_rate
        return max(0.0, min(item.received_ms, played))

    def first_heard_at(self, item_id: str) -> float | None:
        """``time.monotonic()`` at which the first sample of ``item_id`` reached the DAC."""
        item = self._items.get(item_id)
        tracker = self._tracker
        if item is None or tracker is None:
            return None
        value = float(tracker.first_heard_at[item.slot])
        return None if np.isnan(value) else value

    @property
    def playing_item_id(self) -> str | None:
        """The item audible right now (not the last one queued), or None in silence."""
        renderer, tracker = self._renderer, self._tracker
        if renderer is None or tracker is None:
            return None
        audible = renderer.audible_position(self._clock())
        for item_id in reversed(self._recent_items):
            item = self._items.get(item_id)
            if item is None:
                continue
            first = tracker.first_out_pos[item.slot]
            if 0 <= first <= audible < tracker.end_out_pos[item.slot]:
                return item_id
        return None

    @property
    def is_playing(self) -> bool:
        return self.playing_item_id is not None

    # ------------------------------------------------------------------------ meters, stats
    @property
    def input_level(self) -> Level:
        """Microphone level since the last read (after echo cancellation)."""
        return self._input_meter.take()

    @property
    def output_level(self) -> Level:
        """Speaker level since the last read (what was rendered)."""
        return self._output_meter.take()

    def read_input_waveform(self, cursor: int) -> tuple[FloatArray, int]:
        """Processed microphone samples (24 kHz) after absolute ``cursor``; returns the new
        cursor. Each consumer keeps its own cursor; start with 0."""
        samples, new_cursor, _ = self.input_history.read_since(cursor)
        return samples, new_cursor

    def read_output_waveform(self, cursor: int) -> tuple[FloatArray, int]:
        """Rendered speaker samples (24 kHz) after absolute ``cursor``; see above."""
        samples, new_cursor, _ = self.output_history.read_since(cursor)
        return samples, new_cursor

    @property
    def stats(self) -> AudioStats:
        capture, renderer, streams = self._capture, self._renderer, self._streams
        before = self._counters_before_reopen
        config = self._config
        echo = self._echo
        return AudioStats(
            running=self._running,
            input_device=streams.input_device if streams else "",
            output_device=streams.output_device if streams else "",
            input_sample_rate=streams.input_sample_rate if streams else 0,
            output_sample_rate=streams.output_sample_rate if streams else 0,
            device_underruns=before["device_underruns"]
            + (renderer.device_underruns if renderer else 0),
            device_overruns=before["device_overruns"] + (capture.device_overruns if capture else 0),
            playback_underruns=before["playback_underruns"]
            + (renderer.underruns if renderer else 0),
            capture_overruns=before["capture_overruns"] + (capture.ring.overruns if capture else 0),
            playback_queue_ms=(
                renderer.queued_frames * 1000.0 / renderer.sample_rate if renderer else 0.0
            ),
            prebuffer_ms=(
                renderer.prebuffer_target * 1000.0 / renderer.sample_rate if renderer else 0.0
            ),
            input_latency_ms=capture.input_latency_s * 1000.0 if capture else 0.0,
            output_latency_ms=renderer.output_latency_s * 1000.0 if renderer else 0.0,
            echo_cancellation_active=config.echo_cancellation_active,
            noise_suppression_active=config.noise_suppression,
            half_duplex=config.half_duplex,
            uplink_chunks=self._uplink_sequence,
            reopen_count=self._reopen_count,
            input_blocks=capture.blocks if capture else 0,
            output_blocks=renderer.blocks if renderer else 0,
            echo_delay_ms=echo.delay_ms if echo is not None else None,
        )

    def callback_durations_us(self) -> tuple[FloatArray, FloatArray]:
        """The last few thousand input and output callback durations, in µs."""
        capture, renderer = self._capture, self._renderer

        def recent(durations: npt.NDArray[np.int64], count: int) -> FloatArray:
            n = min(count, len(durations))
            return (durations[:n] / 1000.0).astype(np.float32) if n else _EMPTY

        return (
            recent(capture.callback_ns, capture.blocks) if capture else _EMPTY,
            recent(renderer.callback_ns, renderer.blocks) if renderer else _EMPTY,
        )

    @property
    def dsp_cpu_seconds(self) -> float:
        """CPU time the DSP thread has used since it started."""
        return self._dsp_cpu_s

    # ---------------------------------------------------------------------------- recording
    def start_recording(self, directory: Path) -> RecordingFiles:
        """Write the processed microphone and the rendered assistant audio to two WAV files."""
        self.stop_recording()
        self._recorder = WavRecorder(Path(directory), PROCESSING_SAMPLE_RATE)
        return self._recorder.files

    def stop_recording(self) -> RecordingFiles | None:
        recorder, self._recorder = self._recorder, None
        return recorder.close() if recorder is not None else None

    # ---------------------------------------------------------------------------- DSP thread
    def _dsp_loop(self) -> None:
        started = time.thread_time()
        while not self._stop_event.is_set():
            try:
                self.pump()
            except Exception:
                # One bad chunk must not silence the app for good; the error is logged with
                # its traceback and the loop goes on with the next block.
                log.exception("audio DSP step failed")
            self._dsp_cpu_s = time.thread_time() - started
            self._stop_event.wait(self._until_next_block())

    def _until_next_block(self) -> float:
        """Seconds to sleep: until just after the input block that completes the next chunk.

        Every numpy call costs about the same for 10 or 20 ms of audio, so the thread works
        once per uplink chunk, woken right after the callback whose block lets the resampler
        emit the chunk's last sample (its lag included); polling every few milliseconds instead
        cost 10-17 % of a core in wake-ups alone. A burst of downlink audio is drained at
        DSP_MIN_WAIT_MS steps.
        """
        capture, streams = self._capture, self._streams
        shortest = DSP_MIN_WAIT_MS / 1000.0
        if capture is None or streams is None:
            return UPLINK_CHUNK_MS / 1000.0
        if not capture.blocks or self._down_pending or not self._downlink.empty():
            return shortest
        rate = streams.input_sample_rate
        period = streams.block_frames_in / rate
        to_processing = PROCESSING_SAMPLE_RATE / rate
        produced = self._processed_position + len(self._near_pending)
        resampler_lag = capture.ring.read_count * to_processing - produced
        have = len(self._uplink_pending) + len(self._near_pending)
        frames_needed = (_UPLINK_CHUNK - have + resampler_lag) / to_processing
        frames_needed -= capture.ring.available
        blocks = max(1, int(np.ceil(frames_needed / streams.block_frames_in)))
        last = capture.block_timing[(capture.blocks - 1) & capture.timing_mask]
        due = float(last[1]) + blocks * period + DSP_WAKE_AFTER_BLOCK_MS / 1000.0
        return min(blocks * period, max(shortest, due - self._clock()))

    def pump(self) -> None:
        """One DSP step: device health, downlink, uplink. The DSP thread calls it in a loop;
        with a manually clocked backend it runs after every block instead."""
        with self._dsp_lock:
            if not self._running:
                return
            if self._applied_version != self._config_version:
                self._apply_processing_config()
            if not self._check_devices():
                return
            self._process_downlink()
            self._process_capture()

    def _apply_processing_config(self) -> None:
        config = self._config
        self._applied_version = self._config_version
        if config.input_format is not self._uplink_format:
            self._uplink_format = config.input_format
            self._uplink_resampler = StreamResampler(
                PROCESSING_SAMPLE_RATE, config.input_format.sample_rate
            )
            self._uplink_pending = _EMPTY
        self._build_processing(config)

    def _check_devices(self) -> bool:
        capture = self._capture
        failure = self._backend.failure()
        now = self._clock()
        if capture is not None and failure is None and not self._backend.manual_clock:
            if capture.blocks != self._capture_blocks_seen:
                self._last_capture_progress = now
            elif now - self._last_capture_progress > (
                STREAM_STALL_TIMEOUT_S if capture.blocks else STREAM_START_TIMEOUT_S
            ):
                failure = f"no audio from the input device for {STREAM_STALL_TIMEOUT_S:.0f} s"
        if failure is None and capture is not None:
            return True
        if capture is not None:
            self._lost(failure or "the device was lost")
        if now >= self._next_reopen_at:
            self._next_reopen_at = now + REOPEN_INTERVAL_S
            if not self._lock.acquire(blocking=False):
                return False  # stop() or apply_config() is in progress
            try:
                self._reopen_now(self._lost_reason)
            except DeviceError as exc:
                log.warning("audio device still unavailable: %s", exc)
            finally:
                self._lock.release()
        return False

    def _lost(self, reason: str) -> None:
        log.warning("audio stream lost: %s", reason)
        self._keep_counters()
        self._capture = None
        self._renderer = None
        self._lost_reason = reason
        self._next_reopen_at = self._clock() + REOPEN_INTERVAL_S
        self._emit_device(DeviceEvent(DeviceEventKind.LOST, reason, self._streams))

    def _keep_counters(self) -> None:
        capture, renderer = self._capture, self._renderer
        if capture is not None:
            self._counters_before_reopen["device_overruns"] += capture.device_overruns
            self._counters_before_reopen["capture_overruns"] += capture.ring.overruns
        if renderer is not None:
            self._counters_before_reopen["device_underruns"] += renderer.device_underruns
            self._counters_before_reopen["playback_underruns"] += renderer.underruns

    def _reopen_now(self, reason: str) -> None:
        """Close and open the streams again (caller holds ``_lock``)."""
        self._keep_counters()
        self._backend.close()
        self._open()
        self._reopen_count += 1
        self._emit_device(DeviceEvent(DeviceEventKind.REOPENED, reason, self._streams))

    def _emit_device(self, event: DeviceEvent) -> None:
        listener = self._device_listener
        if listener is not None:
            listener(event)

    # ------------------------------------------------------------------------------ downlink
    def _process_downlink(self) -> None:
        renderer = self._renderer
        streams = self._streams
        if renderer is None or streams is None:
            return
        # A flush drops what was decoded but not yet written, and the filter's memory of it.
        if renderer.flush_requested > self._down_generation:
            self._down_generation = renderer.flush_requested
            self._down_pending.clear()
            self._down_slot = -1
            if self._downlink_resampler is not None:
                self._downlink_resampler.reset()
        self._write_pending(renderer)
        budget = DOWNLINK_MS_PER_STEP
        while not self._down_pending and budget > 0:
            try:
                entry = self._downlink.get_nowait()
            except queue.Empty:
                return
            if entry.generation < self._down_generation:
                continue  # queued before a flush
            self._down_generation = entry.generation
            resampler = self._downlink_resampler
            if resampler is None or resampler.in_rate != entry.format.sample_rate:
                resampler = StreamResampler(entry.format.sample_rate, streams.output_sample_rate)
                self._downlink_resampler = resampler
            if entry.slot != self._down_slot:
                if self._down_slot >= 0:
                    # The previous item ended without finish_item: play its tail first.
                    self._down_pending.append(resampler.drain())
                self._down_pending.append(_Mark(entry.slot, entry.generation))
                self._down_slot = entry.slot
            if entry.end:
                self._down_pending.append(resampler.drain())
                self._down_pending.append(_Mark(END_OF_ITEM, entry.generation))
                self._down_slot = -1
            else:
                try:
                    samples = entry.format.decode(entry.audio)
                except CodecError as exc:
                    log.warning("dropping undecodable audio: %s", exc)
                    continue
                self._down_pending.append(resampler.process(samples))
                budget -= len(samples) * 1000.0 / entry.format.sample_rate
            self._write_pending(renderer)

    def _write_pending(self, renderer: PlaybackRenderer) -> None:
        """Move decoded audio into the ring as space allows; marks go in order with it."""
        while self._down_pending:
            head = self._down_pending[0]
            if isinstance(head, _Mark):
                if renderer.marks_free <= 0:
                    return
                if head.slot >= 0:
                    renderer.begin_item(head.slot, head.generation)
                else:
                    renderer.end_item(head.generation)
                self._down_pending.popleft()
                continue
            written = renderer.write(head) if len(head) else 0
            if written < len(head):
                self._down_pending[0] = head[written:]
                return
            self._down_pending.popleft()

    # -------------------------------------------------------------------------------- uplink
    def _process_capture(self) -> None:
        capture, renderer = self._capture, self._renderer
        if capture is None or renderer is None:
            return
        blocks = capture.blocks
        while self._capture_blocks_seen < blocks:
            row = capture.block_timing[self._capture_blocks_seen & capture.timing_mask]
            self._capture_timing.append((int(row[0]), float(row[1]), float(row[2])))
            self._capture_blocks_seen += 1
        frames = capture.ring.read()
        if len(frames):
            if frames.shape[1] == 2:
                mono = (frames[:, 0] + frames[:, 1]) * np.float32(0.5)
            elif frames.shape[1] > 2:
                mono = frames.mean(axis=1, dtype=np.float32)
            else:
                mono = frames[:, 0]
            self._near_pending = _append(self._near_pending, self._capture_resampler.process(mono))
        far_device = renderer.rendered.read()
        echo, noise = self._echo, self._noise
        if len(far_device):
            far = self._far_resampler.process(far_device)
            self._output_meter.add(far)
            self.output_history.write(far)
            if self._recorder is not None:
                self._recorder.add("assistant", far)
            if echo is not None:
                echo.add_far_end(far)
            self._far_position += len(far)
        if echo is not None:
            alignment = self._stream_alignment(capture, renderer)
            if alignment is not None:
                echo.set_stream_alignment(alignment)
            echo.set_delay_hint_ms((capture.input_latency_s + renderer.output_latency_s) * 1000.0)
        frame_len = _PROCESSING_FRAME
        near = self._near_pending
        used = len(near) - len(near) % frame_len
        if not used:
            return
        start_position = self._processed_position
        if echo is None and noise is None:
            block = near[:used]
        else:
            block = np.empty(used, dtype=np.float32)
            for offset in range(0, used, frame_len):
                frame = block[offset : offset + frame_len]
                if echo is not None:
                    echo.process(near[offset : offset + frame_len], start_position + offset, frame)
                else:
                    frame[:] = near[offset : offset + frame_len]
                if noise is not None:
                    noise.process(frame)
        self._near_pending = near[used:]
        self._processed_position += used
        config = self._config
        if config.half_duplex:
            block = self._gate_half_duplex(block)
        self._input_meter.add(block)
        self.input_history.write(block)
        if self._recorder is not None:
            self._recorder.add("microphone", block)
        self._run_vad(block)
        if self._capture_enabled:
            self._emit_uplink(block, start_position)
        else:
            self._uplink_pending = _EMPTY

    def _stream_alignment(self, capture: CaptureSink, renderer: PlaybackRenderer) -> float | None:
        """Far-end minus near-end processing-rate position of the samples the two callbacks
        handled at the same moment (their callback times; PulseAudio's reported latencies are
        wrong by hundreds of ms while a stream settles, the callback clock is not). The echo
        canceller finds the echo delay beyond this pairing itself."""
        streams = self._streams
        if streams is None or not capture.blocks or not renderer.blocks:
            return None
        near_block = capture.block_timing[(capture.blocks - 1) & capture.timing_mask]
        far_block = renderer.block_timing[(renderer.blocks - 1) & renderer.timing_mask]
        near_frames = float(near_block[0]) + streams.block_frames_in
        far_frames = (
            float(far_block[0])
            + streams.block_frames_out
            + (float(near_block[1]) - float(far_block[1])) * streams.output_sample_rate
        )
        return (
            far_frames * PROCESSING_SAMPLE_RATE / streams.output_sample_rate
            - near_frames * PROCESSING_SAMPLE_RATE / streams.input_sample_rate
        )

    def _gate_half_duplex(self, block: FloatArray) -> FloatArray:
        now = self._clock()
        if self.is_playing:
            self._half_duplex_until = now + HALF_DUPLEX_HANGOVER_MS / 1000.0
        if now < self._half_duplex_until:
            return np.zeros_like(block)
        return block

    def _run_vad(self, block: FloatArray) -> None:
        events = self._segmenter.feed(self._vad.process(block))
        listener = self._vad_listener
        if listener is None:
            return
        for event in events:
            listener(
                LocalVadEvent(event.kind, event.position, self._capture_times(event.position)[0])
            )

    def _capture_times(self, position: int) -> tuple[float, float]:
        """(ADC time, callback time) of the processing-rate sample at ``position``."""
        streams = self._streams
        if streams is None or not self._capture_timing:
            now = self._clock()
            return now, now
        device_frame = position * streams.input_sample_rate / PROCESSING_SAMPLE_RATE
        chosen = self._capture_timing[0]
        for timing in reversed(self._capture_timing):  # nearly always one of the newest
            if timing[0] <= device_frame:
                chosen = timing
                break
        start, callback_time, adc_time = chosen
        offset = (device_frame - start) / streams.input_sample_rate
        return adc_time + offset, callback_time

    def _emit_uplink(self, block: FloatArray, start_position: int) -> None:
        pending_start = start_position - len(self._uplink_pending)
        pending = _append(self._uplink_pending, block)
        chunk_len = _UPLINK_CHUNK
        offset = 0
        sink = self._uplink_sink
        fmt = self._uplink_format
        while len(pending) - offset >= chunk_len:
            chunk = pending[offset : offset + chunk_len]
            position = pending_start + offset
            offset += chunk_len
            wire = self._uplink_resampler.process(chunk)
            audio = fmt.encode(wire)
            capture_time, _ = self._capture_times(position)
            _, arrival_time = self._capture_times(position + chunk_len - 1)
            sequence = self._uplink_sequence
            self._uplink_sequence += 1
            if sink is not None and audio:
                sink(UplinkChunk(audio, fmt, sequence, capture_time, arrival_time, self._clock()))
        self._uplink_pending = pending[offset:]


class _Mark:
    """An item boundary waiting in the DSP thread's queue, in order with the samples."""

    __slots__ = ("generation", "slot")

    def __init__(self, slot: int, generation: int) -> None:
        self.slot = slot
        self.generation = generation


def _append(head: FloatArray, tail: FloatArray) -> FloatArray:
    if not len(head):
        return tail
    if not len(tail):
        return head
    return np.concatenate((head, tail))
