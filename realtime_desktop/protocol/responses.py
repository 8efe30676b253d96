"""The ``response`` object, its usage, and the per-response overrides of ``response.create``
(PROTOCOL.md §2.2, §7)."""

from __future__ import annotations

from typing import Literal

from .base import WireModel
from .items import Item
from .session import AudioFormat, MaxTokens, PromptReference, Reasoning, Tool, ToolChoice, Voice

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]

# status_details.reason values (PROTOCOL.md §7.2)
REASON_TURN_DETECTED = "turn_detected"
REASON_CLIENT_CANCELLED = "client_cancelled"
REASON_MAX_OUTPUT_TOKENS = "max_output_tokens"
REASON_CONTENT_FILTER = "content_filter"


class CachedTokenDetails(WireModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class InputTokenDetails(WireModel):
    """Per-modality input counts. Each includes its cached part; ``cached_tokens`` is a subset
    of ``input_tokens``, not an addition (PROTOCOL.md §7.3)."""

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens: int | None = None
    cached_tokens_details: CachedTokenDetails | None = None


class OutputTokenDetails(WireModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(WireModel):
    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None


class StatusError(WireModel):
    type: str | None = None
    code: str | None = None
    message: str | None = None


class StatusDetails(WireModel):
    type: str | None = None
    reason: str | None = None
    error: StatusError | None = None


class ResponseAudioOutput(WireModel):
    format: AudioFormat | str | None = None
    voice: Voice | None = None


class ResponseAudio(WireModel):
    output: ResponseAudioOutput | None = None


class RealtimeResponse(WireModel):
    """The response in ``response.created`` (``in_progress``, no output) and ``response.done``."""

    id: str | None = None
    object: str | None = None
    status: ResponseStatus | None = None
    status_details: StatusDetails | None = None
    output: list[Item] | None = None
    conversation_id: str | None = None
    output_modalities: list[str] | None = None
    audio: ResponseAudio | None = None
    max_output_tokens: MaxTokens | None = None
    metadata: dict[str, str] | None = None
    usage: Usage | None = None

    @property
    def reason(self) -> str | None:
        return self.status_details.reason if self.status_details else None


class ResponseCreateParams(WireModel):
    """Per-response overrides. ``conversation="none"`` makes an out-of-band response that is not
    written to the default conversation; ``input`` replaces its context."""

    output_modalities: list[str] | None = None
    instructions: str | None = None
    audio: ResponseAudio | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: MaxTokens | None = None
    conversation: str | None = None
    input: list[Item] | None = None
    metadata: dict[str, str] | None = None
    prompt: PromptReference | None = None
    reasoning: Reasoning | None = None
    parallel_tool_calls: bool | None = None

    @property
    def is_out_of_band(self) -> bool:
        return self.conversation == "none"
