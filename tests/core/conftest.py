"""Fixtures of the core tests, and a runner for ``async def`` tests.

The core is asyncio code; each ``async def`` test runs in a fresh event loop (``asyncio.run``)
with a deadline, so a test waiting for an event that never comes fails instead of hanging the
suite. No plugin is needed for that, and none of the tests sleeps to wait.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

ASYNC_TEST_DEADLINE = 30.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    test: Callable[..., Awaitable[Any]] = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def run() -> None:
        async with asyncio.timeout(ASYNC_TEST_DEADLINE):
            await test(**arguments)

    asyncio.run(run())
    return True
