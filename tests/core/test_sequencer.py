"""ResponseSequencer rules (issue 3, acceptance 3; PEERS.md pain point 5)."""

from __future__ import annotations

from typing import Any

from realtime_desktop.core import ResponseSequencer, SequencerState
from realtime_desktop.protocol import (
    ClientEvent,
    ConversationItemCreate,
    FunctionCallOutputItem,
    ResponseCancel,
    ResponseCreate,
    ResponseCreateParams,
    ServerEvent,
    parse_server_event,
)

from .sequences import MS_100_OF_PCM, part_event, response


def created(rid: str, **extra: Any) -> ServerEvent:
    return parse_server_event(
        {"type": "response.created", "response": response(rid, "in_progress", **extra)}
    )


def done(rid: str, status: str = "completed", **extra: Any) -> ServerEvent:
    return parse_server_event({"type": "response.done", "response": response(rid, status, **extra)})


def call_done(rid: str, call_id: str, name: str = "calculate") -> ServerEvent:
    return parse_server_event(
        {
            "type": "response.function_call_arguments.done",
            "response_id": rid,
            "item_id": f"item_{call_id}",
            "output_index": 0,
            "call_id": call_id,
            "name": name,
            "arguments": "{}",
        }
    )


def error(code: str, event_id: str | None) -> ServerEvent:
    return parse_server_event(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": code,
                "message": code,
                "event_id": event_id,
            },
        }
    )


def types(events: list[ClientEvent]) -> list[str]:
    return [event.type for event in events]


def test_response_create_waits_while_a_response_is_active() -> None:
    sequencer = ResponseSequencer()
    first = sequencer.request_response()
    assert types(first) == ["response.create"]
    assert first[0].event_id
    assert sequencer.state is SequencerState.CREATE_REQUESTED
    assert sequencer.request_response() == []  # queued
    assert sequencer.request_response() == []  # coalesced with the queued one
    assert sequencer.queued == 1
    assert sequencer.apply(created("resp_1")) == []
    assert sequencer.active_response_id == "resp_1"
    released = sequencer.apply(done("resp_1"))
    assert types(released) == ["response.create"]
    assert sequencer.queued == 0
    assert released[0].event_id != first[0].event_id


def test_a_server_started_response_also_blocks_create() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_vad"))  # server VAD started it
    assert sequencer.request_response() == []
    assert types(sequencer.apply(done("resp_vad"))) == ["response.create"]


def test_no_response_cancel_is_sent_while_idle() -> None:
    sequencer = ResponseSequencer()
    assert sequencer.request_cancel() == []
    assert sequencer.interrupt(cancel=True) == []
    sequencer.request_response()
    sequencer.apply(created("resp_1"))
    sequencer.apply(done("resp_1"))
    assert sequencer.state is SequencerState.IDLE
    assert sequencer.request_cancel() == []
    assert sequencer.interrupt(cancel=True) == []


def test_cancel_while_active_marks_the_response_interrupted() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.request_response()  # queued behind resp_1, dropped by the cancel
    cancel = sequencer.request_cancel()
    assert types(cancel) == ["response.cancel"]
    assert isinstance(cancel[0], ResponseCancel)
    assert cancel[0].response_id == "resp_1"
    assert sequencer.request_cancel() == []  # one cancel per response
    assert sequencer.queued == 0
    late = parse_server_event(
        part_event("response.output_audio.delta", "resp_1", "item_A1", delta=MS_100_OF_PCM)
    )
    assert not sequencer.should_play(late)  # type: ignore[arg-type]
    assert sequencer.apply(done("resp_1", "cancelled")) == []
    assert sequencer.state is SequencerState.IDLE


def test_a_cancel_requested_before_the_response_exists_follows_its_creation() -> None:
    sequencer = ResponseSequencer()
    sequencer.request_response()
    assert sequencer.request_cancel() == []  # nothing to cancel yet
    cancel = sequencer.apply(created("resp_1"))
    assert types(cancel) == ["response.cancel"]


def test_interrupt_without_cancel_only_drops_late_audio() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    assert sequencer.interrupt(cancel=False) == []  # the server's VAD cancels it itself
    assert sequencer.is_interrupted("resp_1")
    assert sequencer.state is SequencerState.ACTIVE


def test_two_parallel_calls_produce_outputs_then_exactly_one_response_create() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    sequencer.apply(call_done("resp_1", "call_2"))
    assert sequencer.pending_tool_calls == ["call_1", "call_2"]
    assert sequencer.submit_tool_output("call_2", '{"value":2}') == []  # response still running
    assert sequencer.apply(done("resp_1")) == []  # call_1 still running
    events = sequencer.submit_tool_output("call_1", '{"value":1}')
    assert types(events) == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
    outputs = [e.item for e in events[:2] if isinstance(e, ConversationItemCreate)]
    assert all(isinstance(o, FunctionCallOutputItem) for o in outputs)
    assert [(o.call_id, o.output) for o in outputs] == [
        ("call_1", '{"value":1}'),
        ("call_2", '{"value":2}'),
    ]  # type: ignore[union-attr]
    assert sequencer.pending_tool_calls == []


def test_outputs_ready_before_the_response_ends_are_sent_at_its_end() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    assert sequencer.submit_tool_output("call_1", "{}") == []
    assert types(sequencer.apply(done("resp_1"))) == ["conversation.item.create", "response.create"]


def test_calls_listed_only_in_response_done_are_awaited_too() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    call = {
        "type": "function_call",
        "id": "item_F1",
        "call_id": "call_9",
        "name": "x",
        "arguments": "{}",
        "status": "completed",
    }
    assert sequencer.apply(done("resp_1", output=[call])) == []
    assert sequencer.pending_tool_calls == ["call_9"]
    assert types(sequencer.submit_tool_output("call_9", "{}")) == [
        "conversation.item.create",
        "response.create",
    ]


def test_a_follow_up_waits_for_a_response_the_server_started_meanwhile() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    sequencer.apply(done("resp_1"))
    sequencer.apply(created("resp_vad"))  # the user spoke while the tool ran
    assert types(sequencer.submit_tool_output("call_1", "{}")) == ["conversation.item.create"]
    assert types(sequencer.apply(done("resp_vad"))) == ["response.create"]


def test_a_cancelled_response_gets_its_outputs_but_no_new_response() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    sequencer.apply(
        done("resp_1", "cancelled", status_details={"type": "cancelled", "reason": "turn_detected"})
    )
    assert types(sequencer.submit_tool_output("call_1", "{}")) == ["conversation.item.create"]


def test_a_failed_response_abandons_its_tool_calls() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    sequencer.apply(done("resp_1", "failed"))
    assert sequencer.take_abandoned_calls() == ["call_1"]
    assert sequencer.take_abandoned_calls() == []
    assert sequencer.submit_tool_output("call_1", "{}") == []  # never continue a failed chain


def test_a_create_rejected_in_a_race_with_vad_is_queued_again() -> None:
    sequencer = ResponseSequencer()
    (create,) = sequencer.request_response(ResponseCreateParams(instructions="Answer briefly."))
    sequencer.apply(created("resp_vad"))  # looks like ours, but the server started it
    assert sequencer.apply(error("conversation_already_has_active_response", create.event_id)) == []
    assert sequencer.queued == 1
    (again,) = sequencer.apply(done("resp_vad"))
    assert isinstance(again, ResponseCreate)
    assert again.response is not None
    assert again.response.instructions == "Answer briefly."


def test_a_create_rejected_for_another_reason_frees_the_slot() -> None:
    sequencer = ResponseSequencer()
    (create,) = sequencer.request_response(ResponseCreateParams(instructions="x"))
    sequencer.request_response()
    released = sequencer.apply(error("invalid_value", create.event_id))
    assert types(released) == ["response.create"]


def test_cancel_not_active_is_benign() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    (cancel,) = sequencer.request_cancel()
    assert sequencer.apply(error("response_cancel_not_active", cancel.event_id)) == []
    assert sequencer.state is SequencerState.IDLE
    assert types(sequencer.request_response()) == ["response.create"]


def test_out_of_band_responses_run_alongside_the_default_one() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    summary = ResponseCreateParams(conversation="none", instructions="Summarise.")
    assert types(sequencer.request_response(summary)) == ["response.create"]
    sequencer.apply(created("resp_oob", conversation_id=None))
    sequencer.apply(done("resp_oob", conversation_id=None))
    assert sequencer.state is SequencerState.ACTIVE
    assert sequencer.active_response_id == "resp_1"


def test_reset_after_a_connection_loss() -> None:
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1"))
    sequencer.request_response()
    released = sequencer.reset()
    assert types(released) == ["response.create"]  # the session sends it after its replay
    assert sequencer.take_abandoned_calls() == ["call_1"]
    assert sequencer.state is SequencerState.CREATE_REQUESTED
