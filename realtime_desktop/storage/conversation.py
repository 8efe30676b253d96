"""The saved conversation: a versioned JSON document, plain pydantic, no I/O.

The app converts its conversation state into a :class:`ConversationDocument` (the core's models
are its own; this schema is the file format and changes only with a migration). One document per
conversation; :mod:`.conversation_store` writes and indexes them.

Shape (``schema_version`` 1)::

    {"schema_version": 1, "id": "20261121T101500Z-3f2a9c1b", "title": "…",
     "created_at": "2026-11-21T10:15:00Z", "updated_at": "…",
     "provider": "openai", "model": "gpt-realtime-2", "voice": "marin", "instructions": "…",
     "duration_ms": 93000,
     "items": [{"id": "item_…", "kind": "message", "role": "user", "status": "completed",
                "created_at": "…", "text": "", "transcript": "what's the weather",
                "has_audio": true, "response_id": null, "interruption": null,
                "tool_call": null}, …],
     "responses": [{"response_id": "resp_…", "created_at": "…", "status": "completed",
                    "usage": {"input_text_tokens": …, …}, "cost_usd": 0.0123}, …],
     "recordings": [{"started_at": "…", "microphone": "rec/…-microphone.wav",
                     "assistant": "rec/…-assistant.wav"}]}

An interrupted assistant message keeps ``interruption.audio_end_ms`` (how much was heard) and
``interruption.partial_transcript`` (the text of what was heard; the server deletes the rest).
A tool call (a function call and its output, or an MCP call) is one item of kind ``tool_call``
carrying the call and its outcome. Audio itself is
never in the document: only when the user turned recording on does ``recordings`` name WAV
files, relative to the conversation's recordings folder.
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger(__name__)

CONVERSATION_SCHEMA_VERSION = 1

# Ids name files: only characters that are safe in a file name on every platform, and no way
# to climb out of the conversations folder.
CONVERSATION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")

Role = Literal["user", "assistant", "system"]
ItemKind = Literal["message", "tool_call"]
ToolStatus = Literal[
    "pending", "awaiting_approval", "running", "completed", "failed", "cancelled", "denied"
]  # fmt: skip
ItemStatus = Literal["completed", "incomplete", "in_progress"]
ResponseStatus = Literal["completed", "cancelled", "incomplete", "failed", "in_progress"]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_conversation_id(now: datetime.datetime | None = None) -> str:
    """Sortable by creation time and unique: ``20261121T101500Z-3f2a9c1b``."""
    moment = (now or utc_now()).astimezone(datetime.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


class DocumentModel(BaseModel):
    """Unknown keys are ignored: a document is only ever written by this module, and a newer
    schema version is refused before validation, so an extra key is at worst a harmless rest."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class Interruption(DocumentModel):
    """Where the user cut the assistant off (DESIGN.md "Barge-in")."""

    audio_end_ms: int = Field(ge=0)
    partial_transcript: str = ""


class ToolCall(DocumentModel):
    call_id: str
    name: str
    arguments: str = ""  # the JSON text the model produced, kept verbatim
    status: ToolStatus = "pending"
    result: str | None = None  # the JSON text returned to the model
    error: str | None = None
    approved: bool | None = None  # None: no approval was needed
    server_label: str | None = None  # MCP calls: the server that ran it


class ConversationItem(DocumentModel):
    id: str
    kind: ItemKind = "message"
    role: Role
    status: ItemStatus = "completed"  # incomplete: the answer was cut off (limit, cancel)
    created_at: AwareDatetime
    text: str = ""  # typed input, or a text-only answer
    transcript: str = ""  # of spoken audio (the user's or the assistant's)
    has_audio: bool = False  # the item was spoken (not whether audio was recorded)
    response_id: str | None = None
    interruption: Interruption | None = None
    tool_call: ToolCall | None = None

    @model_validator(mode="after")
    def _kind_matches(self) -> Self:
        if (self.kind == "tool_call") != (self.tool_call is not None):
            raise ValueError("an item has a tool_call exactly when its kind is tool_call")
        return self

    @property
    def content(self) -> str:
        """What was said or written, for listings and exports."""
        if self.interruption is not None and self.interruption.partial_transcript:
            return self.interruption.partial_transcript
        return self.text or self.transcript


class TokenUsage(DocumentModel):
    """``response.done.usage`` flattened (PROTOCOL.md §7.3); cached counts are subsets."""

    input_text_tokens: int = Field(0, ge=0)
    input_audio_tokens: int = Field(0, ge=0)
    input_image_tokens: int = Field(0, ge=0)
    cached_text_tokens: int = Field(0, ge=0)
    cached_audio_tokens: int = Field(0, ge=0)
    cached_image_tokens: int = Field(0, ge=0)
    output_text_tokens: int = Field(0, ge=0)
    output_audio_tokens: int = Field(0, ge=0)

    @property
    def input_tokens(self) -> int:
        return self.input_text_tokens + self.input_audio_tokens + self.input_image_tokens

    @property
    def output_tokens(self) -> int:
        return self.output_text_tokens + self.output_audio_tokens


class ResponseRecord(DocumentModel):
    response_id: str
    created_at: AwareDatetime
    status: ResponseStatus = "completed"
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: float | None = Field(None, ge=0.0)  # None: no price known for the model


class RecordingRef(DocumentModel):
    """WAV files of one session, relative to the conversation's recordings folder."""

    started_at: AwareDatetime
    microphone: str
    assistant: str

    @field_validator("microphone", "assistant")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith(("/", "\\")) or ".." in value.replace("\\", "/").split("/"):
            raise ValueError("recording paths are relative to the recordings folder")
        return value


class UsageTotals(DocumentModel):
    usage: TokenUsage
    cost_usd: float | None  # None when no response has a known cost
    responses: int


class ConversationDocument(DocumentModel):
    schema_version: int = CONVERSATION_SCHEMA_VERSION
    id: str = Field(default_factory=new_conversation_id)
    title: str = ""
    created_at: AwareDatetime = Field(default_factory=utc_now)
    updated_at: AwareDatetime = Field(default_factory=utc_now)
    provider: str = ""
    model: str = ""
    voice: str = ""
    instructions: str = ""
    duration_ms: int = Field(0, ge=0)  # time spent in sessions, set by the app
    items: list[ConversationItem] = Field(default_factory=list)
    responses: list[ResponseRecord] = Field(default_factory=list)
    recordings: list[RecordingRef] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not CONVERSATION_ID_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not a conversation id")
        return value

    @field_validator("schema_version")
    @classmethod
    def _current(cls, value: int) -> int:
        if value != CONVERSATION_SCHEMA_VERSION:
            raise ValueError(f"schema version {value} is not {CONVERSATION_SCHEMA_VERSION}")
        return value

    @property
    def turn_count(self) -> int:
        """User turns: messages the user spoke or typed."""
        return sum(1 for item in self.items if item.role == "user" and item.kind == "message")

    @property
    def total_cost_usd(self) -> float | None:
        """The sum of the known response costs; None when no response has one."""
        costs = [record.cost_usd for record in self.responses if record.cost_usd is not None]
        return sum(costs) if costs else None

    @property
    def totals(self) -> UsageTotals:
        # Plain integer sums: summing models would build one per response (slow for long talks).
        sums = dict.fromkeys(TokenUsage.model_fields, 0)
        for record in self.responses:
            usage = record.usage
            for name in sums:
                sums[name] += getattr(usage, name)
        return UsageTotals(
            usage=TokenUsage(**sums), cost_usd=self.total_cost_usd, responses=len(self.responses)
        )

    @property
    def preview(self) -> str:
        """The first thing the user said, shortened: the title when none was given."""
        for item in self.items:
            if item.role == "user" and item.kind == "message" and item.content.strip():
                return _shorten(item.content, 120)
        return ""

    @property
    def display_title(self) -> str:
        return display_title(self.title, self.preview, self.created_at)


def display_title(title: str, preview: str, created_at: datetime.datetime) -> str:
    """What the history shows: the title, else the first thing the user said, else the date."""
    return title or preview or f"Conversation of {created_at.astimezone():%d %b %Y %H:%M}"


def _shorten(text: str, limit: int) -> str:
    single_line = " ".join(text.split())
    return single_line if len(single_line) <= limit else single_line[: limit - 1] + "…"
