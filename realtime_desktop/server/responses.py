"""One response, streamed event by event as PROTOCOL.md §6 lays it out.

``response.created`` → ``response.output_item.added`` → ``conversation.item.added`` →
``response.content_part.added`` → deltas → ``…done`` for the part and the item →
``conversation.item.done`` → ``response.done`` → ``rate_limits.updated``. A cancel (client or
barge-in) or the token budget ends the stream early: every open part and item still gets its
``done`` events (status ``incomplete``), then ``response.done`` says why, exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any, Final

import soxr

from realtime_desktop.audio.codecs import WireFormat, b64encode_audio
from realtime_desktop.audio.resample import RESAMPLER_QUALITY
from realtime_desktop.protocol import (
    ContentPart,
    ConversationItemAdded,
    ConversationItemDone,
    FunctionCallItem,
    FunctionTool,
    Item,
    MessageItem,
    RealtimeResponse,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerEvent,
    StatusDetails,
)
from realtime_desktop.protocol.responses import (
    REASON_CLIENT_CANCELLED,
    REASON_MAX_OUTPUT_TOKENS,
    REASON_TURN_DETECTED,
    ResponseAudio,
    ResponseAudioOutput,
    StatusError,
)
from realtime_desktop.protocol.session import AudioFormat
from realtime_desktop.server import assistant
from realtime_desktop.server.assistant import AudioLookup, CallTool, Decision, Echo, Say
from realtime_desktop.server.config import DeltaPacing
from realtime_desktop.server.conversation import AudioClip, Conversation, new_id
from realtime_desktop.server.speech import Speaker, Utterance
from realtime_desktop.server.usage import (
    RateLimitWindow,
    TokenCount,
    audio_tokens,
    context_tokens,
    text_tokens,
    usage,
)

log = logging.getLogger(__name__)

__all__ = ["REASON_CLIENT_CANCELLED", "REASON_TURN_DETECTED", "ResponseRun", "ResponseSpec"]

# Function-call arguments stream in fragments about this long, like a model's tokens.
ARGUMENT_DELTA_CHARS: Final = 8
_WORDS: Final = re.compile(r"\s*\S+|\s+")

Emit = Callable[[ServerEvent], Any]


@dataclasses.dataclass
class ResponseSpec:
    """Everything one response is made from: the session's settings with the
    ``response.create`` overrides applied, and its context."""

    output_modalities: list[str]
    output_format: WireFormat
    voice: Any
    instructions: str
    tools: list[FunctionTool]
    tool_choice: Any
    max_output_tokens: Any  # int or "inf", as the response object reports it
    metadata: dict[str, str] | None
    in_conversation: bool
    context: list[Item]
    audio_of: AudioLookup
    answer: Decision | None = None  # a fixed answer (idle timeout); None: ask the assistant

    @property
    def token_budget(self) -> float:
        return (
            float("inf")
            if self.max_output_tokens in (None, "inf")
            else float(self.max_output_tokens)
        )


class ResponseRun:
    """Streams one response; :meth:`cancel` ends it early with the real events."""

    def __init__(
        self,
        spec: ResponseSpec,
        *,
        emit: Callable[[ServerEvent], Any],
        conversation: Conversation,
        speaker: Speaker,
        pacing: DeltaPacing,
        rate_limits: RateLimitWindow,
        on_finished: Callable[[ResponseRun], None],
    ) -> None:
        self.id = new_id("resp_")
        self._on_finished = on_finished
        self.spec = spec
        self._emit = emit
        self._conversation = conversation
        self._speaker = speaker
        self._pacing = pacing
        self._rate_limits = rate_limits
        self._cancelled = asyncio.Event()
        self._cancel_reason: str | None = None
        self._incomplete = False
        self._output: list[Item] = []
        self._output_tokens = TokenCount()
        self._input_tokens = context_tokens(spec.instructions, spec.context, conversation)
        self.audio_ms = 0.0  # assistant audio streamed so far
        self.finished = asyncio.Event()

    @property
    def cancel_reason(self) -> str | None:
        return self._cancel_reason

    @property
    def is_active(self) -> bool:
        return not self.finished.is_set()

    def cancel(self, reason: str) -> None:
        """Ends the response at its next step; the first reason given wins."""
        if self._cancel_reason is None and self.is_active:
            self._cancel_reason = reason
            self._cancelled.set()

    # The stream ---------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._emit(ResponseCreated(response=self._response("in_progress")))
            try:
                await self._generate()
                status = self._final_status()
            except Exception:
                # A bug here fails this response the way the service fails one (PROTOCOL.md
                # §7.2), and the session goes on; response.done still comes, exactly once.
                log.exception("response %s failed", self.id)
                status = "failed"
            await self._emit(ResponseDone(response=self._response(status)))
            # Over from the moment response.done is queued: a client that reacts to it with a
            # new response.create must not meet conversation_already_has_active_response.
            self._finish()
            await self._emit(
                self._rate_limits.record(self._input_tokens.total + self._output_tokens.total)
            )
        finally:
            self._finish()

    async def _generate(self) -> None:
        decision = self.spec.answer or assistant.decide(
            self.spec.context,
            self.spec.audio_of,
            tools=self.spec.tools,
            tool_choice=self.spec.tool_choice,
            conversation=self._conversation,
        )
        if self._stopped:
            return
        if isinstance(decision, CallTool):
            await self._stream_function_call(decision)
        else:
            await self._stream_message(decision)

    def _finish(self) -> None:
        if not self.finished.is_set():
            self.finished.set()
            self._on_finished(self)

    @property
    def _stopped(self) -> bool:
        return self._cancelled.is_set() or self._incomplete

    def _final_status(self) -> str:
        if self._cancel_reason is not None:
            return "cancelled"
        return "incomplete" if self._incomplete else "completed"

    def _response(self, status: str) -> RealtimeResponse:
        response = RealtimeResponse(
            id=self.id,
            object="realtime.response",
            status=status,  # type: ignore[arg-type]
            status_details=None,
            output=[item.model_copy(deep=True) for item in self._output],
            conversation_id=self._conversation.id if self.spec.in_conversation else None,
            output_modalities=list(self.spec.output_modalities),
            audio=ResponseAudio(
                output=ResponseAudioOutput(
                    format=_format_model(self.spec.output_format), voice=self.spec.voice
                )
            ),
            max_output_tokens=self.spec.max_output_tokens,
            metadata=self.spec.metadata,
            usage=None,
        )
        if status == "cancelled":
            response.status_details = StatusDetails(type="cancelled", reason=self._cancel_reason)
        elif status == "failed":
            response.status_details = StatusDetails(
                type="failed",
                error=StatusError(
                    type="server_error",
                    code=None,
                    message="The server had an error while processing your request. Sorry "
                    "about that! You can retry your request.",
                ),
            )
        elif status == "incomplete":
            response.status_details = StatusDetails(
                type="incomplete", reason=REASON_MAX_OUTPUT_TOKENS
            )
        if status != "in_progress":
            response.usage = usage(self._input_tokens, self._output_tokens)
        return response

    async def _pause(self, seconds: float) -> None:
        """Waits between deltas; a cancel cuts the wait short."""
        if seconds <= 0 or seconds == float("inf"):
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(seconds):
                await self._cancelled.wait()
        except TimeoutError:
            pass

    def _fits(self, text: str = "", audio_ms: float = 0.0) -> bool:
        """Whether this much more output stays within ``max_output_tokens``."""
        more = text_tokens(text) + (audio_tokens(audio_ms, assistant=True) if audio_ms else 0)
        if self._output_tokens.total + more <= self.spec.token_budget:
            return True
        self._incomplete = True
        return False

    # Items --------------------------------------------------------------------------------------

    async def _open_item(self, item: MessageItem | FunctionCallItem) -> int:
        output_index = len(self._output)
        self._output.append(item)
        await self._emit(
            ResponseOutputItemAdded(response_id=self.id, output_index=output_index, item=item)
        )
        if self.spec.in_conversation:
            previous = self._conversation.insert(item)
            await self._emit(ConversationItemAdded(previous_item_id=previous, item=item))
        return output_index

    async def _close_item(self, item: MessageItem | FunctionCallItem, output_index: int) -> None:
        item.status = "incomplete" if self._stopped else "completed"
        await self._emit(
            ResponseOutputItemDone(response_id=self.id, output_index=output_index, item=item)
        )
        item_id = item.id or ""
        if self.spec.in_conversation and item_id in self._conversation:
            await self._emit(
                ConversationItemDone(
                    previous_item_id=self._conversation.previous_id(item_id), item=item
                )
            )

    async def _stream_function_call(self, call: CallTool) -> None:
        item = FunctionCallItem(
            id=new_id("item_"),
            object="realtime.item",
            status="in_progress",
            call_id=new_id("call_"),
            name=call.name,
            arguments="",
        )
        output_index = await self._open_item(item)
        sent = ""
        ids: dict[str, Any] = {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": output_index,
            "call_id": item.call_id,
        }
        for start in range(0, len(call.arguments), ARGUMENT_DELTA_CHARS):
            fragment = call.arguments[start : start + ARGUMENT_DELTA_CHARS]
            if self._stopped or not self._fits(text=fragment):
                break
            await self._emit(ResponseFunctionCallArgumentsDelta(**ids, delta=fragment))
            sent += fragment
            self._output_tokens.text += text_tokens(fragment)
            await self._pause(self._pacing.text_pause_s())
        await self._emit(ResponseFunctionCallArgumentsDone(**ids, name=item.name, arguments=sent))
        item.arguments = sent
        await self._close_item(item, output_index)

    async def _stream_message(self, decision: Say | Echo) -> None:
        item = MessageItem(
            id=new_id("item_"),
            object="realtime.item",
            status="in_progress",
            role="assistant",
            content=[],
        )
        output_index = await self._open_item(item)
        if self.spec.output_modalities == ["text"]:
            text = decision.text
            item.content = [
                ContentPart(
                    type="output_text", text=await self._stream_text(item, output_index, text)
                )
            ]
        else:
            audio, transcript = await self._render_audio(decision)
            spoken = await self._stream_audio(item, output_index, audio, transcript)
            if self._conversation.is_truncated(item.id or ""):
                item.content = [ContentPart(type="output_audio")]
            else:
                item.content = [ContentPart(type="output_audio", transcript=spoken)]
        await self._close_item(item, output_index)

    async def _stream_text(self, item: MessageItem, output_index: int, text: str) -> str:
        ids = self._part_ids(item, output_index)
        await self._emit(ResponseContentPartAdded(**ids, part=ContentPart(type="text", text="")))
        item.content = [ContentPart(type="output_text", text="")]
        sent = ""
        for word in _WORDS.findall(text):
            if self._stopped or not self._fits(text=word):
                break
            await self._emit(ResponseOutputTextDelta(**ids, delta=word))
            sent += word
            self._output_tokens.text = text_tokens(sent)
            await self._pause(self._pacing.text_pause_s())
        await self._emit(ResponseOutputTextDone(**ids, text=sent))
        await self._emit(ResponseContentPartDone(**ids, part=ContentPart(type="text", text=sent)))
        return sent

    async def _render_audio(self, decision: Say | Echo) -> tuple[bytes, str]:
        fmt = self.spec.output_format
        if isinstance(decision, Echo):
            return convert(decision.clip, fmt), decision.transcript
        utterance: Utterance = await asyncio.to_thread(
            self._speaker.speak, decision.text, fmt.sample_rate
        )
        return fmt.encode(utterance.samples), utterance.transcript

    async def _stream_audio(
        self, item: MessageItem, output_index: int, audio: bytes, transcript: str
    ) -> str:
        ids = self._part_ids(item, output_index)
        fmt = self.spec.output_format
        await self._emit(
            ResponseContentPartAdded(**ids, part=ContentPart(type="audio", transcript=""))
        )
        # The part exists from now on: a client may truncate it before the answer ends.
        item.content = [ContentPart(type="output_audio")]
        chunk_bytes = self._pacing.chunk_ms * fmt.bytes_per_ms
        chunks = [audio[start : start + chunk_bytes] for start in range(0, len(audio), chunk_bytes)]
        words = _WORDS.findall(transcript)
        spoken = ""
        sent_audio = bytearray()
        next_word = 0
        for index, chunk in enumerate(chunks):
            # The transcript runs a little ahead of the audio, as the service's does.
            due = min(len(words), -(-(index + 1) * len(words) // len(chunks)))
            chunk_ms = fmt.duration_ms(len(chunk))
            pending_words = "".join(words[next_word:due])
            if self._stopped or not self._fits(text=pending_words, audio_ms=chunk_ms):
                break
            for word in words[next_word:due]:
                await self._emit(ResponseOutputAudioTranscriptDelta(**ids, delta=word))
                spoken += word
            next_word = due
            await self._emit(ResponseOutputAudioDelta(**ids, delta=b64encode_audio(chunk)))
            sent_audio += chunk
            self.audio_ms += chunk_ms
            self._output_tokens.text = text_tokens(spoken)
            self._output_tokens.audio = audio_tokens(
                fmt.duration_ms(len(sent_audio)), assistant=True
            )
            if item.id in self._conversation and not self._conversation.is_truncated(item.id or ""):
                self._conversation.set_audio(item.id or "", 0, AudioClip(bytes(sent_audio), fmt))
            await self._pause(self._pacing.audio_pause_s(chunk_ms))
        if not chunks and not self._stopped:
            for word in words:
                await self._emit(ResponseOutputAudioTranscriptDelta(**ids, delta=word))
                spoken += word
        await self._emit(ResponseOutputAudioDone(**ids))
        await self._emit(ResponseOutputAudioTranscriptDone(**ids, transcript=spoken))
        await self._emit(
            ResponseContentPartDone(**ids, part=ContentPart(type="audio", transcript=spoken))
        )
        return spoken

    def _part_ids(self, item: MessageItem, output_index: int) -> dict[str, Any]:
        return {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": output_index,
            "content_index": 0,
        }


def convert(clip: AudioClip, fmt: WireFormat) -> bytes:
    """``clip`` in wire format ``fmt`` (re-encoded and resampled when they differ)."""
    if clip.format is fmt:
        return clip.data
    samples = clip.format.decode(clip.data)
    if clip.format.sample_rate != fmt.sample_rate:
        # A whole clip at once, not a stream: the one-shot resampler is exactly aligned, where
        # the streaming one lags by a few samples.
        samples = soxr.resample(
            samples, clip.format.sample_rate, fmt.sample_rate, RESAMPLER_QUALITY
        )
    return fmt.encode(samples)


def _format_model(fmt: WireFormat) -> AudioFormat:
    if fmt is WireFormat.PCM16:
        return AudioFormat.pcm()
    return AudioFormat.pcmu() if fmt is WireFormat.PCMU else AudioFormat.pcma()
