"""The echo assistant's decisions, the trigger syntax and token accounting, without a socket."""

from __future__ import annotations

import math

import pytest

from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.protocol import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    MessageItem,
)
from realtime_desktop.server.assistant import (
    NOTHING_TO_ECHO,
    CallTool,
    Echo,
    Say,
    decide,
    history_summary,
    tool_request,
)
from realtime_desktop.server.conversation import ROOT, AudioClip, Conversation
from realtime_desktop.server.usage import RateLimitWindow, audio_tokens, text_tokens

TOOLS = [FunctionTool(name="get_current_time"), FunctionTool(name="get_weather")]


@pytest.mark.parametrize(
    ("text", "choice", "result"),
    [
        (
            '/call get_current_time {"timezone":"UTC"}',
            "auto",
            CallTool("get_current_time", '{"timezone": "UTC"}'),
        ),
        ("/call get_weather", "auto", CallTool("get_weather", "{}")),
        ("please run get_weather now", "auto", CallTool("get_weather", "{}")),
        ("get_weather or get_current_time?", "auto", CallTool("get_weather", "{}")),
        ("get_weather_today is not a tool", "auto", None),
        ("nothing to call here", "auto", None),
        ("nothing to call here", "required", CallTool("get_current_time", "{}")),
        ("please run get_weather now", "none", None),
        (
            "/call get_weather",
            "none",
            Say("Tool calls are switched off for this response (tool_choice is 'none')."),
        ),
        (
            "/call nope {}",
            "auto",
            Say("There is no tool named nope. Tools: get_current_time, get_weather."),
        ),
        (
            "/call",
            "auto",
            Say(
                "Say which tool to call: /call NAME {arguments}. "
                "Tools: get_current_time, get_weather."
            ),
        ),
        (
            "/call get_weather {oops",
            "auto",
            Say(
                "The arguments for get_weather are not valid JSON "
                "(Expecting property name enclosed in double quotes)."
            ),
        ),
        (
            "/call get_weather [1]",
            "auto",
            Say("The arguments for get_weather must be a JSON object."),
        ),
        (
            "/call get_weather {}",
            {"type": "function", "name": "get_current_time"},
            CallTool("get_current_time", "{}"),
        ),
    ],
)
def test_tool_triggers(text: str, choice: object, result: object) -> None:
    assert tool_request(text, TOOLS, choice) == result


def test_call_without_tools_explains() -> None:
    assert tool_request("/call get_weather", [], "auto") == Say(
        "No tools are configured in this session, so there is nothing to call."
    )
    assert tool_request("get_weather", [], "auto") is None


def _conversation() -> Conversation:
    conversation = Conversation()
    conversation.insert(MessageItem.user_text("Hello", item_id="item_1"))
    conversation.insert(MessageItem.assistant_text("Hello", item_id="item_2"))
    spoken = MessageItem(id="item_3", role="user", content=[ContentPart(type="input_audio")])
    conversation.insert(spoken)
    conversation.set_audio("item_3", 0, AudioClip(bytes(48000 * 2), WireFormat.PCM16))
    conversation.insert(
        FunctionCallItem(id="item_4", call_id="call_1", name="get_weather", arguments="{}")
    )
    conversation.insert(
        FunctionCallOutputItem(id="item_5", call_id="call_1", output='{"sun": true}')
    )
    return conversation


def _decide(conversation: Conversation, choice: object = "auto") -> object:
    return decide(
        conversation.items,
        lambda item, index: conversation.audio(item.id or "", index),
        tools=TOOLS,
        tool_choice=choice,
        conversation=conversation,
    )


def test_decisions_follow_the_latest_turn() -> None:
    conversation = _conversation()
    assert _decide(conversation) == Say('The get_weather tool returned: {"sun": true}')
    conversation.delete("item_5")
    assert _decide(conversation) == Say(
        "I am waiting for the output of the get_weather tool (call call_1)."
    )
    conversation.delete("item_4")
    decision = _decide(conversation)
    assert isinstance(decision, Echo)
    assert decision.transcript == "Echo of 2.0 s of your audio"
    assert "No speech recognizer runs offline" in decision.text
    conversation.delete("item_3")
    assert _decide(conversation) == Say("Hello")
    assert _decide(Conversation()) == Say(NOTHING_TO_ECHO)
    assert _decide(conversation, {"type": "function", "name": "get_current_time"}) == CallTool(
        "get_current_time", "{}"
    )


def test_history_summary_lists_what_the_server_holds() -> None:
    conversation = _conversation()
    conversation.insert(MessageItem.user_text("/history", item_id="item_6"))
    summary = history_summary(conversation, before="item_6")
    assert summary.splitlines() == [
        "The conversation holds 5 earlier items: 2 from the user, 1 from the assistant, "
        "1 tool call.",
        "1. user: Hello",
        "2. assistant: Hello",
        "3. user: [2.0 s of audio]",
        "4. function call get_weather({})",
        '5. function output: {"sun": true}',
    ]
    assert history_summary(Conversation()) == (
        "The conversation is empty: this server holds no earlier items."
    )
    decision = _decide(conversation)
    assert decision == Say(summary)


def test_history_summary_shows_the_last_twenty() -> None:
    conversation = Conversation()
    for number in range(25):
        conversation.insert(MessageItem.user_text(f"message {number}", item_id=f"item_{number}"))
    lines = history_summary(conversation).splitlines()
    assert lines[1] == "(the first 5 are not listed)"
    assert lines[2] == "6. user: message 5"
    assert lines[-1] == "25. user: message 24"


def test_conversation_insertion_order() -> None:
    conversation = Conversation()
    assert conversation.insert(MessageItem.user_text("b", item_id="b")) is None
    assert conversation.insert(MessageItem.user_text("a", item_id="a"), after=ROOT) is None
    assert conversation.insert(MessageItem.user_text("c", item_id="c"), after="b") == "b"
    assert conversation.insert(MessageItem.user_text("ab", item_id="ab"), after="a") == "a"
    assert conversation.ids() == ["a", "ab", "b", "c"]


def test_token_rates() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    assert audio_tokens(1000, assistant=False) == 10
    assert audio_tokens(1000, assistant=True) == 20
    assert audio_tokens(2450, assistant=False) == math.ceil(24.5)


def test_rate_limits_count_the_last_minute() -> None:
    now = [0.0]
    window = RateLimitWindow(clock=lambda: now[0])
    first = window.record(100)
    assert [(r.name, r.remaining) for r in first.rate_limits] == [
        ("requests", 999),
        ("tokens", 49_900),
    ]
    now[0] = 30.0
    second = window.record(50)
    assert [r.remaining for r in second.rate_limits] == [998, 49_850]
    assert second.rate_limits[0].reset_seconds == pytest.approx(30.0)
    now[0] = 61.0
    third = window.record(10)
    assert [r.remaining for r in third.rate_limits] == [998, 49_940]
