"""The echo assistant: what the offline server answers, decided from the conversation.

No language model runs here. A response answers the latest user turn (or tool output) of its
context:

* a spoken turn is played back as it was heard (audio answers), with the transcript
  "Echo of 2.4 s of your audio"; a text answer says how much audio was heard and that no
  recognizer runs offline;
* typed text is read back: written as it was (text answers) or spoken (audio answers);
* a ``function_call_output`` is read back: "The get_current_time tool returned: {...}";
* ``/history`` answers with a summary of the conversation the server holds (the app shows it
  to prove a restored conversation arrived);
* tools are called on request, see :func:`tool_request`.

Function-call triggers, in a typed user message, when function tools are configured:

* ``/call NAME {"json": "arguments"}`` calls the tool NAME with those arguments (``{}`` when
  left out);
* otherwise, a configured tool's name written as a word (``what does get_current_time say``)
  calls that tool with ``{}``;
* ``tool_choice`` is honoured: ``none`` never calls, ``required`` calls the named tool or else
  the first one, ``{"type": "function", "name": …}`` always calls that tool.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Final

from realtime_desktop.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    Item,
    MessageItem,
)
from realtime_desktop.server.conversation import AudioClip, Conversation, item_id, summary_line

log = logging.getLogger(__name__)

HISTORY_COMMAND: Final = "/history"
CALL_COMMAND: Final = "/call"
_CALL_PATTERN: Final = re.compile(r"^\s*/call(?:\s+(?P<name>\S+))?\s*(?P<args>.*)$", re.DOTALL)
# Enough lines for a person to recognise their conversation when it is read aloud.
HISTORY_MAX_LINES: Final = 20

NOTHING_TO_ECHO: Final = (
    "There is nothing to echo yet. Say something, or type a message, and I will repeat it."
)


@dataclasses.dataclass(frozen=True)
class Say:
    """Answer in words: written in text answers, spoken in audio answers."""

    text: str


@dataclasses.dataclass(frozen=True)
class Echo:
    """Play back a user's audio (audio answers); text answers describe it instead."""

    clip: AudioClip

    @property
    def seconds(self) -> float:
        return self.clip.duration_ms / 1000

    @property
    def transcript(self) -> str:
        return f"Echo of {self.seconds:.1f} s of your audio"

    @property
    def text(self) -> str:
        return (
            f"I heard {self.seconds:.1f} s of your audio. No speech recognizer runs offline, so "
            "I cannot write down what you said; ask for an audio answer to hear it played back."
        )


@dataclasses.dataclass(frozen=True)
class CallTool:
    name: str
    arguments: str


Decision = Say | Echo | CallTool
AudioLookup = Callable[[Item, int], AudioClip | None]


def decide(
    context: list[Item],
    audio_of: AudioLookup,
    *,
    tools: list[FunctionTool],
    tool_choice: Any,
    conversation: Conversation,
) -> Decision:
    """The answer to the latest user turn or tool output in ``context``."""
    forced = _forced_tool(tool_choice, tools)
    if forced is not None:
        # A forced tool_choice always calls the tool, whatever the context says.
        typed = next((_typed(i) for i in reversed(context) if _is_user(i) and _typed(i)), "")
        requested = tool_request(typed, tools, tool_choice) if typed else None
        return requested if isinstance(requested, CallTool) else CallTool(forced, "{}")
    for item in reversed(context):
        if isinstance(item, FunctionCallOutputItem):
            return Say(_tool_output_text(item, context, conversation))
        if isinstance(item, FunctionCallItem):
            return Say(
                f"I am waiting for the output of the {item.name} tool (call {item.call_id})."
            )
        if isinstance(item, MessageItem) and item.role == "user":
            return _answer_user(item, audio_of, tools, tool_choice, conversation)
    return Say(NOTHING_TO_ECHO)


def _answer_user(
    item: MessageItem,
    audio_of: AudioLookup,
    tools: list[FunctionTool],
    tool_choice: Any,
    conversation: Conversation,
) -> Decision:
    parts = item.content or []
    typed = _typed(item)
    if typed.strip():
        if typed.strip().split()[0] == HISTORY_COMMAND:
            return Say(history_summary(conversation, before=item_id(item)))
        return tool_request(typed, tools, tool_choice) or Say(typed)
    for index, part in enumerate(parts):
        if part.is_audio:
            clip = audio_of(item, index)
            if clip is not None and clip.data:
                return Echo(clip)
            if part.transcript:
                return Say(part.transcript)
    if any(part.type == "input_image" for part in parts):
        return Say("I received an image. The offline server cannot look at images.")
    return Say("Your message was empty, so there is nothing to repeat.")


def _is_user(item: Item) -> bool:
    return isinstance(item, MessageItem) and item.role == "user"


def _typed(item: Item) -> str:
    """The typed text of a message (its input_text parts)."""
    if not isinstance(item, MessageItem):
        return ""
    return " ".join(p.text for p in item.content or [] if p.type == "input_text" and p.text)


def tool_request(text: str, tools: list[FunctionTool], tool_choice: Any) -> Decision | None:
    """The tool call (or the explanation why none is made) that ``text`` asks for; None when
    it asks for none and none is required."""
    names = [tool.name for tool in tools if tool.name]
    command = _CALL_PATTERN.match(text)
    if command is not None:
        return _explicit_call(command.group("name"), command.group("args"), names, tool_choice)
    if tool_choice == "none" or not names:
        return None
    forced = _forced_tool(tool_choice, tools)
    mentioned = _mentioned_tool(text, names)
    if forced is not None:
        return CallTool(forced, "{}")
    if mentioned is not None:
        return CallTool(mentioned, "{}")
    if tool_choice == "required":
        return CallTool(names[0], "{}")
    return None


def _explicit_call(
    name: str | None, raw_args: str, names: list[str], tool_choice: Any
) -> Say | CallTool:
    if tool_choice == "none":
        return Say("Tool calls are switched off for this response (tool_choice is 'none').")
    if not names:
        return Say("No tools are configured in this session, so there is nothing to call.")
    available = ", ".join(names)
    if not name:
        return Say(f"Say which tool to call: /call NAME {{arguments}}. Tools: {available}.")
    if name not in names:
        return Say(f"There is no tool named {name}. Tools: {available}.")
    forced = tool_choice.get("name") if isinstance(tool_choice, dict) else None
    if forced is not None and forced != name:
        return CallTool(forced, "{}")
    raw_args = raw_args.strip() or "{}"
    try:
        arguments = json.loads(raw_args)
    except json.JSONDecodeError as exc:
        return Say(f"The arguments for {name} are not valid JSON ({exc.msg}).")
    if not isinstance(arguments, dict):
        return Say(f"The arguments for {name} must be a JSON object.")
    return CallTool(name, json.dumps(arguments, ensure_ascii=False))


def _forced_tool(tool_choice: Any, tools: list[FunctionTool]) -> str | None:
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = tool_choice.get("name")
        if any(tool.name == name for tool in tools):
            return str(name)
    return None


def _mentioned_tool(text: str, names: list[str]) -> str | None:
    found: list[tuple[int, str]] = []
    for name in names:
        match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)
        if match is not None:
            found.append((match.start(), name))
    return min(found)[1] if found else None


def _tool_output_text(
    output: FunctionCallOutputItem, context: list[Item], conversation: Conversation
) -> str:
    call = next(
        (
            item
            for item in context
            if isinstance(item, FunctionCallItem) and item.call_id == output.call_id
        ),
        None,
    ) or conversation.function_call(output.call_id or "")
    name = call.name if call is not None else "requested"
    return f"The {name} tool returned: {output.output or '(nothing)'}"


def history_summary(conversation: Conversation, *, before: str | None = None) -> str:
    """What the server holds, for ``/history``: counts, then one line per item."""
    items = conversation.items
    if before is not None and before in conversation.ids():
        items = items[: conversation.ids().index(before)]
    if not items:
        return "The conversation is empty: this server holds no earlier items."
    users = sum(1 for i in items if isinstance(i, MessageItem) and i.role == "user")
    assistants = sum(1 for i in items if isinstance(i, MessageItem) and i.role == "assistant")
    calls = sum(1 for i in items if isinstance(i, FunctionCallItem))
    lines = [
        f"The conversation holds {len(items)} earlier item{'s' if len(items) != 1 else ''}: "
        f"{users} from the user, {assistants} from the assistant, {calls} tool "
        f"call{'s' if calls != 1 else ''}."
    ]
    shown = items[-HISTORY_MAX_LINES:]
    if len(items) > len(shown):
        lines.append(f"(the first {len(items) - len(shown)} are not listed)")
    first_number = len(items) - len(shown) + 1
    for number, item in enumerate(shown, start=first_number):
        clip = conversation.audio(item_id(item), _audio_index(item))
        lines.append(f"{number}. {summary_line(item, clip.duration_ms if clip else None)}")
    return "\n".join(lines)


def _audio_index(item: Item) -> int:
    if isinstance(item, MessageItem):
        for index, part in enumerate(item.content or []):
            if part.is_audio:
                return index
    return 0
