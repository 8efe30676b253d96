"""``ResponseSequencer``: one response at a time on the default conversation (DESIGN.md
"Conversation and response rules", PEERS.md M3 and pain point 5).

A pure state machine, like :class:`~realtime_desktop.core.conversation.Conversation`: it does no
I/O. Each method returns the client events to send now, in order, with their ``event_id`` set
(so an ``error`` can be traced back to them); the controller sends them through the session::

    for event in sequencer.apply(server_event):        # every server event
        await session.send(event)
    for event in sequencer.request_response():          # "answer now"
        await session.send(event)
    for event in sequencer.submit_tool_output(call_id, output):   # a tool finished
        await session.send(event)

The rules it enforces:

* ``response.create`` is sent only when no response is active on the default conversation and no
  cancel is pending; otherwise it waits in a queue (consecutive plain requests coalesce);
* after a response with tool calls, once it is done and every call has an output, all the
  ``function_call_output`` items are sent first and then exactly **one** ``response.create`` —
  unless the response did not complete (cancelled by the user's turn: outputs only; failed: no
  outputs, never continue a tool chain from a failed response, PROTOCOL.md §6.3);
* ``response.cancel`` only while a response is active (or right after the one requested is
  created); never while idle;
* interrupted responses are remembered so their late audio deltas are dropped
  (:meth:`should_play`, PROTOCOL.md §9.13);
* benign races (``response_cancel_not_active``, ``conversation_already_has_active_response``)
  are logged, not surfaced: a rejected create is queued again.

Out-of-band responses (``conversation: "none"``) may run alongside and are sent at once.
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from realtime_desktop.protocol import (
    ClientEvent,
    ConversationItemCreate,
    ErrorEvent,
    FunctionCallItem,
    FunctionCallOutputItem,
    RealtimeResponse,
    ResponseCancel,
    ResponseCreate,
    ResponseCreated,
    ResponseCreateParams,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputItemDone,
    ServerEvent,
)

log = logging.getLogger(__name__)

_INTERRUPTED_LIMIT = 64
_sequencer_numbers = itertools.count(1)


class SequencerState(enum.StrEnum):
    IDLE = "idle"
    CREATE_REQUESTED = "create_requested"  # response.create sent, response.created not seen
    ACTIVE = "active"  # a response is in progress
    CANCEL_REQUESTED = "cancel_requested"  # response.cancel sent, response.done not seen


@dataclass
class _ToolBatch:
    """The function calls of one response and the outputs submitted so far."""

    response_id: str
    outputs: dict[str, str | None] = field(default_factory=dict)  # call_id → output
    done_status: str | None = None  # the response's final status, once done

    @property
    def ready(self) -> bool:
        return self.done_status is not None and all(v is not None for v in self.outputs.values())


class ResponseSequencer:
    """The response state machine. Feed it every server event with :meth:`apply`."""

    def __init__(self) -> None:
        self._prefix = f"rsq{next(_sequencer_numbers)}"
        self._ids = itertools.count(1)
        self._state = SequencerState.IDLE
        self._active_id: str | None = None
        self._queue: list[ResponseCreateParams | None] = []
        self._in_flight: tuple[str, ResponseCreateParams | None] | None = None
        self._cancel_id: str | None = None
        self._cancel_when_created = False
        self._batches: dict[str, _ToolBatch] = {}
        self._abandoned: list[str] = []
        self._dropped_calls: set[str] = set()
        self._interrupted: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------------------- reading
    @property
    def state(self) -> SequencerState:
        return self._state

    @property
    def active_response_id(self) -> str | None:
        """The response in progress on the default conversation (``None`` when idle, or while
        the requested one has not been created yet)."""
        return self._active_id

    @property
    def queued(self) -> int:
        """``response.create`` requests waiting for the active response to end."""
        return len(self._queue)

    @property
    def pending_tool_calls(self) -> list[str]:
        """Call ids whose output has not been submitted yet."""
        return [c for b in self._batches.values() for c, out in b.outputs.items() if out is None]

    def take_abandoned_calls(self) -> list[str]:
        """Call ids whose outputs will not be sent (their response failed, or the connection
        was lost mid-response): cancel those tools. Returns each id once."""
        abandoned, self._abandoned = self._abandoned, []
        return abandoned

    def is_interrupted(self, response_id: str) -> bool:
        return response_id in self._interrupted

    def should_play(self, event: ResponseOutputAudioDelta) -> bool:
        """False for a late audio delta of an interrupted response: drop it."""
        return event.response_id not in self._interrupted

    # ------------------------------------------------------------------------------ requests
    def request_response(self, params: ResponseCreateParams | None = None) -> list[ClientEvent]:
        """Asks for a response: sent now when allowed, else queued. Out-of-band requests
        (``conversation="none"``) are always sent at once."""
        if params is not None and params.is_out_of_band:
            return [self._create_event(params)]
        if self._state is SequencerState.IDLE and not self._queue:
            return [self._send_create(params)]
        if params is None and self._queue and self._queue[-1] is None:
            return []  # "answer now" twice is one answer
        self._queue.append(params)
        return self._release()

    def request_cancel(self) -> list[ClientEvent]:
        """Cancels the active response (and marks it interrupted) and drops queued requests.
        Sends nothing when no response is active."""
        self._queue.clear()
        if self._state is SequencerState.ACTIVE:
            return [self._send_cancel()]
        if self._state is SequencerState.CREATE_REQUESTED:
            self._cancel_when_created = True
        return []

    def interrupt(self, response_id: str | None = None, *, cancel: bool) -> list[ClientEvent]:
        """Barge-in: drops the rest of ``response_id``'s audio (default: the active response)
        and, with ``cancel``, cancels the active response — for when the server will not do it
        itself (``interrupt_response`` off, push-to-talk, the Interrupt button)."""
        target = response_id or self._active_id
        if target:
            self._mark_interrupted(target)
        return self.request_cancel() if cancel else []

    def submit_tool_output(self, call_id: str, output: str) -> list[ClientEvent]:
        """A tool finished. Returns nothing until every call of its response has an output and
        the response is done; then every output item, followed by one ``response.create``."""
        if call_id in self._dropped_calls:
            log.debug("output of %s dropped: its response failed", call_id)
            return []
        batch = next((b for b in self._batches.values() if call_id in b.outputs), None)
        if batch is None:
            log.warning("output for unknown call %s sent without a follow-up response", call_id)
            return [self._output_event(call_id, output)]
        batch.outputs[call_id] = output
        return self._flush_batches()

    def reset(self) -> list[ClientEvent]:
        """The connection was lost: no response is active in the new server session. Tool
        calls of a response that never finished are abandoned; queued requests are released
        (the session sends them after its replay)."""
        if self._active_id is not None:
            self._abandon(self._active_id)
        for batch in list(self._batches.values()):
            if batch.done_status is None:
                self._abandon(batch.response_id)
        self._become_idle()
        return self._flush_batches() + self._release()

    # ------------------------------------------------------------------------ server events
    def apply(self, event: ServerEvent) -> list[ClientEvent]:
        """Updates the state for one server event; returns what to send because of it."""
        if isinstance(event, ResponseCreated):
            return self._on_created(event.response)
        if isinstance(event, ResponseDone):
            return self._on_done(event.response)
        if isinstance(event, ResponseFunctionCallArgumentsDone):
            self._register_call(event.response_id, event.call_id)
        elif isinstance(event, ResponseOutputItemDone):
            item = event.item
            if isinstance(item, FunctionCallItem) and item.call_id and item.status != "incomplete":
                self._register_call(event.response_id, item.call_id)
        elif isinstance(event, ErrorEvent):
            return self._on_error(event)
        return []

    def _on_created(self, response: RealtimeResponse) -> list[ClientEvent]:
        if _is_out_of_band(response):
            return []
        response_id = response.id or ""
        busy = self._state in (SequencerState.ACTIVE, SequencerState.CANCEL_REQUESTED)
        if busy and self._active_id not in (None, response_id):
            log.warning("response %s started before %s was done", response_id, self._active_id)
        self._state = SequencerState.ACTIVE
        self._active_id = response_id
        self._batches.setdefault(response_id, _ToolBatch(response_id))
        if self._cancel_when_created:
            self._cancel_when_created = False
            return [self._send_cancel()]
        return []

    def _on_done(self, response: RealtimeResponse) -> list[ClientEvent]:
        if _is_out_of_band(response):
            return []
        response_id = response.id or ""
        status = response.status or "completed"
        batch = self._batches.setdefault(response_id, _ToolBatch(response_id))
        for output in response.output or ():
            # A call cut off mid-arguments was never a request: no output is expected.
            if not isinstance(output, FunctionCallItem) or output.status == "incomplete":
                continue
            if output.call_id:
                batch.outputs.setdefault(output.call_id, None)
        batch.done_status = status
        if status == "failed":
            self._abandon(response_id)
        if response_id == self._active_id or self._state is not SequencerState.IDLE:
            self._become_idle()
        return self._flush_batches() + self._release()

    def _on_error(self, event: ErrorEvent) -> list[ClientEvent]:
        detail = event.error
        if self._in_flight is not None and detail.event_id == self._in_flight[0]:
            params = self._in_flight[1]
            self._in_flight = None
            if detail.code == "conversation_already_has_active_response":
                # A response the server started itself (VAD) won the race: ours waits its turn.
                log.debug("response.create %s deferred: a response is active", detail.event_id)
                self._queue.insert(0, params)
                if self._state is SequencerState.CREATE_REQUESTED:
                    self._state = SequencerState.ACTIVE  # whose response.done will release it
                return []
            log.warning("response.create %s was rejected: %s", detail.event_id, detail.message)
            if self._state is SequencerState.CREATE_REQUESTED:
                self._state = SequencerState.IDLE
                return self._release()
            return []
        if self._cancel_id is not None and detail.event_id == self._cancel_id:
            self._cancel_id = None
            if detail.code == "response_cancel_not_active":
                log.debug("response.cancel %s: the response had already ended", detail.event_id)
                if self._state is SequencerState.CANCEL_REQUESTED:
                    self._state = SequencerState.IDLE
                    self._active_id = None
                    return self._flush_batches() + self._release()
        return []

    # ---------------------------------------------------------------------------- internals
    def _become_idle(self) -> None:
        """No response is active or asked for: nothing in flight, no cancel pending."""
        self._state = SequencerState.IDLE
        self._active_id = None
        self._in_flight = None
        self._cancel_id = None
        self._cancel_when_created = False

    def _register_call(self, response_id: str, call_id: str) -> None:
        if call_id in self._dropped_calls:
            return
        batch = self._batches.setdefault(response_id, _ToolBatch(response_id))
        batch.outputs.setdefault(call_id, None)

    def _abandon(self, response_id: str) -> None:
        batch = self._batches.pop(response_id, None)
        if batch is None:
            return
        for call_id, output in batch.outputs.items():
            self._dropped_calls.add(call_id)
            if output is None:
                self._abandoned.append(call_id)

    def _flush_batches(self) -> list[ClientEvent]:
        events: list[ClientEvent] = []
        for response_id, batch in list(self._batches.items()):
            if batch.done_status is None or not batch.ready:
                continue
            del self._batches[response_id]
            if not batch.outputs:
                continue
            for call_id, output in batch.outputs.items():
                events.append(self._output_event(call_id, output or ""))
            if batch.done_status == "completed":
                events += self.request_response()
        return events

    def _release(self) -> list[ClientEvent]:
        if self._state is not SequencerState.IDLE or not self._queue:
            return []
        return [self._send_create(self._queue.pop(0))]

    def _send_create(self, params: ResponseCreateParams | None) -> ClientEvent:
        event = self._create_event(params)
        assert event.event_id is not None
        self._state = SequencerState.CREATE_REQUESTED
        self._in_flight = (event.event_id, params)
        return event

    def _send_cancel(self) -> ClientEvent:
        event = ResponseCancel(event_id=self._new_id())
        if self._active_id:
            event.response_id = self._active_id
            self._mark_interrupted(self._active_id)
        self._state = SequencerState.CANCEL_REQUESTED
        self._cancel_id = event.event_id
        return event

    def _create_event(self, params: ResponseCreateParams | None) -> ResponseCreate:
        event = ResponseCreate(event_id=self._new_id())
        if params is not None:
            event.response = params
        return event

    def _output_event(self, call_id: str, output: str) -> ClientEvent:
        item = FunctionCallOutputItem(call_id=call_id, output=output)
        return ConversationItemCreate(item=item, event_id=self._new_id())

    def _mark_interrupted(self, response_id: str) -> None:
        self._interrupted[response_id] = None
        self._interrupted.move_to_end(response_id)
        if len(self._interrupted) > _INTERRUPTED_LIMIT:
            self._interrupted.popitem(last=False)

    def _new_id(self) -> str:
        return f"{self._prefix}_{next(self._ids)}"


def _is_out_of_band(response: RealtimeResponse) -> bool:
    # conversation_id is null (not absent) for conversation="none" responses (PROTOCOL.md §7.1).
    return "conversation_id" in response.model_fields_set and response.conversation_id is None
