"""Every GA client event (PROTOCOL.md §2) and a catch-all for unknown types.

``event_id`` is optional on the wire but the core's session sets one on every event it sends, so
an ``error`` can be traced to the event that caused it.
"""

from __future__ import annotations

from typing import Any, Literal

from . import dialects
from .base import Dialect, WireModel
from .items import Item
from .responses import ResponseCreateParams
from .session import SessionConfig


class ClientEvent(WireModel):
    """Base of every client → server event."""

    type: str
    event_id: str | None = None

    def to_wire(self, dialect: Dialect = "ga") -> dict[str, Any]:
        """The JSON-ready dict in ``dialect``; ``parse_client_event(e.to_wire(d), d) == e``."""
        return dialects.client_event_to_dialect(self.wire_dict(), dialect)


class UnknownClientEvent(ClientEvent):
    """A client event of a type this package does not know; ``raw`` holds all of it."""

    @property
    def raw(self) -> dict[str, Any]:
        return self.wire_dict()


class SessionUpdate(ClientEvent):
    """Partial update: only keys that are set change. Send nested objects you touch whole."""

    type: Literal["session.update"] = "session.update"
    session: SessionConfig


class InputAudioBufferAppend(ClientEvent):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str  # base64, in the session's input format; no acknowledgement


class InputAudioBufferCommit(ClientEvent):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEvent):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class OutputAudioBufferClear(ClientEvent):
    """WebRTC/SIP only; meaningless on a WebSocket."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class ConversationItemCreate(ClientEvent):
    """``previous_item_id``: omitted = append, ``"root"`` = prepend, an id = insert after it."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    previous_item_id: str | None = None
    item: Item


class ConversationItemRetrieve(ClientEvent):
    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncate(ClientEvent):
    """Cut an assistant audio item to what the listener heard; the server drops its transcript."""

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(ClientEvent):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseCreate(ClientEvent):
    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None


class ResponseCancel(ClientEvent):
    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None
