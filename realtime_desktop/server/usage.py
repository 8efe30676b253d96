"""Token accounting for ``response.done.usage`` and ``rate_limits.updated`` (PROTOCOL.md §7.3, §8).

The published rates (OpenAI's realtime costs guide): user audio 10 tokens per second, assistant
audio 20 tokens per second, text about 4 characters per token. Nothing here is cached, so
``cached_tokens`` is always 0. Every response bills its whole context as input, like the real
service: the session instructions and every item it saw, audio at the rate of whoever spoke it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Final

from realtime_desktop.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    Item,
    MessageItem,
    RateLimitsUpdated,
    Usage,
)
from realtime_desktop.protocol.responses import (
    CachedTokenDetails,
    InputTokenDetails,
    OutputTokenDetails,
)
from realtime_desktop.protocol.server_events import RateLimit
from realtime_desktop.server.conversation import Conversation, item_id

log = logging.getLogger(__name__)

USER_AUDIO_TOKENS_PER_S: Final = 10
ASSISTANT_AUDIO_TOKENS_PER_S: Final = 20
CHARS_PER_TOKEN: Final = 4

# What rate_limits.updated reports: an organisation's per-minute budget, as in the service's
# examples (PROTOCOL.md §8).
REQUESTS_PER_MINUTE: Final = 1000
TOKENS_PER_MINUTE: Final = 50_000
_WINDOW_S: Final = 60.0


def text_tokens(text: str | None) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def audio_tokens(duration_ms: float, *, assistant: bool) -> int:
    rate = ASSISTANT_AUDIO_TOKENS_PER_S if assistant else USER_AUDIO_TOKENS_PER_S
    return math.ceil(duration_ms / 1000 * rate)


@dataclasses.dataclass
class TokenCount:
    text: int = 0
    audio: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio

    def add(self, other: TokenCount) -> None:
        self.text += other.text
        self.audio += other.audio


def item_tokens(item: Item, conversation: Conversation | None) -> TokenCount:
    """What one context item costs as input."""
    count = TokenCount()
    if isinstance(item, MessageItem):
        for index, part in enumerate(item.content or []):
            if part.is_audio:
                clip = conversation.audio(item_id(item), index) if conversation else None
                if clip is not None:
                    count.audio += audio_tokens(
                        clip.duration_ms, assistant=item.role == "assistant"
                    )
            else:
                count.text += text_tokens(part.text)
    elif isinstance(item, FunctionCallItem):
        count.text += text_tokens(item.name) + text_tokens(item.arguments)
    elif isinstance(item, FunctionCallOutputItem):
        count.text += text_tokens(item.output)
    return count


def context_tokens(
    instructions: str, items: list[Item], conversation: Conversation | None
) -> TokenCount:
    count = TokenCount(text=text_tokens(instructions))
    for item in items:
        count.add(item_tokens(item, conversation))
    return count


def usage(input_count: TokenCount, output_count: TokenCount) -> Usage:
    return Usage(
        total_tokens=input_count.total + output_count.total,
        input_tokens=input_count.total,
        output_tokens=output_count.total,
        input_token_details=InputTokenDetails(
            text_tokens=input_count.text,
            audio_tokens=input_count.audio,
            image_tokens=0,
            cached_tokens=0,
            cached_tokens_details=CachedTokenDetails(text_tokens=0, audio_tokens=0, image_tokens=0),
        ),
        output_token_details=OutputTokenDetails(
            text_tokens=output_count.text, audio_tokens=output_count.audio
        ),
    )


class RateLimitWindow:
    """Requests and tokens of the last minute, for ``rate_limits.updated``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._spent: collections.deque[tuple[float, int]] = collections.deque()

    def record(self, tokens: int) -> RateLimitsUpdated:
        now = self._clock()
        self._spent.append((now, tokens))
        while self._spent and self._spent[0][0] <= now - _WINDOW_S:
            self._spent.popleft()
        reset = max(0.0, self._spent[0][0] + _WINDOW_S - now)
        used = sum(tokens for _, tokens in self._spent)
        return RateLimitsUpdated(
            rate_limits=[
                RateLimit(
                    name="requests",
                    limit=REQUESTS_PER_MINUTE,
                    remaining=max(0, REQUESTS_PER_MINUTE - len(self._spent)),
                    reset_seconds=round(reset, 3),
                ),
                RateLimit(
                    name="tokens",
                    limit=TOKENS_PER_MINUTE,
                    remaining=max(0, TOKENS_PER_MINUTE - used),
                    reset_seconds=round(reset, 3),
                ),
            ]
        )
