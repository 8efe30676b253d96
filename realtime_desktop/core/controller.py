"""``RealtimeConversation``: the conversation controller the desktop app (and any other program)
drives — the Python counterpart of the seed's ``RealtimeConversation`` /
``AdvancedRealtimeConversation``.

It wires one :class:`RealtimeSession`, the :class:`Conversation` reducer, the
:class:`ResponseSequencer`, the :class:`ToolExecutor`, the :class:`CostMeter`, the inspector's
:class:`EventLog` and (optionally) an :class:`AudioEngine`, and implements the parts that need
all of them at once (DESIGN.md "Conversation and response rules"):

* **Uplink**: the engine's 20 ms chunks reach the session through one ordered outbox. In
  push-to-talk mode only audio captured between press and release is sent (by capture time, not
  by when it happens to arrive), then ``commit`` and one ``response.create``.
* **Downlink**: audio deltas go to the engine per ``item_id``; deltas of an interrupted response
  are dropped (the sequencer remembers them).
* **Barge-in** — the server's ``speech_started`` (only when something is playing or being
  generated), the local VAD in half-duplex mode, push-to-talk, the Interrupt button, typing over
  the assistant: the engine fades out inside its next block, the response is marked interrupted
  (and cancelled when the server will not do it itself), and once the fade has run the *audible*
  item is truncated at what the listener heard (``FlushReport.played_ms``, clamped to
  ``[1, received]``); items queued behind it that were never heard are deleted. Nothing heard:
  nothing truncated (PROTOCOL.md §5.5, §9.11).
* **Tools**: calls run as tasks on the executor while events keep flowing (barge-in works during
  a tool); outputs go back through the sequencer, which sends one ``response.create`` per batch.
* **State**: a :class:`Phase` the UI shows (listening, user speaking, thinking, assistant
  speaking, tool running, reconnecting, error), notices with an action, per-turn latency (end of
  the user's speech → first assistant audio heard), tokens and cost.

Everything runs on the caller's asyncio loop; the only cross-thread entry points are the engine's
uplink and VAD callbacks, which hop onto the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import enum
import logging
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realtime_desktop.protocol import (
    AudioConfig,
    AudioInputConfig,
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    ErrorEvent,
    FunctionTool,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    McpTool,
    MessageItem,
    RealtimeSessionConfig,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputTextDelta,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    Severity,
    TurnDetection,
    classify_error,
)
from realtime_desktop.protocol.session import UnknownTool

from .builtin_tools import register_builtins
from .connection import ConnectionSettings
from .conversation import Conversation
from .cost import CostMeter, PriceTable
from .errors import (
    AuthenticationError,
    InvalidInputError,
    RealtimeError,
    UnsupportedOperationError,
)
from .event_log import Direction, EventLog
from .sequencer import ResponseSequencer
from .session import RealtimeSession, SessionState, StateChange, Traffic
from .tools import ToolExecutor, ToolRegistry, ToolRun

if TYPE_CHECKING:
    from realtime_desktop.audio.engine import AudioEngine, LocalVadEvent, UplinkChunk
    from realtime_desktop.audio.recording import RecordingFiles

log = logging.getLogger(__name__)

# A commit needs at least 100 ms of audio in the buffer (PROTOCOL.md §1.5).
MIN_COMMIT_MS = 100.0
# Microphone audio waiting to be sent while the connection is slow; older chunks are dropped
# beyond this, because audio that arrives seconds late only confuses turn detection.
MAX_QUEUED_UPLINK_MS = 2_000.0
# How long push-to-talk waits, after release, for the audio captured before the release to come
# out of the DSP thread (a 20 ms chunk plus processing, with margin for a busy machine).
PTT_DRAIN_TIMEOUT_S = 0.25
# How long a barge-in waits for the output callback to apply the fade (normally one block).
FLUSH_TIMEOUT_S = 0.25
FLUSH_POLL_S = 0.002
# Phase, playback and latency bookkeeping that only the audio thread's progress can change.
TICK_S = 0.05
# A local end of speech older than this is not the end of the turn a response answers.
SPEECH_END_WINDOW_S = 30.0


class Phase(enum.StrEnum):
    """The state the user sees."""

    IDLE = "idle"
    CONNECTING = "connecting"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    ASSISTANT_SPEAKING = "assistant_speaking"
    TOOL_RUNNING = "tool_running"
    RECONNECTING = "reconnecting"
    ERROR = "error"


class NoticeLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class NoticeAction(enum.StrEnum):
    NONE = ""
    OPEN_SETTINGS = "open_settings"
    RETRY = "retry"


@dataclass(frozen=True)
class Notice:
    """Something to tell the user, with what they can do about it.

    ``key`` names the subject (``connection``, ``error``, …): a newer notice with the same key
    replaces the older one instead of stacking up.
    """

    level: NoticeLevel
    text: str
    action: NoticeAction = NoticeAction.NONE
    key: str = ""


@dataclass
class TurnRecord:
    """One response of the default conversation, for the stats panel."""

    response_id: str
    requested_at: float
    """When the user finished: the end of their speech (local VAD), the server's speech_stopped,
    or the moment a typed message was sent."""
    first_heard_at: float | None = None
    audio_item_id: str | None = None
    status: str = "in_progress"

    @property
    def latency_ms(self) -> float | None:
        if self.first_heard_at is None:
            return None
        return max(0.0, (self.first_heard_at - self.requested_at) * 1000.0)


@dataclass(frozen=True)
class ControllerStats:
    """A snapshot for the stats panel."""

    last_latency_ms: float | None
    median_latency_ms: float | None
    network_rtt_ms: float | None
    input_tokens: int
    output_tokens: int
    last_turn_cost: float | None
    session_cost: float
    cost_complete: bool
    currency: str
    underruns: int
    overruns: int
    playback_queue_ms: float
    dropped_uplink_chunks: int


class ControllerListener:
    """Callbacks on the loop's thread. Override what you need; each does nothing by default."""

    def phase_changed(self, phase: Phase) -> None:
        """The user-visible state changed."""

    def notice(self, notice: Notice) -> None:
        """Something to show the user."""

    def session_changed(self, change: StateChange) -> None:
        """The session connected, is reconnecting, failed, …"""

    def tool_changed(self, run: ToolRun) -> None:
        """A tool call was submitted, approved, finished, …"""

    def stats_changed(self) -> None:
        """Latency, tokens or cost changed."""

    def settings_changed(self) -> None:
        """Turn detection, modality or listening changed (push-to-talk on/off, …)."""


@dataclass
class _PushToTalk:
    pressed_at: float
    released_at: float | None = None
    captured_ms: float = 0.0
    drained: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class RealtimeConversation:
    """The controller. Create it, ``await start(...)``, drive it, ``await end()``."""

    def __init__(
        self,
        *,
        audio: AudioEngine | None = None,
        tools: ToolRegistry | None = None,
        prices: PriceTable | None = None,
        event_log: EventLog | None = None,
        conversation: Conversation | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``conversation``: a restored one (``recorder.conversation_from_document``) to
        continue; its items are replayed into the session at ``start``."""
        self.audio = audio
        self.tools = tools if tools is not None else ToolRegistry()
        self.conversation = conversation if conversation is not None else Conversation()
        self.sequencer = ResponseSequencer()
        self.executor = ToolExecutor(self.tools)
        self.cost = CostMeter(prices if prices is not None else PriceTable.default())
        self.event_log = event_log if event_log is not None else EventLog()
        self.turns: list[TurnRecord] = []
        self._clock = clock
        self._listeners: list[ControllerListener] = []
        self._session: RealtimeSession | None = None
        self._connection: ConnectionSettings | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outbox: asyncio.Queue[ClientEvent | None] | None = None
        self._queued_uplink_ms = 0.0
        self._dropped_uplink_chunks = 0
        self._phase = Phase.IDLE
        self._listening = False
        self._user_speaking = False
        self._awaiting_response = False
        self._ptt: _PushToTalk | None = None
        self._local_speech_end: float | None = None
        self._server_speech_end: float | None = None
        self._text_sent_at: float | None = None
        self._remove_executor_listener = self.executor.add_listener(self._on_tool_run)
        self._remove_traffic: Callable[[], None] | None = None
        self._dialect = "ga"
        self._stats_key: tuple[Any, ...] = ()
        self._recording: RecordingFiles | None = None

    # ------------------------------------------------------------------------------- reading
    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def session(self) -> RealtimeSession | None:
        return self._session

    @property
    def connection(self) -> ConnectionSettings | None:
        return self._connection

    @property
    def is_connected(self) -> bool:
        return self._session is not None and self._session.state is SessionState.CONNECTED

    @property
    def is_listening(self) -> bool:
        """The microphone is open (voice-activity mode) or armed (push-to-talk mode)."""
        return self._listening

    @property
    def is_recording(self) -> bool:
        """Audio is being recorded to WAV files (off unless the user turned it on)."""
        return self._recording is not None

    def start_recording(self, directory: Path) -> RecordingFiles:
        """Records the microphone (after echo cancellation) and the assistant to WAV files."""
        if self.audio is None:
            raise UnsupportedOperationError("There is no audio to record in a text-only session.")
        self._recording = self.audio.start_recording(directory)
        return self._recording

    def stop_recording(self) -> RecordingFiles | None:
        files, self._recording = self._recording, None
        if self.audio is not None:
            self.audio.stop_recording()
        return files

    @property
    def is_playing(self) -> bool:
        return self.audio is not None and self.audio.is_playing

    @property
    def turn_active(self) -> bool:
        """A turn is under way: the user speaking, a response generating, playing or calling a
        tool."""
        return self._phase in (
            Phase.USER_SPEAKING,
            Phase.THINKING,
            Phase.ASSISTANT_SPEAKING,
            Phase.TOOL_RUNNING,
        )

    @property
    def transcript(self) -> Conversation:
        return self.conversation

    @property
    def config(self) -> RealtimeSessionConfig:
        """The session configuration in effect (what the server acknowledged last, else what
        was asked for)."""
        if self._session is not None:
            server = self._session.server_config
            if isinstance(server, RealtimeSessionConfig):
                return server
        if self._connection is not None and self._connection.session_config is not None:
            return self._connection.session_config
        return RealtimeSessionConfig.voice_conversation()

    @property
    def push_to_talk(self) -> bool:
        """Turns are made by hand (``turn_detection: null``): hold to talk."""
        audio_input = self.config.audio.input if self.config.audio else None
        return audio_input is not None and audio_input.turn_detection is None

    @property
    def output_modality(self) -> str:
        modalities = self.config.output_modalities or ["audio"]
        return "text" if modalities == ["text"] else "audio"

    def add_listener(self, listener: ControllerListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ControllerListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def stats(self) -> ControllerStats:
        latencies = [t.latency_ms for t in self.turns if t.latency_ms is not None]
        totals = self.cost.responses_total
        last_cost = None
        for turn in reversed(self.turns):
            breakdown = self.cost.response(turn.response_id)
            if breakdown is not None:
                last_cost = breakdown.total
                break
        audio_stats = self.audio.stats if self.audio is not None else None
        return ControllerStats(
            last_latency_ms=latencies[-1] if latencies else None,
            median_latency_ms=statistics.median(latencies) if latencies else None,
            network_rtt_ms=self._network_rtt_ms(),
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            last_turn_cost=last_cost,
            session_cost=self.cost.total,
            cost_complete=self.cost.complete,
            currency=self.cost.prices.currency,
            underruns=(audio_stats.device_underruns + audio_stats.playback_underruns)
            if audio_stats
            else 0,
            overruns=(audio_stats.device_overruns + audio_stats.capture_overruns)
            if audio_stats
            else 0,
            playback_queue_ms=audio_stats.playback_queue_ms if audio_stats else 0.0,
            dropped_uplink_chunks=self._dropped_uplink_chunks,
        )

    def _network_rtt_ms(self) -> float | None:
        latency = self._session.network_latency if self._session is not None else None
        return None if latency is None else latency * 1000.0

    # ------------------------------------------------------------------------------ lifecycle
    async def start(
        self,
        connection: ConnectionSettings,
        *,
        voice: str | None = None,
        instructions: str | None = None,
        tools: Sequence[FunctionTool | McpTool] = (),
        listen: bool = True,
    ) -> None:
        """Connects and configures the session (the registry's tools plus ``tools``), starts
        the audio engine, and opens the microphone unless ``listen`` is False. The items already
        in :attr:`conversation` (a restored conversation) are replayed into the new session.

        Raises:
            RealtimeError: when the connection cannot be made; :attr:`phase` is ``error`` and a
                notice says what to do.
        """
        if self._session is not None:
            raise UnsupportedOperationError(
                "The conversation is already started.", hint="End it before starting again."
            )
        config = self._session_config(connection.session_config, voice, instructions, tools)
        self._connection = dataclasses.replace(connection, session_config=config)
        self._dialect = connection.dialect
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        session = RealtimeSession(self._connection, replay_items=self.conversation.replay_items)
        self._session = session
        self._remove_traffic = session.add_traffic_listener(self._on_traffic)
        activity = session.activity()
        self._spawn(self._consume(activity), "controller-events")
        self._spawn(self._send_outbox(), "controller-outbox")
        self._set_phase(Phase.CONNECTING)
        try:
            await session.connect()
        except RealtimeError as exc:
            self._connection_failed(exc)
            await self._teardown()
            raise
        self._spawn(self._tick(), "controller-tick")
        self._start_audio()
        if listen:
            self.start_listening()
        self._recompute_phase()

    async def retry(self) -> None:
        """Starts again with the same connection after a failure; the conversation so far is
        replayed into the new session."""
        if self._connection is None:
            raise UnsupportedOperationError("There is nothing to retry yet.")
        connection = self._connection
        await self.end()
        await self.start(connection, listen=True)

    async def end(self) -> None:
        """Stops listening, cancels tool calls, closes the session and stops the engine. The
        conversation (and its replay items) stays. Safe to call more than once."""
        self.stop_listening()
        await self._teardown()
        if self.audio is not None and self.audio.running:
            self.audio.set_uplink_sink(None)
            self.audio.set_vad_listener(None)
            await asyncio.to_thread(self.audio.stop)
        self._set_phase(Phase.IDLE)

    async def _teardown(self) -> None:
        await self.executor.aclose()
        session, self._session = self._session, None
        if self._remove_traffic is not None:
            self._remove_traffic()
            self._remove_traffic = None
        if session is not None:
            await session.close()
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._outbox = None
        self.sequencer.reset()
        self._ptt = None
        self._user_speaking = False
        self._awaiting_response = False

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("controller task %s failed", task.get_name(), exc_info=task.exception())

    def _session_config(
        self,
        base: RealtimeSessionConfig | None,
        voice: str | None,
        instructions: str | None,
        tools: Sequence[FunctionTool | McpTool],
    ) -> RealtimeSessionConfig:
        config = (base or RealtimeSessionConfig.voice_conversation()).model_copy(deep=True)
        if voice is not None:
            config = RealtimeSessionConfig.model_validate(
                _deep_merge(config.wire_dict(), {"audio": {"output": {"voice": voice}}})
            )
        if instructions is not None:
            config.instructions = instructions
        offered: list[FunctionTool | McpTool | UnknownTool] = [
            *self.tools.function_tools(),
            *tools,
        ]
        if offered:
            config.tools = offered
            if config.tool_choice is None:
                config.tool_choice = "auto"
        return config

    # ------------------------------------------------------------------------------ audio io
    def _start_audio(self) -> None:
        if self.audio is None:
            return
        from realtime_desktop.audio.codecs import WireFormat

        config = self.config
        self.audio.set_wire_formats(
            WireFormat.from_type(config.input_format.type or "audio/pcm"),
            WireFormat.from_type(config.output_format.type or "audio/pcm"),
        )
        self.audio.set_uplink_sink(self._uplink_from_dsp)
        self.audio.set_vad_listener(self._vad_from_dsp)
        self.audio.set_capture_enabled(False)
        if self.audio.running:
            return
        from realtime_desktop.audio.backends import DeviceError

        try:
            self.audio.start()
        except DeviceError as exc:
            # The conversation still works by typing; say what failed and where to fix it.
            self.audio.set_uplink_sink(None)
            self.audio.set_vad_listener(None)
            self.audio = None
            self._emit_notice(
                Notice(
                    NoticeLevel.WARNING,
                    f"No audio: {exc}. Typing still works; choose devices in Settings → Audio.",
                    NoticeAction.OPEN_SETTINGS,
                    key="audio",
                )
            )

    def _uplink_from_dsp(self, chunk: UplinkChunk) -> None:
        """DSP thread: hop onto the loop (one call per 20 ms chunk, not per device block)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._uplink, chunk)

    def _vad_from_dsp(self, event: LocalVadEvent) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._local_vad, event)

    def _uplink(self, chunk: UplinkChunk) -> None:
        if self._outbox is None or not self.is_connected:
            return
        ptt = self._ptt
        if self.push_to_talk:
            if ptt is None or chunk.capture_time < ptt.pressed_at:
                return
            if ptt.released_at is not None and chunk.capture_time >= ptt.released_at:
                ptt.drained.set()  # everything captured before the release has come through
                return
            ptt.captured_ms += chunk.duration_ms
        elif not self._listening:
            return
        if self._queued_uplink_ms >= MAX_QUEUED_UPLINK_MS:
            self._dropped_uplink_chunks += 1
            return
        self._queued_uplink_ms += chunk.duration_ms
        self._outbox.put_nowait(
            InputAudioBufferAppend(audio=base64.b64encode(chunk.audio).decode("ascii"))
        )

    def _local_vad(self, event: LocalVadEvent) -> None:
        from realtime_desktop.audio.vad import VadEventKind

        if event.kind is VadEventKind.OFFSET:
            self._local_speech_end = event.capture_time
            return
        # Onset. With server VAD the server decides turns and interrupts; the local detector
        # barges in only where the server cannot hear the user: half-duplex (the microphone is
        # gated while the assistant speaks).
        engine = self.audio
        if engine is not None and engine.config.half_duplex and engine.is_playing:
            self._spawn(self._barge_in(cancel=True), "controller-barge-in")

    def start_listening(self) -> None:
        """Opens the microphone (voice-activity mode) or arms push-to-talk."""
        self._listening = True
        if self.audio is not None:
            # In push-to-talk mode the engine keeps capturing (meters, local VAD) and the
            # controller sends only what falls between press and release.
            self.audio.set_capture_enabled(True)
        self._notify_settings()
        self._recompute_phase()

    def stop_listening(self) -> None:
        """Mutes the microphone: nothing is sent until :meth:`start_listening`."""
        self._listening = False
        if self.audio is not None:
            self.audio.set_capture_enabled(False)
        self._notify_settings()
        self._recompute_phase()

    async def push_to_talk_pressed(self) -> None:
        """Push-to-talk: starts a manual turn (interrupting the assistant)."""
        if not self.push_to_talk:
            raise UnsupportedOperationError(
                "Push-to-talk works when turn detection is off.",
                hint="Switch turn detection to push-to-talk in Settings.",
            )
        self._require_connected()
        if self.is_playing or self.sequencer.active_response_id is not None:
            await self._barge_in(cancel=True)
        self._enqueue([InputAudioBufferClear()])
        self._ptt = _PushToTalk(pressed_at=self._clock())
        self._user_speaking = True
        self._recompute_phase()

    async def push_to_talk_released(self) -> None:
        """Push-to-talk: ends the turn — commits what was captured and asks for a response."""
        ptt = self._ptt
        if ptt is None or ptt.released_at is not None:
            return
        ptt.released_at = self._clock()
        self._user_speaking = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ptt.drained.wait(), PTT_DRAIN_TIMEOUT_S)
        self._ptt = None
        if ptt.captured_ms < MIN_COMMIT_MS:
            self._enqueue([InputAudioBufferClear()])
            self._emit_notice(
                Notice(
                    NoticeLevel.INFO,
                    "Too short to send: hold push-to-talk while you speak.",
                    key="push_to_talk",
                )
            )
            self._recompute_phase()
            return
        self._local_speech_end = ptt.released_at
        self._awaiting_response = True
        self._enqueue([InputAudioBufferCommit(), *self.sequencer.request_response()])
        self._recompute_phase()

    # -------------------------------------------------------------------------------- actions
    async def send_text(self, text: str) -> None:
        """Sends a typed message and asks for an answer (interrupting the assistant)."""
        text = text.strip()
        if not text:
            raise InvalidInputError("There is nothing to send.", hint="Type a message first.")
        self._require_connected()
        if self.is_playing or self.sequencer.active_response_id is not None:
            await self._barge_in(cancel=True)
        self._text_sent_at = self._clock()
        self._awaiting_response = True
        self._enqueue(
            [
                ConversationItemCreate(item=MessageItem.user_text(text)),
                *self.sequencer.request_response(),
            ]
        )
        self._recompute_phase()

    async def send_audio(self, audio: bytes) -> None:
        """Sends recorded audio (already in the session's input format) as one user turn:
        appends, commits and asks for an answer. For a file, not the microphone."""
        self._require_connected()
        from realtime_desktop.audio.codecs import WireFormat

        wire = WireFormat.from_type(self.config.input_format.type or "audio/pcm")
        if wire.duration_ms(len(audio)) < MIN_COMMIT_MS:
            raise InvalidInputError(
                "The audio is too short to send.", hint="Send at least 100 ms of audio."
            )
        if self.is_playing or self.sequencer.active_response_id is not None:
            await self._barge_in(cancel=True)
        chunk_bytes = wire.bytes_per_ms * 100
        appends: list[ClientEvent] = [
            InputAudioBufferAppend(
                audio=base64.b64encode(audio[i : i + chunk_bytes]).decode("ascii")
            )
            for i in range(0, len(audio), chunk_bytes)
        ]
        self._text_sent_at = self._clock()
        self._awaiting_response = True
        self._enqueue([*appends, InputAudioBufferCommit(), *self.sequencer.request_response()])

    async def interrupt(self) -> None:
        """The Interrupt button: silence the assistant now and cancel what it is generating."""
        await self._barge_in(cancel=True)

    async def update_modalities(self, modality: str) -> None:
        """``"audio"`` (spoken answers with a transcript) or ``"text"``."""
        if modality not in ("audio", "text"):
            raise InvalidInputError(f"Unknown output modality {modality!r}.")
        await self._update(RealtimeSessionConfig(output_modalities=[modality]))

    async def update_turn_detection(self, turn_detection: TurnDetection | None) -> None:
        """Server or semantic VAD, or ``None`` for push-to-talk. The complete object is always
        sent: a partial one resets the other fields on the real service (PROTOCOL.md §4.2)."""
        await self._update(
            RealtimeSessionConfig(
                audio=AudioConfig(input=AudioInputConfig(turn_detection=turn_detection))
            )
        )
        self._ptt = None
        self._notify_settings()

    async def update_session(self, config: RealtimeSessionConfig) -> None:
        """Any partial session update (instructions, voice before the first answer, …)."""
        await self._update(config)

    async def _update(self, config: RealtimeSessionConfig) -> None:
        session = self._require_connected()
        await session.update(config)

    async def clear_conversation(self) -> None:
        """Deletes every item, on the server and here."""
        await self._barge_in(cancel=True)
        if self.is_connected:
            self._enqueue([ConversationItemDelete(item_id=item.id) for item in self.conversation])
        self.conversation.clear()
        self.turns.clear()
        self.cost.reset()
        self._notify_stats()

    async def truncate_at(self, item_id: str, audio_end_ms: int) -> None:
        """Cuts an assistant audio item at ``audio_end_ms`` (clamped to what was received)."""
        received = self._received_ms(item_id)
        if received <= 0:
            raise InvalidInputError("That item has no audio to truncate.")
        end = max(1, min(int(audio_end_ms), int(received)))
        self._enqueue(
            [ConversationItemTruncate(item_id=item_id, content_index=0, audio_end_ms=end)]
        )

    def register_tools(self, register: Callable[[ToolRegistry], object]) -> None:
        """Adds tools to the registry (``register(registry)``); offered from the next
        ``start`` or :meth:`offer_tools`."""
        register(self.tools)

    def register_builtin_tools(self) -> None:
        """Current time, calculator, unit conversion and date arithmetic."""
        register_builtins(self.tools)

    async def offer_tools(self) -> None:
        """Sends the registry's tools to the running session."""
        await self._update(
            RealtimeSessionConfig(tools=list(self.tools.function_tools()), tool_choice="auto")
        )

    def approve_tool(self, call_id: str) -> bool:
        return self.executor.approve(call_id)

    def deny_tool(self, call_id: str, reason: str = "The user declined.") -> bool:
        return self.executor.reject(call_id, reason)

    def cancel_tool(self, call_id: str) -> bool:
        return self.executor.cancel(call_id)

    def _require_connected(self) -> RealtimeSession:
        if self._session is None or self._session.state in (
            SessionState.IDLE,
            SessionState.CLOSED,
            SessionState.FAILED,
        ):
            raise UnsupportedOperationError(
                "Not connected.", hint="Connect first (the Connect button)."
            )
        return self._session

    # ---------------------------------------------------------------------------- barge-in
    async def _barge_in(self, *, cancel: bool) -> None:
        """Silences playback now and truncates what was heard. ``cancel``: also cancel the
        active response (the server will not do it for us)."""
        engine = self.audio
        generation = engine.flush_playback() if engine is not None else None
        self._enqueue(self.sequencer.interrupt(cancel=cancel))
        if engine is None or generation is None:
            return
        deadline = self._clock() + FLUSH_TIMEOUT_S
        # Polled: the output callback may not touch the loop (no locks, no call_soon_threadsafe
        # in a real-time callback), so it only bumps a counter this reads.
        while not engine.is_flush_applied(generation) and self._clock() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(FLUSH_POLL_S)
        report = engine.flush_report(generation)
        if report is None:
            return
        events: list[ClientEvent] = []
        if report.item_id is not None:
            truncate = self._truncate_for(report.item_id, report.played_ms)
            if truncate is not None:
                events.append(truncate)
        for never_heard in report.discarded_item_ids:
            item = self.conversation.item(never_heard)
            if item is not None and item.role == "assistant" and item.has_audio:
                events.append(ConversationItemDelete(item_id=never_heard))
        self._enqueue(events)

    def _truncate_for(self, item_id: str, played_ms: float) -> ConversationItemTruncate | None:
        received = self._received_ms(item_id)
        if played_ms < 1.0 or received <= 0:
            return None  # nothing heard: truncating would be refused (unsupported_content_type)
        response = self.conversation.item(item_id)
        generating = response is not None and response.status.value == "in_progress"
        if played_ms >= received and not generating:
            return None  # the whole item was heard: the model's copy is already right
        end = max(1, min(int(played_ms), int(received)))
        return ConversationItemTruncate(item_id=item_id, content_index=0, audio_end_ms=end)

    def _received_ms(self, item_id: str) -> float:
        if self.audio is not None:
            return self.audio.received_ms(item_id)
        item = self.conversation.item(item_id)
        return item.audio_ms if item is not None else 0.0

    # ------------------------------------------------------------------------- event intake
    async def _consume(self, activity: Any) -> None:
        async for entry in activity:
            if isinstance(entry, StateChange):
                self._on_state_change(entry)
            else:
                self.handle_server_event(entry)

    def _on_traffic(self, traffic: Traffic) -> None:
        direction = Direction.SENT if traffic.direction == "sent" else Direction.RECEIVED
        try:
            wire = traffic.event.to_wire(self._dialect)  # type: ignore[arg-type]
        except ValueError:
            wire = traffic.event.wire_dict()
        self.event_log.record(direction, wire)

    def handle_server_event(self, event: ServerEvent) -> None:
        """Everything a server event changes: the conversation, cost, sequencing, playback,
        barge-in, tools and the phase. The session loop calls it for each event received;
        tests and benchmarks may feed recorded events the same way."""
        self.conversation.apply(event)
        self.cost.apply(event)
        self._enqueue(self.sequencer.apply(event))
        if isinstance(event, ResponseOutputAudioDelta):
            if self.audio is not None and self.sequencer.should_play(event):
                self.audio.enqueue_playback(event.item_id, base64.b64decode(event.delta))
        elif isinstance(event, ResponseOutputAudioDone):
            if self.audio is not None:
                self.audio.finish_item(event.item_id)
        elif isinstance(event, InputAudioBufferSpeechStarted):
            self._user_speaking = True
            if self.is_playing or self.sequencer.active_response_id is not None:
                # The server cancels the response itself when interrupt_response is on; we
                # still silence what is playing and truncate it (PROTOCOL.md §6.4).
                detection = self.config.turn_detection
                server_cancels = bool(detection and detection.interrupt_response is not False)
                self._spawn(self._barge_in(cancel=not server_cancels), "controller-barge-in")
        elif isinstance(event, InputAudioBufferSpeechStopped | InputAudioBufferTimeoutTriggered):
            self._user_speaking = False
            self._server_speech_end = self._clock()
            self._awaiting_response = True
        elif isinstance(event, ResponseCreated):
            self._on_response_created(event)
        elif isinstance(event, ResponseOutputAudioTranscriptDelta | ResponseOutputTextDelta):
            self._awaiting_response = False
        elif isinstance(event, ResponseFunctionCallArgumentsDone):
            self.executor.submit(event.call_id, event.name or "", event.arguments)
        elif isinstance(event, ResponseDone):
            self._on_response_done(event)
        elif isinstance(event, ErrorEvent):
            self._on_error(event)
        elif isinstance(event, SessionCreated | SessionUpdated):
            self._notify_settings()
        for call_id in self.sequencer.take_abandoned_calls():
            self.executor.cancel(call_id, "The response this call belonged to did not finish.")
        self._recompute_phase()

    def _on_response_created(self, event: ResponseCreated) -> None:
        response = event.response
        state = self.conversation.response(response.id or "")
        if response.id is None or (state is not None and state.out_of_band):
            return  # out-of-band responses run beside the conversation; they are not turns
        now = self._clock()
        candidates = [
            t
            for t in (self._local_speech_end, self._server_speech_end, self._text_sent_at)
            if t is not None and now - t < SPEECH_END_WINDOW_S
        ]
        # The earliest sign that the user had finished is the honest start of the wait.
        requested_at = min(candidates) if candidates else now
        self._local_speech_end = self._server_speech_end = self._text_sent_at = None
        self.turns.append(TurnRecord(response.id, requested_at))
        self._awaiting_response = True

    def _on_response_done(self, event: ResponseDone) -> None:
        response_id = event.response.id
        for turn in self.turns:
            if turn.response_id == response_id:
                turn.status = event.response.status or "completed"
        self._awaiting_response = False
        if event.response.status == "failed":
            reason = self.conversation.response(response_id or "")
            detail = reason.error if reason is not None and reason.error else "no reason given"
            self._emit_notice(
                Notice(
                    NoticeLevel.WARNING,
                    f"The answer failed ({detail}). Try again.",
                    NoticeAction.NONE,
                    key="response",
                )
            )
        self._notify_stats()

    def _on_error(self, event: ErrorEvent) -> None:
        error = event.error
        classification = classify_error(error.code, error.type, error.message)
        cause = self._session.cause_of(event) if self._session is not None else None
        caused_by = f" (in reply to {cause.type})" if cause is not None else ""
        if classification.severity is Severity.BENIGN:
            log.debug("benign server error%s: %s", caused_by, error.message)
            return
        if classification.severity is Severity.FATAL:
            return  # the session fails with this error and says so through its state
        log.warning("server error%s: %s %s", caused_by, error.code, error.message)
        self._emit_notice(
            Notice(
                NoticeLevel.WARNING,
                f"{error.message}{caused_by}. {classification.hint}",
                key="server_error",
            )
        )

    def _on_state_change(self, change: StateChange) -> None:
        for listener in list(self._listeners):
            listener.session_changed(change)
        if change.state is SessionState.RECONNECTING:
            self._stop_playback_for_reconnect()
            self._emit_notice(Notice(NoticeLevel.WARNING, change.message, key="connection"))
        elif change.state is SessionState.CONNECTED and change.reconnected:
            level = NoticeLevel.INFO if change.context_restored else NoticeLevel.WARNING
            self._emit_notice(Notice(level, change.message, key="connection"))
        elif change.state is SessionState.FAILED and change.error is not None:
            self._connection_failed(change.error)
        self._recompute_phase()

    def _stop_playback_for_reconnect(self) -> None:
        """The server session is gone: its response will not finish, so nothing queued for it
        should keep playing as if it would, and no tool result can be delivered to it."""
        self.conversation.mark_connection_lost()
        self._enqueue(self.sequencer.reset())
        if self.audio is not None:
            self.audio.flush_playback()
        self._user_speaking = False
        self._awaiting_response = False
        self._ptt = None
        # Audio queued for the old connection would be dropped by the session anyway.
        if self._outbox is not None:
            kept = [e for e in _drain(self._outbox) if not isinstance(e, InputAudioBufferAppend)]
            for event in kept:
                self._outbox.put_nowait(event)
            self._queued_uplink_ms = 0.0

    def _connection_failed(self, error: RealtimeError) -> None:
        action = (
            NoticeAction.OPEN_SETTINGS
            if isinstance(error, AuthenticationError | InvalidInputError)
            else NoticeAction.RETRY
        )
        self._emit_notice(
            Notice(NoticeLevel.ERROR, error.user_message, action=action, key="connection")
        )
        if self.audio is not None:
            self.audio.set_capture_enabled(False)
            self.audio.flush_playback()
        self._set_phase(Phase.ERROR)

    def _on_tool_run(self, run: ToolRun) -> None:
        for listener in list(self._listeners):
            listener.tool_changed(run)
        if run.finished and run.output is not None:
            self._enqueue(self.sequencer.submit_tool_output(run.call_id, run.output))
        if run.requires_approval and not run.finished and run.status.value == "awaiting_approval":
            self._emit_notice(
                Notice(
                    NoticeLevel.INFO,
                    f"The assistant wants to run “{run.name}”. Approve or deny it.",
                    key=f"approval:{run.call_id}",
                )
            )
        self._recompute_phase()

    # -------------------------------------------------------------------------------- output
    def _enqueue(self, events: Iterable[ClientEvent]) -> None:
        outbox = self._outbox
        if outbox is None:
            return
        for event in events:
            outbox.put_nowait(event)

    async def _send_outbox(self) -> None:
        outbox = self._outbox
        assert outbox is not None
        while True:
            event = await outbox.get()
            if event is None:
                return
            if isinstance(event, InputAudioBufferAppend):
                self._queued_uplink_ms = max(0.0, self._queued_uplink_ms - _append_ms(event))
            session = self._session
            if session is None:
                continue
            try:
                await session.send(event)
            except RealtimeError as exc:
                # Not connected (between connections the session itself holds what it can);
                # log it once per kind and carry on: the outbox must keep draining.
                log.info("could not send %s: %s", event.type, exc.message)

    async def _tick(self) -> None:
        """What only the audio thread's progress changes: whether the assistant is audible, and
        when each answer was first heard."""
        while True:
            await asyncio.sleep(TICK_S)
            self._note_first_heard()
            self._recompute_phase()
            key = self._stats_fingerprint()
            if key != self._stats_key:
                self._stats_key = key
                self._notify_stats()

    def _note_first_heard(self) -> None:
        engine = self.audio
        if engine is None:
            return
        for turn in self.turns[-3:]:
            if turn.first_heard_at is not None:
                continue
            if turn.audio_item_id is None:
                state = self.conversation.response(turn.response_id)
                if state is None:
                    continue
                turn.audio_item_id = next(
                    (
                        item_id
                        for item_id in state.item_ids
                        if (item := self.conversation.item(item_id)) is not None and item.has_audio
                    ),
                    None,
                )
            if turn.audio_item_id is not None:
                turn.first_heard_at = engine.first_heard_at(turn.audio_item_id)

    def _stats_fingerprint(self) -> tuple[Any, ...]:
        stats = self.audio.stats if self.audio is not None else None
        return (
            len(self.turns),
            sum(1 for t in self.turns if t.first_heard_at is not None),
            round(self.cost.total, 6),
            stats.xruns if stats is not None else 0,
            self._dropped_uplink_chunks,
        )

    # --------------------------------------------------------------------------------- state
    def _recompute_phase(self) -> None:
        if self._phase in (Phase.ERROR, Phase.IDLE) and self._session is None:
            return
        session = self._session
        if session is None:
            return
        if session.state in (SessionState.CONNECTING, SessionState.IDLE):
            phase = Phase.CONNECTING
        elif session.state is SessionState.RECONNECTING:
            phase = Phase.RECONNECTING
        elif session.state is SessionState.FAILED:
            phase = Phase.ERROR
        elif session.state in (SessionState.CLOSING, SessionState.CLOSED):
            phase = Phase.IDLE
        elif self.executor.active:
            phase = Phase.TOOL_RUNNING
        elif self._user_speaking or (self._ptt is not None and self._ptt.released_at is None):
            phase = Phase.USER_SPEAKING
        elif self.is_playing:
            phase = Phase.ASSISTANT_SPEAKING
        elif self.sequencer.active_response_id is not None or self._awaiting_response:
            streaming_text = self._active_response_streams_text()
            phase = Phase.ASSISTANT_SPEAKING if streaming_text else Phase.THINKING
        else:
            phase = Phase.LISTENING
        self._set_phase(phase)

    def _active_response_streams_text(self) -> bool:
        response_id = self.sequencer.active_response_id
        state = self.conversation.response(response_id) if response_id else None
        if state is None:
            return False
        return any(
            (item := self.conversation.item(item_id)) is not None and bool(item.display_text)
            for item_id in state.item_ids
        )

    def _set_phase(self, phase: Phase) -> None:
        if phase is self._phase:
            return
        self._phase = phase
        for listener in list(self._listeners):
            listener.phase_changed(phase)

    def _emit_notice(self, notice: Notice) -> None:
        for listener in list(self._listeners):
            listener.notice(notice)

    def _notify_stats(self) -> None:
        for listener in list(self._listeners):
            listener.stats_changed()

    def _notify_settings(self) -> None:
        for listener in list(self._listeners):
            listener.settings_changed()


def _append_ms(event: InputAudioBufferAppend) -> float:
    # 24 kHz PCM16: 48 bytes a millisecond; base64 carries 3 bytes in 4 characters. G.711 is
    # smaller per ms, so this overestimates its backlog a little, which only drops earlier.
    return len(event.audio) * 3 / 4 / 48.0


def _drain(queue: asyncio.Queue[ClientEvent | None]) -> list[ClientEvent]:
    items: list[ClientEvent] = []
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            items.append(item)
    return items


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        merged[key] = (
            _deep_merge(current, value)
            if isinstance(current, dict) and isinstance(value, dict)
            else value
        )
    return merged


__all__ = [
    "ControllerListener",
    "ControllerStats",
    "Notice",
    "NoticeAction",
    "NoticeLevel",
    "Phase",
    "RealtimeConversation",
    "TurnRecord",
]
