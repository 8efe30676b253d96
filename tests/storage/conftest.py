"""Fixtures of the storage tests: an isolated profile folder, an in-memory keyring, documents.

No test here touches the real home folder or the OS keyring (no keyring daemon runs on the test
machines; ENVIRONMENT.md): paths come from ``AppPaths.under(tmp_path)`` and the keyring is an
in-memory backend installed for the test and removed afterwards.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Iterator

import keyring
import keyring.errors
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend

from realtime_desktop.storage.conversation import (
    ConversationDocument,
    ConversationItem,
    Interruption,
    RecordingRef,
    ResponseRecord,
    TokenUsage,
    ToolCall,
)
from realtime_desktop.storage.conversation_store import ConversationStore
from realtime_desktop.storage.paths import AppPaths

T0 = datetime.datetime(2026, 11, 21, 10, 15, tzinfo=datetime.UTC)


class _ExplicitOnly(KeyringBackend):
    """Defining a backend class registers it with keyring's auto-detection; a priority that
    raises keeps these test backends out of it, so they are used only where installed."""

    @properties.classproperty
    def priority(self) -> float:
        raise RuntimeError("a test backend: install it explicitly")


class MemoryKeyring(_ExplicitOnly):
    """A keyring that forgets everything when the test ends."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("no such password") from None


class BrokenKeyring(_ExplicitOnly):
    """A keyring that fails the way an absent or locked OS keyring does."""

    def __init__(self, error: keyring.errors.KeyringError) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Installed as the process's keyring for the test; the previous one is restored."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def paths(tmp_path) -> AppPaths:  # type: ignore[no-untyped-def]
    return AppPaths.under(tmp_path / "profile").ensure()


@pytest.fixture
def store(paths: AppPaths) -> ConversationStore:
    return ConversationStore(paths.default_conversations_dir)


def make_document(items: int = 6, *, title: str = "", seed: int = 0) -> ConversationDocument:
    """A conversation with every kind of content: spoken and typed turns, an interrupted
    answer, a tool call with its result, usage with costs."""
    document = ConversationDocument(
        title=title,
        created_at=T0,
        updated_at=T0,
        provider="openai",
        model="gpt-realtime-2",
        voice="marin",
        instructions="Be brief.",
        duration_ms=93_000,
    )
    for index in range(items):
        moment = T0 + datetime.timedelta(seconds=index)
        kind = index % 3
        if kind == 0:
            document.items.append(
                ConversationItem(
                    id=f"item_{seed}_{index}",
                    role="user",
                    created_at=moment,
                    transcript=f"question number {index} about the weather",
                    has_audio=True,
                )
            )
        elif kind == 1:
            document.items.append(
                ConversationItem(
                    id=f"item_{seed}_{index}",
                    role="assistant",
                    created_at=moment,
                    transcript=f"answer {index}: it will rain, probably",
                    has_audio=True,
                    response_id=f"resp_{index}",
                    status="incomplete" if index % 2 else "completed",
                    interruption=Interruption(
                        audio_end_ms=3200, partial_transcript=f"answer {index}: it will"
                    )
                    if index % 2
                    else None,
                )
            )
            document.responses.append(
                ResponseRecord(
                    response_id=f"resp_{index}",
                    created_at=moment,
                    usage=TokenUsage(
                        input_text_tokens=100, input_audio_tokens=20, output_audio_tokens=50
                    ),
                    cost_usd=0.01,
                )
            )
        else:
            document.items.append(
                ConversationItem(
                    id=f"item_{seed}_{index}",
                    kind="tool_call",
                    role="assistant",
                    created_at=moment,
                    tool_call=ToolCall(
                        call_id=f"call_{index}",
                        name="get_weather",
                        arguments='{"city": "Paris"}',
                        status="completed",
                        result='{"forecast": "rain"}',
                    ),
                )
            )
    return document


def with_recording(document: ConversationDocument) -> ConversationDocument:
    document.recordings.append(
        RecordingRef(
            started_at=T0,
            microphone="20261121-101500-microphone.wav",
            assistant="20261121-101500-assistant.wav",
        )
    )
    return document


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Polls ``condition`` on the running loop until it holds; fails after ``within_s``.

    For state the code under test changes from its worker threads and callbacks, which offer
    no event to wait on; the loop keeps running (and the autosaver's timers firing) meanwhile.
    """
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - see the docstring
            await asyncio.sleep(0.005)
