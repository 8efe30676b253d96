"""Conversation items (PROTOCOL.md §5): messages, function calls and outputs, MCP items.

Items are parsed leniently: every field but the ``type`` tag is optional, because the retired beta
shape made all of them optional and servers send in-progress items with empty content. An item of a
type this package does not know becomes an :class:`UnknownItem` that keeps every key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Tag

from .base import WireModel

ItemStatus = Literal["completed", "incomplete", "in_progress"]
Role = Literal["user", "assistant", "system"]

# Content part types. GA assistant parts are output_*; `text`/`audio` are the beta spellings, which
# GA still uses inside response.content_part.* events (PROTOCOL.md §9.17).
INPUT_TEXT = "input_text"
INPUT_AUDIO = "input_audio"
INPUT_IMAGE = "input_image"
OUTPUT_TEXT = "output_text"
OUTPUT_AUDIO = "output_audio"
TEXT = "text"
AUDIO = "audio"
_AUDIO_PART_TYPES = frozenset({INPUT_AUDIO, OUTPUT_AUDIO, AUDIO})


class ContentPart(WireModel):
    """One part of a message's content. One model for every part type, like the wire."""

    type: str | None = None
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_url: str | None = None
    detail: str | None = None

    @classmethod
    def input_text(cls, text: str) -> ContentPart:
        return cls(type=INPUT_TEXT, text=text)

    @classmethod
    def input_audio(cls, audio_b64: str, transcript: str | None = None) -> ContentPart:
        part = cls(type=INPUT_AUDIO, audio=audio_b64)
        if transcript is not None:
            part.transcript = transcript
        return part

    @classmethod
    def input_image(cls, data_url: str, detail: str | None = None) -> ContentPart:
        part = cls(type=INPUT_IMAGE, image_url=data_url)
        if detail is not None:
            part.detail = detail
        return part

    @classmethod
    def output_text(cls, text: str) -> ContentPart:
        return cls(type=OUTPUT_TEXT, text=text)

    @property
    def is_audio(self) -> bool:
        return self.type in _AUDIO_PART_TYPES

    @property
    def display_text(self) -> str:
        """What a person would read for this part: its text, else its transcript."""
        return self.text if self.text is not None else (self.transcript or "")


class MessageItem(WireModel):
    type: Literal["message"] = "message"
    id: str | None = None
    object: str | None = None
    status: ItemStatus | None = None
    role: Role | None = None
    content: list[ContentPart] | None = None

    @classmethod
    def user_text(cls, text: str, item_id: str | None = None) -> MessageItem:
        return cls._make("user", [ContentPart.input_text(text)], item_id)

    @classmethod
    def system_text(cls, text: str, item_id: str | None = None) -> MessageItem:
        return cls._make("system", [ContentPart.input_text(text)], item_id)

    @classmethod
    def assistant_text(cls, text: str, item_id: str | None = None) -> MessageItem:
        """Assistant history as text: the only way to replay an assistant turn (no audio)."""
        return cls._make("assistant", [ContentPart.output_text(text)], item_id)

    @classmethod
    def _make(cls, role: Role, content: list[ContentPart], item_id: str | None) -> MessageItem:
        item = cls(role=role, content=content)
        if item_id is not None:
            item.id = item_id
        return item

    @property
    def text(self) -> str:
        """All text of the message: typed text and transcripts, in content order."""
        return "".join(part.display_text for part in self.content or ())

    @property
    def has_audio(self) -> bool:
        return any(part.is_audio for part in self.content or ())


class FunctionCallItem(WireModel):
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    object: str | None = None
    status: ItemStatus | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None


class FunctionCallOutputItem(WireModel):
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    object: str | None = None
    status: ItemStatus | None = None
    call_id: str | None = None
    output: str | None = None


class McpToolInfo(WireModel):
    name: str | None = None
    input_schema: Any = None
    description: str | None = None
    annotations: Any = None


class McpListToolsItem(WireModel):
    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    id: str | None = None
    server_label: str | None = None
    tools: list[McpToolInfo] | None = None


class McpCallError(WireModel):
    """``protocol_error`` / ``tool_execution_error`` / ``http_error``, told apart by ``type``."""

    type: str | None = None
    code: int | None = None
    message: str | None = None


class McpCallItem(WireModel):
    type: Literal["mcp_call"] = "mcp_call"
    id: str | None = None
    server_label: str | None = None
    name: str | None = None
    arguments: str | None = None
    approval_request_id: str | None = None
    output: str | None = None
    error: McpCallError | None = None


class McpApprovalRequestItem(WireModel):
    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    id: str | None = None
    server_label: str | None = None
    name: str | None = None
    arguments: str | None = None


class McpApprovalResponseItem(WireModel):
    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    id: str | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    reason: str | None = None


class ItemReference(WireModel):
    """``{"type": "item_reference", "id": …}``: only valid inside ``response.create`` input."""

    type: Literal["item_reference"] = "item_reference"
    id: str | None = None


class UnknownItem(WireModel):
    """An item of a type this package does not know; every key is kept."""

    type: str | None = None
    id: str | None = None


_ITEM_TAGS = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "item_reference",
    }
)


def _item_tag(value: Any) -> str:
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # A peer may send any JSON as the tag; a list or object is not hashable.
    return tag if isinstance(tag, str) and tag in _ITEM_TAGS else "unknown"


Item = Annotated[
    Union[  # noqa: UP007 - Tag annotations need the explicit Union form
        Annotated[MessageItem, Tag("message")],
        Annotated[FunctionCallItem, Tag("function_call")],
        Annotated[FunctionCallOutputItem, Tag("function_call_output")],
        Annotated[McpListToolsItem, Tag("mcp_list_tools")],
        Annotated[McpCallItem, Tag("mcp_call")],
        Annotated[McpApprovalRequestItem, Tag("mcp_approval_request")],
        Annotated[McpApprovalResponseItem, Tag("mcp_approval_response")],
        Annotated[ItemReference, Tag("item_reference")],
        Annotated[UnknownItem, Tag("unknown")],
    ],
    Discriminator(_item_tag),
]
"""Any conversation item, discriminated by its ``type``."""
