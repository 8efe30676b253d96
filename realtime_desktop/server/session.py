"""One Realtime session: a WebSocket connection, its configuration, conversation and responses.

Client events are handled one at a time, in arrival order, on the server's loop; responses
stream from their own tasks. A rejected request becomes one ``error`` event with the client's
``event_id`` and the session goes on (PROTOCOL.md §6.6); nothing a client sends can end a
session except closing it. When the connection goes, every task of the session is cancelled and
awaited before :meth:`RealtimeSession.serve` returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from realtime_desktop.audio.codecs import CodecError, b64decode_audio
from realtime_desktop.protocol import (
    CLIENT_EVENT_TYPES,
    ClientEvent,
    ContentPart,
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    Dialect,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioBufferAppend,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    Item,
    ItemReference,
    MessageItem,
    ProtocolError,
    RealtimeSessionConfig,
    ResponseCancel,
    ResponseCreate,
    ResponseCreateParams,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    UnknownClientEvent,
    WireModel,
    parse_client_event,
)
from realtime_desktop.protocol.server_events import ConversationInfo, TranscriptionUsage
from realtime_desktop.server import errors, session_config
from realtime_desktop.server.assistant import Say
from realtime_desktop.server.config import DeltaPacing, Faults
from realtime_desktop.server.conversation import ROOT, AudioClip, Conversation, item_id, new_id
from realtime_desktop.server.errors import RealtimeError
from realtime_desktop.server.input_audio import (
    IdleTimeout,
    InputAudio,
    SpeechStarted,
    SpeechStopped,
    TurnEvent,
)
from realtime_desktop.server.outbox import HUGE_EVENT_BYTES, Outbox
from realtime_desktop.server.responses import (
    REASON_CLIENT_CANCELLED,
    REASON_TURN_DETECTED,
    ResponseRun,
    ResponseSpec,
)
from realtime_desktop.server.session_config import SessionSettings
from realtime_desktop.server.speech import Speaker
from realtime_desktop.server.usage import RateLimitWindow

log = logging.getLogger(__name__)

# What input transcription says: no recognizer runs offline, and the events say so.
NOT_TRANSCRIBED: Final = (
    "[Not transcribed: no speech recognizer runs offline. {seconds:.1f} s of audio.]"
)
IDLE_PROMPT: Final = (
    "I heard nothing for {seconds:g} seconds. Say something and I will play it back."
)
MAX_METADATA_PAIRS: Final = 16
_USER_PART_TYPES: Final = frozenset({"input_text", "input_audio", "input_image"})

Handler = Callable[[Any, dict[str, Any]], Awaitable[None]]


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


class RealtimeSession:
    """The server side of one connection.

    Tests and the app read ``id`` (the ``sess_…`` of ``session.created``), ``dialect``,
    ``conversation`` (the items as the server holds them, in order, with their audio) and
    ``config`` (the effective configuration); ``pacing`` may be replaced to change how fast
    later responses stream; ``drop()`` and ``expire()`` inject those faults now.
    """

    def __init__(
        self,
        connection: ServerConnection,
        *,
        dialect: Dialect,
        model: str,
        session_limit_s: float,
        pacing: DeltaPacing,
        faults: Faults,
        speaker: Speaker,
    ) -> None:
        self.id = new_id("sess_")
        self.dialect: Dialect = dialect
        self.model = model
        self.created_at = time.time()
        self.session_limit_s = session_limit_s
        self.expires_at = math.ceil(self.created_at + session_limit_s)
        self.pacing = pacing
        self.faults = faults
        self.settings = SessionSettings(
            dialect=dialect, model=model, session_id=self.id, expires_at=self.expires_at
        )
        self.conversation = Conversation()
        self.input = InputAudio(self.settings.input_format)
        self.input.set_turn_detection(self.settings.turn_detection)
        self.responses: dict[str, ResponseRun] = {}
        self.events_received = 0
        self.closed = asyncio.Event()
        self._connection = connection
        self._speaker = speaker
        self._outbox = Outbox(connection, dialect, faults, huge_event=self._huge_event_frame)
        self._rate_limits = RateLimitWindow()
        self._active: ResponseRun | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers: dict[str, Handler] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "output_audio_buffer.clear": self._output_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # What tests and the app read --------------------------------------------------------------

    @property
    def config(self) -> RealtimeSessionConfig:
        """The effective session configuration, as ``session.updated`` last reported it."""
        return self.settings.config

    @property
    def active_response(self) -> ResponseRun | None:
        return self._active if self._active is not None and self._active.is_active else None

    @property
    def task_count(self) -> int:
        """Tasks this session still runs (0 once :meth:`serve` has returned)."""
        return sum(1 for task in self._tasks if not task.done())

    @property
    def events_sent(self) -> int:
        return self._outbox.sent

    # Faults on demand ---------------------------------------------------------------------------

    def drop(self) -> None:
        """Cuts the connection now, without a close frame (the client sees 1006)."""
        self._outbox.abort_now("on request")

    async def expire(self) -> None:
        """Ends the session now as the session limit does: ``session_expired`` + close 1001."""
        error = errors.session_expired(self.session_limit_s)
        await self._send(error.event())
        await self._outbox.close(errors.CLOSE_GOING_AWAY, error.message)

    # The connection -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Runs the session until the connection closes; returns with no task left."""
        self._spawn(self._outbox.run())
        self._spawn(self._expire_after(self.session_limit_s))
        if self.faults.drop_within_s is not None:
            self._spawn(self._outbox.drop_at_random(self.faults.drop_within_s, self.faults.seed))
        try:
            await self._send(SessionCreated(session=self.settings.config))
            if self.dialect == "beta":
                await self._send(
                    ConversationCreated(
                        conversation=ConversationInfo(
                            id=self.conversation.id, object="realtime.conversation"
                        )
                    )
                )
            async for message in self._connection:
                await self._receive(message)
        except ConnectionClosed:
            log.debug("session %s: connection closed", self.id)
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for run in self.responses.values():
            run.cancel(REASON_CLIENT_CANCELLED)
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.closed.set()
        log.info("session %s ended after %d client events", self.id, self.events_received)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _expire_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.info("session %s reached its limit of %g s", self.id, seconds)
        await self.expire()

    async def _send(self, event: ServerEvent) -> None:
        await self._outbox.put(event)

    def _huge_event_frame(self) -> str:
        wire = SessionUpdated(session=self.settings.config).to_wire(self.dialect)
        wire["session"]["x_offline_padding"] = "x" * HUGE_EVENT_BYTES
        return json.dumps(wire)

    # Incoming frames ----------------------------------------------------------------------------

    async def _receive(self, message: str | bytes) -> None:
        self.events_received += 1
        client_event_id: str | None = None
        try:
            data = self._decode(message)
            raw_id = data.get("event_id")
            client_event_id = raw_id if isinstance(raw_id, str) else None
            event = self._parse(data)
            await self._handlers[event.type](event, data)
        except RealtimeError as error:
            log.debug("session %s: rejected: %s", self.id, error.message)
            await self._send(error.event(client_event_id))
        except Exception:
            # A bug here must cost the client one request, never the session.
            log.exception("session %s: internal error handling a client event", self.id)
            await self._send(errors.server_error(self.id).event(client_event_id))

    def _decode(self, message: str | bytes) -> dict[str, Any]:
        if isinstance(message, bytes):
            raise errors.binary_frame()
        try:
            data = json.loads(message, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise errors.invalid_json(str(exc)) from None
        if not isinstance(data, dict):
            raise errors.not_an_object(_json_kind(data))
        if not isinstance(data.get("type"), str):
            raise errors.missing_type()
        return data

    def _parse(self, data: dict[str, Any]) -> ClientEvent:
        try:
            event = parse_client_event(data, self.dialect)
        except ProtocolError as exc:
            param = _param(exc.field)
            if exc.missing and param:
                raise errors.missing_parameter(param) from None
            raise errors.invalid_value(param or "event", f"Invalid value: {exc}") from None
        if isinstance(event, UnknownClientEvent) or event.type not in self._handlers:
            raise errors.unknown_event_type(str(data["type"]), sorted(CLIENT_EVENT_TYPES))
        return event

    # Session ------------------------------------------------------------------------------------

    async def _session_update(self, event: SessionUpdate, data: dict[str, Any]) -> None:
        self.settings.apply_update(
            event,
            data.get("session"),
            assistant_audio_present=self.conversation.has_assistant_audio(),
        )
        self.input.set_format(self.settings.input_format)
        self.input.set_turn_detection(self.settings.turn_detection)
        await self._send(SessionUpdated(session=self.settings.config))

    # Input audio --------------------------------------------------------------------------------

    async def _append(self, event: InputAudioBufferAppend, data: dict[str, Any]) -> None:
        if len(event.audio) > errors.MAX_APPEND_BASE64_CHARS:
            raise errors.string_too_long("audio", errors.MAX_APPEND_BASE64_CHARS, len(event.audio))
        try:
            audio = b64decode_audio(event.audio)
        except CodecError:
            raise errors.invalid_value(
                "audio", "Invalid 'audio': expected base64-encoded audio bytes."
            ) from None
        for turn_event in self.input.append(audio):
            await self._on_turn_event(turn_event)

    async def _on_turn_event(self, event: TurnEvent) -> None:
        turns = self.settings.turn_detection
        if isinstance(event, SpeechStarted):
            await self._send(
                InputAudioBufferSpeechStarted(
                    item_id=event.item_id, audio_start_ms=event.audio_start_ms
                )
            )
            active = self.active_response
            if turns is not None and turns.interrupt_response and active is not None:
                active.cancel(REASON_TURN_DETECTED)
        elif isinstance(event, SpeechStopped):
            await self._send(
                InputAudioBufferSpeechStopped(
                    item_id=event.item_id, audio_end_ms=event.audio_end_ms
                )
            )
            await self._commit_clip(event.clip, event.item_id)
            if turns is not None and turns.create_response:
                await self._automatic_response()
            else:
                self.input.arm_idle_timeout()
        elif isinstance(event, IdleTimeout):
            await self._send(
                InputAudioBufferTimeoutTriggered(
                    item_id=event.item_id,
                    audio_start_ms=event.audio_start_ms,
                    audio_end_ms=event.audio_end_ms,
                )
            )
            await self._commit_clip(event.clip, event.item_id)
            seconds = (event.audio_end_ms - event.audio_start_ms) / 1000
            await self._automatic_response(Say(IDLE_PROMPT.format(seconds=round(seconds))))

    async def _automatic_response(self, answer: Say | None = None) -> None:
        """The response turn detection creates at the end of a turn."""
        active = self.active_response
        if active is not None:
            if active.cancel_reason is None:
                # interrupt_response is off and the answer is still running (PROTOCOL.md §4.3).
                await self._send(errors.active_response(active.id).event())
                return
            await active.finished.wait()
        self._start(self._spec(None, answer=answer))

    async def _commit(self, event: ClientEvent, data: dict[str, Any]) -> None:
        await self._commit_clip(self.input.commit(), new_id("item_"))

    async def _clear(self, event: ClientEvent, data: dict[str, Any]) -> None:
        self.input.clear()
        await self._send(InputAudioBufferCleared())

    async def _output_clear(self, event: ClientEvent, data: dict[str, Any]) -> None:
        raise errors.invalid_value(
            "type",
            "output_audio_buffer.clear is only available in WebRTC and SIP sessions; over a "
            "WebSocket the client owns playback and stops it itself.",
        )

    async def _commit_clip(self, clip: AudioClip, new_item_id: str) -> None:
        """A committed buffer becomes a user audio item (PROTOCOL.md §6.1)."""
        item = MessageItem(
            id=new_item_id,
            object="realtime.item",
            status="completed",
            role="user",
            content=[ContentPart(type="input_audio", transcript=None)],
        )
        previous = self.conversation.insert(item)
        self.conversation.set_audio(new_item_id, 0, clip)
        await self._send(InputAudioBufferCommitted(item_id=new_item_id, previous_item_id=previous))
        await self._send(ConversationItemAdded(previous_item_id=previous, item=item))
        if self.settings.transcription_enabled:
            await self._transcribe(item, clip)
        await self._send(ConversationItemDone(previous_item_id=previous, item=item))

    async def _transcribe(self, item: MessageItem, clip: AudioClip) -> None:
        seconds = clip.duration_ms / 1000
        text = NOT_TRANSCRIBED.format(seconds=seconds)
        wants_logprobs = "item.input_audio_transcription.logprobs" in (self.config.include or [])
        extra: dict[str, Any] = {"logprobs": []} if wants_logprobs else {}
        first, _, rest = text.partition(" ")
        for delta in (first + " ", rest):
            await self._send(
                InputAudioTranscriptionDelta(
                    item_id=item.id or "", content_index=0, delta=delta, **extra
                )
            )
        if item.content:
            item.content[0].transcript = text
        await self._send(
            InputAudioTranscriptionCompleted(
                item_id=item.id or "",
                content_index=0,
                transcript=text,
                usage=TranscriptionUsage(type="duration", seconds=round(seconds, 3)),
                **extra,
            )
        )

    # Conversation items ---------------------------------------------------------------------------

    async def _item_create(self, event: ConversationItemCreate, data: dict[str, Any]) -> None:
        after = event.previous_item_id
        if after is not None and after != ROOT and after not in self.conversation:
            raise errors.item_not_found(after, "previous_item_id")
        item, clips = self._accept_item(event.item, "item")
        if item_id(item) in self.conversation:
            raise errors.invalid_value(
                "item.id", f"Invalid value: '{item_id(item)}'. An item with this id already exists."
            )
        previous = self.conversation.insert(item, after=after)
        for index, clip in clips.items():
            self.conversation.set_audio(item_id(item), index, clip)
        await self._send(ConversationItemAdded(previous_item_id=previous, item=item))
        await self._send(ConversationItemDone(previous_item_id=previous, item=item))

    def _accept_item(
        self, item: Item, param: str, known_calls: frozenset[str] = frozenset()
    ) -> tuple[Item, dict[int, AudioClip]]:
        """The item as the server stores it (id, status, no audio bytes) and its audio, or the
        error the real service gives for it. ``known_calls``: call ids valid besides the
        conversation's (an out-of-band context's own calls)."""
        for path in session_config.unknown_keys(item, param):
            if not path.endswith(".object"):
                raise errors.unknown_parameter(path)
        clips: dict[int, AudioClip] = {}
        if isinstance(item, MessageItem):
            stored: Item = self._accept_message(item, param, clips)
        elif isinstance(item, FunctionCallItem):
            if not item.name:
                raise errors.missing_parameter(f"{param}.name")
            stored = FunctionCallItem(
                id=item.id or new_id("item_"),
                object="realtime.item",
                status="completed",
                call_id=item.call_id or new_id("call_"),
                name=item.name,
                arguments=item.arguments or "",
            )
        elif isinstance(item, FunctionCallOutputItem):
            if not item.call_id:
                raise errors.missing_parameter(f"{param}.call_id")
            if item.output is None:
                raise errors.missing_parameter(f"{param}.output")
            if (
                item.call_id not in known_calls
                and self.conversation.function_call(item.call_id) is None
            ):
                raise errors.invalid_value(
                    f"{param}.call_id",
                    f"Invalid value: '{item.call_id}'. No function call with this call_id exists "
                    "in the conversation.",
                )
            stored = FunctionCallOutputItem(
                id=item.id or new_id("item_"),
                object="realtime.item",
                status="completed",
                call_id=item.call_id,
                output=item.output,
            )
        elif isinstance(item, ItemReference):
            raise errors.invalid_value(
                f"{param}.type",
                "Invalid value: 'item_reference'. Item references are only valid inside "
                "response.create input.",
            )
        else:
            kind = getattr(item, "type", None)
            raise errors.invalid_value(
                f"{param}.type",
                f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call' and "
                "'function_call_output'.",
            )
        return stored, clips

    def _accept_message(
        self, item: MessageItem, param: str, clips: dict[int, AudioClip]
    ) -> MessageItem:
        if item.role is None:
            raise errors.missing_parameter(f"{param}.role")
        if item.content is None:
            raise errors.missing_parameter(f"{param}.content")
        allowed = {
            "user": _USER_PART_TYPES,
            "system": frozenset({"input_text"}),
            "assistant": frozenset({"output_text"}),
        }[item.role]
        content: list[ContentPart] = []
        for index, part in enumerate(item.content):
            where = f"{param}.content[{index}]"
            if part.type is None:
                raise errors.missing_parameter(f"{where}.type")
            if part.type not in allowed:
                hint = (
                    " Assistant audio cannot be added; add its transcript as output_text."
                    if item.role == "assistant" and part.is_audio
                    else ""
                )
                listed = ", ".join(f"'{kind}'" for kind in sorted(allowed))
                raise errors.invalid_value(
                    f"{where}.type",
                    f"Invalid value: '{part.type}'. Supported values for {item.role} messages "
                    f"are: {listed}.{hint}",
                )
            content.append(self._accept_part(part, where, index, clips))
        return MessageItem(
            id=item.id or new_id("item_"),
            object="realtime.item",
            status="completed",
            role=item.role,
            content=content,
        )

    def _accept_part(
        self, part: ContentPart, where: str, index: int, clips: dict[int, AudioClip]
    ) -> ContentPart:
        if part.type in ("input_text", "output_text"):
            if part.text is None:
                raise errors.missing_parameter(f"{where}.text")
            return ContentPart(type=part.type, text=part.text)
        if part.type == "input_image":
            if not part.image_url:
                raise errors.missing_parameter(f"{where}.image_url")
            accepted = ContentPart(type="input_image", image_url=part.image_url)
            if part.detail is not None:
                accepted.detail = part.detail
            return accepted
        # input_audio: the bytes are kept beside the item, never inside it.
        if part.audio is None:
            raise errors.missing_parameter(f"{where}.audio")
        try:
            audio = b64decode_audio(part.audio)
        except CodecError:
            raise errors.invalid_value(
                f"{where}.audio", "Invalid 'audio': expected base64-encoded audio bytes."
            ) from None
        fmt = self.settings.input_format
        clips[index] = AudioClip(audio[: len(audio) - len(audio) % fmt.bytes_per_sample], fmt)
        return ContentPart(type="input_audio", transcript=part.transcript)

    def _find(self, wanted: str) -> Item:
        item = self.conversation.get(wanted)
        if item is None:
            raise errors.item_not_found(wanted)
        return item

    async def _item_retrieve(self, event: ConversationItemRetrieve, data: dict[str, Any]) -> None:
        item = self._find(event.item_id)
        await self._send(ConversationItemRetrieved(item=self.conversation.with_audio(item)))

    async def _item_delete(self, event: ConversationItemDelete, data: dict[str, Any]) -> None:
        self._find(event.item_id)
        self.conversation.delete(event.item_id)
        await self._send(ConversationItemDeleted(item_id=event.item_id))

    async def _item_truncate(self, event: ConversationItemTruncate, data: dict[str, Any]) -> None:
        item = self._find(event.item_id)
        if not isinstance(item, MessageItem) or item.role != "assistant":
            raise errors.unsupported_content_type()
        content = item.content or []
        if not 0 <= event.content_index < len(content):
            raise errors.invalid_value(
                "content_index",
                f"Invalid value: {event.content_index}. The item has {len(content)} content "
                "part(s).",
            )
        clip = self.conversation.audio(event.item_id, event.content_index)
        if not content[event.content_index].is_audio or clip is None:
            raise errors.unsupported_content_type()
        if event.audio_end_ms < 0:
            raise errors.invalid_value(
                "audio_end_ms", f"Invalid value: {event.audio_end_ms}. Expected 0 or more."
            )
        if event.audio_end_ms > clip.duration_ms:
            raise errors.truncate_past_end(int(clip.duration_ms), event.audio_end_ms)
        self.conversation.truncate(event.item_id, event.content_index, event.audio_end_ms)
        # The transcript goes entirely, not just its unheard tail (PROTOCOL.md §5.5).
        content[event.content_index] = ContentPart(type=content[event.content_index].type)
        await self._send(
            ConversationItemTruncated(
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
            )
        )

    # Responses ----------------------------------------------------------------------------------

    async def _response_create(self, event: ResponseCreate, data: dict[str, Any]) -> None:
        if self.dialect == "beta":
            session_config.check_beta_keys(
                data.get("response"), session_config.BETA_RESPONSE_KEYS, "response"
            )
        spec = self._spec(event.response)
        active = self.active_response
        if spec.in_conversation and active is not None:
            raise errors.active_response(active.id)
        self._start(spec)

    async def _response_cancel(self, event: ResponseCancel, data: dict[str, Any]) -> None:
        if event.response_id is not None:
            run = self.responses.get(event.response_id)
        else:
            run = self.active_response
        if run is None or not run.is_active or run.cancel_reason is not None:
            raise errors.cancel_not_active()
        run.cancel(REASON_CLIENT_CANCELLED)

    def _start(self, spec: ResponseSpec) -> ResponseRun:
        run = ResponseRun(
            spec,
            emit=self._send,
            conversation=self.conversation,
            speaker=self._speaker,
            pacing=self.pacing,
            rate_limits=self._rate_limits,
            on_finished=self._response_finished,
        )
        self.responses[run.id] = run
        if spec.in_conversation:
            self._active = run
            self.input.disarm_idle_timeout()
        self._spawn(run.run())
        return run

    def _response_finished(self, run: ResponseRun) -> None:
        self.responses.pop(run.id, None)
        if run is self._active:
            self._active = None
            # The idle clock starts when the answer has finished playing (PROTOCOL.md §4.3).
            self.input.arm_idle_timeout(after_ms=run.audio_ms)

    def _spec(
        self, params: ResponseCreateParams | None, *, answer: Say | None = None
    ) -> ResponseSpec:
        """The session's settings with the overrides of ``response.create`` applied, checked
        the way the service checks them."""
        params = params or ResponseCreateParams()
        allowed_extra = {"temperature", "modalities"} if self.dialect == "beta" else set()
        for path in session_config.unknown_keys(params, "response"):
            if path.removeprefix("response.") not in allowed_extra:
                raise errors.unknown_parameter(path)
        modalities = params.output_modalities or self.settings.output_modalities
        session_config.check_modalities(modalities, "response.output_modalities")
        conversation = params.conversation or "auto"
        if conversation not in ("auto", "none"):
            raise errors.invalid_value(
                "response.conversation",
                f"Invalid value: '{conversation}'. Supported values are: 'auto' and 'none'.",
            )
        output_format = self.settings.output_format
        voice = self.settings.voice
        output = params.audio.output if params.audio else None
        if output is not None and output.format is not None:
            raw_format = (
                output.format.wire_dict() if isinstance(output.format, WireModel) else output.format
            )
            output_format = session_config.check_format(raw_format, "response.audio.output.format")
        if output is not None and output.voice is not None:
            voice = output.voice if isinstance(output.voice, str) else output.voice.wire_dict()
            session_config.check_voice(voice, "response.audio.output.voice")
        tools = self.settings.function_tools
        raw_tools: list[Any] = self.settings.wire().get("tools") or []
        if params.tools is not None:
            raw_tools = [tool.wire_dict() for tool in params.tools]
            session_config.check_tools(raw_tools, "response.tools")
            tools = [tool for tool in params.tools if isinstance(tool, FunctionTool)]
        tool_choice = self.settings.tool_choice
        if params.tool_choice is not None:
            choice = params.tool_choice
            tool_choice = choice.wire_dict() if isinstance(choice, WireModel) else choice
            session_config.check_tool_choice(tool_choice, raw_tools, "response")
        max_tokens: Any = self.settings.wire().get("max_output_tokens", "inf")
        if params.max_output_tokens is not None:
            session_config.check_max_tokens(params.max_output_tokens, "response.max_output_tokens")
            max_tokens = params.max_output_tokens
        if params.metadata is not None and len(params.metadata) > MAX_METADATA_PAIRS:
            raise errors.invalid_value(
                "response.metadata",
                f"Invalid 'response.metadata': at most {MAX_METADATA_PAIRS} pairs expected.",
            )
        inline_clips: dict[tuple[int, int], AudioClip] = {}
        if params.input is not None:
            context = self._response_input(params.input, inline_clips)
        else:
            context = self.conversation.items

        def audio_of(item: Item, index: int) -> AudioClip | None:
            inline = inline_clips.get((id(item), index))
            return inline or self.conversation.audio(item_id(item), index)

        return ResponseSpec(
            output_modalities=list(modalities),
            output_format=output_format,
            voice=voice,
            instructions=params.instructions
            if params.instructions is not None
            else self.settings.instructions,
            tools=tools,
            tool_choice=tool_choice,
            max_output_tokens=max_tokens,
            metadata=params.metadata,
            in_conversation=conversation == "auto",
            context=context,
            audio_of=audio_of,
            answer=answer,
        )

    def _response_input(
        self, items: list[Item], inline_clips: dict[tuple[int, int], AudioClip]
    ) -> list[Item]:
        """The context of a response given its own ``input``: references to conversation items
        and items of its own (PROTOCOL.md §2.2)."""
        context: list[Item] = []
        for index, entry in enumerate(items):
            param = f"response.input[{index}]"
            if isinstance(entry, ItemReference):
                if not entry.id:
                    raise errors.missing_parameter(f"{param}.id")
                referenced = self.conversation.get(entry.id)
                if referenced is None:
                    raise errors.item_not_found(entry.id, f"{param}.id")
                context.append(referenced)
                continue
            calls = frozenset(
                i.call_id for i in context if isinstance(i, FunctionCallItem) and i.call_id
            )
            accepted, clips = self._accept_item(entry, param, calls)
            for part_index, clip in clips.items():
                inline_clips[(id(accepted), part_index)] = clip
            context.append(accepted)
        return context


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if not isinstance(value, bool) else "a boolean"


def _param(field: str | None) -> str:
    """A ProtocolError's dotted path in the service's spelling: ``tools[0].name``."""
    if not field:
        return ""
    parts: list[str] = []
    for part in field.split("."):
        if part.isdigit() and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(part)
    return ".".join(parts)
