"""Asyncio work a window starts from its slots (qasync): keyring calls, the connection test,
conversation files. The window never awaits; it starts a task and reacts to what it reports.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundTasks:
    """The tasks one window started, kept referenced until they finish (the loop holds only
    weak references to tasks) and cancelled when the window closes.

    Each coroutine handles the failures it expects (a keyring error, a refused connection, a
    file error) and shows them; anything else is a bug and goes to ``sys.excepthook``, as
    qasync's ``asyncSlot`` does, so it is never lost.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Runs ``coro`` on the running loop. Must be called from the loop's thread while it
        runs (any Qt slot in the app, which runs the Qt event loop inside qasync)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def cancel_all(self) -> None:
        """Cancels every task but the caller's own (a task that closes the window finishes
        on its own rather than ending as cancelled)."""
        current = asyncio.current_task() if _loop_running() else None
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def idle(self) -> None:
        """Waits until every task started so far (and any they start) has finished."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task %s failed", task.get_name())
            sys.excepthook(type(error), error, error.__traceback__)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
