"""``realtime-desktop-bench protocol``: parse + ``to_wire`` cost of the two hottest events.

The audio delta is the event the main loop handles 25 times a second per response; ``response.done``
is the largest routine event. The official SDK parses the same payloads side by side when it is
installed (it is a test-only dependency): its non-validating ``construct_type`` (what its
realtime connection uses) and a validating parse through a pydantic ``TypeAdapter``.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable
from typing import Any

from realtime_desktop.bench.stats import summary, time_call_us
from realtime_desktop.protocol import parse_server_event

AUDIO_DELTA_BYTES = 1920  # 40 ms of 24 kHz PCM16

AUDIO_DELTA = json.dumps(
    {
        "type": "response.output_audio.delta",
        "event_id": "event_4950",
        "response_id": "resp_001",
        "item_id": "item_008",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(bytes(range(256)) * (AUDIO_DELTA_BYTES // 256)).decode(),
    }
)

RESPONSE_DONE = json.dumps(
    {
        "type": "response.done",
        "event_id": "event_3132",
        "response": {
            "id": "resp_001",
            "object": "realtime.response",
            "status": "completed",
            "status_details": None,
            "conversation_id": "conv_001",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
            "metadata": None,
            "output": [
                {
                    "id": "item_008",
                    "type": "message",
                    "object": "realtime.item",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {"type": "output_audio", "transcript": "Sure, the time in Paris is 3 pm."}
                    ],
                }
            ],
            "usage": {
                "total_tokens": 253,
                "input_tokens": 132,
                "output_tokens": 121,
                "input_token_details": {
                    "text_tokens": 119,
                    "audio_tokens": 13,
                    "image_tokens": 0,
                    "cached_tokens": 64,
                    "cached_tokens_details": {
                        "text_tokens": 64,
                        "audio_tokens": 0,
                        "image_tokens": 0,
                    },
                },
                "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
            },
        },
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=200, help="timed batches per figure")
    parser.add_argument("--inner", type=int, default=50, help="calls per timed batch")


def _median_us(func: Callable[[], object], args: argparse.Namespace) -> float:
    return summary(time_call_us(func, repeat=args.repeat, inner=args.inner))["median"]


def _sdk_parsers(name: str) -> dict[str, Callable[[str], object]] | None:
    try:
        import pydantic
        from openai._models import construct_type
        from openai.types.realtime import (
            RealtimeServerEvent,
            ResponseAudioDeltaEvent,
            ResponseDoneEvent,
        )
    except ImportError:
        return None
    union: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
    exact: type[pydantic.BaseModel] = (
        ResponseAudioDeltaEvent if name == "audio_delta" else ResponseDoneEvent
    )

    def construct(raw: str) -> object:
        return construct_type(type_=RealtimeServerEvent, value=json.loads(raw))

    return {
        "sdk_construct": construct,
        # a generic parse validates against the event union, as ours does by dispatch
        "sdk_validate": union.validate_json,
        # the SDK's best case: the caller already knows the class
        "sdk_validate_exact_class": exact.model_validate_json,
    }


def _parse_us(raw: str, args: argparse.Namespace) -> float:
    return _median_us(lambda: parse_server_event(raw), args)


def _round_trip_us(raw: str, args: argparse.Namespace) -> float:
    return _median_us(lambda: parse_server_event(raw).to_wire(), args)


def _sdk_us(parse: Callable[[str], object], raw: str, args: argparse.Namespace) -> float:
    return _median_us(lambda: parse(raw), args)


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, raw in (("audio_delta", AUDIO_DELTA), ("response_done", RESPONSE_DONE)):
        sdk = _sdk_parsers(name)
        event = parse_server_event(raw)
        figures: dict[str, Any] = {
            "payload_bytes": len(raw),
            "parse_us": _parse_us(raw, args),
            "to_wire_us": _median_us(event.to_wire, args),
            "parse_and_to_wire_us": _round_trip_us(raw, args),
        }
        if sdk is None:
            figures["sdk"] = "openai package not installed; comparison skipped"
        else:
            for sdk_name, parse in sdk.items():
                sdk_us = _sdk_us(parse, raw, args)
                figures[f"{sdk_name}_us"] = sdk_us
                figures[f"ours_vs_{sdk_name}"] = figures["parse_us"] / sdk_us
        results[name] = figures
    results["targets"] = {"audio_delta_parse_us_max": 30.0, "no_slower_than": "sdk_validate"}
    return results
