"""The WebSocket under a session: opening it, and classifying how it ended.

Failures are classified here, where they enter (STYLE.md lesson 10): a handshake status, a socket
error or a close code becomes one :class:`~realtime_desktop.core.errors.RealtimeError` whose
``retryable`` flag the reconnect loop trusts.
"""

from __future__ import annotations

import logging
import ssl

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from .connection import ConnectionSettings, Endpoint
from .errors import (
    ApiError,
    AuthenticationError,
    InvalidInputError,
    NetworkError,
    OperationTimeoutError,
    RealtimeError,
)
from .redaction import redact, secret_filter

log = logging.getLogger(__name__)

# The logger handed to websockets. Its debug output prints every handshake header, the key
# included, so the redacting filter sits on the logger itself: records are clean before any
# handler (or pytest's caplog) sees them.
wire_log = logging.getLogger("realtime_desktop.core.wire")
wire_log.addFilter(secret_filter())

CLOSE_ABNORMAL = 1006  # no close frame: the TCP connection just ended (RFC 6455 §7.1.5)


async def open_websocket(endpoint: Endpoint, settings: ConnectionSettings) -> ClientConnection:
    """Opens the WebSocket to ``endpoint``; raises a classified ``RealtimeError``."""
    host = endpoint.url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    try:
        return await connect(
            endpoint.url,
            additional_headers=endpoint.headers,
            max_size=settings.max_message_size,
            open_timeout=settings.open_timeout,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            close_timeout=settings.close_timeout,
            # A system proxy must not see loopback traffic (the offline server, tests).
            proxy=None if endpoint.is_loopback else True,
            logger=wire_log,
        )
    except InvalidStatus as exc:
        raise _status_error(exc, host) from None
    except InvalidURI as exc:
        raise InvalidInputError(
            f"{redact(endpoint.url)!r} is not a valid WebSocket URL: {redact(str(exc))}",
            hint="Check the URL in Settings → Connection.",
        ) from None
    except InvalidHandshake as exc:
        raise NetworkError(
            f"The server at {host} did not complete the WebSocket handshake: {redact(str(exc))}.",
            retryable=True,
        ) from None
    except TimeoutError:
        raise OperationTimeoutError(
            f"The server at {host} did not answer within {settings.open_timeout:g} s.",
            hint="Check the network; the session will keep trying.",
            retryable=True,
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise NetworkError(
            f"The certificate of {host} was not accepted: {exc.verify_message}.",
            hint="Check the URL; a proxy that intercepts TLS needs its certificate installed.",
        ) from None
    except OSError as exc:
        raise NetworkError(
            f"Could not connect to {host}: {exc.strerror or exc}.",
            hint="Check the network connection and the server address.",
            retryable=True,
        ) from None


def _status_error(exc: InvalidStatus, host: str) -> RealtimeError:
    status = exc.response.status_code
    body = exc.response.body.decode("utf-8", errors="replace")[:300] if exc.response.body else ""
    detail = f": {redact(body)}" if body else ""
    code = f"http_{status}"
    if status in (401, 403):
        return AuthenticationError(
            f"The server at {host} rejected the credentials (HTTP {status}){detail}.",
            hint="Check the API key in Settings → Connection, then connect again.",
            code=code,
        )
    if status == 429 or status >= 500:
        return NetworkError(
            f"The server at {host} is unavailable (HTTP {status}){detail}.",
            hint="The session will try again.",
            retryable=True,
            code=code,
        )
    if status == 404:
        return ApiError(
            f"There is no Realtime endpoint at this URL on {host} (HTTP 404){detail}.",
            hint="Check the URL, the model or the Azure deployment name.",
            code=code,
        )
    return ApiError(
        f"The server at {host} refused the connection (HTTP {status}){detail}.",
        hint="Check the model or deployment: it may not support the Realtime API.",
        code=code,
    )


def close_details(exc: ConnectionClosed | None, connection: ClientConnection) -> tuple[int, str]:
    """The close code and reason the server sent, the one websockets sent when it failed the
    connection itself, or 1006 when the connection just ended.

    Read it from the close frame received rather than trusting ``ConnectionClosedOK``: websockets
    reports 1001 ("going away", also the 60-minute session cap) as a normal close.
    """
    if exc is not None and exc.rcvd is not None:
        return exc.rcvd.code, exc.rcvd.reason
    if exc is not None and exc.sent is not None:
        # websockets failed the connection itself: 1009 for a message over max_size, 1011 when
        # a keepalive ping went unanswered.
        return exc.sent.code, exc.sent.reason
    code = connection.close_code
    return (code if code is not None else CLOSE_ABNORMAL), connection.close_reason or ""
