"""Autosave: the timing policy on paper (fake times), then the asyncio autosaver on a real
loop — coalescing, the one-second cap under continuous changes, flush, failures."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_desktop.storage.autosave import RETRY_DELAYS_S, Autosaver, SaveSchedule
from realtime_desktop.storage.conversation import ConversationDocument, ConversationItem, utc_now
from realtime_desktop.storage.conversation_store import (
    ConversationStore,
    ConversationSummary,
    PreparedSave,
)
from realtime_desktop.storage.files import FileProblem, StorageError

from .conftest import make_document, until

# --- the policy ---------------------------------------------------------------------------------


def test_changes_in_quick_succession_coalesce() -> None:
    schedule = SaveSchedule(quiet_s=0.25, max_delay_s=1.0)
    assert schedule.due_at() is None
    for now in (0.0, 0.1, 0.2):
        schedule.changed(now)
    assert schedule.due_at() == pytest.approx(0.45)  # a quarter second after the last change


def test_a_stream_of_changes_is_saved_within_the_cap() -> None:
    schedule = SaveSchedule(quiet_s=0.25, max_delay_s=1.0)
    for step in range(30):
        schedule.changed(step * 0.1)
        due = schedule.due_at()
        assert due is not None
        assert due <= 1.0
    assert schedule.due_at() == pytest.approx(1.0)


def test_nothing_is_due_while_writing_and_later_changes_follow() -> None:
    schedule = SaveSchedule(quiet_s=0.25, max_delay_s=1.0)
    schedule.changed(0.0)
    schedule.started()
    assert schedule.due_at() is None
    assert not schedule.dirty
    schedule.changed(0.5)
    assert schedule.due_at() is None  # one write at a time
    schedule.finished()
    assert schedule.due_at() == pytest.approx(0.75)


def test_failures_back_off() -> None:
    schedule = SaveSchedule(quiet_s=0.25, max_delay_s=1.0)
    schedule.changed(0.0)
    schedule.started()
    schedule.failed(now=10.0)
    assert schedule.dirty
    assert schedule.due_at() == pytest.approx(10.0 + RETRY_DELAYS_S[0])
    schedule.started()
    schedule.failed(now=20.0)
    assert schedule.due_at() == pytest.approx(20.0 + RETRY_DELAYS_S[1])
    schedule.started()
    schedule.finished()
    schedule.changed(30.0)
    assert schedule.due_at() == pytest.approx(30.25)  # back to normal after a success


def test_bad_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="quiet_s"):
        SaveSchedule(quiet_s=2.0, max_delay_s=1.0)


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 0.6), min_size=1, max_size=80),
    write_s=st.floats(0.0, 0.3),
)
def test_every_change_is_saved_within_the_cap_plus_one_write(
    gaps: list[float], write_s: float
) -> None:
    """Drives the policy the way the autosaver does (timer at ``due_at``, one write at a time)
    through arbitrary change times; every change must be in a save started at most
    ``max_delay_s`` after it — or, if a write was in flight then, as soon as that write ended."""
    quiet, cap = 0.25, 1.0
    schedule = SaveSchedule(quiet_s=quiet, max_delay_s=cap)
    changes: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        changes.append(now)
    starts: list[float] = []
    write_ends: list[float] = []
    pending = list(changes)
    clock = 0.0
    writing_until: float | None = None
    while pending or schedule.dirty or writing_until is not None:
        due = schedule.due_at()
        events = [t for t in (pending[0] if pending else None, due, writing_until) if t is not None]
        clock = max(clock, min(events))
        if writing_until is not None and clock >= writing_until:
            schedule.finished()
            write_ends.append(writing_until)
            writing_until = None
        elif pending and clock >= pending[0]:
            schedule.changed(pending.pop(0))
        elif due is not None and clock >= due:
            schedule.started()
            starts.append(clock)
            writing_until = clock + write_s
    assert len(starts) <= len(changes)
    for change in changes:
        start = next(s for s in starts if s >= change)
        in_flight = [end for end in write_ends if end - write_s < change + cap < end]
        bound = max([change + cap, *in_flight])
        assert start <= bound + 1e-9


# --- the autosaver on a real event loop ---------------------------------------------------------


def _add_item(document: ConversationDocument, text: str) -> None:
    document.items.append(
        ConversationItem(id=f"i{len(document.items)}", role="user", created_at=utc_now(), text=text)
    )


def _saved_items(store: ConversationStore, document: ConversationDocument) -> int:
    return len(ConversationStore(store.folder).open(document.id).items)


def test_a_burst_of_changes_is_one_save(store: ConversationStore) -> None:
    document = make_document(0)
    saved: list[ConversationSummary] = []

    async def scenario() -> None:
        autosaver = Autosaver(store, document, on_saved=saved.append)
        for n in range(100):
            _add_item(document, f"message {n}")
            autosaver.mark_changed()
        assert autosaver.saves == 0  # nothing is written on the caller's turn
        await until(lambda: autosaver.saves == 1)
        await autosaver.close()
        assert autosaver.saves == 1  # close had nothing left to write

    asyncio.run(scenario())
    assert _saved_items(store, document) == 100
    assert [summary.item_count for summary in saved] == [100]
    assert store.summary(document.id).item_count == 100


def test_continuous_changes_still_get_saved(store: ConversationStore) -> None:
    """A change on every loop iteration never leaves a quiet moment; the cap saves anyway."""
    document = make_document(0)

    async def scenario() -> int:
        autosaver = Autosaver(store, document, quiet_s=0.05, max_delay_s=0.2)
        stop = asyncio.Event()

        async def keep_changing() -> None:
            while not stop.is_set():
                _add_item(document, "more")
                autosaver.mark_changed()
                await asyncio.sleep(0)

        producer = asyncio.create_task(keep_changing())
        await until(lambda: autosaver.saves >= 2)
        stop.set()
        await producer
        await autosaver.close()
        return autosaver.saves

    assert asyncio.run(scenario()) >= 2
    assert _saved_items(store, document) == len(document.items)


def test_flush_saves_now(store: ConversationStore) -> None:
    document = make_document(0)

    async def scenario() -> None:
        autosaver = Autosaver(store, document, quiet_s=30.0, max_delay_s=60.0)
        _add_item(document, "say it now")
        autosaver.mark_changed()
        await autosaver.flush()
        assert autosaver.saves == 1
        assert not autosaver.dirty
        assert _saved_items(store, document) == 1
        await autosaver.flush()
        assert autosaver.saves == 1  # nothing new: no write
        await autosaver.close()

    asyncio.run(scenario())
    assert store._live == {}


def test_changes_during_a_write_are_saved_next(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = make_document(0)
    write_started = threading.Event()
    release_write = threading.Event()
    real_write = ConversationStore.write_prepared

    def slow_write(self: ConversationStore, prepared: PreparedSave) -> ConversationSummary:
        write_started.set()
        assert release_write.wait(10), "the test never released the write"
        return real_write(self, prepared)

    monkeypatch.setattr(ConversationStore, "write_prepared", slow_write)

    async def scenario() -> None:
        autosaver = Autosaver(store, document, quiet_s=0.0, max_delay_s=0.0)
        _add_item(document, "first")
        autosaver.mark_changed()
        await until(write_started.is_set)
        _add_item(document, "second")  # the document changes while its bytes are written
        autosaver.mark_changed()
        release_write.set()
        await until(lambda: autosaver.saves == 2)
        await autosaver.close()

    asyncio.run(scenario())
    saved = ConversationStore(store.folder).open(document.id)
    assert [item.text for item in saved.items] == ["first", "second"]


def test_a_failed_save_is_reported_and_retried(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = make_document(0)
    errors: list[StorageError] = []
    failures = {"left": 1}
    real_write = ConversationStore.write_prepared

    def failing_write(self: ConversationStore, prepared: PreparedSave) -> ConversationSummary:
        if failures["left"]:
            failures["left"] -= 1
            raise StorageError(
                "disk full", path=store.folder, problem=FileProblem.DISK_FULL, operation="save"
            )
        return real_write(self, prepared)

    monkeypatch.setattr(ConversationStore, "write_prepared", failing_write)

    async def scenario() -> None:
        autosaver = Autosaver(store, document, quiet_s=0.0, max_delay_s=0.0, on_error=errors.append)
        _add_item(document, "kept despite the error")
        autosaver.mark_changed()
        await until(lambda: bool(errors))
        assert autosaver.dirty
        assert autosaver.last_error is errors[0]
        await autosaver.close()  # on quit: retried at once, not after the backoff
        assert autosaver.saves == 1
        assert autosaver.last_error is None

    asyncio.run(scenario())
    assert errors[0].problem is FileProblem.DISK_FULL
    assert _saved_items(store, document) == 1


def test_flush_raises_when_the_disk_keeps_refusing(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_failing(self: ConversationStore, prepared: PreparedSave) -> ConversationSummary:
        raise StorageError(
            "read-only", path=store.folder, problem=FileProblem.READ_ONLY, operation="save"
        )

    monkeypatch.setattr(ConversationStore, "write_prepared", always_failing)
    document = make_document(1)

    async def scenario() -> None:
        autosaver = Autosaver(store, document, quiet_s=30.0, max_delay_s=60.0)
        autosaver.mark_changed()
        with pytest.raises(StorageError, match="read-only"):
            await autosaver.close()

    asyncio.run(scenario())
    assert store._live == {}  # closed even so
