"""Exports of a saved conversation: Markdown, plain text and JSON (issue 7, history window).

Pure functions from a :class:`~.conversation.ConversationDocument` to text; the store writes the
result atomically (:meth:`~.conversation_store.ConversationStore.export`). Times are shown in
``tz`` (default: the computer's local time zone).
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from typing import Literal

from realtime_desktop.storage.conversation import ConversationDocument, ConversationItem

log = logging.getLogger(__name__)

ExportFormat = Literal["markdown", "text", "json"]

FILE_SUFFIXES: dict[ExportFormat, str] = {"markdown": ".md", "text": ".txt", "json": ".json"}

_SPEAKERS = {"user": "You", "assistant": "Assistant", "system": "System"}


def render(
    document: ConversationDocument,
    export_format: ExportFormat,
    *,
    tz: datetime.tzinfo | None = None,
) -> str:
    if export_format == "markdown":
        return to_markdown(document, tz=tz)
    if export_format == "text":
        return to_text(document, tz=tz)
    return to_json(document)


def to_json(document: ConversationDocument) -> str:
    """The document itself, indented: the same schema (and ``schema_version``) as the file."""
    return document.model_dump_json(indent=2) + "\n"


def to_text(document: ConversationDocument, *, tz: datetime.tzinfo | None = None) -> str:
    lines = [document.display_title, "=" * len(document.display_title), ""]
    lines.extend(f"{label}: {value}" for label, value in _facts(document, tz))
    lines.append("")
    for item in document.items:
        stamp = _clock(item.created_at, tz)
        if item.tool_call is not None:
            call = item.tool_call
            lines.append(f"[{stamp}] Tool {call.name} ({call.status})")
            lines.append(f"    arguments: {call.arguments or '{}'}")
            if call.result is not None:
                lines.append(f"    result: {call.result}")
            if call.error:
                lines.append(f"    error: {call.error}")
        else:
            lines.append(f"[{stamp}] {_SPEAKERS[item.role]}: {item.content}")
            if item.interruption is not None:
                lines.append(f"    (interrupted at {_seconds(item.interruption.audio_end_ms)})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_markdown(document: ConversationDocument, *, tz: datetime.tzinfo | None = None) -> str:
    parts = [f"# {_inline(document.display_title)}", ""]
    parts.extend(f"- **{label}:** {_inline(value)}" for label, value in _facts(document, tz))
    parts.append("")
    if document.instructions:
        parts.append("> **Instructions:** " + "\n> ".join(document.instructions.splitlines()))
        parts.append("")
    for item in document.items:
        parts.extend(_markdown_item(item, tz))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _markdown_item(item: ConversationItem, tz: datetime.tzinfo | None) -> list[str]:
    stamp = _clock(item.created_at, tz)
    if item.tool_call is not None:
        call = item.tool_call
        lines = [f"**Tool `{call.name}`** · {call.status} · {stamp}", ""]
        lines.extend(_fenced("Arguments", call.arguments or "{}"))
        if call.result is not None:
            lines.extend(_fenced("Result", call.result))
        if call.error:
            lines.extend(_fenced("Error", call.error))
        return lines
    heard = " (spoken)" if item.has_audio else ""
    lines = [f"**{_SPEAKERS[item.role]}**{heard} · {stamp}", ""]
    lines.extend(_escape_block(item.content).splitlines() or [""])
    if item.interruption is not None:
        lines.extend(["", f"*Interrupted at {_seconds(item.interruption.audio_end_ms)}.*"])
    return lines


def _facts(document: ConversationDocument, tz: datetime.tzinfo | None) -> list[tuple[str, str]]:
    totals = document.totals
    cost = "unknown" if totals.cost_usd is None else f"${totals.cost_usd:.4f}"
    return [
        ("Date", document.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")),
        ("Provider", document.provider or "unknown"),
        ("Model", document.model or "unknown"),
        ("Voice", document.voice or "unknown"),
        ("Duration", _duration(document.duration_ms)),
        ("Turns", str(document.turn_count)),
        ("Tokens", f"{totals.usage.input_tokens} in, {totals.usage.output_tokens} out"),
        ("Cost", cost),
    ]


def _clock(moment: datetime.datetime, tz: datetime.tzinfo | None) -> str:
    return moment.astimezone(tz).strftime("%H:%M:%S")


def _seconds(milliseconds: int) -> str:
    return f"{milliseconds / 1000:.1f} s"


def _duration(milliseconds: int) -> str:
    total = milliseconds // 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


# Characters that format inline (escaped everywhere), and line starts that would make a list,
# a heading underline or a rule of what someone said.
_INLINE = re.compile(r"([\\`*_\[\]<>|#])")
_BULLET_START = re.compile(r"^(\s*)([+=-])", re.MULTILINE)
_NUMBER_START = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def _inline(text: str) -> str:
    return _INLINE.sub(r"\\\1", " ".join(text.split()))


def _escape_block(text: str) -> str:
    """What people said, shown as said: no accidental headings, lists or emphasis."""
    escaped = _INLINE.sub(r"\\\1", text)
    escaped = _BULLET_START.sub(r"\1\\\2", escaped)
    return _NUMBER_START.sub(r"\1\\\2", escaped)


def _fenced(label: str, body: str) -> list[str]:
    """A code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    language = "json" if _is_json(body) else ""
    return [f"{label}:", "", f"{fence}{language}", body, fence, ""]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
