"""The conversation one session holds: ordered items and the audio behind them (PROTOCOL.md §5).

Items are the protocol package's GA models, exactly as the server reports them in events (no
audio bytes inside); the audio of ``input_audio`` and ``output_audio`` parts is kept beside them
as :class:`AudioClip` s, for ``conversation.item.retrieve``, truncation and the echo itself.

Tests read this directly (``server.sessions[0].conversation.items``) to prove what arrived; all
changes happen on the server's loop before the event that announces them is queued, so a client
that has seen ``conversation.item.done`` (beta: ``conversation.item.created``) can read the item.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import string
from collections.abc import Iterator
from typing import Final

from realtime_desktop.audio.codecs import WireFormat, b64encode_audio
from realtime_desktop.protocol import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    Item,
    MessageItem,
)

log = logging.getLogger(__name__)

ROOT: Final = "root"
_ALPHABET: Final = string.ascii_letters + string.digits
_ID_LENGTH: Final = 22


def new_id(prefix: str) -> str:
    """An id like the service's: ``item_`` + 22 letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LENGTH))


@dataclasses.dataclass
class AudioClip:
    """Audio of one content part, in the wire format it was received or produced in."""

    data: bytes
    format: WireFormat

    @property
    def duration_ms(self) -> float:
        return self.format.duration_ms(len(self.data))

    def truncated(self, end_ms: int) -> AudioClip:
        keep = int(end_ms * self.format.bytes_per_ms)
        return AudioClip(self.data[:keep], self.format)


class Conversation:
    """The ordered items of a session's default conversation."""

    def __init__(self) -> None:
        self.id = new_id("conv_")
        self._items: list[Item] = []
        self._audio: dict[tuple[str, int], AudioClip] = {}
        # Truncation is final: an answer still streaming must not write back what the
        # listener never heard (audio past the cut, the transcript).
        self._truncated: set[tuple[str, int]] = set()

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[Item]:
        """The items in conversation order (a new list; the items are the server's own)."""
        return list(self._items)

    def ids(self) -> list[str]:
        return [item_id(item) for item in self._items]

    def get(self, wanted: str) -> Item | None:
        for item in self._items:
            if item_id(item) == wanted:
                return item
        return None

    def __contains__(self, wanted: object) -> bool:
        return isinstance(wanted, str) and self.get(wanted) is not None

    def previous_id(self, wanted: str) -> str | None:
        """The id of the item before ``wanted`` (None for the first)."""
        ids = self.ids()
        index = ids.index(wanted)
        return ids[index - 1] if index > 0 else None

    def insert(self, item: Item, after: str | None = None) -> str | None:
        """Adds ``item`` after the item ``after`` (``None``: at the end, ``"root"``: first);
        returns the id of the item now before it. The caller checks that ``after`` exists."""
        if after is None:
            self._items.append(item)
        elif after == ROOT:
            self._items.insert(0, item)
        else:
            self._items.insert(self.ids().index(after) + 1, item)
        return self.previous_id(item_id(item))

    def delete(self, wanted: str) -> None:
        self._items = [item for item in self._items if item_id(item) != wanted]
        for key in [key for key in self._audio if key[0] == wanted]:
            del self._audio[key]
        self._truncated = {key for key in self._truncated if key[0] != wanted}

    def set_audio(self, wanted: str, content_index: int, clip: AudioClip) -> None:
        self._audio[(wanted, content_index)] = clip

    def truncate(self, wanted: str, content_index: int, end_ms: int) -> None:
        """Cuts a part's audio at ``end_ms`` for good (see ``is_truncated``)."""
        clip = self._audio.get((wanted, content_index))
        if clip is not None:
            self._audio[(wanted, content_index)] = clip.truncated(end_ms)
        self._truncated.add((wanted, content_index))

    def is_truncated(self, wanted: str, content_index: int = 0) -> bool:
        return (wanted, content_index) in self._truncated

    def audio(self, wanted: str, content_index: int = 0) -> AudioClip | None:
        return self._audio.get((wanted, content_index))

    def has_assistant_audio(self) -> bool:
        for (wanted, _), clip in self._audio.items():
            item = self.get(wanted)
            if isinstance(item, MessageItem) and item.role == "assistant" and clip.data:
                return True
        return False

    def function_call(self, call_id: str) -> FunctionCallItem | None:
        for item in self._items:
            if isinstance(item, FunctionCallItem) and item.call_id == call_id:
                return item
        return None

    def with_audio(self, item: Item) -> Item:
        """A copy of ``item`` with its audio parts' bytes filled in (for retrieve)."""
        copy = item.model_copy(deep=True)
        if isinstance(copy, MessageItem):
            for index, part in enumerate(copy.content or []):
                clip = self.audio(item_id(item), index)
                if part.is_audio and clip is not None:
                    part.audio = b64encode_audio(clip.data)
        return copy


def item_id(item: Item) -> str:
    return getattr(item, "id", None) or ""


def summary_line(item: Item, clip_ms: float | None, limit: int = 80) -> str:
    """One line a person can read: who said what, for ``/history``."""
    if isinstance(item, MessageItem):
        texts = []
        for part in item.content or []:
            if part.type in ("input_text", "output_text", "text") and part.text:
                texts.append(part.text)
            elif part.is_audio:
                heard = f"{clip_ms / 1000:.1f} s of audio" if clip_ms else "audio"
                texts.append(f"[{heard}]" + (f" {part.transcript}" if part.transcript else ""))
            elif part.type == "input_image":
                texts.append("[an image]")
        return f"{item.role}: {_clip(' '.join(texts) or '(empty)', limit)}"
    if isinstance(item, FunctionCallItem):
        return f"function call {item.name}({_clip(item.arguments or '', limit)})"
    if isinstance(item, FunctionCallOutputItem):
        return f"function output: {_clip(item.output or '', limit)}"
    return f"{getattr(item, 'type', 'item')}"


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def message_parts(item: Item) -> list[ContentPart]:
    return list(item.content or []) if isinstance(item, MessageItem) else []
