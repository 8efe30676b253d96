"""Exports: Markdown a person can read (and that cannot be broken by what was said), plain
text, and JSON that is the document itself."""

from __future__ import annotations

import datetime

from realtime_desktop.storage.conversation import ConversationDocument, ConversationItem, ToolCall
from realtime_desktop.storage.export import render, to_json, to_markdown, to_text

from .conftest import T0, make_document

UTC = datetime.UTC


def test_markdown_has_the_facts_and_every_turn() -> None:
    document = make_document(6, title="Weather in Paris")
    markdown = to_markdown(document, tz=UTC)
    lines = markdown.splitlines()
    assert lines[0] == "# Weather in Paris"
    assert "- **Date:** 2026-11-21 10:15" in lines
    assert "- **Model:** gpt-realtime-2" in lines
    assert "- **Duration:** 1:33" in lines
    assert "- **Turns:** 2" in lines
    assert "- **Cost:** $0.0200" in lines
    assert "> **Instructions:** Be brief." in lines
    assert "**You** (spoken) · 10:15:00" in lines
    assert "question number 0 about the weather" in lines
    # The interrupted answer shows what was heard and where it was cut.
    assert "answer 1: it will" in lines
    assert "*Interrupted at 3.2 s.*" in lines
    assert "**Tool `get_weather`** · completed · 10:15:02" in lines
    assert '{"city": "Paris"}' in lines
    assert '{"forecast": "rain"}' in lines
    assert markdown.count("```json") == 4  # arguments and result of two tool calls


def test_markdown_cannot_be_broken_by_what_people_said() -> None:
    document = ConversationDocument(created_at=T0, updated_at=T0, title="# not *a* heading")
    document.items.append(
        ConversationItem(
            id="a",
            role="user",
            created_at=T0,
            text="# Heading?\n- a list?\n1. numbered?\nsnake_case and <b>html</b>",
        )
    )
    document.items.append(
        ConversationItem(
            id="b",
            kind="tool_call",
            role="assistant",
            created_at=T0,
            tool_call=ToolCall(
                call_id="c",
                name="run",
                arguments="```\nnested fence\n```",
                status="failed",
                error="boom",
            ),
        )
    )
    markdown = to_markdown(document, tz=UTC)
    lines = markdown.splitlines()
    assert lines[0] == "# \\# not \\*a\\* heading"
    assert "\\# Heading?" in lines
    assert "\\- a list?" in lines
    assert "1\\. numbered?" in lines
    assert "snake\\_case and \\<b\\>html\\</b\\>" in lines
    # The arguments contain a three-backtick fence, so the block uses four.
    fence_at = lines.index("````")
    assert lines[fence_at + 1 : fence_at + 4] == ["```", "nested fence", "```"]
    assert lines[fence_at + 4] == "````"
    assert "boom" in lines


def test_plain_text() -> None:
    text = to_text(make_document(3, title="Short"), tz=UTC)
    lines = text.splitlines()
    assert lines[:2] == ["Short", "====="]
    assert "Cost: $0.0100" in lines
    assert "[10:15:00] You: question number 0 about the weather" in lines
    assert "[10:15:01] Assistant: answer 1: it will" in lines
    assert "    (interrupted at 3.2 s)" in lines
    assert "[10:15:02] Tool get_weather (completed)" in lines
    assert '    result: {"forecast": "rain"}' in lines


def test_json_is_the_document() -> None:
    document = make_document(6)
    exported = to_json(document)
    assert ConversationDocument.model_validate_json(exported) == document
    assert render(document, "json") == exported
    assert render(document, "text", tz=UTC) == to_text(document, tz=UTC)


def test_untitled_conversation_is_named_by_what_was_said() -> None:
    document = make_document(3)
    assert document.display_title == "question number 0 about the weather"
    empty = ConversationDocument(created_at=T0, updated_at=T0)
    assert empty.display_title.startswith("Conversation of ")
    assert to_markdown(empty, tz=UTC).startswith("# Conversation of ")
