"""``Conversation``: a pure, synchronous reducer from server events to the conversation the UI
shows (DESIGN.md "Conversation and response rules", PROTOCOL.md §5–§7).

Feed it every server event with :meth:`Conversation.apply`; it never does I/O and never raises
for odd input (events for unknown items, duplicates, any order). What it keeps:

* **Items in server order**, placed by ``previous_item_id`` (never by arrival time), as typed
  :class:`ConversationItem` objects a view renders directly: role and kind, streaming text and
  transcript, the user's transcription status (pending / streaming / completed / failed with a
  reason — those events may arrive before the item itself), function calls with their streamed
  arguments and, once sent, their output, and truncation: the server deletes a truncated item's
  transcript, the local copy is kept with ``truncated_at_ms``.
* **Responses** as :class:`ResponseState`: status, reason, error, usage, and their items.
* **Change notifications** a Qt list model adapts without resets: ``item_inserting/inserted``,
  ``item_changed(index, fields)``, ``item_removing/removed``, ``clearing/cleared``, sent before
  and after each structural change (see :class:`ConversationListener`), plus
  ``response_changed``.

Two outputs for the rest of the app: :meth:`Conversation.replay_items` (what a new server session
needs to continue: text, transcripts, tool calls and outputs — never audio) and
:meth:`Conversation.snapshot` (a JSON-ready document the conversation store persists;
:meth:`Conversation.from_snapshot` restores it).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from realtime_desktop.protocol import (
    ContentPart,
    ConversationItemAdded,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioBufferCommitted,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    Item,
    McpApprovalRequestItem,
    McpApprovalResponseItem,
    McpCallItem,
    McpListToolsItem,
    MessageItem,
    RealtimeResponse,
    RealtimeSessionConfig,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    Usage,
)
from realtime_desktop.protocol.session import PCM_FORMAT_TYPE

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1


class ItemKind(enum.StrEnum):
    MESSAGE = "message"
    FUNCTION_CALL = "function_call"
    FUNCTION_CALL_OUTPUT = "function_call_output"
    MCP_CALL = "mcp_call"
    MCP_LIST_TOOLS = "mcp_list_tools"
    MCP_APPROVAL_REQUEST = "mcp_approval_request"
    MCP_APPROVAL_RESPONSE = "mcp_approval_response"
    OTHER = "other"


class ItemStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"


class TranscriptionStatus(enum.StrEnum):
    """The user's speech-to-text for an audio item (a separate, asynchronous model)."""

    NONE = "none"  # not spoken audio, or input transcription is off
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(eq=False)
class ConversationItem:
    """One item of the conversation, as the UI renders it.

    Attributes:
        id: the server's item id.
        kind: message, function call, function call output, MCP items, or other.
        role: ``user`` / ``assistant`` / ``system`` for messages.
        status: ``in_progress`` while streaming, then ``completed`` or ``incomplete``.
        previous_item_id: the item the server placed it after (``None``: appended).
        response_id: the response that produced it (model output only).
        text: typed text (user/system) or the model's text output, streaming.
        transcript: speech as text — the user's input transcription, or the assistant's audio
            transcript, streaming. Kept after a truncation even though the server deletes it.
        has_audio: the item carries speech (user input audio or assistant audio).
        audio_ms: milliseconds of assistant audio received so far.
        transcription: status of the user's input transcription (:class:`TranscriptionStatus`).
        transcription_error: why it failed, for "transcript unavailable: …".
        truncated_at_ms: the item was interrupted and truncated at this point of its audio.
        call_id, name, arguments: function/MCP calls; ``arguments`` streams in.
        output: a call's result (on the call, once its output item exists) or an output item's.
        server_label, error: MCP calls.
        images: number of image parts (their data is not kept).
        raw: the wire form of an item of a kind this client does not know.
    """

    id: str
    kind: ItemKind
    role: str | None = None
    status: ItemStatus = ItemStatus.IN_PROGRESS
    previous_item_id: str | None = None
    response_id: str | None = None
    text: str = ""
    transcript: str = ""
    has_audio: bool = False
    audio_ms: float = 0.0
    transcription: TranscriptionStatus = TranscriptionStatus.NONE
    transcription_error: str | None = None
    truncated_at_ms: int | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str = ""
    output: str | None = None
    server_label: str | None = None
    error: str | None = None
    images: int = 0
    raw: dict[str, Any] | None = None

    @property
    def display_text(self) -> str:
        """What to show in the bubble: the text, else the transcript."""
        return self.text or self.transcript

    @property
    def interrupted(self) -> bool:
        return self.truncated_at_ms is not None

    @property
    def heard_transcript(self) -> str:
        """For a truncated assistant item, the part of the transcript that was probably heard,
        estimated from the audio played over the audio received (there is no alignment between
        the two, PROTOCOL.md §9.14) and cut back to a whole word. Otherwise the transcript."""
        if self.truncated_at_ms is None or self.audio_ms <= 0:
            return self.transcript
        fraction = min(1.0, max(0.0, self.truncated_at_ms / self.audio_ms))
        if fraction >= 1.0:
            return self.transcript
        cut = int(len(self.transcript) * fraction)
        heard = self.transcript[:cut]
        if cut < len(self.transcript) and not self.transcript[cut].isspace() and " " in heard:
            heard = heard.rsplit(" ", 1)[0]
        return heard.rstrip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_dict` restores it."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationItem:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["kind"] = ItemKind(values.get("kind", "other"))
        values["status"] = ItemStatus(values.get("status", "completed"))
        values["transcription"] = TranscriptionStatus(values.get("transcription", "none"))
        return cls(**values)


@dataclass(eq=False)
class ResponseState:
    """One response: where it is, why it ended, what it cost in tokens, what it produced.

    ``status`` is the wire status (``in_progress``, ``completed``, ``cancelled``, ``failed``,
    ``incomplete``), or ``unknown`` for a response seen only through its output events;
    ``reason`` the ``status_details.reason`` (``turn_detected``,
    ``client_cancelled``, ``max_output_tokens``, …) or ``connection_lost`` when the connection
    ended it. ``out_of_band``: created with ``conversation: "none"``, so its output is not part
    of the conversation and it may run alongside the default one.
    """

    id: str
    status: str = "in_progress"
    reason: str | None = None
    error: str | None = None
    usage: Usage | None = None
    item_ids: list[str] = field(default_factory=list)
    out_of_band: bool = False
    metadata: dict[str, str] | None = None

    @property
    def active(self) -> bool:
        return self.status == "in_progress"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "error": self.error,
            "usage": self.usage.wire_dict() if self.usage is not None else None,
            "item_ids": list(self.item_ids),
            "out_of_band": self.out_of_band,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResponseState:
        usage = data.get("usage")
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "completed")),
            reason=data.get("reason"),
            error=data.get("error"),
            usage=Usage.model_validate(usage) if isinstance(usage, dict) else None,
            item_ids=list(data.get("item_ids", [])),
            out_of_band=bool(data.get("out_of_band", False)),
            metadata=data.get("metadata"),
        )


class ConversationListener:
    """Told before and after every structural change, so an item model can bracket it with
    ``begin…``/``end…`` while the list still has its old shape. Subclass and override what you
    need; every method does nothing by default."""

    def item_inserting(self, index: int) -> None:
        """An item is about to be inserted at ``index``."""

    def item_inserted(self, index: int) -> None:
        """The item at ``index`` was inserted."""

    def item_changed(self, index: int, changed: frozenset[str]) -> None:
        """Fields (names of :class:`ConversationItem` attributes) of the item at ``index``."""

    def item_removing(self, index: int) -> None:
        """The item at ``index`` is about to be removed."""

    def item_removed(self, index: int) -> None:
        """The item that was at ``index`` is gone (later items moved up by one)."""

    def clearing(self) -> None:
        """Every item is about to go."""

    def cleared(self) -> None:
        """The list is empty."""

    def response_changed(self, response: ResponseState, changed: frozenset[str]) -> None:
        """A response was created or changed (``status``, ``usage``, …)."""


_TRACKED = tuple(f.name for f in fields(ConversationItem))


class Conversation:
    """The reducer. See the module docstring; ``apply`` every server event in order."""

    def __init__(self) -> None:
        self._items: list[ConversationItem] = []
        self._by_id: dict[str, ConversationItem] = {}  # placed and not yet placed
        self._positions: dict[str, int] = {}
        self._positions_valid = True
        self._placed_after: dict[str, str] = {}
        self._deleted: set[str] = set()
        self._responses: dict[str, ResponseState] = {}
        self._listeners: list[ConversationListener] = []
        self._transcription_enabled = False
        self._output_bytes_per_ms = 48.0  # 24 kHz PCM16 until the session says otherwise

    # ------------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> ConversationItem:
        return self._items[index]

    def __iter__(self) -> Iterator[ConversationItem]:
        return iter(self._items)

    @property
    def items(self) -> list[ConversationItem]:
        """The items in server order (a copy of the list; the items themselves are live)."""
        return list(self._items)

    def item(self, item_id: str) -> ConversationItem | None:
        """An item by id, also one known from early events but not placed yet."""
        return self._by_id.get(item_id)

    def index_of(self, item_id: str) -> int | None:
        """The row of a placed item."""
        if not self._positions_valid:
            self._positions = {item.id: i for i, item in enumerate(self._items)}
            self._positions_valid = True
        return self._positions.get(item_id)

    def placed_after(self, item_id: str) -> str | None:
        """The item ``item_id`` was placed right after (its ``previous_item_id`` when that was
        known at the time), for checking the order."""
        return self._placed_after.get(item_id)

    @property
    def responses(self) -> list[ResponseState]:
        """Every response seen, oldest first."""
        return list(self._responses.values())

    def response(self, response_id: str) -> ResponseState | None:
        return self._responses.get(response_id)

    @property
    def active_response(self) -> ResponseState | None:
        """The response in progress on the default conversation, if any (at most one)."""
        for response in reversed(self._responses.values()):
            if response.active and not response.out_of_band:
                return response
        return None

    # ----------------------------------------------------------------------------- listeners
    def add_listener(self, listener: ConversationListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ConversationListener) -> None:
        self._listeners.remove(listener)

    # ------------------------------------------------------------------------------ reducing
    def apply(self, event: ServerEvent) -> None:
        """Updates the state for one server event; events it has no use for are ignored."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def clear(self) -> None:
        """Forgets everything (a new conversation)."""
        for listener in self._listeners:
            listener.clearing()
        self._items.clear()
        self._by_id.clear()
        self._positions.clear()
        self._positions_valid = True
        self._placed_after.clear()
        self._deleted.clear()
        self._responses.clear()
        for listener in self._listeners:
            listener.cleared()

    def mark_connection_lost(self) -> None:
        """The connection ended: whatever was streaming will never finish. Responses in
        progress end as ``failed``/``connection_lost``, streaming items as ``incomplete``, and
        pending user transcriptions as failed (the new server session will not send them)."""
        for response in list(self._responses.values()):
            if response.active:
                response.status = "failed"
                response.reason = "connection_lost"
                self._response_changed(response, {"status", "reason"})
        for item in list(self._by_id.values()):
            before = self._state_of(item)
            if item.status is ItemStatus.IN_PROGRESS:
                item.status = ItemStatus.INCOMPLETE
            if item.transcription in (TranscriptionStatus.PENDING, TranscriptionStatus.STREAMING):
                item.transcription = TranscriptionStatus.FAILED
                item.transcription_error = "The connection was lost before the transcript came."
            self._changed(item, before)

    # -------------------------------------------------------------------------------- output
    def replay_items(self) -> list[Item]:
        """What to create in a new server session to continue this conversation, in order:
        user and system text, user speech as text from its transcript, assistant turns as text
        (audio cannot be replayed; a truncated turn only up to what was heard), completed
        function calls and their outputs. Items without text (a user turn whose transcript
        never came) and in-progress items are left out. Item ids are kept, so the new server
        session and this conversation keep naming items the same way."""
        replay: list[Item] = []
        for item in self._items:
            if item.status is ItemStatus.IN_PROGRESS:
                continue
            if item.kind is ItemKind.MESSAGE:
                message = self._replay_message(item)
                if message is not None:
                    replay.append(message)
            elif item.kind is ItemKind.FUNCTION_CALL and item.call_id and item.name:
                if item.status is ItemStatus.COMPLETED:
                    replay.append(
                        FunctionCallItem(
                            id=item.id,
                            call_id=item.call_id,
                            name=item.name,
                            arguments=item.arguments or "{}",
                        )
                    )
            elif item.kind is ItemKind.FUNCTION_CALL_OUTPUT and item.call_id:
                replay.append(
                    FunctionCallOutputItem(
                        id=item.id, call_id=item.call_id, output=item.output or ""
                    )
                )
        return replay

    @staticmethod
    def _replay_message(item: ConversationItem) -> MessageItem | None:
        if item.role == "assistant":
            text = item.text or item.heard_transcript
            return MessageItem.assistant_text(text, item_id=item.id) if text else None
        text = item.display_text
        if not text:
            return None
        if item.role == "system":
            return MessageItem.system_text(text, item_id=item.id)
        return MessageItem.user_text(text, item_id=item.id)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready document of the whole state (no audio)."""
        return {
            "version": SNAPSHOT_VERSION,
            "items": [item.to_dict() for item in self._items],
            "placed_after": dict(self._placed_after),
            "responses": [response.to_dict() for response in self._responses.values()],
            "transcription_enabled": self._transcription_enabled,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Conversation:
        """A conversation restored from :meth:`snapshot` (to show it, or continue it)."""
        version = data.get("version")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported conversation snapshot version {version!r}")
        conversation = cls()
        for raw in data.get("items", []):
            item = ConversationItem.from_dict(raw)
            conversation._items.append(item)
            conversation._by_id[item.id] = item
        conversation._positions_valid = False
        conversation._placed_after = dict(data.get("placed_after", {}))
        for raw in data.get("responses", []):
            response = ResponseState.from_dict(raw)
            conversation._responses[response.id] = response
        conversation._transcription_enabled = bool(data.get("transcription_enabled", False))
        return conversation

    # -------------------------------------------------------------------------- the handlers
    def _on_session(self, event: SessionCreated | SessionUpdated) -> None:
        config = event.session
        if not isinstance(config, RealtimeSessionConfig) or config.audio is None:
            return
        audio_input = config.audio.input
        if audio_input is not None and "transcription" in audio_input.model_fields_set:
            self._transcription_enabled = audio_input.transcription is not None
        audio_output = config.audio.output
        if audio_output is not None and "format" in audio_output.model_fields_set:
            output = config.output_format
            bytes_per_sample = 2 if output.type in (None, PCM_FORMAT_TYPE) else 1
            self._output_bytes_per_ms = output.sample_rate * bytes_per_sample / 1000

    def _on_item_event(
        self,
        event: ConversationItemAdded
        | ConversationItemCreated
        | ConversationItemDone
        | ConversationItemRetrieved,
    ) -> None:
        placing = not isinstance(event, ConversationItemRetrieved)
        previous = getattr(event, "previous_item_id", None)
        authoritative = isinstance(event, ConversationItemAdded | ConversationItemCreated)
        self._upsert(event.item, previous=previous, place=placing, authoritative=authoritative)

    def _on_output_item(self, event: ResponseOutputItemAdded | ResponseOutputItemDone) -> None:
        response = self._response_for(event.response_id)
        item = self._upsert(event.item, response_id=event.response_id, place=False)
        if item is None:
            return
        if item.id not in response.item_ids:
            response.item_ids.append(item.id)
        # A server that sends no conversation.item.added still gets the item shown, appended,
        # once it is final; output of an out-of-band response is not part of the conversation.
        if isinstance(event, ResponseOutputItemDone) and not response.out_of_band:
            self._place(item, None)

    def _on_committed(self, event: InputAudioBufferCommitted) -> None:
        # The user item exists from the commit on: show a placeholder bubble until the item
        # and its transcript arrive (PEERS.md pain point 9).
        if event.item_id in self._deleted:
            return
        item = self._user_audio_item(event.item_id)
        self._place(item, event.previous_item_id)

    def _on_transcription_delta(self, event: InputAudioTranscriptionDelta) -> None:
        item = self._user_audio_item(event.item_id)
        if item.transcription in (TranscriptionStatus.COMPLETED, TranscriptionStatus.FAILED):
            return  # a late delta after the final transcript
        before = self._state_of(item)
        item.transcript += event.delta or ""
        item.transcription = TranscriptionStatus.STREAMING
        self._changed(item, before)

    def _on_transcription_completed(self, event: InputAudioTranscriptionCompleted) -> None:
        item = self._user_audio_item(event.item_id)
        before = self._state_of(item)
        item.transcript = event.transcript
        item.transcription = TranscriptionStatus.COMPLETED
        item.transcription_error = None
        self._changed(item, before)

    def _on_transcription_failed(self, event: InputAudioTranscriptionFailed) -> None:
        item = self._user_audio_item(event.item_id)
        if item.transcription is TranscriptionStatus.COMPLETED:
            return
        before = self._state_of(item)
        error = event.error
        item.transcription = TranscriptionStatus.FAILED
        item.transcription_error = error.message or error.code or error.type or "unknown error"
        self._changed(item, before)

    def _on_response_created(self, event: ResponseCreated) -> None:
        response = self._response_for(event.response.id or "")
        self._update_response(response, event.response)
        if response.active and not response.out_of_band:
            # One response at a time on the default conversation: an older one still "in
            # progress" lost its response.done (it cannot still be running).
            for other in self._responses.values():
                if other is not response and other.active and not other.out_of_band:
                    other.status = "failed"
                    other.reason = "superseded"
                    log.warning("response %s never finished; %s started", other.id, response.id)
                    self._response_changed(other, {"status", "reason"})

    def _on_response_done(self, event: ResponseDone) -> None:
        response = self._response_for(event.response.id or "")
        self._update_response(response, event.response)
        for output in event.response.output or ():
            item = self._upsert(output, response_id=response.id, place=False)
            if item is not None and item.id not in response.item_ids:
                response.item_ids.append(item.id)
        final = ItemStatus.COMPLETED if response.status == "completed" else ItemStatus.INCOMPLETE
        for item_id in response.item_ids:
            item = self._by_id.get(item_id)
            if item is None:
                continue
            if not response.out_of_band and item_id not in self._deleted:
                self._place(item, None)
            if item.status is ItemStatus.IN_PROGRESS:
                before = self._state_of(item)
                item.status = final
                self._changed(item, before)

    def _on_text_delta(self, event: ResponseOutputTextDelta) -> None:
        item = self._output_item(event.item_id, event.response_id)
        if item is not None:
            before = self._state_of(item)
            item.text += event.delta
            self._changed(item, before)

    def _on_text_done(self, event: ResponseOutputTextDone) -> None:
        item = self._output_item(event.item_id, event.response_id)
        if item is not None:
            before = self._state_of(item)
            item.text = event.text
            self._changed(item, before)

    def _on_transcript_delta(self, event: ResponseOutputAudioTranscriptDelta) -> None:
        item = self._output_item(event.item_id, event.response_id)
        if item is not None:
            before = self._state_of(item)
            item.transcript += event.delta
            item.has_audio = True
            self._changed(item, before)

    def _on_transcript_done(self, event: ResponseOutputAudioTranscriptDone) -> None:
        item = self._output_item(event.item_id, event.response_id)
        if item is not None and event.transcript:
            before = self._state_of(item)
            item.transcript = event.transcript
            item.has_audio = True
            self._changed(item, before)

    def _on_audio_delta(self, event: ResponseOutputAudioDelta) -> None:
        # The hot path (dozens a second): count the audio, notify only when it first appears.
        item = self._by_id.get(event.item_id) or self._output_item(event.item_id, event.response_id)
        if item is None:
            return
        delta = event.delta
        padding = delta.count("=", max(0, len(delta) - 2))
        item.audio_ms += (len(delta) * 3 // 4 - padding) / self._output_bytes_per_ms
        if not item.has_audio:
            item.has_audio = True
            self._notify_changed(item, frozenset({"has_audio"}))

    def _on_content_part(self, event: ResponseContentPartAdded | ResponseContentPartDone) -> None:
        item = self._output_item(event.item_id, event.response_id)
        if item is None:
            return
        before = self._state_of(item)
        part = event.part
        if part.is_audio:
            item.has_audio = True
            if part.transcript and isinstance(event, ResponseContentPartDone):
                item.transcript = part.transcript
        elif part.text and isinstance(event, ResponseContentPartDone):
            item.text = part.text
        self._changed(item, before)

    def _on_arguments_delta(self, event: ResponseFunctionCallArgumentsDelta) -> None:
        item = self._call_item(event.item_id, event.response_id, event.call_id)
        if item is not None:
            before = self._state_of(item)
            item.arguments += event.delta
            self._changed(item, before)

    def _on_arguments_done(self, event: ResponseFunctionCallArgumentsDone) -> None:
        item = self._call_item(event.item_id, event.response_id, event.call_id)
        if item is not None:
            before = self._state_of(item)
            item.arguments = event.arguments
            if event.name:
                item.name = event.name
            self._changed(item, before)

    def _on_mcp_arguments(
        self, event: ResponseMcpCallArgumentsDelta | ResponseMcpCallArgumentsDone
    ) -> None:
        item = self._by_id.get(event.item_id)
        if item is None or item.kind is not ItemKind.MCP_CALL:
            return
        before = self._state_of(item)
        if isinstance(event, ResponseMcpCallArgumentsDelta):
            item.arguments += event.delta
        else:
            item.arguments = event.arguments
        self._changed(item, before)

    def _on_mcp_call_end(self, event: ResponseMcpCallCompleted | ResponseMcpCallFailed) -> None:
        item = self._by_id.get(event.item_id)
        if item is None or item.kind is not ItemKind.MCP_CALL:
            return
        before = self._state_of(item)
        if isinstance(event, ResponseMcpCallFailed):
            item.status = ItemStatus.INCOMPLETE
            item.error = item.error or "The MCP call failed."
        else:
            item.status = ItemStatus.COMPLETED
        self._changed(item, before)

    def _on_truncated(self, event: ConversationItemTruncated) -> None:
        item = self._by_id.get(event.item_id)
        if item is None:
            return
        # The server drops the whole transcript (PROTOCOL.md §5.5); the UI keeps its copy and
        # marks where the listener stopped hearing.
        before = self._state_of(item)
        item.truncated_at_ms = event.audio_end_ms
        self._changed(item, before)

    def _on_deleted(self, event: ConversationItemDeleted) -> None:
        self._deleted.add(event.item_id)
        item = self._by_id.pop(event.item_id, None)
        self._placed_after.pop(event.item_id, None)
        for later, previous in list(self._placed_after.items()):
            if previous == event.item_id:
                del self._placed_after[later]
        if item is None:
            return
        index = self.index_of(event.item_id)
        if index is None:
            return
        for listener in self._listeners:
            listener.item_removing(index)
        del self._items[index]
        self._positions_valid = False
        for listener in self._listeners:
            listener.item_removed(index)

    # ------------------------------------------------------------------------ item plumbing
    def _upsert(
        self,
        wire: Item,
        *,
        previous: str | None = None,
        response_id: str | None = None,
        place: bool,
        authoritative: bool = False,
    ) -> ConversationItem | None:
        item_id = wire.id
        if not item_id:
            return None
        if item_id in self._deleted:
            if not authoritative:
                return None
            self._deleted.discard(item_id)  # the server re-created an item with this id
        item = self._by_id.get(item_id)
        if item is None:
            # Model output streams (in_progress until its done events); an item the client
            # created is complete when the server adds it, whether or not it says so.
            status = ItemStatus.IN_PROGRESS if response_id else ItemStatus.COMPLETED
            item = ConversationItem(id=item_id, kind=_kind_of(wire), status=status)
            if item.kind is ItemKind.MESSAGE and isinstance(wire, MessageItem):
                item.role = wire.role
                if wire.role == "user" and wire.has_audio and self._transcription_enabled:
                    item.transcription = TranscriptionStatus.PENDING
            self._by_id[item_id] = item
            before = None
        else:
            before = self._state_of(item)
        if response_id and not item.response_id:
            item.response_id = response_id
        _merge_wire(item, wire)
        if item.kind is ItemKind.FUNCTION_CALL_OUTPUT:
            self._link_output(item)
        if before is not None:
            self._changed(item, before)
        if place:
            self._place(item, previous)
        return item

    def _place(self, item: ConversationItem, previous: str | None) -> None:
        if self.index_of(item.id) is not None:
            return
        item.previous_item_id = previous
        after = self.index_of(previous) if previous else None
        index = len(self._items) if after is None else after + 1
        if after is not None and previous is not None:
            self._placed_after[item.id] = previous
        for listener in self._listeners:
            listener.item_inserting(index)
        self._items.insert(index, item)
        if index == len(self._items) - 1 and self._positions_valid:
            self._positions[item.id] = index
        else:
            self._positions_valid = False
        for listener in self._listeners:
            listener.item_inserted(index)

    def _user_audio_item(self, item_id: str) -> ConversationItem:
        item = self._by_id.get(item_id)
        if item is None:
            item = ConversationItem(
                id=item_id,
                kind=ItemKind.MESSAGE,
                role="user",
                status=ItemStatus.COMPLETED,  # the audio is committed; its transcript may follow
                has_audio=True,
                transcription=(
                    TranscriptionStatus.PENDING
                    if self._transcription_enabled
                    else TranscriptionStatus.NONE
                ),
            )
            self._by_id[item_id] = item
        return item

    def _output_item(self, item_id: str, response_id: str) -> ConversationItem | None:
        """The assistant item a streaming event is about; created (not placed) when the event
        arrives before the item."""
        if item_id in self._deleted:
            return None
        item = self._by_id.get(item_id)
        if item is None:
            item = ConversationItem(
                id=item_id, kind=ItemKind.MESSAGE, role="assistant", response_id=response_id
            )
            self._by_id[item_id] = item
            response = self._response_for(response_id)
            response.item_ids.append(item_id)
        return item

    def _call_item(self, item_id: str, response_id: str, call_id: str) -> ConversationItem | None:
        if item_id in self._deleted:
            return None
        item = self._by_id.get(item_id)
        if item is None:
            item = ConversationItem(
                id=item_id, kind=ItemKind.FUNCTION_CALL, response_id=response_id, call_id=call_id
            )
            self._by_id[item_id] = item
            self._response_for(response_id).item_ids.append(item_id)
        return item

    def _link_output(self, output: ConversationItem) -> None:
        if not output.call_id:
            return
        for item in self._by_id.values():
            if item.kind is ItemKind.FUNCTION_CALL and item.call_id == output.call_id:
                if item.output != output.output:
                    before = self._state_of(item)
                    item.output = output.output
                    self._changed(item, before)
                return

    def _response_for(self, response_id: str) -> ResponseState:
        response = self._responses.get(response_id)
        if response is None:
            # Known only from its output so far (response.created was missed, or is still to
            # come): not counted as the active response until the server says so.
            response = ResponseState(id=response_id, status="unknown")
            self._responses[response_id] = response
        return response

    def _update_response(self, response: ResponseState, wire: RealtimeResponse) -> None:
        before = (response.status, response.reason, response.error, response.usage)
        if wire.status is not None:
            response.status = wire.status
        if wire.status_details is not None:
            response.reason = wire.status_details.reason or response.reason
            error = wire.status_details.error
            if error is not None:
                response.error = error.message or error.code or error.type
        if wire.usage is not None:
            response.usage = wire.usage
        if "conversation_id" in wire.model_fields_set and wire.conversation_id is None:
            response.out_of_band = True
        if wire.metadata is not None:
            response.metadata = wire.metadata
        after = (response.status, response.reason, response.error, response.usage)
        changed = {
            name
            for name, old, new in zip(
                ("status", "reason", "error", "usage"), before, after, strict=True
            )
            if old != new
        }
        if changed or wire.status == "in_progress":
            self._response_changed(response, changed or {"status"})

    # ------------------------------------------------------------------------ notifications
    @staticmethod
    def _state_of(item: ConversationItem) -> tuple[Any, ...]:
        return tuple(getattr(item, name) for name in _TRACKED)

    def _changed(self, item: ConversationItem, before: tuple[Any, ...]) -> None:
        after = self._state_of(item)
        if after == before:
            return
        changed = frozenset(
            name for name, old, new in zip(_TRACKED, before, after, strict=True) if old != new
        )
        self._notify_changed(item, changed)

    def _notify_changed(self, item: ConversationItem, changed: frozenset[str]) -> None:
        if not self._listeners:
            return
        index = self.index_of(item.id)
        if index is None:
            return  # not shown yet: the insertion will carry its state
        for listener in self._listeners:
            listener.item_changed(index, changed)

    def _response_changed(self, response: ResponseState, changed: set[str]) -> None:
        for listener in self._listeners:
            listener.response_changed(response, frozenset(changed))


def _kind_of(wire: Item) -> ItemKind:
    if isinstance(wire, MessageItem):
        return ItemKind.MESSAGE
    if isinstance(wire, FunctionCallItem):
        return ItemKind.FUNCTION_CALL
    if isinstance(wire, FunctionCallOutputItem):
        return ItemKind.FUNCTION_CALL_OUTPUT
    if isinstance(wire, McpCallItem):
        return ItemKind.MCP_CALL
    if isinstance(wire, McpListToolsItem):
        return ItemKind.MCP_LIST_TOOLS
    if isinstance(wire, McpApprovalRequestItem):
        return ItemKind.MCP_APPROVAL_REQUEST
    if isinstance(wire, McpApprovalResponseItem):
        return ItemKind.MCP_APPROVAL_RESPONSE
    return ItemKind.OTHER


_ITEM_STATUSES = frozenset(status.value for status in ItemStatus)


def _merge_wire(item: ConversationItem, wire: Item) -> None:
    """Takes what ``wire`` says into ``item``. Empty values never overwrite local ones: a done
    event after a truncation comes without the transcript the UI keeps."""
    status = getattr(wire, "status", None)
    if status in _ITEM_STATUSES:
        item.status = ItemStatus(status)
    if isinstance(wire, MessageItem):
        if wire.role is not None:
            item.role = wire.role
        _merge_content(item, wire.content or [])
    elif isinstance(wire, FunctionCallItem):
        item.call_id = wire.call_id or item.call_id
        item.name = wire.name or item.name
        item.arguments = wire.arguments or item.arguments
    elif isinstance(wire, McpCallItem | McpApprovalRequestItem):
        item.name = wire.name or item.name
        item.arguments = wire.arguments or item.arguments
        item.server_label = wire.server_label or item.server_label
        if isinstance(wire, McpCallItem):
            if wire.output is not None:
                item.output = wire.output
            if wire.error is not None:
                item.error = wire.error.message or wire.error.type or "error"
    elif isinstance(wire, FunctionCallOutputItem):
        item.call_id = wire.call_id or item.call_id
        if wire.output is not None:
            item.output = wire.output
    elif isinstance(wire, McpListToolsItem | McpApprovalResponseItem):
        if isinstance(wire, McpListToolsItem):
            item.server_label = wire.server_label or item.server_label
        item.raw = wire.wire_dict()
    else:
        item.raw = wire.wire_dict()


def _merge_content(item: ConversationItem, parts: list[ContentPart]) -> None:
    text = "".join(p.text or "" for p in parts if not p.is_audio and p.type != "input_image")
    if text:
        item.text = text
    images = sum(1 for p in parts if p.type == "input_image")
    if images:
        item.images = images
    audio_parts = [p for p in parts if p.is_audio]
    if not audio_parts:
        return
    item.has_audio = True
    transcript = "".join(p.transcript or "" for p in audio_parts)
    if not transcript:
        return
    item.transcript = transcript
    if item.role == "user" and item.transcription is not TranscriptionStatus.FAILED:
        item.transcription = TranscriptionStatus.COMPLETED


_HANDLERS: dict[type[ServerEvent], Any] = {
    SessionCreated: Conversation._on_session,
    SessionUpdated: Conversation._on_session,
    ConversationItemAdded: Conversation._on_item_event,
    ConversationItemCreated: Conversation._on_item_event,
    ConversationItemDone: Conversation._on_item_event,
    ConversationItemRetrieved: Conversation._on_item_event,
    ConversationItemTruncated: Conversation._on_truncated,
    ConversationItemDeleted: Conversation._on_deleted,
    InputAudioBufferCommitted: Conversation._on_committed,
    InputAudioTranscriptionDelta: Conversation._on_transcription_delta,
    InputAudioTranscriptionCompleted: Conversation._on_transcription_completed,
    InputAudioTranscriptionFailed: Conversation._on_transcription_failed,
    ResponseCreated: Conversation._on_response_created,
    ResponseDone: Conversation._on_response_done,
    ResponseOutputItemAdded: Conversation._on_output_item,
    ResponseOutputItemDone: Conversation._on_output_item,
    ResponseContentPartAdded: Conversation._on_content_part,
    ResponseContentPartDone: Conversation._on_content_part,
    ResponseOutputTextDelta: Conversation._on_text_delta,
    ResponseOutputTextDone: Conversation._on_text_done,
    ResponseOutputAudioTranscriptDelta: Conversation._on_transcript_delta,
    ResponseOutputAudioTranscriptDone: Conversation._on_transcript_done,
    ResponseOutputAudioDelta: Conversation._on_audio_delta,
    ResponseFunctionCallArgumentsDelta: Conversation._on_arguments_delta,
    ResponseFunctionCallArgumentsDone: Conversation._on_arguments_done,
    ResponseMcpCallArgumentsDelta: Conversation._on_mcp_arguments,
    ResponseMcpCallArgumentsDone: Conversation._on_mcp_arguments,
    ResponseMcpCallCompleted: Conversation._on_mcp_call_end,
    ResponseMcpCallFailed: Conversation._on_mcp_call_end,
}
