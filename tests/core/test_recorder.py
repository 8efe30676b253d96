"""The live conversation mirrored into its stored document, and a document continued."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_desktop.core.controller import RealtimeConversation
from realtime_desktop.core.recorder import ConversationRecorder, conversation_from_document
from realtime_desktop.protocol import FunctionCallOutputItem, parse_server_event
from realtime_desktop.storage.conversation import ConversationDocument

from . import sequences


def _record(events: list[dict[str, Any]]) -> tuple[RealtimeConversation, ConversationDocument, int]:
    controller = RealtimeConversation()
    document = ConversationDocument()
    changes = [0]

    def changed() -> None:
        changes[0] += 1

    ConversationRecorder(controller, document, changed)
    for raw in events:
        event = parse_server_event(raw)
        controller.conversation.apply(event)
        controller.cost.apply(event)
    return controller, document, changes[0]


def _replay_shape(items: list[Any]) -> list[dict[str, Any]]:
    # Output items get new ids when restored (the file keeps a call with its result, not the
    # output item's id); everything else must be identical.
    return [
        {
            k: v
            for k, v in item.wire_dict().items()
            if not (isinstance(item, FunctionCallOutputItem) and k == "id")
        }
        for item in items
    ]


@pytest.mark.parametrize(
    "sequence",
    [
        sequences.text_turn,
        sequences.voice_turn_with_late_transcript,
        sequences.barge_in_with_truncation,
        sequences.parallel_function_calls,
        sequences.cancelled_by_client,
        sequences.failed_and_incomplete,
    ],
)
def test_a_saved_conversation_replays_like_the_live_one(sequence: Any) -> None:
    controller, document, changes = _record(sequence())
    assert changes > 0
    restored = conversation_from_document(
        ConversationDocument.model_validate_json(document.model_dump_json())
    )
    assert _replay_shape(restored.replay_items()) == _replay_shape(
        controller.conversation.replay_items()
    )


def test_interruptions_tool_calls_and_usage_are_stored() -> None:
    controller, document, _ = _record(sequences.barge_in_with_truncation())
    interrupted = [i for i in document.items if i.interruption is not None]
    assert interrupted
    live = controller.conversation.item(interrupted[0].id)
    assert live is not None
    assert interrupted[0].interruption is not None
    assert interrupted[0].interruption.audio_end_ms == live.truncated_at_ms
    assert interrupted[0].interruption.partial_transcript == live.heard_transcript
    assert document.responses
    assert document.responses[0].usage.input_tokens > 0

    _, tools, _ = _record(sequences.parallel_function_calls())
    calls = [i.tool_call for i in tools.items if i.tool_call is not None]
    assert len(calls) == 2
    assert all(call.result for call in calls)  # outputs joined onto their calls
