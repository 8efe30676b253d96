"""Helpers of the offline server tests: servers on the test's loop, speech, event structure."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np

from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.espeak import synthesize
from realtime_desktop.server import DeltaPacing, OfflineServer, ServerConfig

TOKEN = "test-token"
P = ParamSpec("P")
R = TypeVar("R")

# Deltas of a response mentioned by type; audio and transcript deltas interleave freely
# (PROTOCOL.md §6), so the structure check folds them into one marker.
DELTAS = "<deltas>"
_DELTA_TYPES = frozenset(
    {
        "response.output_text.delta",
        "response.text.delta",
        "response.output_audio.delta",
        "response.audio.delta",
        "response.output_audio_transcript.delta",
        "response.audio_transcript.delta",
        "response.function_call_arguments.delta",
    }
)


def asyncio_test(func: Callable[P, Awaitable[R]]) -> Callable[P, R]:
    """Runs an async test on a fresh event loop (pytest sees the original signature)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return asyncio.run(func(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


@contextlib.asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[OfflineServer]:
    """An offline server on the running loop: test token, fast deltas unless overridden."""
    config = ServerConfig(token=TOKEN, pacing=overrides.pop("pacing", DeltaPacing.fast()))
    async with OfflineServer(dataclasses.replace(config, **overrides)) as server:
        yield server


# Deltas that trickle: a 100 ms chunk every 2 s, so a response is certainly still running when
# a test barges in or cancels, however slow the machine.
TRICKLE = DeltaPacing(realtime_factor=0.05)


@functools.cache
def spoken(text: str, rate: int = 24000) -> np.ndarray:
    return synthesize(text, rate)


def silence(seconds: float, rate: int = 24000) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def wire_bytes(samples: np.ndarray, fmt: WireFormat = WireFormat.PCM16) -> bytes:
    return fmt.encode(samples)


def speech_truth(samples: np.ndarray, rate: int, offset: int = 0) -> tuple[float, float]:
    """First and last 10 ms frame above -40 dBFS, in ms (``offset`` samples added): where
    the speech in a generated clip really begins and ends."""
    frame = rate // 100
    count = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    active = np.flatnonzero(rms > 10 ** (-40 / 20))
    start = (offset + active[0] * frame) * 1000 / rate
    end = (offset + (active[-1] + 1) * frame) * 1000 / rate
    return float(start), float(end)


def sentences_with_pauses(
    texts: list[str], rate: int, *, lead_s: float = 0.5, gap_s: float = 1.0
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The sentences spoken one after another with silences between; the true speech span
    of each, in ms from the start."""
    parts = [silence(lead_s, rate)]
    truth = []
    position = len(parts[0])
    for text in texts:
        clip = spoken(text, rate)
        truth.append(speech_truth(clip, rate, position))
        parts += [clip, silence(gap_s, rate)]
        position += len(clip) + len(parts[-1])
    return np.concatenate(parts), truth


def decode_deltas(events: list[dict[str, Any]], delta_type: str) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == delta_type)


def response_structure(events: list[dict[str, Any]], response_id: str) -> list[str]:
    """The event types of one response in arrival order, deltas folded into one marker:
    what PROTOCOL.md §6 fixes about a response's order."""
    item_ids = set()
    structure: list[str] = []
    for event in events:
        mine = event.get("response_id") == response_id or (
            event.get("response", {}).get("id") == response_id
        )
        if mine and "item" in event:
            item_ids.add(event["item"].get("id"))
        if not mine and event.get("item", {}).get("id") not in item_ids:
            continue
        kind = DELTAS if event["type"] in _DELTA_TYPES else event["type"]
        if not (kind == DELTAS and structure and structure[-1] == DELTAS):
            structure.append(kind)
    return structure


def expected(ga_types: list[str], dialect: str) -> list[str]:
    """GA event types in ``dialect``'s spelling, GA-only events left out for beta."""
    from .sdk_client import BETA_NAMES, GA_ONLY

    if dialect == "ga":
        return list(ga_types)
    return [BETA_NAMES.get(t, t) for t in ga_types if t not in GA_ONLY]


TEXT_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    DELTAS,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]
AUDIO_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    DELTAS,
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]
FUNCTION_CALL_RESPONSE = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    DELTAS,
    "response.function_call_arguments.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
]


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def text_mode(dialect: str) -> dict[str, Any]:
    return {"modalities": ["text"]} if dialect == "beta" else {"output_modalities": ["text"]}


def manual_turns(dialect: str) -> dict[str, Any]:
    return (
        {"turn_detection": None}
        if dialect == "beta"
        else {"audio": {"input": {"turn_detection": None}}}
    )


def tools_config(dialect: str, *names: str) -> dict[str, Any]:
    tools = [
        {
            "type": "function",
            "name": name,
            "description": f"{name} for tests",
            "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
        }
        for name in names
    ]
    return {"tools": tools, "tool_choice": "auto"}
