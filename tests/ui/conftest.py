"""Fixtures of the GUI tests (offscreen; pytest-qt fails a test on any Qt warning).

``run_async`` runs a coroutine on a qasync event loop bound to the test's QApplication, so a
test can drive asyncio code (the controller, the offline server's client, async storage calls)
while Qt keeps processing events, exactly as the app does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import PySide6.QtWidgets  # noqa: F401 - imported before qasync so qasync binds to PySide6
import pytest
import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")

ASYNC_TEST_DEADLINE = 60.0


@pytest.fixture
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def run_async(
    qasync_loop: qasync.QEventLoop,
) -> Callable[[Coroutine[Any, Any, T]], T]:
    """``run_async(coro)`` runs ``coro`` to completion (with a deadline) on the Qt loop."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(ASYNC_TEST_DEADLINE):
                return await coro

        return qasync_loop.run_until_complete(bounded())

    return run
