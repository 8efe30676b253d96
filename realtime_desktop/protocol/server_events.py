"""Every GA server event (PROTOCOL.md §3), plus the beta-only ``conversation.item.created``
(still in the GA SDK's union) and a catch-all for types this package does not know."""

from __future__ import annotations

import secrets
from typing import Any, Literal, Self

from pydantic import Field, ValidationInfo, model_validator

from . import dialects
from .base import WIRE_CONTEXT, Dialect, WireModel
from .items import ContentPart, Item
from .responses import RealtimeResponse
from .session import SessionConfig


def new_event_id() -> str:
    return "event_" + secrets.token_hex(10)


class ServerEvent(WireModel):
    """Base of every server → client event."""

    type: str
    # Built in code: a fresh id. Read off the wire without one: "" — never an invented id that
    # would be mistaken for the server's.
    event_id: str = Field(default_factory=new_event_id)

    @model_validator(mode="after")
    def _no_invented_event_id(self, info: ValidationInfo) -> Self:
        if (
            info.context is WIRE_CONTEXT
            and "event_id" not in self.model_fields_set
            and type(self).model_fields["event_id"].default_factory is not None
        ):
            self.__dict__["event_id"] = ""
        return self

    def to_wire(self, dialect: Dialect = "ga") -> dict[str, Any]:
        """The JSON-ready dict in ``dialect``; ``parse_server_event(e.to_wire(d), d) == e``."""
        return dialects.server_event_to_dialect(self.wire_dict(), dialect)


class UnknownServerEvent(ServerEvent):
    """A server event of a type this package does not know; ``raw`` holds all of it."""

    @property
    def raw(self) -> dict[str, Any]:
        return self.wire_dict()


# Session ---------------------------------------------------------------------------------------


class ErrorDetail(WireModel):
    type: str
    code: str | None = None
    message: str
    param: str | None = None
    # The client event_id that caused this error, when the client set one.
    event_id: str | None = None


class ErrorEvent(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: SessionConfig


class SessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: SessionConfig


class ConversationInfo(WireModel):
    id: str | None = None
    object: str | None = None


class ConversationCreated(ServerEvent):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


# Conversation items ----------------------------------------------------------------------------


class ConversationItemCreated(ServerEvent):
    """Beta: an item entered the conversation. GA replaced it with ``added`` + ``done``."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    previous_item_id: str | None = None
    item: Item


class ConversationItemAdded(ServerEvent):
    """GA: an item was inserted; model output arrives here empty and ``in_progress``."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    previous_item_id: str | None = None
    item: Item


class ConversationItemDone(ServerEvent):
    """GA: an item is final (full content except audio bytes)."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    previous_item_id: str | None = None
    item: Item


class ConversationItemRetrieved(ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ConversationItemTruncated(ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class Logprob(WireModel):
    token: str
    logprob: float
    bytes: list[int]


class TranscriptionUsage(WireModel):
    """``{type: "tokens", input_tokens, …}`` or ``{type: "duration", seconds}``."""

    type: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_token_details: dict[str, Any] | None = None
    seconds: float | None = None


class TranscriptionLanguage(WireModel):
    code: str


class InputAudioTranscriptionDelta(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[Logprob] | None = None


class InputAudioTranscriptionCompleted(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsage | None = None
    logprobs: list[Logprob] | None = None
    languages: list[TranscriptionLanguage] | None = None


class TranscriptionError(WireModel):
    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


class InputAudioTranscriptionFailed(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: TranscriptionError


class InputAudioTranscriptionSegment(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


# Input audio buffer ----------------------------------------------------------------------------


class InputAudioBufferCommitted(ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int


class InputAudioBufferSpeechStopped(ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int


class InputAudioBufferTimeoutTriggered(ServerEvent):
    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


class InputAudioBufferDtmfEventReceived(ServerEvent):
    """SIP only: a keypad press. The SDK models it without an ``event_id``."""

    type: Literal["input_audio_buffer.dtmf_event_received"] = (
        "input_audio_buffer.dtmf_event_received"
    )
    event_id: str | None = None  # type: ignore[assignment]
    event: str
    received_at: int


# Output audio buffer (WebRTC/SIP only) ---------------------------------------------------------


class OutputAudioBufferStarted(ServerEvent):
    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(ServerEvent):
    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(ServerEvent):
    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


# Responses -------------------------------------------------------------------------------------


class ResponseCreated(ServerEvent):
    type: Literal["response.created"] = "response.created"
    response: RealtimeResponse


class ResponseDone(ServerEvent):
    """Sent exactly once per created response, whatever its outcome (PROTOCOL.md §7)."""

    type: Literal["response.done"] = "response.done"
    response: RealtimeResponse


class ResponseOutputItemAdded(ServerEvent):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: Item


class ResponseOutputItemDone(ServerEvent):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: Item


class ResponsePartEvent(ServerEvent):
    """Base of events about one content part of one output item of a response."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ResponseContentPartAdded(ResponsePartEvent):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart


class ResponseContentPartDone(ResponsePartEvent):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart


class ResponseOutputTextDelta(ResponsePartEvent):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseOutputTextDone(ResponsePartEvent):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str


class ResponseOutputAudioDelta(ResponsePartEvent):
    """A chunk of assistant audio (base64, in the session's output format)."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class ResponseOutputAudioDone(ResponsePartEvent):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseOutputAudioTranscriptDelta(ResponsePartEvent):
    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseOutputAudioTranscriptDone(ResponsePartEvent):
    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str


class ResponseFunctionCallArgumentsDelta(ServerEvent):
    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEvent):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str | None = None  # required in GA, optional in beta
    arguments: str


class ResponseMcpCallArgumentsDelta(ServerEvent):
    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | None = None


class ResponseMcpCallArgumentsDone(ServerEvent):
    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


class ResponseMcpCallInProgress(ServerEvent):
    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ResponseMcpCallCompleted(ServerEvent):
    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ResponseMcpCallFailed(ServerEvent):
    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int


class McpListToolsInProgress(ServerEvent):
    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(ServerEvent):
    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(ServerEvent):
    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class RateLimit(WireModel):
    name: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


class RateLimitsUpdated(ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]
