"""Debounced autosave of the live conversation, for the app's asyncio loop.

The app owns a :class:`~.conversation.ConversationDocument` on its event loop, changes it as
items arrive, and calls :meth:`Autosaver.mark_changed` after each change (cheap: it only moves a
timer). Saves coalesce: one starts when changes have paused for ``quiet_s`` (0.25 s) and at the
latest ``max_delay_s`` (1 s) after the first unsaved change, so a crash or ``kill -9`` loses at
most about a second (DESIGN.md "Persistence").

Where the work happens: the document is serialised on the loop thread, where it is owned, so the
bytes are a consistent snapshot with no lock and no copy; the file write and its fsyncs (the
slow, blocking part) run in a worker thread via ``asyncio.to_thread``. One write is in flight at
a time; changes made meanwhile go into the next save. :meth:`Autosaver.flush` saves now and waits
(call it on quit); :meth:`Autosaver.close` flushes and detaches from the store.

:class:`SaveSchedule` is the timing policy alone, as plain arithmetic on times, so it can be
tested without a clock.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable

from realtime_desktop.storage.conversation import ConversationDocument, utc_now
from realtime_desktop.storage.conversation_store import (
    ConversationStore,
    ConversationSummary,
    PreparedSave,
)
from realtime_desktop.storage.files import StorageError

log = logging.getLogger(__name__)

AUTOSAVE_QUIET_S = 0.25
AUTOSAVE_MAX_DELAY_S = 1.0
# After a failed write (disk full, folder gone) retry with this backoff, not every change.
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class SaveSchedule:
    """When the next save is due, from when changes happened. Times are seconds on any
    monotonic clock."""

    def __init__(
        self, *, quiet_s: float = AUTOSAVE_QUIET_S, max_delay_s: float = AUTOSAVE_MAX_DELAY_S
    ) -> None:
        if not 0 <= quiet_s <= max_delay_s:
            raise ValueError("need 0 <= quiet_s <= max_delay_s")
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._first_change: float | None = None
        self._last_change: float | None = None
        self._writing = False
        self._failures = 0
        self._retry_at: float | None = None

    @property
    def dirty(self) -> bool:
        """There are changes no started save includes."""
        return self._first_change is not None

    @property
    def writing(self) -> bool:
        return self._writing

    def changed(self, now: float) -> None:
        if self._first_change is None:
            self._first_change = now
        self._last_change = now

    def due_at(self) -> float | None:
        """When to start the next save; None while clean or while a write is in flight."""
        if self._first_change is None or self._last_change is None or self._writing:
            return None
        due = min(self._last_change + self.quiet_s, self._first_change + self.max_delay_s)
        return max(due, self._retry_at) if self._retry_at is not None else due

    def started(self) -> None:
        """A save took its snapshot: every change so far is in it."""
        self._first_change = self._last_change = None
        self._writing = True

    def finished(self) -> None:
        self._writing = False
        self._failures = 0
        self._retry_at = None

    def failed(self, now: float) -> None:
        """The write did not happen: its changes are unsaved again, retried after a backoff."""
        self._writing = False
        if self._first_change is None:
            self._first_change = self._last_change = now
        self._retry_at = now + RETRY_DELAYS_S[min(self._failures, len(RETRY_DELAYS_S) - 1)]
        self._failures += 1


class Autosaver:
    """Keeps one live conversation saved. Create it on the event loop that owns ``document``.

    Args:
        store: where to save.
        document: the live document; the app mutates it on the loop and calls
            :meth:`mark_changed`.
        on_saved: called on the loop after each successful save (e.g. to refresh the history).
        on_error: called on the loop when a save fails; the changes are retried with backoff.
    """

    def __init__(
        self,
        store: ConversationStore,
        document: ConversationDocument,
        *,
        quiet_s: float = AUTOSAVE_QUIET_S,
        max_delay_s: float = AUTOSAVE_MAX_DELAY_S,
        on_saved: Callable[[ConversationSummary], None] | None = None,
        on_error: Callable[[StorageError], None] | None = None,
    ) -> None:
        self.store = store
        self.document = document
        self._loop = asyncio.get_running_loop()
        self._schedule = SaveSchedule(quiet_s=quiet_s, max_delay_s=max_delay_s)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: float | None = None
        self._write_task: asyncio.Task[None] | None = None
        self._last_change_time: datetime.datetime | None = None
        self._on_saved = on_saved
        self._on_error = on_error
        self.saves = 0
        self.last_error: StorageError | None = None
        store.attach(self)

    @property
    def dirty(self) -> bool:
        return self._schedule.dirty

    def mark_changed(self) -> None:
        """Call after every change to the document (on the loop thread)."""
        self._last_change_time = utc_now()
        self._schedule.changed(self._loop.time())
        self._arm()

    def retitle(self, title: str) -> None:
        """Renames the live conversation; safe from any thread (the history window's rename
        goes through here so it cannot race the autosave)."""
        self._loop.call_soon_threadsafe(self._retitle, title)

    async def flush(self) -> None:
        """Saves every change made so far and returns when it is on disk. Raises
        :class:`StorageError` if the last write failed."""
        while True:
            self._cancel_timer()
            if self._write_task is not None:
                await asyncio.shield(self._write_task)
                continue
            if not self._schedule.dirty:
                break
            prepared = self._snapshot()
            await self._write(prepared)
            if self._schedule.dirty and self.last_error is not None:
                self._cancel_timer()
                raise self.last_error

    async def close(self) -> None:
        """Flushes and stops; the store forgets this live document."""
        try:
            await self.flush()
        finally:
            self._cancel_timer()
            self.store.detach(self)

    # ---------------------------------------------------------------------------------------

    def _retitle(self, title: str) -> None:
        self.document.title = title
        self.mark_changed()

    def _arm(self) -> None:
        due = self._schedule.due_at()
        if due == self._timer_due:
            return
        self._cancel_timer()
        if due is not None:
            self._timer = self._loop.call_at(due, self._start_save)
            self._timer_due = due

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_due = None

    def _start_save(self) -> None:
        self._timer = None
        self._timer_due = None
        if self._schedule.due_at() is None:
            return
        self._write_task = self._loop.create_task(self._write(self._snapshot()))

    def _snapshot(self) -> PreparedSave:
        if self._last_change_time is not None:
            self.document.updated_at = self._last_change_time
        prepared = self.store.prepare(self.document)
        self._schedule.started()
        return prepared

    async def _write(self, prepared: PreparedSave) -> None:
        try:
            summary = await asyncio.to_thread(self.store.write_prepared, prepared)
        except StorageError as exc:
            self._schedule.failed(self._loop.time())
            self.last_error = exc
            log.warning("autosave of conversation %s failed: %s", prepared.id, exc)
            if self._on_error is not None:
                self._on_error(exc)
        else:
            self._schedule.finished()
            self.last_error = None
            self.saves += 1
            if self._on_saved is not None:
                self._on_saved(summary)
        finally:
            if self._write_task is asyncio.current_task():
                self._write_task = None
            self._arm()
