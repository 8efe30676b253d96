"""The settings dialog's "Test connection": connect with the settings as edited, report, close.

:func:`probe_connection` is the default for :attr:`SettingsServices.test_connection`; the app
passes its offline server's endpoint (``functools.partial(probe_connection, offline=...)``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from realtime_desktop.core import RealtimeSession
from realtime_desktop.core.errors import InvalidInputError, OperationTimeoutError
from realtime_desktop.core.from_settings import OfflineEndpoint, connection_settings
from realtime_desktop.protocol import RealtimeSessionConfig
from realtime_desktop.storage.settings import Settings

log = logging.getLogger(__name__)

# The whole test — key fetch, handshake, session.created, session.update acknowledged — within
# this; a person watching a spinner longer than that assumes it hangs.
TEST_CONNECTION_TIMEOUT_S = 20.0

_PROVIDER_NAMES = {
    "openai": "OpenAI",
    "azure": "Azure OpenAI",
    "custom": "the custom server",
    "offline": "the offline server",
}


async def probe_connection(
    settings: Settings,
    api_key: str | None,
    *,
    offline: OfflineEndpoint | None = None,
    timeout_s: float = TEST_CONNECTION_TIMEOUT_S,
) -> str:
    """Connects once with ``settings`` (no reconnects), waits until the session is
    configured, closes, and returns a line for the user. Raises
    :class:`~realtime_desktop.core.errors.RealtimeError` (``user_message`` says what failed)."""
    if settings.connection.provider == "offline" and offline is None:
        raise InvalidInputError(
            "The offline server is not available to this window, so it cannot be tested."
        )
    connection = dataclasses.replace(
        connection_settings(settings, api_key=api_key, offline=offline),
        auto_reconnect=False,
    )
    session = RealtimeSession(connection)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await session.connect()
    except TimeoutError:
        raise OperationTimeoutError(
            f"No answer within {timeout_s:g} s.",
            hint="Check the address, your network and any proxy.",
        ) from None
    finally:
        await session.close()
    elapsed_ms = (time.perf_counter() - started) * 1000
    where = _PROVIDER_NAMES[settings.connection.provider]
    config = session.server_config
    model = (
        config.model
        if isinstance(config, RealtimeSessionConfig) and config.model
        else settings.session_model
    )
    log.info("connection test to %s succeeded in %.0f ms", where, elapsed_ms)
    return f"Connected to {where} ({model}) in {elapsed_ms:.0f} ms."
