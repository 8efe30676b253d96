"""``RealtimeSession``: one logical Realtime session over as many WebSocket connections as it
takes (DESIGN.md "Reconnect and session rollover", PEERS.md M5).

Stable contract (other programs use these names)::

    from realtime_desktop.core import RealtimeSession, ConnectionSettings

    session = RealtimeSession(ConnectionSettings(url=..., api_key=..., dialect="ga"),
                              replay_items=conversation.replay_items)
    await session.connect()                 # raises a RealtimeError when it cannot
    event_id = await session.send(event)    # every client event gets an event_id
    async for event in session.events():    # typed server events; ends after close()/failure
        ...
    await session.close()

What a server close means here: *every* close loses the server session and its conversation. A
fatal one (a rejected key, no quota, the beta shape, close 4000) fails the session with a message
the user can act on. A transient one (a drop, 1011, the 60-minute cap's ``session_expired`` +
1001, which websockets reports as a *normal* close) reconnects with exponential backoff and jitter;
the new server session gets the session configuration again and the conversation is replayed as
items from the ``replay_items`` provider — never stale microphone audio. Before ``expires_at`` the
session rolls over to a fresh connection by itself at a turn boundary (no response in progress,
the user not speaking), so the cap never cuts a reply.

Observing it: ``session.state`` (a :class:`SessionState`), ``session.failure`` once failed, and
every transition as a :class:`StateChange` — through ``add_state_listener(callback)``,
``state_changes()``, or ``activity()``, which interleaves state changes with server events in the
order they happened (what a controller needs to reset its response bookkeeping at the right
moment).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import json
import logging
import random
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from realtime_desktop.protocol import (
    ClientEvent,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    Item,
    ItemReference,
    OutputAudioBufferClear,
    ProtocolError,
    RealtimeSessionConfig,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseCreateParams,
    ResponseDone,
    ServerEvent,
    SessionConfig,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    Severity,
    TranscriptionSessionConfig,
    UnknownItem,
    UnknownServerEvent,
    classify_close,
    classify_error,
    parse_server_event,
)
from realtime_desktop.protocol.session import UnknownSessionConfig

from .connection import ConnectionSettings, fetch_ephemeral_key, resolve_endpoint
from .errors import (
    ApiError,
    NetworkError,
    OperationCancelledError,
    OperationTimeoutError,
    RealtimeError,
    UnsupportedOperationError,
    error_from_detail,
)
from .redaction import redact
from .transport import close_details, open_websocket

log = logging.getLogger(__name__)

ReplayProvider = Callable[[], Sequence[Item]]
"""Returns the conversation to restore into a new server session, in order (the app passes
``Conversation.replay_items``)."""

# Events about the microphone buffer of a connection that is gone: replaying them into a new
# session would answer audio the user spoke seconds ago (PEERS.md M5 "Caution").
_STALE_AUDIO_EVENTS = (InputAudioBufferAppend, InputAudioBufferCommit, InputAudioBufferClear)
# Client events kept while not connected, to be sent after the replay. Bounded: a session that
# stays down drops the oldest rather than growing without limit.
_PENDING_LIMIT = 256
_SENT_LIMIT = 1024
_SENT_AUDIO_LIMIT = 256
# Server events kept for the first subscriber when nobody subscribed yet (a connect() before
# events() must not lose session.created). Bounded for an app that never subscribes.
_BACKLOG_LIMIT = 10_000
_SERVER_ONLY_SESSION_FIELDS = frozenset({"id", "object", "expires_at", "model"})


class SessionState(enum.StrEnum):
    """Where a :class:`RealtimeSession` is. ``failed`` always comes with ``session.failure``."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition of a session, with what the user should be told about it.

    Attributes:
        state, previous: the new and the previous state.
        reason: why, in words (``message`` builds the full status line).
        attempt, max_attempts, delay: for ``reconnecting``: this attempt's number, the limit,
            and the seconds waited before it.
        reconnected: ``connected`` again after a loss or a rollover (not the first connect).
        rollover: this change belongs to a proactive rollover before ``expires_at``.
        replayed_items: items the new server session acknowledged after a (re)connect.
        failed_items: items it rejected or did not acknowledge in time.
        error: the cause of ``reconnecting`` or ``failed``.
        at: ``time.monotonic()`` of the change.
    """

    state: SessionState
    previous: SessionState
    reason: str = ""
    attempt: int = 0
    max_attempts: int = 0
    delay: float = 0.0
    reconnected: bool = False
    rollover: bool = False
    replayed_items: int = 0
    failed_items: int = 0
    error: RealtimeError | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def context_restored(self) -> bool:
        """After a reconnect: every item was restored into the new server session."""
        return self.reconnected and self.failed_items == 0

    @property
    def message(self) -> str:
        """A status line for the user."""
        if self.state is SessionState.RECONNECTING:
            if self.rollover and self.attempt <= 1:
                return "Starting a fresh session before the time limit…"
            wait = f" in {self.delay:.1f} s" if self.delay >= 0.05 else ""
            cause = f" ({self.error.message})" if self.error else ""
            return f"Reconnecting{wait}, attempt {self.attempt} of {self.max_attempts}{cause}…"
        if self.state is SessionState.CONNECTED and self.reconnected:
            if self.failed_items:
                return (
                    f"Reconnected; context partly restored ({self.replayed_items} items, "
                    f"{self.failed_items} not restored)."
                )
            return f"Reconnected (context restored: {self.replayed_items} items)."
        if self.state is SessionState.FAILED and self.error is not None:
            return f"Connection failed: {self.error.user_message}"
        return self.reason or self.state.value.capitalize()


@dataclass(frozen=True, slots=True)
class SentEvent:
    """A client event the session sent, kept so an ``error`` can be traced to it.

    ``event`` is ``None`` for ``input_audio_buffer.append``: its audio is not kept.
    """

    event_id: str
    type: str
    sent_at: float
    event: ClientEvent | None


@dataclass(frozen=True, slots=True)
class Traffic:
    """One event on the wire, for an event inspector: ``direction`` is ``sent`` or
    ``received``; ``at`` is ``time.monotonic()``."""

    direction: Literal["sent", "received"]
    event: ClientEvent | ServerEvent
    at: float


_T = TypeVar("_T")
_END = object()


class SessionStream(Generic[_T]):
    """An async iterator over what a session publishes, with its own unbounded queue.

    It ends after the session is closed or has failed (once everything published before is
    read), or when :meth:`aclose` is called. Iterate it from the event loop's thread.
    """

    def __init__(
        self, accepts: Callable[[object], bool], detach: Callable[[SessionStream[Any]], None]
    ) -> None:
        self._accepts = accepts
        self._detach = detach
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._done = False

    def _offer(self, item: object) -> None:
        if self._accepts(item):
            self._queue.put_nowait(item)

    def _end(self) -> None:
        self._queue.put_nowait(_END)

    def __aiter__(self) -> SessionStream[_T]:
        return self

    async def __anext__(self) -> _T:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._done = True
            self._detach(self)
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stop receiving; the iteration ends."""
        self._done = True
        self._detach(self)


@dataclass(eq=False)
class _Connection:
    """One WebSocket connection of the session and what it has seen."""

    ws: ClientConnection
    number: int
    lost: asyncio.Future[RealtimeError]
    reader: asyncio.Task[None] | None = None
    established: bool = False
    intentional_close: bool = False
    fatal_error: ErrorEvent | None = None
    expired: bool = False
    rollover_allowed: bool = True
    watches: list[tuple[Callable[[ServerEvent], bool], asyncio.Future[None]]] = field(
        default_factory=list
    )


class RealtimeSession:
    """A Realtime session that survives connection losses and the server's time limit.

    Args:
        settings: where and how to connect (:class:`ConnectionSettings`).
        replay_items: what to restore into each new server session (called after every
            connect, also the first: a saved conversation continues in a new session). The app
            passes ``Conversation.replay_items``.

    Sending while reconnecting: events about the microphone buffer (``append_audio``,
    ``commit_audio``, ``clear_audio_buffer``) are dropped — stale audio is never replayed — and
    other events are queued (at most 256) and sent after the replay.
    """

    def __init__(
        self, settings: ConnectionSettings, *, replay_items: ReplayProvider | None = None
    ) -> None:
        self._settings = settings
        self._replay_items = replay_items
        self._state = SessionState.IDLE
        self._failure: RealtimeError | None = None
        self._conn: _Connection | None = None
        self._connections = 0
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._rollover_timer: asyncio.TimerHandle | None = None
        self._rollover_pending = False
        self._random = random.Random()
        self._id_prefix = secrets.token_hex(3)
        self._next_id = 0
        self._sent: OrderedDict[str, SentEvent] = OrderedDict()
        self._sent_audio: OrderedDict[str, SentEvent] = OrderedDict()
        self._pending: deque[ClientEvent] = deque()
        self._dropped_audio_events = 0
        self._reapply: dict[str, Any] | None = (
            settings.session_config.wire_dict() if settings.session_config else None
        )
        self._server_config: SessionConfig | None = None
        self._session_id: str | None = None
        self._expires_at: float | None = None
        self._responses_in_progress: set[str] = set()
        self._user_speaking = False
        self._unknown_types: set[str] = set()
        self._state_listeners: list[Callable[[StateChange], None]] = []
        self._traffic_listeners: list[Callable[[Traffic], None]] = []
        self._streams: list[SessionStream[Any]] = []
        self._backlog: deque[ServerEvent] | None = deque()
        self._backlog_dropped = 0
        self._ended = False

    # ------------------------------------------------------------------------------ properties
    @property
    def settings(self) -> ConnectionSettings:
        return self._settings

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def failure(self) -> RealtimeError | None:
        """Why the session failed (``state == failed``), with ``user_message`` for the user."""
        return self._failure

    @property
    def session_id(self) -> str | None:
        """The current server session's id (``sess_…``); a new one after every reconnect."""
        return self._session_id

    @property
    def expires_at(self) -> float | None:
        """When the server will end the current server session (Unix seconds), if it said."""
        return self._expires_at

    @property
    def server_config(self) -> SessionConfig | None:
        """The effective configuration from the last ``session.created``/``session.updated``."""
        return self._server_config

    @property
    def response_in_progress(self) -> bool:
        """A response was created and its ``response.done`` has not arrived yet."""
        return bool(self._responses_in_progress)

    @property
    def rollover_pending(self) -> bool:
        """The rollover before ``expires_at`` is due and waits for the turn to end."""
        return self._rollover_pending

    @property
    def connection_count(self) -> int:
        """WebSocket connections opened so far (1 + reconnects + rollovers)."""
        return self._connections

    @property
    def dropped_audio_events(self) -> int:
        """Microphone-buffer events dropped because no connection was up."""
        return self._dropped_audio_events

    @property
    def network_latency(self) -> float | None:
        """Round trip of the last WebSocket keepalive ping, in seconds (None before the first
        pong or while not connected). websockets measures it; the stats panel shows it."""
        conn = self._conn
        if conn is None or not conn.established:
            return None
        latency = conn.ws.latency
        return latency if latency > 0 else None

    # ------------------------------------------------------------------------------ observing
    def events(self) -> SessionStream[ServerEvent]:
        """Typed server events, in order, unknown types included (``UnknownServerEvent``).

        Each call is a new subscriber with its own queue. The first subscriber of server events
        (``events()`` or ``activity()``) also gets the events that arrived before anyone
        subscribed, so ``connect()`` before ``events()`` loses nothing. Ends after ``close()``
        or a fatal failure, once what was received before is read.
        """
        return self._subscribe(lambda item: isinstance(item, ServerEvent), backlog=True)

    def state_changes(self) -> SessionStream[StateChange]:
        """Every :class:`StateChange` from now on; ends with the session."""
        return self._subscribe(lambda item: isinstance(item, StateChange), backlog=False)

    def activity(self) -> SessionStream[ServerEvent | StateChange]:
        """Server events and state changes from now on, interleaved in the order they
        happened (plus early server events, like ``events()``)."""
        return self._subscribe(lambda item: True, backlog=True)

    def add_state_listener(self, listener: Callable[[StateChange], None]) -> Callable[[], None]:
        """Calls ``listener(change)`` synchronously on every transition; returns a remover."""
        self._state_listeners.append(listener)
        return lambda: self._remove(self._state_listeners, listener)

    def add_traffic_listener(self, listener: Callable[[Traffic], None]) -> Callable[[], None]:
        """Calls ``listener(traffic)`` for every event sent and received (an inspector's
        feed); returns a remover."""
        self._traffic_listeners.append(listener)
        return lambda: self._remove(self._traffic_listeners, listener)

    def cause_of(self, error: ErrorEvent) -> SentEvent | None:
        """The client event an ``error`` event names as its cause (by ``error.event_id``), if
        it was sent by this session recently."""
        event_id = error.error.event_id
        if not event_id:
            return None
        return self._sent.get(event_id) or self._sent_audio.get(event_id)

    def api_error(self, error: ErrorEvent) -> RealtimeError:
        """The classified exception for an ``error`` event, its message naming the cause."""
        exc = error_from_detail(error.error)
        cause = self.cause_of(error)
        if cause is not None:
            exc.message = f"{exc.message} (in reply to {cause.type} {cause.event_id})"
        return exc

    # ----------------------------------------------------------------------------- lifecycle
    async def connect(self) -> None:
        """Connects, waits for ``session.created``, applies the session configuration and
        replays ``replay_items``. Raises a :class:`RealtimeError` (and the session is
        ``failed``) when that does not succeed; the first connect is not retried."""
        if self._state in (
            SessionState.CONNECTING,
            SessionState.CONNECTED,
            SessionState.RECONNECTING,
            SessionState.CLOSING,
        ):
            raise UnsupportedOperationError(f"The session is already {self._state.value}.")
        self._closing = False
        self._failure = None
        self._ended = False
        self._set_state(SessionState.CONNECTING, reason="Connecting…")
        try:
            await self._establish(reconnected=False, rollover=False)
        except RealtimeError as exc:
            if self._closing:
                raise OperationCancelledError("Connecting was cancelled by close().") from exc
            self._fail(exc)
            raise
        except asyncio.CancelledError:
            if not self._closing:
                self._pending.clear()
                self._set_state(SessionState.CLOSED, reason="Connecting was cancelled.")
                self._end_streams()
            raise

    async def close(self) -> None:
        """Closes the connection (code 1000) and stops reconnecting; ``events()`` ends after
        what was already received. Safe to call in any state, more than once."""
        if self._state in (SessionState.IDLE, SessionState.CLOSED, SessionState.FAILED):
            if self._state is SessionState.IDLE:
                self._set_state(SessionState.CLOSED, reason="Closed.")
            self._end_streams()
            return
        if self._closing:
            return
        self._closing = True
        self._set_state(SessionState.CLOSING, reason="Closing…")
        self._cancel_rollover_timer()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            await asyncio.wait([supervisor])
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.intentional_close = True
            await self._discard(conn)
        self._pending.clear()
        self._responses_in_progress.clear()
        self._set_state(SessionState.CLOSED, reason="Closed.")
        self._end_streams()

    async def roll_over(self) -> None:
        """Starts a fresh server session now, at the next turn boundary (like the automatic
        rollover before ``expires_at``)."""
        if self._state is not SessionState.CONNECTED:
            raise UnsupportedOperationError("Only a connected session can roll over.")
        self._rollover_pending = True
        self._check_rollover(forced=True)

    # ------------------------------------------------------------------------------- sending
    async def send(self, event: ClientEvent) -> str:
        """Sends ``event`` and returns its ``event_id`` (set on ``event`` when it had none).

        While (re)connecting, microphone-buffer events are dropped and others are queued until
        the new server session is configured and replayed. Raises :class:`NetworkError` when
        the session is not connected and will not reconnect.
        """
        if event.event_id is None:
            event.event_id = self._new_event_id()
        event_id = event.event_id
        if isinstance(event, SessionUpdate):
            self._remember_session_update(event)
        conn = self._conn
        if conn is not None and conn.established and self._state is SessionState.CONNECTED:
            try:
                await self._send_on(conn, event)
            except ConnectionClosed:
                if not self._settings.auto_reconnect:
                    raise NetworkError(
                        f"Cannot send {event.type}: the connection was lost.",
                        hint="Connect again.",
                        retryable=True,
                    ) from None
                # The reader sees the same close and starts the reconnect; keep the event.
                self._hold(event)
            return event_id
        if self._state in (
            SessionState.CONNECTING,
            SessionState.RECONNECTING,
            SessionState.CONNECTED,  # between connections of a rollover
        ):
            self._hold(event)
            return event_id
        raise NetworkError(
            f"Cannot send {event.type}: the session is {self._state.value}.",
            hint="Connect first.",
        )

    async def update(self, config: SessionConfig) -> str:
        """``session.update``. The fields set are also merged into what is re-applied after a
        reconnect."""
        return await self.send(SessionUpdate(session=config))

    async def append_audio(self, audio: bytes | str) -> str:
        """``input_audio_buffer.append`` with raw bytes (base64-encoded here) or base64 text,
        in the session's input format."""
        text = audio if isinstance(audio, str) else base64.b64encode(audio).decode("ascii")
        return await self.send(InputAudioBufferAppend(audio=text))

    async def commit_audio(self) -> str:
        """``input_audio_buffer.commit`` (needs ≥ 100 ms of audio; not needed with VAD)."""
        return await self.send(InputAudioBufferCommit())

    async def clear_audio_buffer(self) -> str:
        """``input_audio_buffer.clear``."""
        return await self.send(InputAudioBufferClear())

    async def create_item(self, item: Item, previous_item_id: str | None = None) -> str:
        """``conversation.item.create``; ``previous_item_id``: ``None`` appends, ``"root"``
        prepends, an id inserts after that item."""
        event = ConversationItemCreate(item=item)
        if previous_item_id is not None:
            event.previous_item_id = previous_item_id
        return await self.send(event)

    async def delete_item(self, item_id: str) -> str:
        """``conversation.item.delete``."""
        return await self.send(ConversationItemDelete(item_id=item_id))

    async def truncate_item(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> str:
        """``conversation.item.truncate``: cut an assistant audio item to what was heard."""
        return await self.send(
            ConversationItemTruncate(
                item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
            )
        )

    async def retrieve_item(self, item_id: str) -> str:
        """``conversation.item.retrieve`` (the answer carries the item's audio)."""
        return await self.send(ConversationItemRetrieve(item_id=item_id))

    async def create_response(self, overrides: ResponseCreateParams | None = None) -> str:
        """``response.create`` as is. A conversation controller should go through
        :class:`~realtime_desktop.core.ResponseSequencer`, which sends it only when allowed."""
        event = ResponseCreate()
        if overrides is not None:
            event.response = overrides
        return await self.send(event)

    async def cancel_response(self, response_id: str | None = None) -> str:
        """``response.cancel`` as is (the sequencer knows when one is active)."""
        event = ResponseCancel()
        if response_id is not None:
            event.response_id = response_id
        return await self.send(event)

    async def clear_output_audio(self) -> str:
        """``output_audio_buffer.clear``: meaningful over WebRTC/SIP only."""
        return await self.send(OutputAudioBufferClear())

    # ---------------------------------------------------------------------------- internals
    def _new_event_id(self) -> str:
        self._next_id += 1
        return f"cli_{self._id_prefix}_{self._next_id}"

    def _hold(self, event: ClientEvent) -> None:
        if isinstance(event, _STALE_AUDIO_EVENTS):
            self._dropped_audio_events += 1
            if self._dropped_audio_events == 1 or self._dropped_audio_events % 500 == 0:
                log.debug(
                    "dropped %d microphone events while reconnecting", self._dropped_audio_events
                )
            return
        if len(self._pending) >= _PENDING_LIMIT:
            dropped = self._pending.popleft()
            log.warning("send queue full while reconnecting; dropped %s", dropped.type)
        self._pending.append(event)

    def _remember_session_update(self, event: SessionUpdate) -> None:
        update = event.session.wire_dict()
        if self._reapply is None or self._reapply.get("type") != update.get("type"):
            self._reapply = update
        else:
            _merge(self._reapply, update)

    def _config_to_apply(self) -> SessionConfig | None:
        if self._reapply is None:
            return None
        data = {k: v for k, v in self._reapply.items() if k not in _SERVER_ONLY_SESSION_FIELDS}
        kind = data.get("type")
        model: type[RealtimeSessionConfig | TranscriptionSessionConfig | UnknownSessionConfig]
        if kind in (None, "realtime"):
            model = RealtimeSessionConfig
        elif kind == "transcription":
            model = TranscriptionSessionConfig
        else:
            model = UnknownSessionConfig
        return model.model_validate(data)

    async def _credentials(self) -> str | None:
        if self._settings.ephemeral_key_url:
            return await fetch_ephemeral_key(self._settings)
        return self._settings.api_key

    async def _establish(self, *, reconnected: bool, rollover: bool) -> None:
        """Opens one connection and makes it the session's: handshake, configuration, replay,
        the queued events; then ``connected``. Raises a classified ``RealtimeError``."""
        key = await self._credentials()
        endpoint = resolve_endpoint(self._settings, key)
        ws = await open_websocket(endpoint, self._settings)
        if self._closing:
            await ws.close()
            raise OperationCancelledError("The session was closed while connecting.")
        self._connections += 1
        loop = asyncio.get_running_loop()
        conn = _Connection(ws=ws, number=self._connections, lost=loop.create_future())
        self._conn = conn
        conn.reader = asyncio.create_task(self._read(conn), name=f"realtime-reader-{conn.number}")
        try:
            replayed, failed = await self._handshake(conn)
        except BaseException:
            conn.intentional_close = True
            if self._conn is conn:
                self._conn = None
            await self._discard(conn)
            raise
        conn.established = True
        note = f" ({failed} items not restored)" if failed else ""
        self._set_state(
            SessionState.CONNECTED,
            reason=f"Connected to {endpoint.url.split('?', 1)[0]}{note}",
            reconnected=reconnected,
            rollover=rollover,
            replayed_items=replayed,
            failed_items=failed,
        )
        self._check_rollover()

    async def _handshake(self, conn: _Connection) -> tuple[int, int]:
        """``session.created``, then the configuration, the replay and the queued events.
        Returns the items restored and the items not restored."""
        try:
            await self._wait(
                conn,
                self._watch(conn, lambda e: isinstance(e, SessionCreated)),
                self._settings.open_timeout,
                "session.created",
            )
            restored = await self._configure_and_replay(conn)
            while self._pending:
                await self._send_on(conn, self._pending.popleft())
        except ConnectionClosed:
            # A send found the connection closed; the reader classifies how it ended.
            if conn.reader is not None:
                await asyncio.wait([conn.reader])
            restored = (0, 0)
        if conn.lost.done():
            raise conn.lost.result()
        return restored

    async def _configure_and_replay(self, conn: _Connection) -> tuple[int, int]:
        timeout = self._settings.replay_timeout
        config = self._config_to_apply()
        if config is not None:
            update = SessionUpdate(session=config, event_id=self._new_event_id())
            update_id = update.event_id

            def config_answered(event: ServerEvent) -> bool:
                if isinstance(event, SessionUpdated):
                    return True
                return isinstance(event, ErrorEvent) and event.error.event_id == update_id

            answered = self._watch(conn, config_answered)
            await self._send_on(conn, update)
            try:
                await self._wait(conn, answered, timeout, "session.updated")
            except OperationTimeoutError:
                log.warning("no session.updated within %g s; continuing", timeout)

        creates = self._replay_events()
        if not creates:
            return 0, 0
        waiting = {create.item.id: create for create in creates if create.item.id}
        by_event = {create.event_id: create.item.id for create in creates}
        rejected = 0

        def replay_answered(event: ServerEvent) -> bool:
            nonlocal rejected
            if isinstance(event, ConversationItemAdded | ConversationItemCreated):
                waiting.pop(event.item.id or "", None)
            elif isinstance(event, ErrorEvent) and event.error.event_id in by_event:
                item_id = by_event[event.error.event_id]
                if waiting.pop(item_id or "", None) is not None:
                    rejected += 1
                    log.warning("replayed item %s was rejected: %s", item_id, event.error.message)
            return not waiting

        answered = self._watch(conn, replay_answered)
        for create in creates:
            await self._send_on(conn, create)
        try:
            await self._wait(conn, answered, timeout, "the replayed items")
        except OperationTimeoutError:
            log.warning(
                "%d replayed items were not acknowledged within %g s", len(waiting), timeout
            )
        failed = rejected + len(waiting)
        return len(creates) - failed, failed

    def _replay_events(self) -> list[ConversationItemCreate]:
        if self._replay_items is None:
            return []
        creates = []
        for original in self._replay_items():
            if isinstance(original, ItemReference | UnknownItem):
                continue
            item = original.model_copy(deep=True)
            if not item.id:
                item.id = "rd_" + secrets.token_hex(10)
            creates.append(ConversationItemCreate(item=item, event_id=self._new_event_id()))
        return creates

    def _watch(
        self, conn: _Connection, done: Callable[[ServerEvent], bool]
    ) -> asyncio.Future[None]:
        """A future resolved when ``done(event)`` is true for a received event (failed when the
        connection is lost). Register it before sending what it waits for."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if conn.lost.done():
            future.set_exception(conn.lost.result())
        else:
            conn.watches.append((done, future))
        return future

    async def _wait(
        self, conn: _Connection, future: asyncio.Future[None], limit: float, what: str
    ) -> None:
        try:
            await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise OperationTimeoutError(
                f"The server did not send {what} within {limit:g} s.",
                hint="The server may be overloaded; the session will try again.",
                retryable=True,
            ) from None
        finally:
            conn.watches = [(d, f) for d, f in conn.watches if f is not future]

    async def _send_on(self, conn: _Connection, event: ClientEvent) -> None:
        if event.event_id is None:
            event.event_id = self._new_event_id()
        text = json.dumps(event.to_wire(self._settings.dialect), separators=(",", ":"))
        await conn.ws.send(text)
        now = time.monotonic()
        if isinstance(event, InputAudioBufferAppend):
            sent = SentEvent(event.event_id, event.type, now, None)
            _remember(self._sent_audio, sent, _SENT_AUDIO_LIMIT)
        else:
            _remember(self._sent, SentEvent(event.event_id, event.type, now, event), _SENT_LIMIT)
        if self._traffic_listeners:
            self._notify(self._traffic_listeners, Traffic("sent", event, now))

    async def _discard(self, conn: _Connection) -> None:
        """Closes ``conn`` (code 1000) and waits for its reader to finish."""
        with contextlib.suppress(ConnectionClosed):
            await conn.ws.close()
        if conn.reader is not None and conn.reader is not asyncio.current_task():
            await asyncio.wait([conn.reader])

    async def _read(self, conn: _Connection) -> None:
        closed: ConnectionClosed | None = None
        try:
            while True:
                frame = await conn.ws.recv()
                self._receive(conn, frame)
        except ConnectionClosed as exc:
            closed = exc
        code, reason = close_details(closed, conn.ws)
        self._on_lost(conn, code, reason)

    def _receive(self, conn: _Connection, frame: str | bytes) -> None:
        try:
            event = parse_server_event(frame, self._settings.dialect)
        except ProtocolError as exc:
            log.warning("ignored an unreadable server event: %s", exc)
            return
        try:
            self._observe(conn, event)
        except Exception:
            # A fault in our bookkeeping must not take the connection down with it; the event
            # still reaches the app.
            log.exception("error while handling %s", event.type)
        if conn.watches:
            for done, future in list(conn.watches):
                if not future.done() and done(event):
                    future.set_result(None)
        if self._traffic_listeners:
            self._notify(self._traffic_listeners, Traffic("received", event, time.monotonic()))
        self._publish(event)

    def _observe(self, conn: _Connection, event: ServerEvent) -> None:
        if isinstance(event, ResponseCreated | ResponseDone):
            response_id = event.response.id or ""
            if isinstance(event, ResponseCreated):
                self._responses_in_progress.add(response_id)
            else:
                self._responses_in_progress.discard(response_id)
                self._check_rollover()
        elif isinstance(event, InputAudioBufferSpeechStarted):
            self._user_speaking = True
        elif isinstance(
            event,
            InputAudioBufferSpeechStopped
            | InputAudioBufferCommitted
            | InputAudioBufferCleared
            | InputAudioBufferTimeoutTriggered,
        ):
            self._user_speaking = False
            self._check_rollover()
        elif isinstance(event, SessionCreated | SessionUpdated):
            self._server_config = event.session
            self._session_id = getattr(event.session, "id", None) or self._session_id
            expires_at = getattr(event.session, "expires_at", None)
            if isinstance(event, SessionCreated):
                self._expires_at = float(expires_at) if expires_at else None
                # A server whose sessions are already inside the margin when they start would
                # make every rollover start another; let its own expiry end those instead.
                conn.rollover_allowed = not self._rollover_due()
            elif expires_at:
                self._expires_at = float(expires_at)
            self._schedule_rollover()
        elif isinstance(event, ErrorEvent):
            self._on_error(conn, event)
        elif isinstance(event, UnknownServerEvent) and event.type not in self._unknown_types:
            self._unknown_types.add(event.type)
            log.info("received an event of unknown type %r; passing it on", event.type)

    def _on_error(self, conn: _Connection, event: ErrorEvent) -> None:
        detail = event.error
        classification = classify_error(detail.code, detail.type, detail.message)
        cause = self.cause_of(event)
        level = {
            Severity.BENIGN: logging.DEBUG,
            Severity.RECOVERABLE: logging.WARNING,
            Severity.TRANSIENT: logging.WARNING,
            Severity.FATAL: logging.ERROR,
        }[classification.severity]
        log.log(
            level,
            "server error %s (%s) in reply to %s: %s",
            detail.code or detail.type,
            classification.severity.value,
            f"{cause.type} {cause.event_id}" if cause else "no known event",
            redact(detail.message),
        )
        if classification.is_fatal:
            conn.fatal_error = event
        if detail.code == "session_expired":
            conn.expired = True

    def _on_lost(self, conn: _Connection, code: int, reason: str) -> None:
        error = self._loss_error(conn, code, reason)
        if not conn.lost.done():
            conn.lost.set_result(error)
        for _, future in conn.watches:
            if not future.done():
                future.set_exception(error)
        conn.watches.clear()
        if conn is not self._conn or conn.intentional_close or not conn.established:
            return
        log.info("connection %d lost: %s (close code %d)", conn.number, error.message, code)
        self._conn = None
        self._responses_in_progress.clear()
        self._user_speaking = False
        self._rollover_pending = False
        self._cancel_rollover_timer()
        if self._closing:
            return
        settings = self._settings
        will_retry = settings.auto_reconnect and settings.max_reconnect_attempts > 0
        if not error.retryable or not will_retry:
            self._fail(error)
            return
        self._supervisor = asyncio.create_task(
            self._reconnect(error, immediate=conn.expired, rollover=False),
            name="realtime-reconnect",
        )

    def _loss_error(self, conn: _Connection, code: int, reason: str) -> RealtimeError:
        if conn.fatal_error is not None:
            return error_from_detail(conn.fatal_error.error)
        classification = classify_close(code, reason)
        detail = f": {redact(reason)}" if reason else ""
        if conn.expired:
            return ApiError(
                f"The server session reached its time limit (close {code}{detail}).",
                hint=classification.hint,
                retryable=True,
                code="session_expired",
                severity=Severity.TRANSIENT,
            )
        if classification.is_fatal:
            return ApiError(
                f"The server closed the connection (code {code}{detail}).",
                hint=classification.hint,
                code=f"close_{code}",
                severity=Severity.FATAL,
            )
        return NetworkError(
            f"The connection was lost (code {code}{detail}).",
            hint=classification.hint,
            retryable=True,
            code=f"close_{code}",
        )

    async def _reconnect(self, cause: RealtimeError, *, immediate: bool, rollover: bool) -> None:
        settings = self._settings
        last = cause
        for attempt in range(1, settings.max_reconnect_attempts + 1):
            step = attempt - 1 if immediate else attempt
            delay = self._backoff(step) if step > 0 else 0.0
            self._set_state(
                SessionState.RECONNECTING,
                reason=last.message,
                attempt=attempt,
                max_attempts=settings.max_reconnect_attempts,
                delay=delay,
                rollover=rollover,
                error=last,
            )
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._establish(reconnected=True, rollover=rollover)
            except RealtimeError as exc:
                last = exc
                log.warning("reconnect attempt %d failed: %s", attempt, exc.message)
                if not exc.retryable:
                    self._fail(exc)
                    return
            else:
                self._supervisor = None
                return
        self._fail(
            NetworkError(
                f"Could not reconnect after {settings.max_reconnect_attempts} attempts: "
                f"{last.message}",
                hint=last.hint or "Check the network, then connect again.",
                retryable=True,
                code=last.code,
            )
        )

    def _backoff(self, step: int) -> float:
        """Attempt ``step`` (1, 2, …) waits between half and all of ``base * 2**(step-1)``,
        capped: exponential backoff with "equal jitter", so many clients dropped at once do
        not return in lockstep."""
        settings = self._settings
        ceiling = min(settings.max_reconnect_delay, settings.reconnect_delay * 2.0 ** (step - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    # Rollover -----------------------------------------------------------------------------------
    def _rollover_due(self) -> bool:
        if self._expires_at is None:
            return False
        return time.time() >= self._expires_at - self._settings.rollover_margin

    def _schedule_rollover(self) -> None:
        self._cancel_rollover_timer()
        if self._expires_at is None:
            return
        delay = self._expires_at - self._settings.rollover_margin - time.time()
        if delay > 0:
            loop = asyncio.get_running_loop()
            self._rollover_timer = loop.call_later(delay, self._check_rollover)
        else:
            self._check_rollover()

    def _cancel_rollover_timer(self) -> None:
        if self._rollover_timer is not None:
            self._rollover_timer.cancel()
            self._rollover_timer = None

    def _check_rollover(self, *, forced: bool = False) -> None:
        conn = self._conn
        if conn is None or not conn.established or self._state is not SessionState.CONNECTED:
            return
        scheduled = conn.rollover_allowed and self._rollover_due()
        if not forced and not self._rollover_pending and not scheduled:
            return
        if self._responses_in_progress or self._user_speaking:
            if not self._rollover_pending:
                log.info("session rollover due; waiting for the turn to end")
            self._rollover_pending = True
            return
        self._rollover_pending = False
        self._cancel_rollover_timer()
        conn.intentional_close = True
        self._conn = None
        self._supervisor = asyncio.create_task(self._roll_over(conn), name="realtime-rollover")

    async def _roll_over(self, old: _Connection) -> None:
        log.info("rolling over to a fresh server session before it expires")
        await self._discard(old)
        cause = ApiError(
            "The server session is close to its time limit.",
            retryable=True,
            code="rollover",
            severity=Severity.TRANSIENT,
        )
        await self._reconnect(cause, immediate=True, rollover=True)

    # Publishing ---------------------------------------------------------------------------------
    def _subscribe(self, accepts: Callable[[object], bool], *, backlog: bool) -> SessionStream[Any]:
        stream: SessionStream[Any] = SessionStream(accepts, self._detach)
        if backlog and self._backlog is not None:
            if self._backlog_dropped:
                log.warning(
                    "%d early events were dropped before anyone subscribed", self._backlog_dropped
                )
            for item in self._backlog:
                stream._offer(item)
            self._backlog = None
        if self._ended:
            stream._end()
        else:
            self._streams.append(stream)
        return stream

    def _detach(self, stream: SessionStream[Any]) -> None:
        self._remove(self._streams, stream)

    def _publish(self, item: ServerEvent | StateChange) -> None:
        for stream in self._streams:
            stream._offer(item)
        backlog = self._backlog
        if backlog is not None and isinstance(item, ServerEvent):
            if len(backlog) >= _BACKLOG_LIMIT:
                backlog.popleft()
                self._backlog_dropped += 1
            backlog.append(item)

    def _end_streams(self) -> None:
        if self._ended:
            return
        self._ended = True
        streams, self._streams = self._streams, []
        for stream in streams:
            stream._end()

    def _set_state(self, state: SessionState, **details: Any) -> None:
        change = StateChange(state=state, previous=self._state, **details)
        self._state = state
        level = logging.WARNING if state is SessionState.FAILED else logging.INFO
        log.log(level, "session %s: %s", state.value, change.message)
        self._notify(self._state_listeners, change)
        self._publish(change)

    def _fail(self, error: RealtimeError) -> None:
        self._failure = error
        self._pending.clear()
        self._supervisor = None
        self._cancel_rollover_timer()
        self._set_state(SessionState.FAILED, reason=error.user_message, error=error)
        self._end_streams()

    def _notify(self, listeners: list[Callable[[_T], None]], value: _T) -> None:
        for listener in list(listeners):
            try:
                listener(value)
            except Exception:
                # A faulty observer (a UI slot) must not break the session it observes.
                log.exception("a session listener failed")

    @staticmethod
    def _remove(collection: list[Any], value: object) -> None:
        with contextlib.suppress(ValueError):
            collection.remove(value)


def _remember(store: OrderedDict[str, SentEvent], sent: SentEvent, limit: int) -> None:
    store[sent.event_id] = sent
    if len(store) > limit:
        store.popitem(last=False)


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Merges ``update`` into ``target`` like the server applies a partial session.update."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
