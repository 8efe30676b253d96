"""Server event sequences written from PROTOCOL.md §6 (a)–(f), as GA wire dicts, and a
hand-written GA → beta rewrite from PROTOCOL.md §3.2 / §5.3 (deliberately not the protocol
package's own adapter, so the beta tests do not just check it against itself)."""

from __future__ import annotations

import base64
import copy
from typing import Any

Event = dict[str, Any]

MS_100_OF_PCM = base64.b64encode(b"\x01\x00" * 2400).decode()  # 100 ms of 24 kHz PCM16


def usage(input_tokens: int = 120, output_tokens: int = 60, cached: int = 40) -> dict[str, Any]:
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_tokens - 20,
            "audio_tokens": 20,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {
            "text_tokens": output_tokens // 3,
            "audio_tokens": output_tokens - output_tokens // 3,
        },
    }


def response(rid: str, status: str, **extra: Any) -> Event:
    body = {"id": rid, "object": "realtime.response", "status": status, "output": []}
    body.update(extra)
    return body


def part_event(kind: str, rid: str, item_id: str, **extra: Any) -> Event:
    return {
        "type": kind,
        "response_id": rid,
        "item_id": item_id,
        "output_index": extra.pop("output_index", 0),
        "content_index": 0,
        **extra,
    }


def user_audio_item(item_id: str, transcript: str | None = None) -> Event:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def user_text_item(item_id: str, text: str) -> Event:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": text}],
    }


def assistant_item(item_id: str, status: str, content: list[Event] | None = None) -> Event:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content or [],
    }


def user_voice_turn(item_id: str, previous: str | None) -> list[Event]:
    """§6.1 (a), the user half: VAD, commit, the user item (transcript to come)."""
    return [
        {"type": "input_audio_buffer.speech_started", "item_id": item_id, "audio_start_ms": 1000},
        {"type": "input_audio_buffer.speech_stopped", "item_id": item_id, "audio_end_ms": 2500},
        {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous},
        {
            "type": "conversation.item.added",
            "previous_item_id": previous,
            "item": user_audio_item(item_id),
        },
        {
            "type": "conversation.item.done",
            "previous_item_id": previous,
            "item": user_audio_item(item_id),
        },
    ]


def assistant_audio_turn(
    rid: str,
    item_id: str,
    previous: str,
    words: list[str],
    *,
    finish: bool = True,
    interleave: list[Event] | None = None,
) -> list[Event]:
    """§6.1 (a), the assistant half: an audio answer with transcript deltas interleaved with
    100 ms audio deltas; ``interleave`` is slipped in after the first delta."""
    events: list[Event] = [
        {"type": "response.created", "response": response(rid, "in_progress")},
        {
            "type": "response.output_item.added",
            "response_id": rid,
            "output_index": 0,
            "item": assistant_item(item_id, "in_progress"),
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": previous,
            "item": assistant_item(item_id, "in_progress"),
        },
        part_event(
            "response.content_part.added", rid, item_id, part={"type": "audio", "transcript": ""}
        ),
    ]
    for index, word in enumerate(words):
        events.append(
            part_event("response.output_audio_transcript.delta", rid, item_id, delta=word)
        )
        events.append(part_event("response.output_audio.delta", rid, item_id, delta=MS_100_OF_PCM))
        if index == 0 and interleave:
            events.extend(interleave)
    if finish:
        transcript = "".join(words)
        final = assistant_item(
            item_id, "completed", [{"type": "output_audio", "transcript": transcript}]
        )
        events += [
            part_event("response.output_audio.done", rid, item_id),
            part_event(
                "response.output_audio_transcript.done", rid, item_id, transcript=transcript
            ),
            part_event(
                "response.content_part.done",
                rid,
                item_id,
                part={"type": "audio", "transcript": transcript},
            ),
            {
                "type": "response.output_item.done",
                "response_id": rid,
                "output_index": 0,
                "item": final,
            },
            {"type": "conversation.item.done", "previous_item_id": previous, "item": final},
            {
                "type": "response.done",
                "response": response(rid, "completed", output=[final], usage=usage()),
            },
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "tokens", "limit": 50000, "remaining": 49000, "reset_seconds": 60}
                ],
            },
        ]
    return events


def voice_turn_with_late_transcript() -> list[Event]:
    """(a): the user's transcript arrives while the assistant is already answering."""
    late = [
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "item_U1",
            "content_index": 0,
            "delta": "What's the ",
        },
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "item_U1",
            "content_index": 0,
            "delta": "weather?",
        },
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_U1",
            "content_index": 0,
            "transcript": "What's the weather?",
            "usage": {"type": "duration", "seconds": 1.5},
        },
    ]
    return user_voice_turn("item_U1", None) + assistant_audio_turn(
        "resp_R1", "item_A1", "item_U1", ["It is ", "sunny ", "today."], interleave=late
    )


def text_turn() -> list[Event]:
    """§6.2 (b): a typed question and a text answer."""
    final = assistant_item(
        "item_A1", "completed", [{"type": "output_text", "text": "Hi! How can I help?"}]
    )
    return [
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": user_text_item("item_U1", "Hello"),
        },
        {
            "type": "conversation.item.done",
            "previous_item_id": None,
            "item": user_text_item("item_U1", "Hello"),
        },
        {"type": "response.created", "response": response("resp_R1", "in_progress")},
        {
            "type": "response.output_item.added",
            "response_id": "resp_R1",
            "output_index": 0,
            "item": assistant_item("item_A1", "in_progress"),
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_U1",
            "item": assistant_item("item_A1", "in_progress"),
        },
        part_event(
            "response.content_part.added", "resp_R1", "item_A1", part={"type": "text", "text": ""}
        ),
        part_event("response.output_text.delta", "resp_R1", "item_A1", delta="Hi! "),
        part_event("response.output_text.delta", "resp_R1", "item_A1", delta="How can I help?"),
        part_event("response.output_text.done", "resp_R1", "item_A1", text="Hi! How can I help?"),
        part_event(
            "response.content_part.done",
            "resp_R1",
            "item_A1",
            part={"type": "text", "text": "Hi! How can I help?"},
        ),
        {
            "type": "response.output_item.done",
            "response_id": "resp_R1",
            "output_index": 0,
            "item": final,
        },
        {"type": "conversation.item.done", "previous_item_id": "item_U1", "item": final},
        {
            "type": "response.done",
            "response": response("resp_R1", "completed", output=[final], usage=usage()),
        },
    ]


def function_call(item_id: str, call_id: str, name: str, arguments: str, status: str) -> Event:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def parallel_function_calls() -> list[Event]:
    """§6.3 (c): one response with two function calls (streamed arguments interleaved), the
    client's two outputs, then the follow-up answer."""
    calls = [
        ("item_F1", "call_1", "get_time", '{"timezone":"Europe/Paris"}'),
        ("item_F2", "call_2", "calculate", '{"expression":"6*7"}'),
    ]
    events: list[Event] = [
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": user_text_item("item_U1", "Time in Paris, and 6 times 7?"),
        },
        {"type": "response.created", "response": response("resp_R1", "in_progress")},
    ]
    previous = "item_U1"
    for index, (item_id, call_id, name, _) in enumerate(calls):
        added = function_call(item_id, call_id, name, "", "in_progress")
        events += [
            {
                "type": "response.output_item.added",
                "response_id": "resp_R1",
                "output_index": index,
                "item": added,
            },
            {"type": "conversation.item.added", "previous_item_id": previous, "item": added},
        ]
        previous = item_id
    for item_id, call_id, _, arguments in calls:
        events.append(
            {
                "type": "response.function_call_arguments.delta",
                "response_id": "resp_R1",
                "item_id": item_id,
                "output_index": 0,
                "call_id": call_id,
                "delta": arguments[:5],
            }
        )
    for index, (item_id, call_id, name, arguments) in enumerate(calls):
        events.append(
            {
                "type": "response.function_call_arguments.delta",
                "response_id": "resp_R1",
                "item_id": item_id,
                "output_index": index,
                "call_id": call_id,
                "delta": arguments[5:],
            }
        )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "response_id": "resp_R1",
                "item_id": item_id,
                "output_index": index,
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
            }
        )
    finals = [function_call(i, c, n, a, "completed") for (i, c, n, a) in calls]
    for index, final in enumerate(finals):
        events += [
            {
                "type": "response.output_item.done",
                "response_id": "resp_R1",
                "output_index": index,
                "item": final,
            },
            {
                "type": "conversation.item.done",
                "previous_item_id": "item_U1" if index == 0 else "item_F1",
                "item": final,
            },
        ]
    events.append(
        {
            "type": "response.done",
            "response": response("resp_R1", "completed", output=finals, usage=usage()),
        }
    )
    outputs = [("item_O1", "call_1", '{"time":"14:05"}'), ("item_O2", "call_2", '{"value":42}')]
    for item_id, call_id, output in outputs:
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call_output",
            "call_id": call_id,
            "output": output,
        }
        events += [
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item},
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item},
        ]
        previous = item_id
    events += assistant_audio_turn("resp_R2", "item_A1", previous, ["It is 14:05 ", "and 42."])
    return events


def barge_in_with_truncation() -> list[Event]:
    """§6.4 (d) case 1: the user speaks while the answer streams; the server cancels the
    response, the client truncates at what was played (150 ms of 300 ms)."""
    words = ["I was going to ", "say something ", "rather long."]
    events = user_voice_turn("item_U1", None)
    events += assistant_audio_turn("resp_R1", "item_A1", "item_U1", words, finish=False)
    partial = "".join(words)
    cut = assistant_item("item_A1", "incomplete", [{"type": "output_audio", "transcript": partial}])
    events += [
        {"type": "input_audio_buffer.speech_started", "item_id": "item_U2", "audio_start_ms": 4000},
        part_event("response.output_audio.done", "resp_R1", "item_A1"),
        part_event(
            "response.output_audio_transcript.done", "resp_R1", "item_A1", transcript=partial
        ),
        part_event(
            "response.content_part.done",
            "resp_R1",
            "item_A1",
            part={"type": "audio", "transcript": partial},
        ),
        {
            "type": "response.output_item.done",
            "response_id": "resp_R1",
            "output_index": 0,
            "item": cut,
        },
        {
            "type": "response.done",
            "response": response(
                "resp_R1",
                "cancelled",
                status_details={"type": "cancelled", "reason": "turn_detected"},
                output=[cut],
                usage=usage(),
            ),
        },
        # a late delta of the cancelled response, already in flight
        part_event("response.output_audio.delta", "resp_R1", "item_A1", delta=MS_100_OF_PCM),
        {
            "type": "conversation.item.truncated",
            "item_id": "item_A1",
            "content_index": 0,
            "audio_end_ms": 150,
        },
        # the server's copy of the item has no transcript any more
        {
            "type": "conversation.item.retrieved",
            "item": assistant_item("item_A1", "incomplete", [{"type": "output_audio"}]),
        },
    ]
    events += [
        e
        for e in user_voice_turn("item_U2", "item_A1")
        if e["type"] != "input_audio_buffer.speech_started"
    ]
    return events


def cancelled_by_client() -> list[Event]:
    """§6.5 (e): the client cancels; partial done events, then response.done cancelled."""
    events = text_turn()[:8]  # up to the first text delta
    cut = assistant_item("item_A1", "incomplete", [{"type": "output_text", "text": "Hi! "}])
    events += [
        part_event("response.output_text.done", "resp_R1", "item_A1", text="Hi! "),
        {
            "type": "response.output_item.done",
            "response_id": "resp_R1",
            "output_index": 0,
            "item": cut,
        },
        {
            "type": "response.done",
            "response": response(
                "resp_R1",
                "cancelled",
                status_details={"type": "cancelled", "reason": "client_cancelled"},
                output=[cut],
                usage=usage(output_tokens=3),
            ),
        },
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "Cancellation failed: no active response found",
                "param": None,
                "event_id": "cli_2",
            },
        },
    ]
    return events


def failed_and_incomplete() -> list[Event]:
    """§6.6 (f) and §7.2: a server error fails one response, the next hits the token cap."""
    error = {
        "type": "server_error",
        "code": None,
        "message": "The server had an error while processing your request.",
    }
    events: list[Event] = [
        {
            "type": "conversation.item.added",
            "previous_item_id": None,
            "item": user_text_item("item_U1", "Tell me a story"),
        },
        {"type": "response.created", "response": response("resp_R1", "in_progress")},
        {
            "type": "response.done",
            "response": response(
                "resp_R1", "failed", status_details={"type": "failed", "error": error}
            ),
        },
        {"type": "response.created", "response": response("resp_R2", "in_progress")},
        {
            "type": "response.output_item.added",
            "response_id": "resp_R2",
            "output_index": 0,
            "item": assistant_item("item_A1", "in_progress"),
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_U1",
            "item": assistant_item("item_A1", "in_progress"),
        },
        part_event("response.output_text.delta", "resp_R2", "item_A1", delta="Once upon a time"),
    ]
    cut = assistant_item(
        "item_A1", "incomplete", [{"type": "output_text", "text": "Once upon a time"}]
    )
    events += [
        {
            "type": "response.output_item.done",
            "response_id": "resp_R2",
            "output_index": 0,
            "item": cut,
        },
        {
            "type": "response.done",
            "response": response(
                "resp_R2",
                "incomplete",
                status_details={"type": "incomplete", "reason": "max_output_tokens"},
                output=[cut],
                usage=usage(),
            ),
        },
    ]
    return events


# GA → beta (PROTOCOL.md §3.2, §5.3) ------------------------------------------------------------

_BETA_NAMES = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "conversation.item.added": "conversation.item.created",
}
_BETA_PART_TYPES = {"output_text": "text", "output_audio": "audio"}


def to_beta(events: list[Event]) -> list[Event]:
    """The same conversation as a beta server sends it: renamed events, one
    ``conversation.item.created`` instead of added + done, beta content part names."""
    beta = []
    for event in copy.deepcopy(events):
        if event["type"] == "conversation.item.done":
            continue  # GA's second phase; beta sends the item once
        event["type"] = _BETA_NAMES.get(event["type"], event["type"])
        for item in _items_in(event):
            item.pop("object", None)
            for part in item.get("content") or []:
                part["type"] = _BETA_PART_TYPES.get(part["type"], part["type"])
        beta.append(event)
    return beta


def _items_in(event: Event) -> list[Event]:
    items = [event["item"]] if isinstance(event.get("item"), dict) else []
    body = event.get("response")
    if isinstance(body, dict):
        items += [i for i in body.get("output") or [] if isinstance(i, dict)]
    return items
