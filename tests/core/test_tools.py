"""Tool registry, executor and built-ins (issue 3, acceptance 3)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from realtime_desktop.core import (
    InvalidInputError,
    RealtimeSession,
    ResponseSequencer,
    ToolExecutor,
    ToolRegistry,
    ToolRun,
    ToolRunStatus,
    builtin_registry,
)
from realtime_desktop.core.builtin_tools import add_days, convert_units, current_time, days_between
from realtime_desktop.protocol import (
    ClientEvent,
    ConversationItemCreate,
    ErrorEvent,
    ResponseCreate,
)

from .scripted import Peer, ScriptedServer
from .test_sequencer import call_done, created, done


def weather(city: str, days: int = 1, units: str | None = None) -> dict[str, Any]:
    """Look up the forecast.

    Args:
        city: the city name.
        days: how many days ahead,
            from 1 to 7.
        units: "metric" or "imperial".
    """
    return {"city": city, "days": days}


class Booking(BaseModel):
    room: str = Field(description="The meeting room.")
    people: Annotated[int, Field(ge=1, le=20)]


def test_parameters_schema_comes_from_type_hints_and_docstring() -> None:
    registry = ToolRegistry()
    tool = registry.register(weather)
    assert tool.description == "Look up the forecast."
    schema = tool.parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"] == {"type": "string", "description": "the city name."}
    assert schema["properties"]["days"]["type"] == "integer"
    assert schema["properties"]["days"]["description"] == "how many days ahead, from 1 to 7."
    assert "title" not in schema
    assert schema["additionalProperties"] is False
    function = tool.function_tool()
    assert function.name == "weather"
    assert function.parameters == schema


def test_a_pydantic_model_parameter_gives_the_schema_and_is_passed_whole() -> None:
    registry = ToolRegistry()

    def book(booking: Booking) -> str:
        """Book a room."""
        return f"{booking.room} for {booking.people}"

    tool = registry.register(book, requires_approval=True)
    assert tool.parameters["properties"]["people"]["maximum"] == 20
    assert tool.parameters["required"] == ["people", "room"] or set(
        tool.parameters["required"]
    ) == {"room", "people"}
    kwargs = tool.arguments({"room": "Kepler", "people": 3})
    assert isinstance(kwargs["booking"], Booking)
    with pytest.raises(InvalidInputError, match="people"):
        tool.arguments({"room": "Kepler", "people": 99})


def test_invalid_tool_names_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        ToolRegistry().register(weather, name="get weather!")


async def run_one(
    executor: ToolExecutor, name: str, arguments: str, call_id: str = "call_1"
) -> ToolRun:
    return await executor.submit(call_id, name, arguments).wait()


def error_of(run: ToolRun) -> dict[str, Any]:
    assert run.output is not None
    body = json.loads(run.output)
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


async def test_results_and_structured_errors_for_the_model() -> None:
    registry = ToolRegistry()
    registry.register(weather)

    def explode(reason: str) -> None:
        raise RuntimeError(f"disk on fire: {reason}")

    registry.register(explode)
    executor = ToolExecutor(registry)

    ok = await run_one(executor, "weather", '{"city": "Oslo", "days": 2}')
    assert ok.status is ToolRunStatus.SUCCEEDED
    assert json.loads(ok.output or "") == {"city": "Oslo", "days": 2}

    unknown = await run_one(executor, "teleport", "{}", "call_2")
    assert error_of(unknown)["type"] == "unknown_tool"
    assert "weather" in error_of(unknown)["message"]

    bad_json = await run_one(executor, "weather", '{"city": ', "call_3")
    assert error_of(bad_json)["type"] == "invalid_arguments"

    wrong_type = await run_one(executor, "weather", '{"city": "Oslo", "days": "many"}', "call_4")
    assert error_of(wrong_type)["type"] == "invalid_arguments"
    assert "days" in error_of(wrong_type)["message"]

    extra = await run_one(executor, "weather", '{"city": "Oslo", "mood": "sunny"}', "call_5")
    assert error_of(extra)["type"] == "invalid_arguments"

    raised = await run_one(executor, "explode", '{"reason": "test"}', "call_6")
    assert raised.status is ToolRunStatus.FAILED
    assert error_of(raised) == {
        "type": "execution_error",
        "message": "RuntimeError: disk on fire: test",
    }

    assert [run.call_id for run in executor.history] == [f"call_{i}" for i in range(1, 7)]
    assert executor.active == []


async def test_a_hanging_tool_times_out_and_the_model_receives_a_structured_error() -> None:
    registry = ToolRegistry()
    never = asyncio.Event()

    async def hang() -> str:
        await never.wait()
        return "unreachable"

    registry.register(hang, timeout=0.05)
    executor = ToolExecutor(registry)
    sequencer = ResponseSequencer()
    sequencer.apply(created("resp_1"))
    sequencer.apply(call_done("resp_1", "call_1", "hang"))
    sequencer.apply(done("resp_1"))

    run = await executor.submit("call_1", "hang", "{}").wait()
    assert run.status is ToolRunStatus.TIMED_OUT
    events = sequencer.submit_tool_output(run.call_id, run.output or "")
    assert [e.type for e in events] == ["conversation.item.create", "response.create"]
    sent = events[0]
    assert isinstance(sent, ConversationItemCreate)
    output = json.loads(sent.item.output)  # type: ignore[union-attr]
    assert output == {
        "error": {"type": "timeout", "message": "hang did not finish within 0.05 seconds."}
    }


async def test_two_parallel_calls_produce_exactly_one_response_create() -> None:
    registry = ToolRegistry()
    gates = {"call_1": asyncio.Event(), "call_2": asyncio.Event()}

    async def slow_echo(text: str, gate: str) -> str:
        await gates[gate].wait()
        return json.dumps({"echo": text})

    registry.register(slow_echo)
    executor = ToolExecutor(registry)
    sequencer = ResponseSequencer()
    sent: list[ClientEvent] = []
    finished = asyncio.Event()

    def on_run(run: ToolRun) -> None:  # the controller's wiring
        if run.finished:
            sent.extend(sequencer.submit_tool_output(run.call_id, run.output or ""))
            if len(executor.active) == 0:
                finished.set()

    executor.add_listener(on_run)
    sent += sequencer.apply(created("resp_1"))
    for call_id in gates:
        sent += sequencer.apply(call_done("resp_1", call_id, "slow_echo"))
        executor.submit(call_id, "slow_echo", json.dumps({"text": call_id, "gate": call_id}))
    assert {run.status for run in executor.active} == {ToolRunStatus.RUNNING}  # both at once
    gates["call_2"].set()
    await executor.run("call_2").wait()  # type: ignore[union-attr]
    sent += sequencer.apply(done("resp_1"))
    gates["call_1"].set()
    await finished.wait()

    assert [e.type for e in sent] == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
    assert sum(isinstance(e, ResponseCreate) for e in sent) == 1


async def test_approval_required_tools_wait_for_a_decision() -> None:
    registry = ToolRegistry()
    calls: list[str] = []

    def delete_file(path: str) -> str:
        calls.append(path)
        return "deleted"

    registry.register(delete_file, requires_approval=True)
    executor = ToolExecutor(registry)
    waiting = asyncio.Event()
    executor.add_listener(
        lambda run: waiting.set() if run.status is ToolRunStatus.AWAITING_APPROVAL else None
    )

    first = executor.submit("call_1", "delete_file", '{"path": "a.txt"}')
    await waiting.wait()
    assert executor.awaiting_approval == [first]
    assert calls == []  # nothing runs before the user decides
    assert executor.approve("call_1")
    await first.wait()
    assert first.status is ToolRunStatus.SUCCEEDED
    assert calls == ["a.txt"]

    second = executor.submit("call_2", "delete_file", '{"path": "b.txt"}')
    assert executor.reject("call_2", "Not that one.")
    await second.wait()
    assert second.status is ToolRunStatus.REJECTED
    assert error_of(second) == {
        "type": "rejected",
        "message": "The user declined this action. Not that one.",
    }
    assert calls == ["a.txt"]
    assert not executor.approve("call_2")  # decided already


async def test_cancelling_a_running_tool() -> None:
    registry = ToolRegistry()
    started = asyncio.Event()

    async def long_job() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    registry.register(long_job)
    executor = ToolExecutor(registry)
    run = executor.submit("call_1", "long_job", "{}")
    await started.wait()
    assert executor.cancel("call_1")
    await run.wait()
    assert run.status is ToolRunStatus.CANCELLED
    assert error_of(run)["type"] == "cancelled"
    assert not executor.cancel("call_1")


async def test_barge_in_keeps_working_while_a_blocking_tool_runs() -> None:
    """A plain (blocking) tool runs in a thread: the loop keeps serving the WebSocket. Were it
    run on the loop, the round trip below could never complete and the test would time out."""
    release = threading.Event()
    entered = threading.Event()
    registry = ToolRegistry()

    def blocking_lookup(query: str) -> str:
        entered.set()
        release.wait(timeout=20)
        return query

    registry.register(blocking_lookup)

    async def on_connect(peer: Peer) -> None:
        await peer.handshake()
        while True:
            event = await peer.recv()
            if event["type"] == "response.cancel":
                await peer.send(
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "code": "response_cancel_not_active",
                            "message": "Cancellation failed: no active response found",
                            "event_id": event["event_id"],
                        },
                    }
                )

    async with ScriptedServer(on_connect) as server:
        session = RealtimeSession(server.settings())
        events = session.events()
        await session.connect()
        executor = ToolExecutor(registry)
        run = executor.submit("call_1", "blocking_lookup", '{"query": "x"}')
        await asyncio.to_thread(entered.wait, 5)
        assert run.status is ToolRunStatus.RUNNING
        cancel_id = await session.cancel_response()  # the Interrupt button, mid-tool
        async for event in events:
            if isinstance(event, ErrorEvent) and event.error.event_id == cancel_id:
                break
        assert run.status is ToolRunStatus.RUNNING  # still blocked in its thread
        release.set()
        await run.wait()
        assert run.output == "x"
        await session.close()


async def test_builtins_run_through_the_executor() -> None:
    executor = ToolExecutor(builtin_registry())
    assert set(executor.registry.names) == {
        "current_time",
        "calculate",
        "convert_units",
        "days_between",
        "add_days",
    }
    run = await run_one(executor, "calculate", '{"expression": "2 + 3 * 4"}')
    assert json.loads(run.output or "") == {"expression": "2 + 3 * 4", "result": 14}
    bad = await run_one(executor, "calculate", '{"expression": "__import__(\'os\')"}', "call_2")
    assert error_of(bad)["type"] == "invalid_arguments"
    zone = await run_one(executor, "current_time", '{"timezone": "Mars/Olympus"}', "call_3")
    assert error_of(zone)["type"] == "invalid_arguments"


def test_current_time_in_a_time_zone() -> None:
    paris = current_time("Europe/Paris")
    assert paris["timezone"] == "Europe/Paris"
    assert paris["utc_offset"] in ("+01:00", "+02:00")
    assert paris["iso"].endswith(paris["utc_offset"])
    assert current_time()["utc_offset"] == "+00:00"
    with pytest.raises(InvalidInputError):
        current_time("Not/AZone")


def test_unit_conversion() -> None:
    assert convert_units(100, "km", "mi")["result"] == pytest.approx(62.13711922)
    assert convert_units(212, "°F", "celsius")["result"] == pytest.approx(100.0)
    assert convert_units(1, "GiB", "MB")["result"] == pytest.approx(1073.741824)
    assert convert_units(3, "pounds", "kg")["result"] == pytest.approx(1.36077711)
    assert convert_units(36, "km/h", "m/s")["result"] == pytest.approx(10.0)
    with pytest.raises(InvalidInputError, match="length"):
        convert_units(1, "km", "kg")
    with pytest.raises(InvalidInputError):
        convert_units(1, "C", "m")
    with pytest.raises(InvalidInputError, match="absolute zero"):
        convert_units(-500, "C", "K")
    with pytest.raises(InvalidInputError):
        convert_units(1, "furlong", "m")


def test_date_arithmetic() -> None:
    span = days_between("2026-01-01", "2026-03-01")
    assert span["days"] == 59
    assert span["weeks_and_days"] == [8, 3]
    assert span["start_weekday"] == "Thursday"
    assert days_between("2026-03-01", "2026-01-01")["days"] == -59
    assert add_days("2026-02-27", 2)["result"] == "2026-03-01"
    assert add_days("2026-01-10", -10)["result"] == "2025-12-31"
    with pytest.raises(InvalidInputError):
        days_between("yesterday", "2026-01-01")
