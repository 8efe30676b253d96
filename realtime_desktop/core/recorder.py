"""Keeps a stored :class:`ConversationDocument` in step with a live conversation, and turns a
saved document back into a :class:`Conversation` to continue it.

The document is the file format (``storage.conversation``); the core's state is its own. The
recorder listens to the conversation, the tool executor and the cost meter, updates the one
document entry each change touches (a 5 000-item conversation is not rebuilt per delta), and
tells the caller — the autosaver — that something changed.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from realtime_desktop.protocol import Usage
from realtime_desktop.storage import conversation as doc

from .controller import RealtimeConversation
from .conversation import (
    Conversation,
    ConversationItem,
    ConversationListener,
    ItemKind,
    ItemStatus,
    ResponseState,
)
from .tools import ToolRun, ToolRunStatus

_TOOL_STATUS: dict[ToolRunStatus, doc.ToolStatus] = {
    ToolRunStatus.AWAITING_APPROVAL: "awaiting_approval",
    ToolRunStatus.RUNNING: "running",
    ToolRunStatus.SUCCEEDED: "completed",
    ToolRunStatus.FAILED: "failed",
    ToolRunStatus.TIMED_OUT: "failed",
    ToolRunStatus.CANCELLED: "cancelled",
    ToolRunStatus.REJECTED: "denied",
}
_RESPONSE_STATUSES = frozenset({"completed", "cancelled", "incomplete", "failed", "in_progress"})
_OUTPUT_ID_PREFIX = "out_"


class ConversationRecorder(ConversationListener):
    """Mirrors ``controller``'s conversation into ``document``; ``on_change()`` after each
    update. Call :meth:`detach` when the conversation ends."""

    def __init__(
        self,
        controller: RealtimeConversation,
        document: doc.ConversationDocument,
        on_change: Callable[[], None],
        *,
        clock: Callable[[], datetime.datetime] = doc.utc_now,
    ) -> None:
        self._controller = controller
        self._document = document
        self._on_change = on_change
        self._clock = clock
        self._created: dict[str, datetime.datetime] = {
            item.id: item.created_at for item in document.items
        }
        self._stored_items: dict[str, doc.ConversationItem | None] = {}
        self._session_started: float | None = None
        self._base_duration_ms = document.duration_ms
        controller.conversation.add_listener(self)
        self._remove_tool_listener = controller.executor.add_listener(self._tool_changed)
        self._sync_all()

    def detach(self) -> None:
        self._controller.conversation.remove_listener(self)
        self._remove_tool_listener()
        self.session_stopped()

    def session_started(self) -> None:
        self._session_started = time.monotonic()

    def session_stopped(self) -> None:
        if self._session_started is not None:
            self._base_duration_ms += int((time.monotonic() - self._session_started) * 1000)
            self._session_started = None
            self._document.duration_ms = self._base_duration_ms
            self._on_change()

    # ConversationListener ---------------------------------------------------------------------
    def item_inserted(self, index: int) -> None:
        self._sync_all()

    def item_removed(self, index: int) -> None:
        self._sync_all()

    def cleared(self) -> None:
        self._sync_all()

    def item_changed(self, index: int, changed: frozenset[str]) -> None:
        self._refresh(self._controller.conversation[index])

    def response_changed(self, response: ResponseState, changed: frozenset[str]) -> None:
        if response.out_of_band:
            return
        record = self._response_record(response)
        for position, existing in enumerate(self._document.responses):
            if existing.response_id == record.response_id:
                self._document.responses[position] = record
                break
        else:
            self._document.responses.append(record)
        self._touch()

    def _tool_changed(self, run: ToolRun) -> None:
        call = next(
            (
                item
                for item in self._controller.conversation
                if item.call_id == run.call_id and item.kind is ItemKind.FUNCTION_CALL
            ),
            None,
        )
        if call is not None:
            self._refresh(call)

    def _refresh(self, item: ConversationItem) -> None:
        """Re-converts one item and puts it in its place in the document."""
        stored = self._stored(item)
        self._stored_items[item.id] = stored
        if stored is None:
            return
        for position, existing in enumerate(self._document.items):
            if existing.id == stored.id:
                self._document.items[position] = stored
                self._touch()
                return
        self._sync_all()

    # ------------------------------------------------------------------------------------------
    def _touch(self) -> None:
        if self._session_started is not None:
            elapsed = int((time.monotonic() - self._session_started) * 1000)
            self._document.duration_ms = self._base_duration_ms + elapsed
        self._on_change()

    def _sync_all(self) -> None:
        """Rebuilds the document's item list in conversation order, converting only items not
        seen before (an insertion or removal, not every delta)."""
        items: list[doc.ConversationItem] = []
        for item in self._controller.conversation:
            if item.id not in self._stored_items:
                self._stored_items[item.id] = self._stored(item)
            stored = self._stored_items[item.id]
            if stored is not None:
                items.append(stored)
        self._document.items = items
        self._touch()

    def _stored(self, item: ConversationItem) -> doc.ConversationItem | None:
        created = self._created.setdefault(item.id, self._clock())
        status: doc.ItemStatus = item.status.value
        if item.kind is ItemKind.MESSAGE and item.role in ("user", "assistant", "system"):
            interruption = None
            if item.truncated_at_ms is not None:
                interruption = doc.Interruption(
                    audio_end_ms=item.truncated_at_ms, partial_transcript=item.heard_transcript
                )
            return doc.ConversationItem(
                id=item.id,
                kind="message",
                role=item.role,  # type: ignore[arg-type]
                status=status,
                created_at=created,
                text=item.text,
                transcript=item.transcript,
                has_audio=item.has_audio,
                response_id=item.response_id,
                interruption=interruption,
            )
        if item.kind in (ItemKind.FUNCTION_CALL, ItemKind.MCP_CALL) and item.name:
            run = self._controller.executor.run(item.call_id) if item.call_id else None
            return doc.ConversationItem(
                id=item.id,
                kind="tool_call",
                role="assistant",
                status=status,
                created_at=created,
                response_id=item.response_id,
                tool_call=doc.ToolCall(
                    call_id=item.call_id or item.id,
                    name=item.name,
                    arguments=item.arguments,
                    status=_tool_status(item, run),
                    result=run.output if run is not None and run.output else item.output,
                    error=(run.error_message if run is not None else None) or item.error,
                    approved=_approved(run),
                    server_label=item.server_label,
                ),
            )
        return None

    def _response_record(self, response: ResponseState) -> doc.ResponseRecord:
        created = self._created.setdefault(f"response:{response.id}", self._clock())
        cost = self._controller.cost.response(response.id)
        status = response.status if response.status in _RESPONSE_STATUSES else "in_progress"
        return doc.ResponseRecord(
            response_id=response.id,
            created_at=created,
            status=status,  # type: ignore[arg-type]
            usage=_token_usage(response.usage),
            cost_usd=cost.total if cost is not None and cost.priced else None,
        )


def _tool_status(item: ConversationItem, run: ToolRun | None) -> doc.ToolStatus:
    if run is not None:
        return _TOOL_STATUS[run.status]
    if item.output is not None:
        return "completed"
    return "pending" if item.status is ItemStatus.IN_PROGRESS else "cancelled"


def _approved(run: ToolRun | None) -> bool | None:
    if run is None or not run.requires_approval:
        return None
    if run.status is ToolRunStatus.REJECTED:
        return False
    if run.status is ToolRunStatus.AWAITING_APPROVAL:
        return None
    return run.started_at is not None


def _token_usage(usage: Usage | None) -> doc.TokenUsage:
    if usage is None:
        return doc.TokenUsage()
    inputs = usage.input_token_details
    cached = inputs.cached_tokens_details if inputs is not None else None
    outputs = usage.output_token_details
    return doc.TokenUsage(
        input_text_tokens=(inputs.text_tokens or 0) if inputs else 0,
        input_audio_tokens=(inputs.audio_tokens or 0) if inputs else 0,
        input_image_tokens=(inputs.image_tokens or 0) if inputs else 0,
        cached_text_tokens=(cached.text_tokens or 0) if cached else 0,
        cached_audio_tokens=(cached.audio_tokens or 0) if cached else 0,
        cached_image_tokens=(cached.image_tokens or 0) if cached else 0,
        output_text_tokens=(outputs.text_tokens or 0) if outputs else 0,
        output_audio_tokens=(outputs.audio_tokens or 0) if outputs else 0,
    )


def conversation_from_document(document: doc.ConversationDocument) -> Conversation:
    """The saved conversation as a :class:`Conversation` whose ``replay_items()`` restore it
    into a new server session: messages as text (an interrupted answer only as far as it was
    heard), tool calls with their outputs."""
    items: list[dict[str, object]] = []
    # Outputs follow the whole run of calls a response made (parallel calls come first, then
    # their outputs, as they did live), so the restored context is in the same order.
    outputs: list[dict[str, object]] = []
    for stored in document.items:
        if stored.tool_call is None and outputs:
            items.extend(outputs)
            outputs.clear()
        if stored.kind == "message":
            interruption = stored.interruption
            heard = interruption.partial_transcript if interruption else stored.transcript
            items.append(
                ConversationItem(
                    id=stored.id,
                    kind=ItemKind.MESSAGE,
                    role=stored.role,
                    status=ItemStatus(stored.status),
                    response_id=stored.response_id,
                    text=stored.text,
                    transcript=heard,
                    has_audio=stored.has_audio,
                    truncated_at_ms=interruption.audio_end_ms if interruption else None,
                    audio_ms=float(interruption.audio_end_ms) if interruption else 0.0,
                ).to_dict()
            )
        elif stored.tool_call is not None and stored.tool_call.server_label is None:
            call = stored.tool_call
            finished = call.status in ("completed", "failed", "cancelled", "denied")
            items.append(
                ConversationItem(
                    id=stored.id,
                    kind=ItemKind.FUNCTION_CALL,
                    role=None,
                    status=ItemStatus.COMPLETED if finished else ItemStatus.INCOMPLETE,
                    response_id=stored.response_id,
                    call_id=call.call_id,
                    name=call.name,
                    arguments=call.arguments,
                    output=call.result,
                ).to_dict()
            )
            if finished and call.result is not None:
                outputs.append(
                    ConversationItem(
                        id=_OUTPUT_ID_PREFIX + call.call_id,
                        kind=ItemKind.FUNCTION_CALL_OUTPUT,
                        status=ItemStatus.COMPLETED,
                        call_id=call.call_id,
                        output=call.result,
                    ).to_dict()
                )
    items.extend(outputs)
    return Conversation.from_snapshot(
        {"version": 1, "items": items, "placed_after": {}, "responses": []}
    )
